{{- define "real.labels" -}}
app.kubernetes.io/name: real
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
