{{/* Names, labels and the shared pod pieces every component uses. */}}

{{- define "colog.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "colog.fullname" -}}
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

{{/* Component-scoped resource name: colog.component (dict "root" $ "component" "worker"). */}}
{{- define "colog.component" -}}
{{- printf "%s-%s" (include "colog.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "colog.selectorLabels" -}}
app.kubernetes.io/name: {{ include "colog.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "colog.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{ include "colog.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: colog
{{- end -}}

{{- define "colog.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "colog.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "colog.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "colog.authSecretName" -}}
{{- default (include "colog.component" (dict "root" . "component" "opensearch-auth")) .Values.opensearch.auth.existingSecret -}}
{{- end -}}

{{- define "colog.caSecretName" -}}
{{- default (include "colog.component" (dict "root" . "component" "opensearch-ca")) .Values.opensearch.tls.existingSecret -}}
{{- end -}}

{{- define "colog.hasAuth" -}}
{{- if or .Values.opensearch.auth.existingSecret .Values.opensearch.auth.password -}}true{{- end -}}
{{- end -}}

{{- define "colog.hasCA" -}}
{{- if or .Values.opensearch.tls.existingSecret .Values.opensearch.tls.caCert -}}true{{- end -}}
{{- end -}}

{{/* host:port of the Redis KEDA polls. */}}
{{- define "colog.redisAddress" -}}
{{- if .Values.autoscaling.keda.redisAddress -}}
{{- .Values.autoscaling.keda.redisAddress -}}
{{- else if eq .Values.redis.mode "bundled" -}}
{{- printf "%s.%s.svc:6379" (include "colog.component" (dict "root" . "component" "redis")) .Release.Namespace -}}
{{- else if .Values.redis.external.url -}}
{{- (urlParse .Values.redis.external.url).host -}}
{{- else -}}
{{- fail "autoscaling.keda.redisAddress is required when the external Redis URL comes from a Secret (KEDA needs host:port)" -}}
{{- end -}}
{{- end -}}

{{/* Secrets are files under this directory (COLOG_SECRETS_DIR); names match the settings. */}}
{{- define "colog.secretsDir" -}}/etc/colog/secrets{{- end -}}

{{/* Environment shared by worker, beat and the setup Job. */}}
{{- define "colog.env" -}}
- name: COLOG_SECRETS_DIR
  value: {{ include "colog.secretsDir" . }}
{{- if include "colog.hasAuth" . }}
- name: COLOG_OPENSEARCH_USER
  valueFrom:
    secretKeyRef:
      name: {{ include "colog.authSecretName" . }}
      key: {{ .Values.opensearch.auth.usernameKey }}
- name: COLOG_OPENSEARCH_PASSWORD_FILE
  value: {{ include "colog.secretsDir" . }}/COLOG_OPENSEARCH_PASSWORD
{{- end }}
{{- if include "colog.hasCA" . }}
- name: COLOG_OPENSEARCH_CA_CERTS
  value: {{ include "colog.secretsDir" . }}/ca.crt
{{- end }}
{{- if and (eq .Values.redis.mode "external") .Values.redis.external.existingSecret }}
- name: COLOG_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.external.existingSecret }}
      key: {{ .Values.redis.external.urlKey }}
{{- end }}
{{- end -}}

{{- define "colog.envFrom" -}}
- configMapRef:
    name: {{ include "colog.fullname" . }}
{{- end -}}

{{/* Writable scratch space: the root filesystem is read-only. */}}
{{- define "colog.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: cache
  mountPath: /var/cache/colog
{{- if or (include "colog.hasAuth" .) (include "colog.hasCA" .) }}
- name: secrets
  mountPath: {{ include "colog.secretsDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "colog.volumes" -}}
- name: tmp
  emptyDir: {}
- name: cache
  emptyDir: {}
{{- if or (include "colog.hasAuth" .) (include "colog.hasCA" .) }}
- name: secrets
  projected:
    defaultMode: 0440
    sources:
      {{- if include "colog.hasAuth" . }}
      - secret:
          name: {{ include "colog.authSecretName" . }}
          items:
            - key: {{ .Values.opensearch.auth.passwordKey }}
              path: COLOG_OPENSEARCH_PASSWORD
      {{- end }}
      {{- if include "colog.hasCA" . }}
      - secret:
          name: {{ include "colog.caSecretName" . }}
          items:
            - key: {{ .Values.opensearch.tls.caKey }}
              path: ca.crt
      {{- end }}
{{- end }}
{{- end -}}

{{- define "colog.podSecurityContext" -}}
{{ toYaml .Values.podSecurityContext }}
{{- end -}}

{{- define "colog.containerSecurityContext" -}}
{{ toYaml .Values.containerSecurityContext }}
{{- end -}}

{{/* Rolls pods when settings or chart-managed secrets change. */}}
{{- define "colog.configChecksum" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end -}}

{{- define "colog.validate" -}}
{{- if and .Values.autoscaling.keda.enabled .Values.autoscaling.hpa.enabled -}}
{{- fail "autoscaling.keda.enabled and autoscaling.hpa.enabled are both true: KEDA manages its own HPA and the two would fight over replicas; enable one" -}}
{{- end -}}
{{- if and (eq .Values.redis.mode "external") (not (or .Values.redis.external.url .Values.redis.external.existingSecret)) -}}
{{- fail "redis.mode is external: set redis.external.url or redis.external.existingSecret" -}}
{{- end -}}
{{- if and .Values.opensearch.auth.username (not .Values.opensearch.auth.password) (not .Values.opensearch.auth.existingSecret) -}}
{{- fail "opensearch.auth.username is set without opensearch.auth.password (or use opensearch.auth.existingSecret)" -}}
{{- end -}}
{{- if and .Values.triton.restrictRepositoryApi.enabled (not .Values.triton.restrictRepositoryApi.existingSecret) -}}
{{- fail "triton.restrictRepositoryApi.enabled needs triton.restrictRepositoryApi.existingSecret (the header value)" -}}
{{- end -}}
{{- end -}}
