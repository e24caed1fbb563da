"""Flux sync: one GitRepository + Kustomization pair per repo, status read from the Kustomization.

How Flux reports: kstatus conditions. `Ready=True` means the last revision was applied and (with
`wait: true`) every object is healthy; `Ready=False` with a failure reason (HealthCheckFailed,
ReconciliationFailed, BuildFailed, ArtifactFailed, DependencyNotReady...) means it is not, and
`Reconciling=True` or `Ready=Unknown` means it is still working. The applied revision is
`status.lastAppliedRevision` ("thread/<id>@sha1:<sha>").
"""

from __future__ import annotations

from typing import Any

from controller.adapters.sync.base import (
    DEGRADED,
    HEALTHY,
    OUT_OF_SYNC,
    PROGRESSING,
    SYNCED,
    UNKNOWN,
    SyncRequest,
    SyncState,
)
from controller.adapters.sync.gitops import GitopsSync, revision_matches
from renderer.gitops import GitopsThread, render_flux

KUSTOMIZE = "kustomize.toolkit.fluxcd.io/v1"
SOURCE = "source.toolkit.fluxcd.io/v1"
WAITING_REASONS = frozenset({"Progressing", "ProgressingWithRetry", "DependencyNotReady", ""})


class FluxSync(GitopsSync):
    name = "flux"
    tool = "Flux"
    watched = ((KUSTOMIZE, "Kustomization"),)
    owned = ((KUSTOMIZE, "Kustomization"), (SOURCE, "GitRepository"))

    def render(self, thread: GitopsThread) -> list[dict[str, Any]]:
        return render_flux(thread)

    def read(self, obj: dict[str, Any] | None, req: SyncRequest) -> SyncState:
        status = (obj or {}).get("status") or {}
        ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
        if ready is None:
            return SyncState(UNKNOWN, PROGRESSING, "not reconciled yet")
        reason, message = str(ready.get("reason") or ""), str(ready.get("message") or "")
        if ready.get("status") == "False" and reason not in WAITING_REASONS:
            return SyncState(OUT_OF_SYNC, DEGRADED, f"{reason}: {message}")
        if ready.get("status") != "True":
            return SyncState(OUT_OF_SYNC, PROGRESSING, message)
        if not revision_matches(str(status.get("lastAppliedRevision") or ""), req.commits):
            return SyncState(OUT_OF_SYNC, PROGRESSING, "waiting for the thread branch's new commit")
        return SyncState(SYNCED, HEALTHY, message)
