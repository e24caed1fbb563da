"""Which volumes a step can lose data of: the claims a workload mounts, its claim templates, a claim itself.

Why one module: "this step endangers data" follows from the same few facts for every action (an image
change on a StatefulSet, a rollback, a deleted claim, a StatefulSet scaled down with
`whenScaled: Delete`), and the engine snapshots exactly what these functions name before the first
change (issue 14). Claims that do not exist (yet) hold no data and are not named. An Azure Service
Operator object's change or delete puts its Azure resource group at risk: its ARM template is exported
first (the group comes from the object's owner). Pure: the live cluster is read only through the
`ClusterReader`.
"""

from __future__ import annotations

import re
from typing import Any

from controller.api.types import ObjectRef
from controller.catalog.base import AtRisk, describe_ref, live_object, ref
from controller.planning.types import ClusterReader


def claim_ref(name: str, namespace: str) -> ObjectRef:
    return ref("v1", "PersistentVolumeClaim", name, namespace)


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return dict((((obj.get("spec") or {}).get("template") or {}).get("spec")) or {})


def mounted_claims(obj: dict[str, Any], ordinals: range | None = None) -> list[tuple[str, str]]:
    """(claim name, how the workload uses it) for a Deployment/StatefulSet/DaemonSet object.

    A StatefulSet's claim templates give `<template>-<name>-<ordinal>` for each ordinal (all replicas
    unless `ordinals` narrows them), as the StatefulSet controller names them.
    """
    kind, name = obj.get("kind", ""), (obj.get("metadata") or {}).get("name", "")
    out: list[tuple[str, str]] = []
    for volume in _pod_spec(obj).get("volumes") or []:
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim:
            out.append((str(claim), f"mounted by {kind} {name} (volume {volume.get('name')})"))
    if kind == "StatefulSet":
        spec = obj.get("spec") or {}
        replicas = int(spec.get("replicas", 1) or 0)
        for template in spec.get("volumeClaimTemplates") or []:
            tname = (template.get("metadata") or {}).get("name", "")
            for i in ordinals if ordinals is not None else range(replicas):
                out.append((f"{tname}-{name}-{i}", f"claim template {tname} of StatefulSet {name}, pod {name}-{i}"))
    first: dict[str, str] = {}
    for claim, why in out:
        first.setdefault(claim, why)
    return list(first.items())


def workload_volumes(cluster: ClusterReader, workload: ObjectRef, what: str, required: bool = False,
                     ordinals: range | None = None) -> list[AtRisk]:
    """The existing claims `workload` mounts, each at risk because of `what` (e.g. "the image changes")."""
    live = live_object(cluster, workload)
    if live is None:
        return []
    live.setdefault("kind", workload.kind)
    out = []
    for claim, how in mounted_claims(live, ordinals):
        r = claim_ref(claim, workload.namespace)
        if live_object(cluster, r) is not None:
            out.append(AtRisk("volume", r, f"{what}; {how}", required=required))
    return out


def claim_at_risk(cluster: ClusterReader, name: str, namespace: str, why: str, required: bool = False) -> list[AtRisk]:
    r = claim_ref(name, namespace)
    return [AtRisk("volume", r, why, required=required)] if live_object(cluster, r) is not None else []


def deleted_at_risk(cluster: ClusterReader, target: ObjectRef) -> list[AtRisk]:
    """What deleting `target` loses: a claim's volume; a StatefulSet's claims when its retention policy
    deletes them with it (`whenDeleted: Delete`); snapshots are required before either."""
    if target.kind == "PersistentVolumeClaim" and target.api_version == "v1":
        return claim_at_risk(cluster, target.name, target.namespace,
                             f"{describe_ref(target)} is deleted (with its volume, under the default reclaim policy)",
                             required=True)
    if is_aso(target):
        return aso_deleted_at_risk(cluster, target)
    if target.kind == "StatefulSet":
        live = live_object(cluster, target) or {}
        policy = ((live.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}).get("whenDeleted")
        what = (f"{describe_ref(target)} is deleted with its claims (whenDeleted: Delete)" if policy == "Delete"
                else f"{describe_ref(target)} is deleted; its claims stay but nothing runs on them")
        return workload_volumes(cluster, target, what, required=True)
    return []


# ----------------------------------------------------------------------------- Azure (ASO)

ASO_GROUP_SUFFIX = ".azure.com"
ASO_RESOURCE_GROUP = ("resources.azure.com", "ResourceGroup")
ASO_RESOURCE_GROUP_API = "resources.azure.com/v1api20200601"
ASO_RECONCILE_POLICY = "serviceoperator.azure.com/reconcile-policy"
_ARM_RESOURCE_GROUP = re.compile(r"^/subscriptions/[^/]+/resourceGroups/([^/]+)", re.I)


def is_aso(target: ObjectRef) -> bool:
    """An Azure Service Operator object (`storage.azure.com/v1api20230101`, `resources.azure.com/...`)."""
    return target.api_version.partition("/")[0].endswith(ASO_GROUP_SUFFIX)


def aso_resource_group(cluster: ClusterReader, obj: dict[str, Any], namespace: str) -> str:
    """The Azure resource group an ASO object's resource lives in, '' when it cannot be told.

    A ResourceGroup object is the group itself (`spec.azureName`, else its name); another object names its
    owner: `spec.owner.armId` (an ARM id under `/resourceGroups/<rg>`) or `spec.owner.name`, the ResourceGroup
    object in the same namespace (ASO v2's convention for resources owned by a group).
    """
    api_group, kind = str(obj.get("apiVersion", "")).partition("/")[0], obj.get("kind", "")
    spec = obj.get("spec") or {}
    if (api_group, kind) == ASO_RESOURCE_GROUP:
        return str(spec.get("azureName") or (obj.get("metadata") or {}).get("name") or "")
    owner = spec.get("owner") or {}
    match = _ARM_RESOURCE_GROUP.match(str(owner.get("armId") or ""))
    if match:
        return match.group(1)
    if not owner.get("name"):
        return ""
    group = cluster.get(ASO_RESOURCE_GROUP_API, ASO_RESOURCE_GROUP[1], str(owner["name"]), namespace)
    if group is None:
        return ""
    return str((group.get("spec") or {}).get("azureName") or owner["name"])


def resource_group_at_risk(target: ObjectRef, resource_group: str, why: str, required: bool = False) -> list[AtRisk]:
    """The resource group whose ARM template is exported before `target` changes (nothing when unknown)."""
    return [AtRisk("azure-resource-group", target, why, cloud_id=resource_group, required=required)] \
        if resource_group else []


def aso_at_risk(cluster: ClusterReader, target: ObjectRef, why: str, required: bool = False) -> list[AtRisk]:
    """An existing ASO object's resource group, at risk because of `why` (nothing when the object is absent)."""
    live = live_object(cluster, target)
    if live is None:
        return []
    live.setdefault("apiVersion", target.api_version)
    live.setdefault("kind", target.kind)
    return resource_group_at_risk(target, aso_resource_group(cluster, live, target.namespace), why, required)


def aso_deleted_at_risk(cluster: ClusterReader, target: ObjectRef) -> list[AtRisk]:
    """Deleting an ASO object deletes its Azure resource, unless ASO is told to leave it (detach-on-delete, skip)."""
    live = live_object(cluster, target) or {}
    policy = ((live.get("metadata") or {}).get("annotations") or {}).get(ASO_RECONCILE_POLICY, "manage")
    if policy in ("detach-on-delete", "skip"):
        return []
    return aso_at_risk(cluster, target, f"{describe_ref(target)} is deleted, and Azure Service Operator deletes "
                                        "the Azure resource with it")
