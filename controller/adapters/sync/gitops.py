"""What Argo CD and Flux sync have in common: render the tool's objects, apply them, follow status.

Why the operator applies these objects as itself (not as the requester): they live in the tool's
namespace, and the scope of what they may change is cut to the approved plan by the rendered
objects themselves (the per-thread AppProject; Flux's impersonated service account). The requester's
rights were checked with SubjectAccessReviews when the plan was made.

Removal finds the objects by the thread label, so it works after a restart with nothing but the
thread id, and deleting them never deletes what they applied (no cascading finalizers).
"""

from __future__ import annotations

import logging
from typing import Any

from controller.adapters.kube import Kube, KubeError, NotFound
from controller.adapters.sync.base import (
    MISSING,
    UNKNOWN,
    SyncOutcome,
    SyncRequest,
    SyncState,
    combine,
    delete_as_requester,
)
from controller.api.constants import LABEL_THREAD
from renderer.gitops import GitopsThread

log = logging.getLogger("aiop.sync")


class GitopsSync:
    """Base of the Argo CD and Flux engines; subclasses name their kinds and read their status."""

    name = "gitops"
    tool = "GitOps"
    watched: tuple[tuple[str, str], ...] = ()  # (apiVersion, kind) whose status is followed
    owned: tuple[tuple[str, str], ...] = ()  # (apiVersion, kind) removed when the thread closes

    def __init__(self, kube: Kube, namespace: str, field_manager: str = "ai-operator",
                 verify_timeout_s: float = 60.0, poll_s: float = 0.5, server: str = "https://kubernetes.default.svc",
                 service_account: str = "", secret_ref: str = "") -> None:
        self.kube = kube
        self.namespace = namespace
        self.field_manager = field_manager
        self.verify_timeout_s = verify_timeout_s
        self.poll_s = poll_s
        self.server = server
        self.service_account = service_account
        self.secret_ref = secret_ref

    # ------------------------------------------------------------------------------ subclass API

    def render(self, thread: GitopsThread) -> list[dict[str, Any]]:
        raise NotImplementedError

    def read(self, obj: dict[str, Any] | None, req: SyncRequest) -> SyncState:
        raise NotImplementedError

    # ----------------------------------------------------------------------------------- engine

    def objects(self, req: SyncRequest) -> list[dict[str, Any]]:
        return self.render(GitopsThread(
            thread_id=req.thread_id, digest=req.digest, revision=req.revision, summary=req.summary,
            sources=req.sources, manifests=req.manifests, namespace=self.namespace, server=self.server,
            service_account=self.service_account, secret_ref=self.secret_ref))

    def start(self, req: SyncRequest) -> SyncOutcome:
        """Delete what the plan deletes (as the requester) and create the tool's objects (idempotent)."""
        objects = self.objects(req)
        refs = tuple(f"{o['metadata']['namespace']}/{o['kind']}/{o['metadata']['name']}" for o in objects)
        problem = delete_as_requester(self.kube, req.requester, req.deletes)
        if problem:
            return SyncOutcome(False, problem, refs)
        try:
            for obj in objects:
                self.kube.apply(obj, self.field_manager)
        except KubeError as exc:
            if exc.transient:
                raise
            return SyncOutcome(False, f"creating the {self.tool} objects failed: {exc.message}", refs)
        watched = ", ".join(r for r in refs if r.split("/")[1] in {k for _, k in self.watched})
        return SyncOutcome(True, f"{self.tool} is syncing {watched}", refs)

    def describe(self, req: SyncRequest, state: SyncState) -> str:
        """The sentence for a final state (synced, degraded, or still not synced at the deadline)."""
        watched = ", ".join(f"{o['metadata']['namespace']}/{o['kind']}/{o['metadata']['name']}"
                            for o in self.objects(req) if (o["apiVersion"], o["kind"]) in self.watched)
        if state.done:
            return f"{self.tool} synced {watched}: {state.sync}, {state.health}" + (
                f" ({state.message})" if state.message else "")
        if state.failed:
            return f"{self.tool} reports {watched} {state.health}: {state.message or state.sync}"
        return (f"{self.tool} did not sync {watched} within {self.verify_timeout_s:g}s "
                f"({state.sync}, {state.health}{': ' + state.message if state.message else ''})")

    def status(self, req: SyncRequest) -> SyncState:
        states = []
        for obj in self.objects(req):
            key = (obj["apiVersion"], obj["kind"])
            if key not in self.watched:
                continue
            try:
                live = self.kube.get(key[0], key[1], obj["metadata"]["name"], self.namespace)
            except NotFound:  # the CRD itself is gone
                live = None
            states.append(self.read(live, req) if live is not None else SyncState(UNKNOWN, MISSING, "not found"))
        return combine(states)

    def remove(self, thread_id: str) -> None:
        for api_version, kind in self.owned:
            try:
                found = self.kube.list(api_version, kind, self.namespace, label_selector=f"{LABEL_THREAD}={thread_id}")
            except NotFound:
                continue
            for obj in found:
                self.kube.delete(api_version, kind, obj["metadata"]["name"], self.namespace)
                log.info("removed", extra={"thread_id": thread_id, "kind": kind, "name": obj["metadata"]["name"]})


def revision_matches(reported: str, commits: tuple[str, ...]) -> bool:
    """True when the tool reports no revision, or one of the thread-branch heads (any sha form)."""
    if not reported or not commits:
        return True
    sha = reported.rpartition(":")[2].rpartition("@")[2]
    return any(sha.startswith(c) or c.startswith(sha) for c in commits if c)
