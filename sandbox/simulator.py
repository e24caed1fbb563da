"""Workload simulator: what the deployment and statefulset controllers would leave behind.

Why: there is no kubelet or controller manager, yet the operator reads rollout state (Deployment
READY, ReplicaSet revisions for history/undo). After each spec change of a Deployment this writes
the ReplicaSets and status of a finished rollout; a StatefulSet gets a finished status. Tests that
need another state (CrashLoopBackOff, unavailable) stage it through the status subresource, which
the simulator never reacts to. Switch it off per server with `simulate_workloads=False`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sandbox.operations import SYSTEM_USER, Operations
from sandbox.resources import ResourceType
from sandbox.writes import MERGE_PATCH, now

REVISION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
TEMPLATE_HASH = "pod-template-hash"


def template_hash(template: dict[str, Any]) -> str:
    """A stable short hash of a pod template, usable as a label value and a name suffix."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    n = int(digest[:16], 16)
    out = ""
    for _ in range(10):
        n, r = divmod(n, len(alphabet))
        out += alphabet[r]
    return out


def _nonzero(**values: int) -> dict[str, int]:
    return {k: v for k, v in values.items() if v}


def _patch(
    ops: Operations, rt: ResourceType, obj: dict[str, Any], patch: dict[str, Any], subresource: str = ""
) -> dict[str, Any]:
    meta = obj["metadata"]
    result, _ = ops.patch(
        rt,
        meta.get("namespace", ""),
        meta["name"],
        MERGE_PATCH,
        json.dumps(patch).encode(),
        SYSTEM_USER,
        subresource=subresource,
    )
    return result


def _spec_changed(new: dict[str, Any], old: dict[str, Any] | None) -> bool:
    if old is None:
        return True
    return bool(new["metadata"].get("generation") != old["metadata"].get("generation"))


def simulate(ops: Operations, rt: ResourceType, new: dict[str, Any], old: dict[str, Any] | None) -> None:
    """The controller hook: react to Deployment and StatefulSet spec changes."""
    if rt.group != "apps" or new["metadata"].get("deletionTimestamp") or not _spec_changed(new, old):
        return
    if rt.kind == "Deployment":
        _roll_out_deployment(ops, rt, new)
    elif rt.kind == "StatefulSet":
        _finish_statefulset(ops, rt, new)


def _roll_out_deployment(ops: Operations, rt: ResourceType, deploy: dict[str, Any]) -> None:
    rs_rt = ops.registry.lookup("apps", "v1", "replicasets")
    assert rs_rt is not None
    meta = deploy["metadata"]
    ns, uid = meta.get("namespace", ""), meta["uid"]
    spec = deploy.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    template = spec.get("template") or {}
    digest = template_hash(template)
    owned = [
        rs
        for rs in ops.store.objects("apps", "replicasets", ns)
        if any(
            r.get("uid") == uid and r.get("controller") for r in rs["metadata"].get("ownerReferences") or []
        )
    ]
    revisions = [int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")) for rs in owned]
    top = max(revisions, default=0)
    current = next(
        (rs for rs in owned if (rs["metadata"].get("labels") or {}).get(TEMPLATE_HASH) == digest), None
    )
    if current is None:
        revision = top + 1
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels[TEMPLATE_HASH] = digest
        selector = json.loads(json.dumps(spec.get("selector") or {}))
        selector.setdefault("matchLabels", {})[TEMPLATE_HASH] = digest
        pod_template = json.loads(json.dumps(template))
        pod_template.setdefault("metadata", {})["labels"] = labels
        body = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{digest}",
                "namespace": ns,
                "labels": labels,
                "annotations": {
                    REVISION: str(revision),
                    DESIRED_REPLICAS: str(replicas),
                    MAX_REPLICAS: str(replicas + max(1, replicas // 4)),
                },
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": meta["name"],
                        "uid": uid,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {"replicas": replicas, "selector": selector, "template": pod_template},
        }
        current = ops.create(rs_rt, ns, body, SYSTEM_USER)
    else:
        revision = int((current["metadata"].get("annotations") or {}).get(REVISION, "0"))
        if revision != top:
            revision = top + 1
        current = _patch(
            ops,
            rs_rt,
            current,
            {
                "metadata": {"annotations": {REVISION: str(revision), DESIRED_REPLICAS: str(replicas)}},
                "spec": {"replicas": replicas},
            },
        )
    for rs in owned:
        if rs["metadata"]["name"] != current["metadata"]["name"] and (rs.get("spec") or {}).get(
            "replicas", 1
        ):
            scaled = _patch(ops, rs_rt, rs, {"spec": {"replicas": 0}})
            _patch(
                ops,
                rs_rt,
                scaled,
                {
                    "status": {
                        "replicas": 0,
                        "readyReplicas": None,
                        "availableReplicas": None,
                        "fullyLabeledReplicas": None,
                        "observedGeneration": scaled["metadata"]["generation"],
                    }
                },
                "status",
            )
    _patch(
        ops,
        rs_rt,
        current,
        {
            "status": {
                "replicas": replicas,
                "fullyLabeledReplicas": replicas,
                "readyReplicas": replicas or None,
                "availableReplicas": replicas or None,
                "observedGeneration": current["metadata"]["generation"],
            }
        },
        "status",
    )
    _prune_history(ops, rs_rt, owned, current["metadata"]["name"], int(spec.get("revisionHistoryLimit", 10)))
    deploy = _patch(ops, rt, deploy, {"metadata": {"annotations": {REVISION: str(revision)}}})
    stamp = now()
    rs_name = current["metadata"]["name"]
    status: dict[str, Any] = {
        "observedGeneration": deploy["metadata"]["generation"],
        **_nonzero(
            replicas=replicas, updatedReplicas=replicas, readyReplicas=replicas, availableReplicas=replicas
        ),
        "conditions": [
            {
                "type": "Available",
                "status": "True",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
                "lastUpdateTime": stamp,
                "lastTransitionTime": stamp,
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{rs_name}" has successfully progressed.',
                "lastUpdateTime": stamp,
                "lastTransitionTime": stamp,
            },
        ],
    }
    ops.replace(rt, ns, meta["name"], {**deploy, "status": status}, SYSTEM_USER, subresource="status")


def _prune_history(
    ops: Operations, rs_rt: ResourceType, owned: list[dict[str, Any]], current: str, limit: int
) -> None:
    old = [rs for rs in owned if rs["metadata"]["name"] != current]
    old.sort(key=lambda rs: int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")))
    for rs in old[: max(0, len(old) - limit)]:
        ops.delete(rs_rt, rs["metadata"]["namespace"], rs["metadata"]["name"], {}, SYSTEM_USER)


def _finish_statefulset(ops: Operations, rt: ResourceType, sts: dict[str, Any]) -> None:
    meta = sts["metadata"]
    spec = sts.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    revision = f"{meta['name']}-{template_hash(spec.get('template') or {})}"
    status = {
        "observedGeneration": meta["generation"],
        "replicas": replicas,
        **_nonzero(
            readyReplicas=replicas,
            currentReplicas=replicas,
            updatedReplicas=replicas,
            availableReplicas=replicas,
        ),
        "currentRevision": revision,
        "updateRevision": revision,
        "collisionCount": 0,
    }
    ops.replace(
        rt,
        meta.get("namespace", ""),
        meta["name"],
        {**sts, "status": status},
        SYSTEM_USER,
        subresource="status",
    )
