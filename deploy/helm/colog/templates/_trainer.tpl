{{/* The trainer's Job spec (CronJob and one-off Job): colog.trainerJobSpec (dict "root" $ "args" [...]). */}}
{{- define "colog.trainerJobSpec" -}}
{{- $root := .root -}}
{{- $tr := $root.Values.trainer -}}
{{- $t := $root.Values.triton -}}
{{- $ctx := dict "root" $root "component" "trainer" -}}
backoffLimit: {{ $tr.backoffLimit }}
activeDeadlineSeconds: {{ $tr.activeDeadlineSeconds }}
ttlSecondsAfterFinished: 604800
template:
  metadata:
    labels:
      {{- include "colog.selectorLabels" $ctx | nindent 6 }}
      # Triton's NetworkPolicy admits model publishers to the repository API.
      colog.io/model-publisher: "true"
    annotations:
      {{- include "colog.configChecksum" $root | nindent 6 }}
      {{- with $tr.podAnnotations }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
  spec:
    restartPolicy: Never
    serviceAccountName: {{ include "colog.serviceAccountName" $root }}
    automountServiceAccountToken: false
    {{- with $root.Values.imagePullSecrets }}
    imagePullSecrets:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    securityContext:
      {{- include "colog.podSecurityContext" $root | nindent 6 }}
    containers:
      - name: trainer
        image: {{ include "colog.image" $root }}
        imagePullPolicy: {{ $root.Values.image.pullPolicy }}
        args:
          {{- toYaml .args | nindent 10 }}
        envFrom:
          {{- include "colog.envFrom" $root | nindent 10 }}
        env:
          {{- include "colog.env" $root | nindent 10 }}
          # Versions go into the shared repository and are loaded on every Triton pod.
          - name: COLOG_TRITON_MODEL_REPOSITORY
            value: /models
          - name: COLOG_TRITON_LOAD_ENDPOINTS
            value: {{ include "colog.tritonLoadEndpoints" $root | quote }}
          {{- if $t.restrictRepositoryApi.enabled }}
          - name: COLOG_TRITON_REPOSITORY_API_HEADER
            value: {{ $t.restrictRepositoryApi.header | quote }}
          - name: COLOG_TRITON_REPOSITORY_API_KEY_FILE
            value: /etc/colog/repository-api/key
          {{- end }}
        resources:
          {{- toYaml $tr.resources | nindent 10 }}
        securityContext:
          {{- include "colog.containerSecurityContext" $root | nindent 10 }}
        volumeMounts:
          {{- include "colog.volumeMounts" $root | nindent 10 }}
          - name: models
            mountPath: /models
          {{- if $t.restrictRepositoryApi.enabled }}
          - name: repository-api
            mountPath: /etc/colog/repository-api
            readOnly: true
          {{- end }}
    volumes:
      {{- include "colog.volumes" $root | nindent 6 }}
      - name: models
        persistentVolumeClaim:
          claimName: {{ include "colog.modelsClaim" $root }}
      {{- if $t.restrictRepositoryApi.enabled }}
      # Only the trainer holds the key: no other pod can load model code into Triton.
      - name: repository-api
        secret:
          secretName: {{ $t.restrictRepositoryApi.existingSecret }}
          defaultMode: 0440
          items:
            - key: {{ $t.restrictRepositoryApi.key }}
              path: key
      {{- end }}
    {{- with $tr.nodeSelector }}
    nodeSelector:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with $tr.tolerations }}
    tolerations:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with $tr.affinity }}
    affinity:
      {{- toYaml . | nindent 6 }}
    {{- end }}
{{- end -}}
