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
{{- if .Values.tls.existingSecret -}}{{ .Values.tls.existingSecret }}{{- else -}}{{ include "rampart.name" . }}-tls{{- end -}}
{{- end -}}
{{- /* selfCerts: the webhook makes and renews its certificate itself. */ -}}
{{- define "rampart.selfCerts" -}}
{{- if and (not .Values.certManager.enabled) (not .Values.tls.existingSecret) }}true{{ end -}}
{{- end -}}
