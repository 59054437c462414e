{{/* The chart name, overridable. */}}
{{- define "cosmolet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The full name of the release's objects. */}}
{{- define "cosmolet.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "cosmolet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cosmolet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cosmolet.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "cosmolet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: agent
app.kubernetes.io/part-of: cosmolet
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "cosmolet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cosmolet.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "cosmolet.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The port of config.http.address (HOST:PORT, [IPv6]:PORT or :PORT). */}}
{{- define "cosmolet.httpPort" -}}
{{- regexFind "[0-9]+$" .Values.config.http.address -}}
{{- end -}}

{{/*
The host of config.http.address for the probes: empty when cosmolet listens on every address
(kubelet then probes the pod IP, which is the node IP under hostNetwork), else that host.
*/}}
{{- define "cosmolet.httpHost" -}}
{{- $host := regexReplaceAll ":[0-9]+$" .Values.config.http.address "" | trimPrefix "[" | trimSuffix "]" -}}
{{- if not (has $host (list "" "0.0.0.0" "::")) -}}
{{- $host -}}
{{- end -}}
{{- end -}}

{{/*
"true" when the container needs CAP_NET_ADMIN: kernel origination that changes routes (bgp.enabled,
or withdrawal at exit). With bgp.enabled false cosmolet only plans and reads, which needs nothing.
*/}}
{{- define "cosmolet.netAdmin" -}}
{{- $c := .Values.config -}}
{{- if and (eq $c.frr.origination "kernel") (or $c.bgp.enabled $c.withdrawOnExit (has "--withdraw-on-exit" .Values.extraArgs)) -}}true{{- end -}}
{{- end -}}

{{/* Settings the chart cannot honour in a DaemonSet. */}}
{{- define "cosmolet.validate" -}}
{{- if .Values.config.nodeName -}}
{{- fail "config.nodeName must stay empty in the chart: every pod takes its node name from NODE_NAME (spec.nodeName)" -}}
{{- end -}}
{{- with include "cosmolet.configProblems" . -}}
{{- fail (printf "\n%s" .) -}}
{{- end -}}
{{- end -}}
