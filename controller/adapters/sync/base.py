"""The data every sync engine speaks, and the waiting loop the GitOps engines share.

Why plain data: the executor knows the plan (expectations come from the action catalog, sources
from the repo routes); an engine knows only how to get objects into the cluster and how to read
back whether they arrived. So engines are small and the same request drives all three.

Why a synchronous wait: a thread's Sync effect ends with SyncDone or SyncFailed; the GitOps engines
create their objects and then follow the tool's status (Argo CD's Application, Flux's
Kustomization) until it says synced and healthy, degraded, or the verify timeout passes. Each step
is idempotent (server-side apply of the same objects), so a controller restarted mid-wait just
applies again and resumes following.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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
        return f"deleting as {requester.user} failed: {exc.message}"
    return ""


def follow(read: Callable[[], SyncState], timeout_s: float, poll_s: float,
           sleep: Callable[[float], None] = time.sleep) -> SyncState:
    """Read the state until it is done or failed, or the timeout passes; the last state read."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = read()
        if state.done or state.failed or time.monotonic() > deadline:
            return state
        sleep(poll_s)


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
