"""Direct sync (the embedded default): server-side apply of the approved objects as the requester.

Why as the requester: with no GitOps tool in the cluster, the operator itself is the applier, and
it must never do more than the person could do with kubectl (principle 2). Each thread revision
applies with its own field manager and without force: a field another manager owns is taken over
only when the approved plan said so (its `takesOver`); any other conflict is surfaced, not forced.
An approved take-over names a field, whoever manages it by now: the executor has checked, under the
thread's lock, that the field still holds the value the plan was made against (another thread writing
that same value adds itself as a manager and must not fail the apply, and keep the lock, for nothing).
An object the executor read just before applying is applied with that resourceVersion in its body (a
precondition, kubernetes#63104): a request the server runs late or twice — a retry after a client-side
timeout whose first attempt the server still ran — is refused 409 instead of writing over a later change.
Verification (read on later reconciles) checks every object shows the fields the plan set and
rollouts finished.
"""

from __future__ import annotations

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

    def start(self, req: SyncRequest) -> SyncOutcome:
        as_requester = self.kube.as_user(req.requester)
        manager = req.field_manager or self.field_manager
        versions = dict(req.preconditions)
        try:
            for manifest in req.manifests:
                self._apply(as_requester, guarded(manifest, versions), manager, req.takes_over)
            for ref in req.deletes:
                as_requester.delete(ref.api_version, ref.kind, ref.name, ref.namespace or None)
        except KubeError as exc:
            if exc.transient:
                raise
            return SyncOutcome(False, f"applying as {req.requester.user} failed: {exc.message}")
        return SyncOutcome(True, f"applied {len(req.manifests)} object(s) as {req.requester.user}")

    @staticmethod
    def _apply(kube: Kube, manifest: dict[str, Any], manager: str, takes_over: tuple[str, ...]) -> None:
        """Apply without force; force only over the conflicts the approved plan listed."""
        try:
            kube.apply(manifest, manager, force=False)
        except KubeError as exc:
            conflicts = exc.field_conflicts
            if not conflicts:
                raise
            key = _key(manifest)
            approved = {_field(t.removeprefix(key + " ")) for t in takes_over if t.startswith(key + " ")}
            unapproved = [c for c in conflicts if _field(c) not in approved]
            if unapproved:
                raise KubeError(409, "Conflict", "fields owned by other managers were not part of the approved "
                                f"plan: {'; '.join(unapproved)}", exc.status) from None
            kube.apply(manifest, manager, force=True)

    def describe(self, req: SyncRequest, state: SyncState) -> str:
        if state.done:
            return f"applied {len(req.manifests)} object(s) as {req.requester.user} and verified"
        return f"verification failed: {state.message}"

    def status(self, req: SyncRequest) -> SyncState:
        problem = self.first_problem(req.expected, req.deletes)
        if problem:  # the executor's verify deadline decides when waiting has become failure
            return SyncState(SYNCED, DEGRADED if ROLLOUT_FAILED in problem else PROGRESSING, problem)
        return SyncState(SYNCED, HEALTHY, "")

    def remove(self, thread_id: str) -> None:
        """Nothing to remove: direct sync leaves no objects of its own."""

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
                waiting = rollout_waiting(live, item.ready)
                if waiting:
                    return f"{ref.key()}: {waiting}"
        for ref in deletes:
            if self.kube.get(ref.api_version, ref.kind, ref.name, ref.namespace or None) is not None:
                return f"{ref.key()} still exists"
        return ""


ROLLOUT_FAILED = "ProgressDeadlineExceeded"


def guarded(manifest: dict[str, Any], versions: dict[str, str]) -> dict[str, Any]:
    """The manifest with the resourceVersion its apply is conditioned on, when one was read for it."""
    key = _key(manifest)
    if key not in versions:
        return manifest
    return {**manifest, "metadata": {**manifest["metadata"], "resourceVersion": versions[key]}}


def _key(manifest: dict[str, Any]) -> str:
    meta = manifest["metadata"]
    return ObjectRef(api_version=manifest["apiVersion"], kind=manifest["kind"], name=meta["name"],
                     namespace=meta.get("namespace") or "").key()


def rollout_waiting(live: dict[str, Any], ready: bool = True) -> str:
    """'' when the rollout is done; `ready=False` (the pods were not ready before the change either) asks
    only that the new template started rolling out: the Deployment controller cannot replace pods that
    are not available within maxUnavailable, so a workload broken before never finishes a rollout."""
    status = live.get("status") or {}
    spec = live.get("spec") or {}
    generation = live.get("metadata", {}).get("generation", 0)
    if status.get("observedGeneration", 0) < generation:
        return "the rollout has not been observed yet"
    for cond in status.get("conditions") or [] if ready else []:
        if cond.get("type") == "Progressing" and cond.get("status") == "False":
            return f"rollout failed ({cond.get('reason', ROLLOUT_FAILED)}): {cond.get('message', '')}"
    wanted = spec.get("replicas", 1)
    if not ready:  # a rollout of a workload that was broken before cannot finish: it must have started
        started = status.get("updatedReplicas", 0) >= min(1, wanted)
        return "" if started else "the new template has not started rolling out"
    for field_name in ("updatedReplicas", "readyReplicas"):
        if field_name in status and status.get(field_name, 0) < wanted:
            return f"rollout in progress ({field_name} {status.get(field_name, 0)}/{wanted})"
    return ""


def _field(conflict: str) -> str:
    """'.spec.replicas' of '.spec.replicas (conflict with "kubectl" using apps/v1)'."""
    return conflict.split(" (", 1)[0]
