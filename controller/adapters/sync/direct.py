"""Direct sync (the embedded default): server-side apply of the approved objects as the requester.

Why as the requester: with no GitOps tool in the cluster, the operator itself is the applier, and
it must never do more than the person could do with kubectl (principle 2). Verification waits until
every object shows the fields the plan set and rollouts finished.
"""

from __future__ import annotations

import time
from typing import Any

from controller.adapters.kube import Kube, KubeError
from controller.adapters.sync.base import (
    DEGRADED,
    HEALTHY,
    PROGRESSING,
    SYNCED,
    Expected,
    SyncOutcome,
    SyncRequest,
    SyncState,
)
from controller.api.types import ObjectRef
from controller.kubevalues import subset_mismatch


class DirectSync:
    name = "direct"

    def __init__(self, kube: Kube, field_manager: str = "ai-operator", verify_timeout_s: float = 60.0) -> None:
        self.kube = kube
        self.field_manager = field_manager
        self.verify_timeout_s = verify_timeout_s

    def apply(self, req: SyncRequest) -> SyncOutcome:
        as_requester = self.kube.as_user(req.requester)
        try:
            for manifest in req.manifests:
                as_requester.apply(manifest, self.field_manager)
            for ref in req.deletes:
                as_requester.delete(ref.api_version, ref.kind, ref.name, ref.namespace or None)
        except KubeError as exc:
            return SyncOutcome(False, f"applying as {req.requester.user} failed: {exc.message}")
        problem = self.verify(req.expected, req.deletes)
        if problem:
            return SyncOutcome(False, f"verification failed: {problem}")
        return SyncOutcome(True, f"applied {len(req.manifests)} object(s) as {req.requester.user} and verified")

    def status(self, req: SyncRequest) -> SyncState:
        problem = self.first_problem(req.expected, req.deletes)
        if problem:
            return SyncState(SYNCED, PROGRESSING if "rollout" in problem else DEGRADED, problem)
        return SyncState(SYNCED, HEALTHY, "")

    def remove(self, thread_id: str) -> None:
        """Nothing to remove: direct sync leaves no objects of its own."""

    def verify(self, expected: tuple[Expected, ...], deletes: tuple[ObjectRef, ...]) -> str:
        """Wait until every object matches and rollouts finished; '' when all is well."""
        deadline = time.monotonic() + self.verify_timeout_s
        while True:
            problem = self.first_problem(expected, deletes)
            if not problem or time.monotonic() > deadline:
                return problem
            time.sleep(0.25)

    def first_problem(self, expected: tuple[Expected, ...], deletes: tuple[ObjectRef, ...]) -> str:
        for item in expected:
            ref = item.ref
            live = self.kube.get(ref.api_version, ref.kind, ref.name, ref.namespace or None)
            if live is None:
                return f"{ref.key()} does not exist"
            mismatch = subset_mismatch(item.fields, live)
            if mismatch:
                return f"{ref.key()}: {mismatch}"
            if item.rollout:
                waiting = rollout_waiting(live)
                if waiting:
                    return f"{ref.key()}: {waiting}"
        for ref in deletes:
            if self.kube.get(ref.api_version, ref.kind, ref.name, ref.namespace or None) is not None:
                return f"{ref.key()} still exists"
        return ""


def rollout_waiting(live: dict[str, Any]) -> str:
    status = live.get("status") or {}
    spec = live.get("spec") or {}
    generation = live.get("metadata", {}).get("generation", 0)
    if status.get("observedGeneration", 0) < generation:
        return "the rollout has not been observed yet"
    wanted = spec.get("replicas", 1)
    for field_name in ("updatedReplicas", "readyReplicas"):
        if field_name in status and status.get(field_name, 0) < wanted:
            return f"rollout in progress ({field_name} {status.get(field_name, 0)}/{wanted})"
    return ""
