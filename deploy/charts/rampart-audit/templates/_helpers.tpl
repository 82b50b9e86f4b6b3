{{- define "audit.name" -}}
{{- if contains "rampart" .Release.Name }}{{ .Release.Name }}{{ else }}{{ .Release.Name }}-rampart-audit{{ end -}}
{{- end -}}
{{- define "audit.labels" -}}
app.kubernetes.io/name: rampart-audit
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "audit.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}
