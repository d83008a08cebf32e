{{/* The labels deploy/base/kustomization.yaml gives every object; no Helm labels of its own, so
the objects equal what `ark install` applies. */}}
{{- define "ark.labels" -}}
app.kubernetes.io/name: ark
app.kubernetes.io/part-of: ark
{{- end }}

{{- define "ark.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The Secret the location names, if any. */}}
{{- define "ark.credentialSecret" -}}
{{- if .Values.credentials.existingSecret -}}
{{ .Values.credentials.existingSecret }}
{{- else if .Values.credentials.secretContents -}}
{{ .Values.credentials.secretName }}
{{- end }}
{{- end }}
