"""A small cluster for planner tests: shop (web, worker, api, postgres, web-config, the cleanup CronJob, the
uploads claim, ServiceAccounts api and worker, Role pod-reader) and payments (checkout)."""

from __future__ import annotations

from typing import Any

from controller.api.types import Identity
from controller.planning.memory_cluster import MemoryCluster
from controller.planning.types import PlanningRequest


def deployment(name: str, namespace: str, image: str, replicas: int = 2, port: int = 8080,
               resources: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": image, "ports": [{"containerPort": port}]}
    if resources:
        container["resources"] = resources
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": extra.pop("kind", "Deployment"),
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}},
    }
    obj["spec"].update(extra)
    return obj


def _api() -> dict[str, Any]:
    api = deployment("api", "shop", "ghcr.io/acme/api:2.1.0", 3, port=9000)
    spec = api["spec"]["template"]["spec"]
    spec["serviceAccountName"] = "api"
    spec["containers"][0]["env"] = [{"name": "LOG_LEVEL", "value": "info"}, {"name": "FEATURE_X", "value": "on"},
                                    {"name": "DEBUG", "value": "false"}]
    return api


def base_objects() -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "payments"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}},
        deployment("web", "shop", "nginx:1.27", 2),
        deployment("worker", "shop", "busybox:1.36", 1,
                   resources={"requests": {"memory": "128Mi"}, "limits": {"memory": "256Mi"}}),
        _api(),
        deployment("postgres", "shop", "postgres:16", 1, port=5432, kind="StatefulSet", serviceName="postgres"),
        deployment("checkout", "payments", "acme/checkout:4.2", 2),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config", "namespace": "shop"},
         "data": {"LOG_LEVEL": "info", "CACHE_TTL": "60"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-creds", "namespace": "shop"},
         "stringData": {"password": "hunter2-not-for-ai"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "shop"},
         "spec": {"selector": {"app": "api"}, "ports": [{"port": 9000, "targetPort": 9000}]}},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cleanup", "namespace": "shop"},
         "spec": {"schedule": "0 3 * * *", "suspend": False, "jobTemplate": {"spec": {"template": {"spec": {
             "restartPolicy": "OnFailure", "containers": [{"name": "cleanup", "image": "busybox:1.36"}]}}}}}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "uploads", "namespace": "shop"},
         "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "gp3",
                  "resources": {"requests": {"storage": "5Gi"}}},
         "status": {"phase": "Bound", "capacity": {"storage": "5Gi"}}},
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "gp3"},
         "provisioner": "ebs.csi.aws.com", "allowVolumeExpansion": True},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "api", "namespace": "shop"}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "worker", "namespace": "shop"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "pod-reader", "namespace": "shop"},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]},
    ]


def shop_cluster(*extra: dict[str, Any]) -> MemoryCluster:
    return MemoryCluster([*base_objects(), *extra])


def request(*turns: str, namespace: str = "shop", **fields: Any) -> PlanningRequest:
    return PlanningRequest(thread_id="t-test", turns=list(turns), namespace=namespace,
                           requester=Identity(user="alice@example.com", groups=["devs"]), **fields)
