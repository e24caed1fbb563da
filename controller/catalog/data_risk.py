"""Which volumes a step can lose data of: the claims a workload mounts, its claim templates, a claim itself.

Why one module: "this step endangers data" follows from the same few facts for every action (an image
change on a StatefulSet, a rollback, a deleted claim, a StatefulSet scaled down with
`whenScaled: Delete`), and the engine snapshots exactly what these functions name before the first
change (issue 14). Claims that do not exist (yet) hold no data and are not named. Pure: the live
cluster is read only through the `ClusterReader`.
"""

from __future__ import annotations

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
    if target.kind == "StatefulSet":
        live = live_object(cluster, target) or {}
        policy = ((live.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}).get("whenDeleted")
        what = (f"{describe_ref(target)} is deleted with its claims (whenDeleted: Delete)" if policy == "Delete"
                else f"{describe_ref(target)} is deleted; its claims stay but nothing runs on them")
        return workload_volumes(cluster, target, what, required=True)
    return []
