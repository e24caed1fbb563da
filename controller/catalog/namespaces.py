"""Creating a namespace, with its labels and optionally a ResourceQuota.

Why one action renders two objects: "a namespace for team data with a quota of 10 pods" is one
request and one approval; the quota belongs to the namespace and restore removes both. The quota is
applied after the namespace (manifests are in order), and restore deletes in reverse order.

Why an existing namespace is not an error: applying labels to it is what the person asked for; the
defaults then treat it as a change (patch, backed up) rather than a creation (create, deleted on
restore), so restore never deletes a namespace that existed before the chat.
"""

from __future__ import annotations

from typing import Any

from controller.api.types import ObjectRef
from controller.catalog.base import NOW_PLACEHOLDER, ActionSpec, Rendered, live_object, ref
from controller.catalog.params import CreateNamespaceParams, QuotaValues
from controller.planning.types import ClusterReader
from renderer.manifests import render_manifest

QUOTA_NAME = "quota"

# QuotaValues field -> the ResourceQuota `spec.hard` key.
QUOTA_KEYS: dict[str, str] = {
    "pods": "pods",
    "cpu": "requests.cpu",
    "memory": "requests.memory",
    "limits_cpu": "limits.cpu",
    "limits_memory": "limits.memory",
    "services": "services",
    "configmaps": "configmaps",
    "persistentvolumeclaims": "persistentvolumeclaims",
}


def quota_hard(quota: QuotaValues) -> dict[str, str]:
    """`spec.hard` of the quota, quantities as strings (how Kubernetes serializes them)."""
    values: dict[str, Any] = quota.model_dump()
    return {QUOTA_KEYS[k]: str(v) for k, v in values.items() if v is not None}


def _has_quota(params: CreateNamespaceParams) -> bool:
    return params.quota is not None and bool(quota_hard(params.quota))


class CreateNamespace(ActionSpec[CreateNamespaceParams]):
    def title(self, params: CreateNamespaceParams, cluster: ClusterReader | None = None) -> str:
        exists = cluster is not None and live_object(cluster, ref("v1", "Namespace", params.name)) is not None
        verb = "Label existing namespace" if exists else "Create namespace"
        extras = []
        if params.labels:
            extras.append("labels " + ", ".join(f"{k}={v}" for k, v in sorted(params.labels.items())))
        if params.quota is not None and _has_quota(params):
            extras.append("quota " + ", ".join(f"{k}={v}" for k, v in quota_hard(params.quota).items()))
        return f"{verb} {params.name}" + (f" with {'; '.join(extras)}" if extras else "")

    def targets(self, params: CreateNamespaceParams, cluster: ClusterReader) -> list[ObjectRef]:
        out = [ref("v1", "Namespace", params.name)]
        if _has_quota(params):
            out.append(ref("v1", "ResourceQuota", QUOTA_NAME, params.name))
        return out

    def render(self, params: CreateNamespaceParams, cluster: ClusterReader,
               now: str = NOW_PLACEHOLDER) -> Rendered:
        manifests = [render_manifest("namespace", name=params.name, labels=dict(sorted(params.labels.items())))]
        notes = []
        if live_object(cluster, ref("v1", "Namespace", params.name)) is not None:
            notes.append(f"Namespace {params.name} already exists: only its labels (and quota) are applied.")
        if params.quota is not None and _has_quota(params):
            manifests.append(render_manifest("resourcequota", name=QUOTA_NAME, namespace=params.name,
                                             hard=quota_hard(params.quota)))
        elif params.quota is not None:
            notes.append("The quota named no limits, so no ResourceQuota is created.")
        return Rendered(manifests=manifests, notes=notes)


CREATE_NAMESPACE = CreateNamespace(
    name="create-namespace", context="k8s", params=CreateNamespaceParams, risk="low",
    new_namespace=True,
    description=("Create a Namespace with optional labels (team, environment) and optionally a ResourceQuota "
                 "limiting pods, CPU, memory, services, ConfigMaps or volume claims in it."),
)
ACTIONS: tuple[ActionSpec[Any], ...] = (CREATE_NAMESPACE,)
