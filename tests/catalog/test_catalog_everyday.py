"""Table tests of the everyday actions (issue 13), in the shape of test_catalog_actions.py.

Each case: the call, the title and risk a person sees, the manifests committed, the permissions
checked as the requester (for Roles: every permission the Role grants, as the API server's escalation
check demands), what restore deletes or re-applies, what verify looks for. Rendered objects are
validated against the official Kubernetes schemas once merged onto the live object.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from controller.api.types import ObjectRef
from controller.catalog.base import Check
from controller.catalog.registry import validate_call
from controller.planning.memory_cluster import MemoryCluster
from controller.planning.types import ActionCall
from renderer.diff import apply_preview
from tests.catalog.conftest import shop_objects
from tests.catalog.test_catalog_actions import K8S_VERSION, Case, meta

R = ObjectRef


def r(api_version: str, kind: str, name: str, namespace: str = "shop") -> ObjectRef:
    return ObjectRef(api_version=api_version, kind=kind, name=name, namespace=namespace)


API = r("apps/v1", "Deployment", "api")
PROBE = {"httpGet": {"path": "/ready", "port": 9090}, "periodSeconds": 10}


def everyday_objects() -> list[dict[str, Any]]:
    labels = {"app": "api"}
    return [
        *shop_objects(),
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "shop", "labels": labels},
         "spec": {"replicas": 3, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": {**labels, "pod-template-hash": "abc"}},
                               "spec": {"serviceAccountName": "api", "containers": [
                                   {"name": "api", "image": "ghcr.io/acme/api:2.1.0",
                                    "ports": [{"name": "http", "containerPort": 8080}],
                                    "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "DEBUG", "value": "true"},
                                            {"name": "SECRET_KEY", "valueFrom": {"secretKeyRef": {"name": "db",
                                                                                                  "key": "password"}}}],
                                    "readinessProbe": PROBE},
                                   {"name": "proxy", "image": "envoyproxy/envoy:v1.31.0"}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "shop"},
         "spec": {"selector": {"app": "apx"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api-abc-1", "namespace": "shop",
                                                         "labels": {"app": "api"}}, "spec": {"containers": []}},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cleanup", "namespace": "shop"},
         "spec": {"schedule": "0 3 * * *", "suspend": False, "jobTemplate": {"spec": {"template": {"spec": {
             "restartPolicy": "OnFailure", "containers": [{"name": "cleanup", "image": "busybox:1.36"}]}}}}}},
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "gp3"},
         "provisioner": "ebs.csi.aws.com", "allowVolumeExpansion": True},
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "slow"},
         "provisioner": "kubernetes.io/no-provisioner"},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "uploads", "namespace": "shop"},
         "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "gp3",
                  "resources": {"requests": {"storage": "10Gi"}}}, "status": {"phase": "Bound"}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "archive", "namespace": "shop"},
         "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "slow",
                  "resources": {"requests": {"storage": "10Gi"}}}, "status": {"phase": "Bound"}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "api", "namespace": "shop"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "pod-reader", "namespace": "shop"},
         "rules": [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}]},
    ]


@pytest.fixture
def everyday() -> MemoryCluster:
    return MemoryCluster(everyday_objects())


def _perms(verbs: tuple[str, ...], resource: str, name: str, group: str = "core") -> list[str]:
    return [f'{v} {resource} "{name}" ({group}) in namespace shop' for v in verbs]


GET_CREATE_PATCH = ("get", "create", "patch")
GET_PATCH = ("get", "patch")
INGRESS = r("networking.k8s.io/v1", "Ingress", "storefront")
CRON = r("batch/v1", "CronJob", "cleanup")
HARDENED = {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}

CASES = [
    Case(
        "ingress", "create-ingress",
        {"name": "storefront", "namespace": "shop", "host": "shop.example.com", "path": "/store", "service": "api",
         "tls_secret": "shop-tls", "ingress_class": "nginx"},
        title=("Create Ingress shop/storefront: shop.example.com/store -> Service api "
               "(TLS from Secret shop-tls, class nginx)"),
        manifests=[{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta("storefront"),
                    "spec": {"ingressClassName": "nginx",
                             "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
                             "rules": [{"host": "shop.example.com", "http": {"paths": [
                                 {"path": "/store", "pathType": "Prefix",
                                  "backend": {"service": {"name": "api", "port": {"number": 80}}}}]}}]}}],
        targets=[INGRESS], creates=[INGRESS], risk="medium",
        permissions=[*_perms(GET_CREATE_PATCH, "ingresses", "storefront", "networking.k8s.io"),
                     'get services "api" (core) in namespace shop'],
        checks=[Check(ref=INGRESS, expect={"spec": {
            "ingressClassName": "nginx", "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
            "rules": [{"host": "shop.example.com", "http": {"paths": [
                {"path": "/store", "pathType": "Prefix",
                 "backend": {"service": {"name": "api", "port": {"number": 80}}}}]}}]}})],
    ),
    Case(
        "service-selector", "set-service-selector", {"name": "api", "namespace": "shop", "selector": {"app": "api"}},
        title="Change the selector of Service shop/api from app=apx to app=api",
        manifests=[{"apiVersion": "v1", "kind": "Service", "metadata": meta("api"), "spec": {"selector": {"app": "api"}}}],
        targets=[r("v1", "Service", "api")], backups=[r("v1", "Service", "api")], risk="medium",
        permissions=[*_perms(GET_PATCH, "services", "api"), "list pods (core) in namespace shop"],
        checks=[Check(ref=r("v1", "Service", "api"), expect={"spec": {"selector": {"app": "api"}}})],
    ),
    Case(
        "egress", "netpol-egress", {"namespace": "shop", "app": "web", "to_app": "api", "port": 8080},
        title="Let pods app=web in shop connect only to pods app=api on port 8080 (and DNS)",
        manifests=[{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta("egress-web-to-api-port-8080"),
                    "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"], "egress": [
                        {"to": [{"podSelector": {"matchLabels": {"app": "api"}}}],
                         "ports": [{"protocol": "TCP", "port": 8080}]},
                        {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                         "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}}],
        targets=[r("networking.k8s.io/v1", "NetworkPolicy", "egress-web-to-api-port-8080")],
        creates=[r("networking.k8s.io/v1", "NetworkPolicy", "egress-web-to-api-port-8080")], risk="medium",
        permissions=_perms(GET_CREATE_PATCH, "networkpolicies", "egress-web-to-api-port-8080", "networking.k8s.io"),
        checks=[Check(ref=r("networking.k8s.io/v1", "NetworkPolicy", "egress-web-to-api-port-8080"), expect={"spec": {
            "podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"], "egress": [
                {"to": [{"podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"protocol": "TCP", "port": 8080}]},
                {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                 "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}})],
    ),
    Case(
        "pvc", "create-pvc", {"name": "scratch", "namespace": "shop", "size": "20Gi", "storage_class": "gp3"},
        title="Create PersistentVolumeClaim shop/scratch of 20Gi (ReadWriteOnce, class gp3)",
        manifests=[{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta("scratch"),
                    "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "gp3",
                             "resources": {"requests": {"storage": "20Gi"}}}}],
        targets=[r("v1", "PersistentVolumeClaim", "scratch")], creates=[r("v1", "PersistentVolumeClaim", "scratch")],
        permissions=_perms(GET_CREATE_PATCH, "persistentvolumeclaims", "scratch"),
        checks=[Check(ref=r("v1", "PersistentVolumeClaim", "scratch"), expect={"spec": {
            "accessModes": ["ReadWriteOnce"], "storageClassName": "gp3", "resources": {"requests": {"storage": "20Gi"}}}})],
    ),
    Case(
        "expand-pvc", "expand-pvc", {"name": "uploads", "namespace": "shop", "size": "30Gi"},
        title="Expand PersistentVolumeClaim shop/uploads from 10Gi to 30Gi",
        manifests=[{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta("uploads"),
                    "spec": {"resources": {"requests": {"storage": "30Gi"}}}}],
        targets=[r("v1", "PersistentVolumeClaim", "uploads")], backups=[r("v1", "PersistentVolumeClaim", "uploads")],
        risk="medium", permissions=_perms(GET_PATCH, "persistentvolumeclaims", "uploads"),
        checks=[Check(ref=r("v1", "PersistentVolumeClaim", "uploads"),
                      expect={"spec": {"resources": {"requests": {"storage": "30Gi"}}}})],
    ),
    Case(
        "cronjob", "create-cronjob",
        {"name": "report", "namespace": "shop", "schedule": "30 2 * * *", "image": "ghcr.io/acme/report:1.0",
         "command": ["python", "-m", "report", "--since", "24h"]},
        title=('Create CronJob shop/report on schedule "30 2 * * *" with image ghcr.io/acme/report:1.0 running '
               "`python -m report --since 24h`"),
        manifests=[{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta("report", labels={"app": "report"}),
                    "spec": {"schedule": "30 2 * * *", "concurrencyPolicy": "Forbid", "jobTemplate": {"spec": {"template": {
                        "metadata": {"labels": {"app": "report"}},
                        "spec": {"restartPolicy": "OnFailure", "containers": [
                            {"name": "report", "image": "ghcr.io/acme/report:1.0",
                             "command": ["python", "-m", "report", "--since", "24h"]}]}}}}}}],
        targets=[r("batch/v1", "CronJob", "report")], creates=[r("batch/v1", "CronJob", "report")],
        permissions=_perms(GET_CREATE_PATCH, "cronjobs", "report", "batch"),
        checks=[Check(ref=r("batch/v1", "CronJob", "report"), expect={
            "metadata": {"labels": {"app": "report"}},
            "spec": {"schedule": "30 2 * * *", "concurrencyPolicy": "Forbid", "jobTemplate": {"spec": {"template": {
                "metadata": {"labels": {"app": "report"}},
                "spec": {"restartPolicy": "OnFailure", "containers": [
                    {"name": "report", "image": "ghcr.io/acme/report:1.0",
                     "command": ["python", "-m", "report", "--since", "24h"]}]}}}}}})],
    ),
    Case(
        "suspend", "suspend-cronjob", {"name": "cleanup", "namespace": "shop"},
        title="Suspend CronJob shop/cleanup",
        manifests=[{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta("cleanup"), "spec": {"suspend": True}}],
        targets=[CRON], backups=[CRON], permissions=_perms(GET_PATCH, "cronjobs", "cleanup", "batch"),
        checks=[Check(ref=CRON, expect={"spec": {"suspend": True}})],
    ),
    Case(
        "job", "create-job", {"name": "migrate", "namespace": "shop", "image": "ghcr.io/acme/api:2.1.0",
                              "command": ["./migrate", "up"]},
        title="Run Job shop/migrate with image ghcr.io/acme/api:2.1.0 running `./migrate up`",
        manifests=[{"apiVersion": "batch/v1", "kind": "Job", "metadata": meta("migrate", labels={"app": "migrate"}),
                    "spec": {"backoffLimit": 2, "template": {"metadata": {"labels": {"app": "migrate"}}, "spec": {
                        "restartPolicy": "Never", "containers": [
                            {"name": "migrate", "image": "ghcr.io/acme/api:2.1.0", "command": ["./migrate", "up"]}]}}}}],
        targets=[r("batch/v1", "Job", "migrate")], creates=[r("batch/v1", "Job", "migrate")], risk="medium",
        permissions=_perms(GET_CREATE_PATCH, "jobs", "migrate", "batch"),
        checks=[Check(ref=r("batch/v1", "Job", "migrate"), expect={
            "metadata": {"labels": {"app": "migrate"}},
            "spec": {"backoffLimit": 2, "template": {"metadata": {"labels": {"app": "migrate"}}, "spec": {
                "restartPolicy": "Never", "containers": [
                    {"name": "migrate", "image": "ghcr.io/acme/api:2.1.0", "command": ["./migrate", "up"]}]}}}})],
    ),
    Case(
        "pod", "create-pod", {"name": "debug", "namespace": "shop", "image": "busybox:1.36", "command": ["sleep", "3600"]},
        title="Create Pod shop/debug with image busybox:1.36 running `sleep 3600`",
        manifests=[{"apiVersion": "v1", "kind": "Pod", "metadata": meta("debug", labels={"app": "debug"}),
                    "spec": {"restartPolicy": "Never", "containers": [
                        {"name": "debug", "image": "busybox:1.36", "command": ["sleep", "3600"]}]}}],
        targets=[r("v1", "Pod", "debug")], creates=[r("v1", "Pod", "debug")],
        permissions=_perms(GET_CREATE_PATCH, "pods", "debug"),
        checks=[Check(ref=r("v1", "Pod", "debug"), expect={"spec": {"containers": [
            {"name": "debug", "image": "busybox:1.36"}]}})],
    ),
    Case(
        "statefulset", "create-statefulset",
        {"name": "redis", "namespace": "shop", "image": "redis:7.2", "replicas": 3, "port": 6379, "storage": "1Gi"},
        title="Create StatefulSet shop/redis: 3 replica(s) of redis:7.2, a 1Gi volume per pod at /data",
        manifests=[
            {"apiVersion": "v1", "kind": "Service", "metadata": meta("redis", labels={"app": "redis"}),
             "spec": {"clusterIP": "None", "selector": {"app": "redis"},
                      "ports": [{"name": "main", "port": 6379, "targetPort": 6379}]}},
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta("redis", labels={"app": "redis"}),
             "spec": {"serviceName": "redis", "replicas": 3, "selector": {"matchLabels": {"app": "redis"}},
                      "template": {"metadata": {"labels": {"app": "redis"}}, "spec": {"containers": [
                          {"name": "redis", "image": "redis:7.2", "ports": [{"containerPort": 6379}],
                           "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}},
                      "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                          "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}],
        targets=[r("apps/v1", "StatefulSet", "redis"), r("v1", "Service", "redis")],
        creates=[r("apps/v1", "StatefulSet", "redis"), r("v1", "Service", "redis")],
        permissions=[*_perms(GET_CREATE_PATCH, "statefulsets", "redis", "apps"), *_perms(GET_CREATE_PATCH, "services", "redis")],
        checks=[Check(ref=r("v1", "Service", "redis"), expect={"metadata": {"labels": {"app": "redis"}}, "spec": {
            "clusterIP": "None", "selector": {"app": "redis"}, "ports": [{"name": "main", "port": 6379, "targetPort": 6379}]}}),
                Check(ref=r("apps/v1", "StatefulSet", "redis"), rollout=True, expect={
                    "metadata": {"labels": {"app": "redis"}},
                    "spec": {"serviceName": "redis", "replicas": 3, "selector": {"matchLabels": {"app": "redis"}},
                             "template": {"metadata": {"labels": {"app": "redis"}}, "spec": {"containers": [
                                 {"name": "redis", "image": "redis:7.2", "ports": [{"containerPort": 6379}],
                                  "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}},
                             "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                                 "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}})],
    ),
    Case(
        "canary", "create-canary", {"name": "api", "namespace": "shop", "image": "ghcr.io/acme/api:2.2.0",
                                    "container": "api", "weight": 25},
        title=("Start canary Deployment shop/api-canary (ghcr.io/acme/api:2.2.0, 1 replica(s)) next to api (3): "
               "about 25% of the traffic"),
        manifests=[{"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": meta("api-canary", labels={"app": "api", "track": "canary"}),
                    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "api", "track": "canary"}},
                             "template": {"metadata": {"labels": {"app": "api", "track": "canary"}},
                                          "spec": {"serviceAccountName": "api", "containers": [
                                              {"name": "api", "image": "ghcr.io/acme/api:2.2.0",
                                               "ports": [{"name": "http", "containerPort": 8080}],
                                               "env": [{"name": "LOG_LEVEL", "value": "info"},
                                                       {"name": "DEBUG", "value": "true"},
                                                       {"name": "SECRET_KEY", "valueFrom": {"secretKeyRef": {
                                                           "name": "db", "key": "password"}}}],
                                               "readinessProbe": PROBE},
                                              {"name": "proxy", "image": "envoyproxy/envoy:v1.31.0"}]}}}}],
        targets=[r("apps/v1", "Deployment", "api-canary")], creates=[r("apps/v1", "Deployment", "api-canary")],
        risk="medium",
        permissions=[*_perms(GET_CREATE_PATCH, "deployments", "api-canary", "apps"),
                     'get deployments "api" (apps) in namespace shop'],
        checks=[],  # filled in below from the manifest: a rollout wait on the whole canary
    ),
    Case(
        "harden", "harden-workload", {"name": "api", "namespace": "shop", "read_only_root_filesystem": True},
        title=("Harden Deployment shop/api: runAsNonRoot, no privilege escalation, drop ALL capabilities, "
               "read-only root filesystem (every container)"),
        manifests=[{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("api"),
                    "spec": {"template": {"spec": {"containers": [
                        {"name": "api", "securityContext": {**HARDENED, "readOnlyRootFilesystem": True}},
                        {"name": "proxy", "securityContext": {**HARDENED, "readOnlyRootFilesystem": True}}]}}}}],
        targets=[API], backups=[API], risk="medium", permissions=_perms(GET_PATCH, "deployments", "api", "apps"),
        checks=[Check(ref=API, rollout=True, expect={"spec": {"template": {"spec": {"containers": [
            {"name": "api", "securityContext": {**HARDENED, "readOnlyRootFilesystem": True}},
            {"name": "proxy", "securityContext": {**HARDENED, "readOnlyRootFilesystem": True}}]}}}})],
    ),
    Case(
        "set-env", "set-env", {"name": "api", "namespace": "shop", "container": "api", "env": {"LOG_LEVEL": "debug",
                                                                                              "TZ": "UTC"}},
        title="Set env LOG_LEVEL=debug, TZ=UTC on container api in Deployment shop/api",
        manifests=[{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("api"),
                    "spec": {"template": {"spec": {"containers": [{"name": "api", "env": [
                        {"name": "LOG_LEVEL", "value": "debug"}, {"name": "TZ", "value": "UTC"}]}]}}}}],
        targets=[API], backups=[API], risk="medium", permissions=_perms(GET_PATCH, "deployments", "api", "apps"),
        checks=[Check(ref=API, rollout=True, expect={"spec": {"template": {"spec": {"containers": [{"name": "api", "env": [
            {"name": "LOG_LEVEL", "value": "debug"}, {"name": "TZ", "value": "UTC"}]}]}}}})],
    ),
    Case(
        "remove-env", "remove-env", {"name": "api", "namespace": "shop", "container": "api", "names": ["DEBUG"]},
        title="Remove env DEBUG from container api in Deployment shop/api",
        manifests=[{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("api"),
                    "spec": {"template": {"spec": {"containers": [{"name": "api", "env": [
                        {"name": "DEBUG", "$patch": "delete"}]}]}}}}],
        targets=[API], backups=[API], risk="medium", permissions=_perms(GET_PATCH, "deployments", "api", "apps"),
        checks=[Check(ref=API, rollout=True)],
    ),
    Case(
        "probe", "set-probe", {"name": "api", "namespace": "shop", "container": "api", "port": 8080},
        title="Point the readiness probe of container api in Deployment shop/api at port 8080",
        manifests=[{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("api"),
                    "spec": {"template": {"spec": {"containers": [{"name": "api", "readinessProbe": {
                        "httpGet": {"port": 8080, "path": "/ready"}}}]}}}}],
        targets=[API], backups=[API], risk="medium", permissions=_perms(GET_PATCH, "deployments", "api", "apps"),
        checks=[Check(ref=API, rollout=True, expect={"spec": {"template": {"spec": {"containers": [{"name": "api", "readinessProbe": {
            "httpGet": {"port": 8080, "path": "/ready"}}}]}}}})],
    ),
    Case(
        "irsa", "sa-aws-role", {"name": "api", "namespace": "shop", "role_arn": "arn:aws:iam::123456789012:role/api-s3"},
        title="Let ServiceAccount shop/api assume IAM role arn:aws:iam::123456789012:role/api-s3 (IRSA)",
        manifests=[{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("api", annotations={
            "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/api-s3"})}],
        targets=[r("v1", "ServiceAccount", "api")], backups=[r("v1", "ServiceAccount", "api")], risk="medium",
        permissions=[*_perms(GET_PATCH, "serviceaccounts", "api"), "list deployments (apps) in namespace shop"],
        checks=[Check(ref=r("v1", "ServiceAccount", "api"), expect={"metadata": {"annotations": {
            "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/api-s3"}}})],
    ),
    Case(
        "azure-identity", "sa-azure-identity",
        {"name": "api", "namespace": "shop", "client_id": "6f1c2a9e-3b7d-4c8e-9a05-2d4b7e1f8c36", "workloads": ["api"]},
        title=("Connect ServiceAccount shop/api to Azure Workload Identity (client id "
               "6f1c2a9e-3b7d-4c8e-9a05-2d4b7e1f8c36) and label the pods of api"),
        manifests=[{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("api", annotations={
                        "azure.workload.identity/client-id": "6f1c2a9e-3b7d-4c8e-9a05-2d4b7e1f8c36"})},
                   {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("api"),
                    "spec": {"template": {"metadata": {"labels": {"azure.workload.identity/use": "true"}},
                                          "spec": {"serviceAccountName": "api"}}}}],
        targets=[r("v1", "ServiceAccount", "api"), API], backups=[r("v1", "ServiceAccount", "api"), API], risk="medium",
        permissions=[*_perms(GET_PATCH, "serviceaccounts", "api"), *_perms(GET_PATCH, "deployments", "api", "apps")],
        checks=[Check(ref=r("v1", "ServiceAccount", "api"), expect={"metadata": {"annotations": {
                    "azure.workload.identity/client-id": "6f1c2a9e-3b7d-4c8e-9a05-2d4b7e1f8c36"}}}),
                Check(ref=API, rollout=True, expect={"spec": {"template": {
                    "metadata": {"labels": {"azure.workload.identity/use": "true"}}, "spec": {"serviceAccountName": "api"}}}})],
    ),
    Case(
        "role", "create-role", {"name": "cm-editor", "namespace": "shop",
                                "rules": [{"resources": ["configmaps"], "verbs": ["get", "update"]}]},
        title="Create Role shop/cm-editor allowing get, update configmaps",
        manifests=[{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta("cm-editor"),
                    "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "update"]}]}],
        targets=[r("rbac.authorization.k8s.io/v1", "Role", "cm-editor")],
        creates=[r("rbac.authorization.k8s.io/v1", "Role", "cm-editor")], risk="medium",
        permissions=[*_perms(GET_CREATE_PATCH, "roles", "cm-editor", "rbac.authorization.k8s.io"),
                     "get configmaps (core) in namespace shop", "update configmaps (core) in namespace shop"],
        checks=[Check(ref=r("rbac.authorization.k8s.io/v1", "Role", "cm-editor"), expect={
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "update"]}]})],
    ),
    Case(
        "rolebinding", "create-rolebinding", {"name": "bob-pod-reader", "namespace": "shop", "role": "pod-reader",
                                              "users": ["bob@example.com"], "service_accounts": ["api"]},
        title="Bind Role shop/pod-reader to bob@example.com, ServiceAccount api (RoleBinding bob-pod-reader)",
        manifests=[{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta("bob-pod-reader"),
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
                    "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob@example.com"},
                                 {"kind": "ServiceAccount", "name": "api", "namespace": "shop"}]}],
        targets=[r("rbac.authorization.k8s.io/v1", "RoleBinding", "bob-pod-reader")],
        creates=[r("rbac.authorization.k8s.io/v1", "RoleBinding", "bob-pod-reader")], risk="medium",
        permissions=[*_perms(GET_CREATE_PATCH, "rolebindings", "bob-pod-reader", "rbac.authorization.k8s.io"),
                     'get roles "pod-reader" (rbac.authorization.k8s.io) in namespace shop',
                     "get pods (core) in namespace shop", "list pods (core) in namespace shop",
                     "get pods/log (core) in namespace shop", "list pods/log (core) in namespace shop"],
        checks=[Check(ref=r("rbac.authorization.k8s.io/v1", "RoleBinding", "bob-pod-reader"), expect={
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob@example.com"},
                         {"kind": "ServiceAccount", "name": "api", "namespace": "shop"}]})],
    ),
]
CASES[10].checks = [Check(ref=r("apps/v1", "Deployment", "api-canary"), rollout=True,
                          expect={k: v for k, v in CASES[10].manifests[0].items()
                                  if k not in ("apiVersion", "kind", "metadata")}
                          | {"metadata": {"labels": {"app": "api", "track": "canary"}}})]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_everyday_action_table(case: Case, everyday: MemoryCluster) -> None:
    """What a person approving each new action sees, and what the repo and restore get."""
    spec, params = validate_call(ActionCall(action=case.action, params=case.params))
    rendered = spec.render(params, everyday, now="2025-01-02T03:04:05Z")
    assert spec.title(params, everyday) == case.title
    assert spec.risk_of(params, everyday) == case.risk
    assert rendered.manifests == case.manifests
    assert spec.targets(params, everyday) == case.targets
    assert [p.describe() for p in spec.permissions(params, everyday)] == case.permissions
    assert spec.creates(params, everyday) == case.creates
    assert spec.backup_targets(params, everyday) == case.backups
    assert spec.checks(params, everyday) == case.checks
    for text in (spec.backup(params, everyday), spec.restore(params, everyday), spec.verify(params, everyday)):
        assert text and text.endswith(".")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_everyday_objects_are_valid_kubernetes(case: Case, everyday: MemoryCluster) -> None:
    """Once merged onto the live object, every rendered object passes the official schema (strict)."""
    spec, params = validate_call(ActionCall(action=case.action, params=case.params))
    for manifest in spec.render(params, everyday).manifests:
        meta_ = manifest["metadata"]
        live = everyday.get(manifest["apiVersion"], manifest["kind"], meta_["name"], meta_.get("namespace"))
        merged = apply_preview(live, manifest)
        kubernetes_validate.validate(merged, K8S_VERSION, strict=True)


def test_removing_an_env_var_keeps_the_others(everyday: MemoryCluster) -> None:
    """The issue's bug: removing one variable must never delete the Deployment or the other variables."""
    spec, params = validate_call(ActionCall(action="remove-env", params={"name": "api", "namespace": "shop",
                                                                          "container": "api", "names": ["DEBUG"]}))
    rendered = spec.render(params, everyday)
    assert rendered.deletes == []
    merged = apply_preview(everyday.get("apps/v1", "Deployment", "api", "shop"), rendered.manifests[0])
    env = merged["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e["name"] for e in env] == ["LOG_LEVEL", "SECRET_KEY"]
    assert merged["spec"]["replicas"] == 3 and len(merged["spec"]["template"]["spec"]["containers"]) == 2


def test_canary_share_follows_the_weight(everyday: MemoryCluster) -> None:
    """A 50% canary of 3 stable pods gets 3 pods; 'one replica' gets one, whatever the weight."""
    half = validate_call(ActionCall(action="create-canary", params={"name": "api", "namespace": "shop",
                                                                     "image": "x:2", "container": "api", "weight": 50}))
    assert half[0].render(half[1], everyday).manifests[0]["spec"]["replicas"] == 3
    one = validate_call(ActionCall(action="create-canary", params={"name": "api", "namespace": "shop", "image": "x:2",
                                                                    "container": "api", "canary_replicas": 1}))
    assert "about 25% of the traffic" in one[0].title(one[1], everyday)


@pytest.mark.parametrize(("action", "params", "why"), [
    ("expand-pvc", {"name": "uploads", "namespace": "shop", "size": "5Gi"}, "can only grow"),
    ("expand-pvc", {"name": "archive", "namespace": "shop", "size": "20Gi"}, "does not allow volume expansion"),
    ("expand-pvc", {"name": "ghost", "namespace": "shop", "size": "20Gi"}, "does not exist"),
    ("create-pvc", {"name": "uploads", "namespace": "shop", "size": "1Gi"}, "exists already"),
    ("set-env", {"name": "api", "namespace": "shop", "container": "api", "env": {"SECRET_KEY": "x"}}, "valueFrom"),
    ("set-env", {"name": "api", "namespace": "shop", "env": {"A": "b"}}, "say which one"),
    ("remove-env", {"name": "api", "namespace": "shop", "container": "api", "names": ["NOPE"]}, "has no env var NOPE"),
    ("set-probe", {"name": "api", "namespace": "shop", "container": "proxy", "port": 80}, "has no readiness probe"),
    ("create-ingress", {"name": "x", "namespace": "shop", "service": "api", "port": 8081}, "has no port 8081"),
    ("create-ingress", {"name": "x", "namespace": "shop", "service": "ghost"}, "does not exist"),
    ("create-cronjob", {"name": "cleanup", "namespace": "shop", "schedule": "@daily", "image": "a:1"}, "exists already"),
    ("suspend-cronjob", {"name": "cleanup", "namespace": "shop", "suspend": False}, "already running"),
    ("create-rolebinding", {"name": "b", "namespace": "shop", "role": "ghost", "users": ["bob"]}, "no Role"),
    ("create-canary", {"name": "ghost", "namespace": "shop", "image": "a:1"}, "does not exist"),
    ("harden-workload", {"name": "api", "namespace": "shop", "containers": ["sidecar"]}, "has no container sidecar"),
    ("set-service-selector", {"name": "api", "namespace": "shop", "selector": {"app": "apx"}}, "already selects"),
])
def test_everyday_refusals_say_why(action: str, params: dict[str, Any], why: str, everyday: MemoryCluster) -> None:
    """A call that cannot be carried out renders nothing and says why (the planner does not offer it)."""
    spec, validated = validate_call(ActionCall(action=action, params=params))
    rendered = spec.render(validated, everyday)
    assert rendered.empty and why in " ".join(rendered.notes), rendered.notes


@pytest.mark.parametrize(("action", "params", "message"), [
    ("set-env", {"name": "api", "namespace": "shop", "env": {"DB_PASSWORD": "[REDACTED]"}}, "Secret"),
    ("set-env", {"name": "api", "namespace": "shop", "env": {"1BAD NAME": "x"}}, "invalid environment variable name"),
    ("sa-aws-role", {"name": "api", "namespace": "shop", "role_arn": "arn:aws:iam::12:role/x"}, "params.role_arn"),
    ("sa-azure-identity", {"name": "api", "namespace": "shop", "client_id": "not-a-uuid"}, "params.client_id"),
    ("create-rolebinding", {"name": "b", "namespace": "shop", "role": "r", "groups": ["system:masters"]}, "system:"),
    ("create-rolebinding", {"name": "b", "namespace": "shop", "role": "r"}, "at least one"),
    ("create-cronjob", {"name": "c", "namespace": "shop", "schedule": "every night", "image": "a:1"}, "params.schedule"),
    ("create-role", {"name": "r", "namespace": "shop", "rules": [{"resources": ["pods"], "verbs": ["sudo"]}]},
     "params.rules.0.verbs.0"),
])
def test_everyday_invalid_params_name_the_field(action: str, params: dict[str, Any], message: str) -> None:
    """Wrong parameters are refused at the catalog's door with the field (and why)."""
    from controller.catalog.base import CatalogError

    with pytest.raises(CatalogError) as err:
        validate_call(ActionCall(action=action, params=params))
    assert message in str(err.value)


def test_a_role_needs_every_permission_it_grants(everyday: MemoryCluster) -> None:
    """Mirrors the API server's escalation check: granting `*` on secrets needs `*` on secrets, risk high."""
    spec, params = validate_call(ActionCall(action="create-role", params={
        "name": "r", "namespace": "shop", "rules": [{"resources": ["secrets"], "verbs": ["*"]}]}))
    assert "* secrets (core) in namespace shop" in [p.describe() for p in spec.permissions(params, everyday)]
    assert spec.risk_of(params, everyday) == "high"


def test_verify_does_not_look_for_a_removed_env_var(everyday: MemoryCluster) -> None:
    """What verify (and the engine's fingerprints) expect from a removal holds once the var is gone."""
    from controller.catalog.base import expectation

    spec, params = validate_call(ActionCall(action="remove-env", params={"name": "api", "namespace": "shop",
                                                                          "container": "api", "names": ["DEBUG"]}))
    wanted = expectation(spec.render(params, everyday).manifests[0])
    assert wanted == {"spec": {"template": {"spec": {"containers": [{"name": "api"}]}}}}


def test_hardening_a_privileged_container_turns_privileged_off(everyday: MemoryCluster) -> None:
    """allowPrivilegeEscalation false next to privileged true is refused by the API server: both change."""
    for obj in everyday.objects:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "api":
            obj["spec"]["template"]["spec"]["containers"][1]["securityContext"] = {"privileged": True}
    spec, params = validate_call(ActionCall(action="harden-workload", params={"name": "api", "namespace": "shop"}))
    rendered = spec.render(params, everyday)
    contexts = {c["name"]: c["securityContext"] for c in rendered.manifests[0]["spec"]["template"]["spec"]["containers"]}
    assert contexts["proxy"]["privileged"] is False and "privileged" not in contexts["api"]
    assert any("run privileged" in n for n in rendered.notes)
    merged = apply_preview(everyday.get("apps/v1", "Deployment", "api", "shop"), rendered.manifests[0])
    kubernetes_validate.validate(merged, K8S_VERSION, strict=True)
