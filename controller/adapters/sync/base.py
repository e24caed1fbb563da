"""The data every sync engine speaks, and the waiting loop the GitOps engines share.

Why plain data: the executor knows the plan (expectations come from the action catalog, sources
from the repo routes); an engine knows only how to get objects into the cluster and how to read
back whether they arrived. So engines are small and the same request drives all three.

Why start and status apart: a thread's Sync effect starts the sync once (direct apply, or the
GitOps tool's objects created) and then reads `status` on later reconciles until it is synced and
healthy, degraded, or the verify deadline passes. No controller worker blocks while a rollout
runs, and a controller restarted mid-wait resumes reading status from the execution record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from controller.adapters.kube import Kube, KubeError
from controller.api.types import Identity, ObjectRef
from renderer.gitops import GitSource

SYNCED: Final = "Synced"
OUT_OF_SYNC: Final = "OutOfSync"
HEALTHY: Final = "Healthy"
DEGRADED: Final = "Degraded"
PROGRESSING: Final = "Progressing"
MISSING: Final = "Missing"
UNKNOWN: Final = "Unknown"


@dataclass(frozen=True)
class Expected:
    """One object the plan writes and the fields it must show once applied."""

    ref: ObjectRef
    fields: dict[str, Any]
    rollout: bool = False  # a Deployment/StatefulSet/DaemonSet: wait until the rollout finished
    ready: bool = True  # ... with its pods ready; False when they were not ready before the change either


@dataclass(frozen=True)
class SyncRequest:
    thread_id: str
    digest: str
    revision: int
    summary: str
    requester: Identity
    manifests: tuple[dict[str, Any], ...] = ()
    expected: tuple[Expected, ...] = ()
    deletes: tuple[ObjectRef, ...] = ()
    sources: tuple[GitSource, ...] = ()
    commits: tuple[str, ...] = ()  # the thread-branch heads the tool should report as synced
    field_manager: str = "ai-operator"  # server-side apply manager (direct sync): aiop-<thread>-r<revision>
    takes_over: tuple[str, ...] = ()  # "<object key> <field>" taken from other managers, as approved
    # direct sync: "<object key>" -> the resourceVersion each apply is guarded by (read just before applying)
    preconditions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SyncOutcome:
    ok: bool
    message: str
    objects: tuple[str, ...] = field(default=())  # "namespace/Kind/name" of the engine's own objects


@dataclass(frozen=True)
class SyncState:
    sync: str  # Synced | OutOfSync | Unknown
    health: str  # Healthy | Progressing | Degraded | Missing | Unknown
    message: str = ""

    @property
    def done(self) -> bool:
        return self.sync == SYNCED and self.health == HEALTHY

    @property
    def failed(self) -> bool:
        return self.health == DEGRADED


def delete_as_requester(kube: Kube, requester: Identity, deletes: tuple[ObjectRef, ...]) -> str:
    """Explicit deletions of pre-existing objects (a GitOps tool only prunes what it tracks)."""
    as_requester = kube.as_user(requester)
    try:
        for ref in deletes:
            as_requester.delete(ref.api_version, ref.kind, ref.name, ref.namespace or None)
    except KubeError as exc:
        if exc.transient:
            raise
        return f"deleting as {requester.user} failed: {exc.message}"
    return ""


def combine(states: list[SyncState]) -> SyncState:
    """Several objects (one per repo) as one: synced when all are, degraded when any is."""
    if not states:
        return SyncState(UNKNOWN, MISSING, "nothing to sync")
    failed = [s for s in states if s.failed]
    if failed:
        return failed[0]
    waiting = [s for s in states if not s.done]
    if waiting:
        return waiting[0]
    return SyncState(SYNCED, HEALTHY, "; ".join(s.message for s in states if s.message))
