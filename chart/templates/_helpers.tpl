{{/* Names and labels. */}}
{{- define "frr-advertiser.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "frr-advertiser.fullname" -}}
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

{{- define "frr-advertiser.selectorLabels" -}}
app.kubernetes.io/name: {{ include "frr-advertiser.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "frr-advertiser.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "frr-advertiser.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "frr-advertiser.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "frr-advertiser.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "frr-advertiser.image" -}}
{{- $tag := .image.tag | default .default -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (toString $tag) -}}
{{- end -}}
{{- end -}}

{{/* Paths inside the pod. The advertiser's config must agree with them (checked below). */}}
{{- define "frr-advertiser.templateDir" -}}/etc/frr-advertiser/templates{{- end -}}
{{- define "frr-advertiser.secretDir" -}}/etc/frr-advertiser/secrets{{- end -}}
{{- define "frr-advertiser.stateDir" -}}/var/lib/frr-advertiser{{- end -}}

{{/* config.timings.shutdownTimeoutSeconds, with the advertiser's default. */}}
{{- define "frr-advertiser.shutdownTimeoutSeconds" -}}
{{- $t := .Values.config.timings | default dict -}}
{{- int (default 20 (get $t "shutdownTimeoutSeconds")) -}}
{{- end -}}

{{/*
The advertiser's config: values.config plus the keys the pod layout fixes. Keys the user set to
something the pod layout cannot honour fail the install here (the schema catches most earlier).
*/}}
{{- define "frr-advertiser.config" -}}
{{- $c := deepCopy .Values.config -}}
{{- $port := int .Values.metrics.port -}}
{{- $frr := get $c "frr" | default dict -}}
{{- $_ := set $frr "templateDir" (include "frr-advertiser.templateDir" .) -}}
{{- $_ := set $frr "configFile" "/etc/frr/frr.conf" -}}
{{- $_ := set $frr "runDir" "/var/run/frr" -}}
{{- $_ := set $c "frr" $frr -}}
{{- $server := get $c "server" | default dict -}}
{{- if and (hasKey $server "port") (ne (int $server.port) $port) -}}
{{- fail (printf "config.server.port (%v) must equal metrics.port (%v): set metrics.port only" $server.port $port) -}}
{{- end -}}
{{- $_ := set $server "port" $port -}}
{{- $_ := set $c "server" $server -}}
{{- $adv := get $c "advertise" | default dict -}}
{{- if not (hasKey $adv "stateFile") -}}
{{- $_ := set $adv "stateFile" (printf "%s/addresses.json" (include "frr-advertiser.stateDir" .)) -}}
{{- end -}}
{{- $_ := set $c "advertise" $adv -}}
{{- $bgp := get $c "bgp" | default dict -}}
{{- range $i, $n := (get $bgp "neighbors" | default list) -}}
{{- if and (hasKey $n "passwordFile") (not $.Values.bgp.passwordSecret) -}}
{{- fail (printf "config.bgp.neighbors[%d].passwordFile is set but bgp.passwordSecret is empty: name the Secret holding the passwords" $i) -}}
{{- end -}}
{{- end -}}
{{- toYaml $c -}}
{{- end -}}

{{/*
config.safety.gracefulShutdown.waitSeconds (rounded up) when graceful shutdown is on, else 0,
with the advertiser's defaults (on, 5). `default` would take a false or a 0 for unset: hasKey.
*/}}
{{- define "frr-advertiser.gracefulWaitSeconds" -}}
{{- $s := .Values.config.safety | default dict -}}
{{- $g := get $s "gracefulShutdown" | default dict -}}
{{- if and (hasKey $g "enabled") (not $g.enabled) -}}
0
{{- else -}}
{{- int (ceil (ternary $g.waitSeconds 5 (hasKey $g "waitSeconds"))) -}}
{{- end -}}
{{- end -}}

{{/*
terminationGracePeriodSeconds must cover the advertiser's drain, the wait slack and FRR's stop;
the drain's bound must cover the graceful-shutdown wait plus the 5 s the advertiser keeps for
the withdrawal itself (it cuts the wait short otherwise).
*/}}
{{- define "frr-advertiser.checkGracePeriod" -}}
{{- $drain := include "frr-advertiser.shutdownTimeoutSeconds" . | int -}}
{{- $graceful := include "frr-advertiser.gracefulWaitSeconds" . | int -}}
{{- if and (gt $graceful 0) (lt $drain (add $graceful 5)) -}}
{{- fail (printf "config.timings.shutdownTimeoutSeconds (%v) must be at least config.safety.gracefulShutdown.waitSeconds + 5 (%v): the drain keeps the routes up with the GRACEFUL_SHUTDOWN community for waitSeconds, then withdraws them" $drain (add $graceful 5)) -}}
{{- end -}}
{{- $need := add $drain 5 (int .Values.frr.stopTimeoutSeconds) -}}
{{- if le (int .Values.terminationGracePeriodSeconds) (int $need) -}}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed config.timings.shutdownTimeoutSeconds + 5 + frr.stopTimeoutSeconds (%v): the advertiser withdraws its routes (after the graceful-shutdown wait) while FRR still runs, then FRR stops" .Values.terminationGracePeriodSeconds $need) -}}
{{- end -}}
{{- end -}}

{{/*
Template files, as "relative path" → content: the chart's copy of frr-templates/ with
templates.overrides merged over it.
*/}}
{{- define "frr-advertiser.templateFiles" -}}
{{- $files := dict -}}
{{- range $path, $_ := .Files.Glob "files/frr-templates/**" -}}
{{- $_ := set $files (trimPrefix "files/frr-templates/" $path) ($.Files.Get $path) -}}
{{- end -}}
{{- range $name, $content := .Values.templates.overrides -}}
{{- $_ := set $files $name $content -}}
{{- end -}}
{{- /* JSON, not YAML: the round trip through include must keep every byte (a final newline too). */ -}}
{{- toJson $files -}}
{{- end -}}

{{/* A template file's ConfigMap key: ConfigMaps have no directories, "partials/x.hbs" → "partials_x.hbs". */}}
{{- define "frr-advertiser.templateKey" -}}
{{- replace "/" "_" . -}}
{{- end -}}

{{/* The templates volume's items (key → path), for the chart's ConfigMap or an existing one. */}}
{{- define "frr-advertiser.templateItems" -}}
{{- if .Values.templates.existingConfigMap -}}
{{- $partials := .Values.templates.existingConfigMapPartials -}}
{{- if not $partials -}}
{{- $partials = list -}}
{{- range $path, $_ := .Files.Glob "files/frr-templates/partials/*.hbs" -}}
{{- $partials = append $partials (trimSuffix ".hbs" (base $path)) -}}
{{- end -}}
{{- end }}
- key: frr.conf.hbs
  path: frr.conf.hbs
{{- range $partials }}
- key: {{ printf "partials_%s.hbs" . }}
  path: {{ printf "partials/%s.hbs" . }}
{{- end -}}
{{- else -}}
{{- $files := include "frr-advertiser.templateFiles" . | fromJson -}}
{{- range $path := keys $files | sortAlpha }}
- key: {{ include "frr-advertiser.templateKey" $path }}
  path: {{ $path }}
{{- end -}}
{{- end -}}
{{- end -}}
