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

{{/* REGISTRY/REPOSITORY:TAG@DIGEST, each part only when set: colog.imageRef (dict "image" .Values.image "default" .Chart.AppVersion). */}}
{{- define "colog.imageRef" -}}
{{- $i := .image -}}
{{- $ref := $i.repository -}}
{{- with $i.registry }}{{ $ref = printf "%s/%s" (trimSuffix "/" .) $ref }}{{ end -}}
{{- $tag := default .default $i.tag -}}
{{- with $tag }}{{ $ref = printf "%s:%s" $ref . }}{{ end -}}
{{- with $i.digest }}{{ $ref = printf "%s@%s" $ref . }}{{ end -}}
{{- $ref -}}
{{- end -}}

{{- define "colog.image" -}}
{{- include "colog.imageRef" (dict "image" .Values.image "default" .Chart.AppVersion) -}}
{{- end -}}

{{- define "colog.tritonImage" -}}
{{- include "colog.imageRef" (dict "image" .Values.triton.image "default" .Chart.AppVersion) -}}
{{- end -}}

{{- define "colog.redisImage" -}}
{{- include "colog.imageRef" (dict "image" .Values.redis.image "default" "") -}}
{{- end -}}

{{/* The claim holding the shared model repository (Triton pods and the trainer). */}}
{{- define "colog.modelsClaim" -}}
{{- default (include "colog.component" (dict "root" . "component" "models")) .Values.triton.modelRepository.pvc.existingClaim -}}
{{- end -}}

{{/* host:port of Triton's gRPC or HTTP port, for the protocol in use. */}}
{{- define "colog.tritonPort" -}}
{{- ternary "8001" "8000" (eq .Values.triton.protocol "grpc") -}}
{{- end -}}

{{/* What COLOG_TRITON_LOAD_ENDPOINTS names: every Triton pod behind the headless Service. */}}
{{- define "colog.tritonLoadEndpoints" -}}
{{- if .Values.triton.enabled -}}
{{- printf "dns:%s.%s.svc:%s" (include "colog.component" (dict "root" . "component" "triton-headless")) .Release.Namespace (include "colog.tritonPort" .) -}}
{{- else -}}
{{- .Values.triton.external.loadEndpoints -}}
{{- end -}}
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

{{/* The PromQL KEDA scales on: the pending documents beat exports (max: one series wins
even while an old beat pod is still scraped during a Recreate). */}}
{{- define "colog.pendingQuery" -}}
{{- default (printf "max(colog_pending_documents{namespace=\"%s\",job=\"%s\"})" .Release.Namespace (include "colog.component" (dict "root" . "component" "beat-metrics"))) .Values.autoscaling.keda.query -}}
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
{{- if and (eq .Values.redis.mode "external") .Values.redis.external.cacheExistingSecret }}
- name: COLOG_CACHE_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.external.cacheExistingSecret }}
      key: {{ .Values.redis.external.cacheUrlKey }}
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

{{/* Rolls pods when settings or chart-managed secrets change, or when secretsRevision is
bumped after an existingSecret was rotated. */}}
{{- define "colog.configChecksum" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- with .Values.secretsRevision }}
colog.io/secrets-revision: {{ . | quote }}
{{- end }}
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
{{- $cap := div .Values.config.partitions .Values.worker.concurrency | int -}}
{{- if gt (mul .Values.autoscaling.maxReplicas .Values.worker.concurrency) (int .Values.config.partitions) -}}
{{- fail (printf "autoscaling.maxReplicas (%d) x worker.concurrency (%d) exceeds config.partitions (%d): only one pass per partition runs at once, so replicas beyond %d would idle; raise config.partitions or lower maxReplicas" (int .Values.autoscaling.maxReplicas) (int .Values.worker.concurrency) (int .Values.config.partitions) $cap) -}}
{{- end -}}
{{- $state := .Values.redis.state -}}
{{- if gt (mul 2 $state.maxMemoryMiB) (int $state.memoryLimitMiB) -}}
{{- fail (printf "redis.state.maxMemoryMiB (%d) must be at most half of redis.state.memoryLimitMiB (%d): an AOF rewrite forks, and copy-on-write can double the resident set" (int $state.maxMemoryMiB) (int $state.memoryLimitMiB)) -}}
{{- end -}}
{{- if ge (int .Values.redis.cache.maxMemoryMiB) (int .Values.redis.cache.memoryLimitMiB) -}}
{{- fail "redis.cache.maxMemoryMiB must be below redis.cache.memoryLimitMiB (Redis needs memory beyond its data)" -}}
{{- end -}}
{{- if and .Values.trainer.enabled .Values.triton.enabled (eq .Values.triton.modelRepository.source "image") -}}
{{- fail "trainer.enabled needs triton.modelRepository.source=pvc: a model retrained in the cluster cannot reach a repository baked into the image" -}}
{{- end -}}
{{- if and (not .Values.triton.enabled) (not .Values.triton.external.url) -}}
{{- fail "triton.enabled=false needs triton.external.url (host:port of your Triton for triton.protocol)" -}}
{{- end -}}
{{- if and .Values.trainer.enabled (not .Values.triton.enabled) (not .Values.triton.modelRepository.pvc.existingClaim) -}}
{{- fail "trainer.enabled with triton.enabled=false needs triton.modelRepository.pvc.existingClaim (the volume your Triton serves)" -}}
{{- end -}}
{{- end -}}
