{{- define "rampart.name" -}}
{{- if contains "rampart" .Release.Name }}{{ .Release.Name }}{{ else }}{{ .Release.Name }}-rampart{{ end -}}
{{- end -}}
{{- define "rampart.labels" -}}
app.kubernetes.io/name: rampart
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "rampart.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}
{{- define "rampart.secret" -}}
{{- if .Values.certManager.enabled -}}{{ include "rampart.name" . }}-tls{{- else -}}{{ required "tls.existingSecret is required when certManager.enabled is false" .Values.tls.existingSecret }}{{- end -}}
{{- end -}}
