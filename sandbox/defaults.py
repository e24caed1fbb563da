"""Per-kind defaulting and create-time status, as the real registry strategies do it.

Why: clients read back what the server filled in (a Deployment's `spec.replicas: 1`, a Service's
`clusterIP`, a Namespace's `Active` phase, a Pod's `Pending`), and server-side defaults decide
whether a re-apply is a no-op. Only the defaults that clients and tests notice are here.
"""

from __future__ import annotations

import base64
import copy
import itertools
from typing import Any

from sandbox.resources import ResourceType

_cluster_ips = itertools.count(10)

# Status fields that are not `omitempty` in the Go types, so a fresh object already carries them
# (clients with strict models, like the Python client's, require them).
INITIAL_STATUS: dict[str, dict[str, Any]] = {
    "apps/StatefulSet": {"replicas": 0, "availableReplicas": 0},
    "apps/ReplicaSet": {"replicas": 0},
    "apps/DaemonSet": {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                       "numberReady": 0},
    "autoscaling/HorizontalPodAutoscaler": {"desiredReplicas": 0},
    "policy/PodDisruptionBudget": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0,
                                   "expectedPods": 0},
    "/Service": {"loadBalancer": {}},
    "/PersistentVolumeClaim": {"phase": "Pending"},
    "/PersistentVolume": {"phase": "Pending"},
}


def _deployment_defaults(spec: dict[str, Any]) -> None:
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy.setdefault("type", "RollingUpdate")
        strategy.setdefault("rollingUpdate", {"maxUnavailable": "25%", "maxSurge": "25%"})


def _job_defaults(job: dict[str, Any], spec: dict[str, Any]) -> None:
    """What the Job registry strategy fills in: counts, and a selector on the Job's own uid."""
    if "completions" not in spec and "parallelism" not in spec:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    meta = job.get("metadata") or {}
    uid, name = meta.get("uid", ""), meta.get("name", "")
    if spec.get("manualSelector") or spec.get("selector") or not uid:
        return
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
    for key, value in (("batch.kubernetes.io/controller-uid", uid), ("batch.kubernetes.io/job-name", name),
                       ("controller-uid", uid), ("job-name", name)):
        labels.setdefault(key, value)


def _merge_string_data(secret: dict[str, Any]) -> None:
    """`stringData` is write-only: the API server merges it into `data` (base64) and drops it."""
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = secret.setdefault("data", {}) or {}
        secret["data"] = data
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _cronjob_defaults(spec: dict[str, Any]) -> None:
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)


def apply_defaults(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Fill in the spec defaults a client would see after create or update (mutates obj)."""
    if rt.custom:
        return
    spec = obj.get("spec")
    key = f"{rt.group}/{rt.kind}"
    if key == "apps/Deployment" and isinstance(spec, dict):
        _deployment_defaults(spec)
    elif key == "batch/Job" and isinstance(spec, dict):
        _job_defaults(obj, spec)
    elif key == "batch/CronJob" and isinstance(spec, dict):
        _cronjob_defaults(spec)
    elif key == "apps/StatefulSet" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("revisionHistoryLimit", 10)
        strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("type", "RollingUpdate")
            strategy.setdefault("rollingUpdate", {"partition": 0})
        spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    elif key == "apps/DaemonSet" and isinstance(spec, dict):
        spec.setdefault("revisionHistoryLimit", 10)
        strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("type", "RollingUpdate")
            strategy.setdefault("rollingUpdate", {"maxUnavailable": 1, "maxSurge": 0})
    elif key == "apps/ReplicaSet" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
    elif key == "/Service" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        if spec.get("type") in ("ClusterIP", "NodePort", "LoadBalancer") and not spec.get("clusterIP"):
            n = next(_cluster_ips)
            spec["clusterIP"] = f"10.96.{n // 250}.{n % 250 + 1}"
            spec["clusterIPs"] = [spec["clusterIP"]]
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    elif key == "/Secret":
        obj.setdefault("type", "Opaque")
        _merge_string_data(obj)
    elif key == "/Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        labels = obj.setdefault("metadata", {}).setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"].get("name", "")


def initial_status(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Reset status on create for kinds with a status subresource (mutates obj)."""
    if not rt.has_status:
        return
    if rt.custom:
        obj.pop("status", None)
        return
    key = f"{rt.group}/{rt.kind}"
    if key in INITIAL_STATUS:
        obj["status"] = copy.deepcopy(INITIAL_STATUS[key])
    elif key == "/Namespace":
        obj["status"] = {"phase": "Active"}
    elif key == "/Pod":
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    elif key == "apiextensions.k8s.io/CustomResourceDefinition":
        return  # set by the CRD controller in operations
    else:
        obj["status"] = {}
