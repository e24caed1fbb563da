"""Argo CD sync: a per-thread AppProject and one Application per repo, status read back.

How Argo CD reports (Application.status): `sync.status` Synced/OutOfSync/Unknown with the synced
`sync.revision`, `health.status` Healthy/Progressing/Degraded/Suspended/Missing, and the last
`operationState` (phase Running/Succeeded/Failed/Error, with a message). A failed or errored sync
operation, or SyncError/ComparisonError conditions, count as degraded: the thread fails with the
tool's own words.
"""

from __future__ import annotations

from typing import Any

from controller.adapters.sync.base import DEGRADED, OUT_OF_SYNC, PROGRESSING, UNKNOWN, SyncRequest, SyncState
from controller.adapters.sync.gitops import GitopsSync, revision_matches
from renderer.gitops import GitopsThread, render_argocd

API_VERSION = "argoproj.io/v1alpha1"
FAILED_CONDITIONS = frozenset({"SyncError", "ComparisonError", "InvalidSpecError"})


class ArgoCDSync(GitopsSync):
    name = "argocd"
    tool = "Argo CD"
    watched = ((API_VERSION, "Application"),)
    owned = ((API_VERSION, "Application"), (API_VERSION, "AppProject"))  # Applications first

    def render(self, thread: GitopsThread) -> list[dict[str, Any]]:
        return render_argocd(thread)

    def read(self, obj: dict[str, Any] | None, req: SyncRequest) -> SyncState:
        status = (obj or {}).get("status") or {}
        sync = (status.get("sync") or {}).get("status") or UNKNOWN
        health = (status.get("health") or {}).get("status") or UNKNOWN
        message = (status.get("health") or {}).get("message") or ""
        operation = status.get("operationState") or {}
        if operation.get("phase") in {"Failed", "Error"}:
            return SyncState(sync, DEGRADED, f"sync operation {operation['phase']}: {operation.get('message', '')}")
        errors = [c for c in status.get("conditions") or [] if c.get("type") in FAILED_CONDITIONS]
        if errors:
            return SyncState(sync, DEGRADED, f"{errors[0]['type']}: {errors[0].get('message', '')}")
        if health == DEGRADED:
            return SyncState(sync, DEGRADED, message)
        if not revision_matches(str((status.get("sync") or {}).get("revision") or ""), req.commits):
            return SyncState(OUT_OF_SYNC, PROGRESSING, "waiting for the thread branch's new commit")
        return SyncState(sync, health, message or operation.get("message", ""))
