"""The ReplicaSet controller: as many pods as `spec.replicas`, counted ready and available from the pods.

Why: READY 1/2 must come from real pods. Missing pods are created from the template (named
`<rs>-<5 chars>`, owned by the ReplicaSet), surplus pods are deleted - unscheduled, then not ready,
then the newest first, as the real controller ranks them - and the status counts only pods that
are Ready (and, for availableReplicas, Ready for `minReadySeconds`).
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

from sandbox.clock import parse_rfc3339
from sandbox.controllers.base import Controller, owner_reference, set_condition
from sandbox.errors import ApiError
from sandbox.operations import SYSTEM_USER
from sandbox.recorder import NORMAL, WARNING
from sandbox.store import ObjectKey

NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
RS_CONTROLLER = "replicaset-controller"


def random_suffix(n: int = 5) -> str:
    return "".join(secrets.choice(NAME_CHARS) for _ in range(n))


def active(pod: dict[str, Any]) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and \
        (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def ready_since(pod: dict[str, Any]) -> float | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready" and c.get("status") == "True":
            return parse_rfc3339(c.get("lastTransitionTime")) or 0.0
    return None


def pod_from_template(template: dict[str, Any], owner: dict[str, Any], api_version: str, kind: str,
                      name: str) -> dict[str, Any]:
    meta = copy.deepcopy(template.get("metadata") or {})
    metadata: dict[str, Any] = {"name": name, "labels": meta.get("labels") or {},
                                "ownerReferences": [owner_reference(owner, api_version, kind)]}
    if meta.get("annotations"):
        metadata["annotations"] = meta["annotations"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": copy.deepcopy(template.get("spec") or {})}


class PodCounter:
    """Ready and available pods; `next_check` is when a pod becomes available after minReadySeconds."""

    def __init__(self, pods: list[dict[str, Any]], min_ready: float, now: float) -> None:
        self.ready = 0
        self.available = 0
        self.next_check: float | None = None
        for pod in pods:
            since = ready_since(pod)
            if since is None:
                continue
            self.ready += 1
            if since + min_ready <= now:
                self.available += 1
            else:
                due = since + min_ready
                self.next_check = due if self.next_check is None else min(self.next_check, due)


class ReplicaSetController(Controller):
    name = RS_CONTROLLER
    watches = (("apps", "replicasets"), ("", "pods"))
    owner_kind = "ReplicaSet"

    def reconcile(self, key: ObjectKey) -> float | None:
        rs = self.get(*key)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return None
        rt = self.rt("apps", "v1", "replicasets")
        spec = rs.get("spec") or {}
        wanted = int(spec.get("replicas", 1))
        pods = [p for p in self.owned_views("", "pods", rs) if active(p)]
        pods_rt = self.rt("", "v1", "pods")
        namespace = rs["metadata"].get("namespace", "")
        failure = ""
        if len(pods) < wanted:
            for _ in range(wanted - len(pods)):
                name = f"{rs['metadata']['name']}-{random_suffix()}"
                body = pod_from_template(spec.get("template") or {}, rs, "apps/v1", "ReplicaSet", name)
                try:
                    with self.sim.own_writes():
                        created = self.ops.create(pods_rt, namespace, body, SYSTEM_USER)
                except ApiError as exc:  # admission (a quota, a policy) or validation refused the pod
                    failure = f"Error creating: {exc.message}"
                    self.recorder.record(rs, "FailedCreate", failure, WARNING, RS_CONTROLLER)
                    break
                pods.append(created)
                self.recorder.record(rs, "SuccessfulCreate", f"Created pod: {name}", NORMAL, RS_CONTROLLER)
        elif len(pods) > wanted:
            for pod in [copy.deepcopy(p) for p in sorted(pods, key=_deletion_rank)[: len(pods) - wanted]]:
                self.delete(pods_rt, pod)
                self.recorder.record(rs, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", NORMAL,
                                     RS_CONTROLLER)
        pods = [p for p in self.owned_views("", "pods", rs) if active(p)]
        rs = self.get(*key) or rs
        if self.staged(rs):
            return None
        now = self.clock.now()
        counts = PodCounter(pods, float(spec.get("minReadySeconds") or 0), now)
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        status: dict[str, Any] = {"replicas": len(pods), "observedGeneration": rs["metadata"].get("generation", 1)}
        labelled = sum(1 for p in pods if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items()))
        for field, value in (("fullyLabeledReplicas", labelled), ("readyReplicas", counts.ready),
                             ("availableReplicas", counts.available)):
            if value:
                status[field] = value
        conditions = (rs.get("status") or {}).get("conditions") or []
        if failure:
            conditions = set_condition(conditions, "ReplicaFailure", "True", "FailedCreate", failure,
                                       self.clock.timestamp())
        elif conditions:
            conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
        if conditions:
            status["conditions"] = conditions
        self.write_status(rt, rs, status)
        return counts.next_check


def _deletion_rank(pod: dict[str, Any]) -> tuple[int, int, float]:
    """Delete first: unscheduled, then pending, then not ready, then the most recently created."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    scheduled = 1 if spec.get("nodeName") else 0
    running = 1 if status.get("phase") == "Running" else 0
    ready = 1 if ready_since(pod) is not None else 0
    created = parse_rfc3339(pod["metadata"].get("creationTimestamp")) or 0.0
    return (scheduled + running + ready, 0, -created)
