{{/*
Why: names, labels and the cloud-identity wiring are needed by several templates; defining them once
keeps the controller and the UI consistent (and the VAP's exempt ServiceAccount equal to the real one).
*/}}

{{- define "aiop.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "aiop.fullname" -}}
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

{{- define "aiop.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "aiop.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ai-operator
{{- end -}}

{{- define "aiop.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aiop.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "aiop.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}

{{- define "aiop.controller.serviceAccountName" -}}
{{- default (printf "%s-controller" (include "aiop.fullname" .)) .Values.controller.serviceAccount.name -}}
{{- end -}}

{{- define "aiop.ui.serviceAccountName" -}}
{{- default (printf "%s-ui" (include "aiop.fullname" .)) .Values.ui.serviceAccount.name -}}
{{- end -}}

{{/* ServiceAccount annotations for IRSA (EKS) or Workload Identity (AKS). Args: root, identity. */}}
{{- define "aiop.identityAnnotations" -}}
{{- $cloud := .root.Values.cloud -}}
{{- if and (eq $cloud.provider "eks") .identity.awsRoleArn }}
eks.amazonaws.com/role-arn: {{ .identity.awsRoleArn | quote }}
eks.amazonaws.com/sts-regional-endpoints: "true"
{{- end }}
{{- if and (eq $cloud.provider "aks") .identity.azureClientId }}
azure.workload.identity/client-id: {{ .identity.azureClientId | quote }}
{{- if $cloud.azureTenantId }}
azure.workload.identity/tenant-id: {{ $cloud.azureTenantId | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Pod label that makes the AKS Workload Identity webhook inject the federated token. Args: root, identity. */}}
{{- define "aiop.identityPodLabels" -}}
{{- if and (eq .root.Values.cloud.provider "aks") .identity.azureClientId }}
azure.workload.identity/use: "true"
{{- end }}
{{- end -}}

{{/* The knowledge DB URL, refused when it embeds a password or does not require TLS. */}}
{{- define "aiop.knowledgeUrl" -}}
{{- $url := .Values.knowledge.centralUrl -}}
{{- if $url -}}
{{- if regexMatch "^[a-z+]+://[^/@]*:[^/@]*@" $url -}}
{{- fail "knowledge.centralUrl must not contain a password: put it in secrets.existingSecret under key knowledge-db-password" -}}
{{- end -}}
{{- if not (regexMatch "[?&]sslmode=(require|verify-ca|verify-full)(&|$)" $url) -}}
{{- fail "knowledge.centralUrl must set sslmode=require (or verify-ca / verify-full): the central DB is reached across clouds" -}}
{{- end -}}
{{- end -}}
{{- $url -}}
{{- end -}}

{{/* Environment shared by both containers: who this pod is (the Lease holder's name) and the DB password. */}}
{{- define "aiop.commonEnv" -}}
- name: AIOP_POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: AIOP_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- with .Values.secrets.existingSecret }}
- name: PGPASSWORD  # the central knowledge DB's password (libpq reads it)
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: knowledge-db-password
      optional: true
{{- end }}
{{- end -}}
