{{/*
HTTPS for /metrics and /status (values `tls`). One certificate for every pod: its name is the
metrics Service's, which clients verify while connecting to node addresses.
*/}}
{{- define "cosmolet.tlsServerName" -}}
{{- printf "%s-metrics.%s.svc" (include "cosmolet.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/* The Secret with tls.crt, tls.key and ca.crt. */}}
{{- define "cosmolet.tlsSecretName" -}}
{{- if and .Values.tls.secretName (not .Values.tls.certManager.issuerRef) -}}
{{- .Values.tls.secretName -}}
{{- else -}}
{{- printf "%s-tls" (include "cosmolet.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Where cosmolet reads the pair (beside, not inside, the config mount). */}}
{{- define "cosmolet.tlsDir" -}}/etc/cosmolet-tls{{- end -}}

{{/* The config file's keys: the chart's `config:`, with http.tls pointing at the mounted pair. */}}
{{- define "cosmolet.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- if .Values.tls.enabled -}}
{{- $http := $config.http | default dict -}}
{{- $_ := set $http "tls" (dict "certFile" (printf "%s/tls.crt" (include "cosmolet.tlsDir" .)) "keyFile" (printf "%s/tls.key" (include "cosmolet.tlsDir" .))) -}}
{{- $_ := set $config "http" $http -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}
