"""Steps 6-11 of a thread: back up, render and commit, sync and verify, promote, restore.

Each function executes one effect of the state machine and returns the event that reports its
outcome. Each is idempotent, so a controller killed mid-way repeats it safely on restart: backups
keep the first state seen, commits are keyed by plan digest in git, applying is server-side apply,
pull requests are opened once per branch, restore checks its own marker commit.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from controller.adapters.backups import BackupStore, clean_for_backup
from controller.adapters.forge import PullRequest
from controller.adapters.gitrepo import GitError, ThreadRepo
from controller.adapters.kube import Kube, KubeError, NotFound
from controller.api.constants import THREADS_DIR
from controller.api.types import Identity, ObjectRef, PlanRevision
from controller.catalog.base import expectation, manifest_ref
from controller.catalog.registry import validate_call
from controller.engine.live import LiveClusterReader
from controller.engine.planning import labelled
from controller.knowledge.base import KnowledgeStore, ThreadRecord
from controller.kubevalues import subset_mismatch
from controller.planning.types import ActionCall
from controller.redact import redact_object
from controller.workflow import machine as m
from renderer.thread_folder import ThreadRender, render_thread_folder

log = logging.getLogger("aiop.execution")
ROLLOUT_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})


class Forge(Protocol):
    """Opens pull requests (local bare-repo forge, GitHub, GitLab)."""

    def open(self, head: str, title: str, body: str, base: str = "main") -> PullRequest: ...


@dataclass(frozen=True)
class ExecutionContext:
    thread_id: str
    namespace: str
    requester: Identity
    approver: str
    turns: list[str]
    revision: PlanRevision
    executed_manifests: tuple[dict[str, Any], ...] = ()  # what Execute committed (deferred steps resolved)

    @property
    def manifests(self) -> list[dict[str, Any]]:
        return list(self.executed_manifests) or list(self.revision.manifests)


def folder_of(thread_id: str) -> str:
    return f"{THREADS_DIR}/{thread_id}"


class Executor:
    def __init__(self, kube: Kube, repo: ThreadRepo, forge: Forge, backups: BackupStore,
                 knowledge: KnowledgeStore, cluster_id: str, field_manager: str = "ai-operator",
                 verify_timeout_s: float = 60.0) -> None:
        self.kube = kube
        self.repo = repo
        self.forge = forge
        self.backups = backups
        self.knowledge = knowledge
        self.cluster_id = cluster_id
        self.field_manager = field_manager
        self.verify_timeout_s = verify_timeout_s

    # ---------------------------------------------------------------------------------- execute

    def resolve(self, ctx: ExecutionContext, now: str) -> tuple[list[dict[str, Any]], str]:
        """The approved manifests plus the deferred steps rendered now; (manifests, why not) ."""
        manifests = list(ctx.revision.manifests)
        reader = LiveClusterReader(self.kube.as_user(ctx.requester))
        for action in ctx.revision.actions:
            if not action.deferred:
                continue
            spec, params = validate_call(ActionCall(action=action.action, params=action.params))
            rendered = spec.render(params, reader, now=now)
            if not rendered.manifests:
                return [], f"{action.title}: " + ("; ".join(rendered.notes) or "nothing to apply")
            manifests.extend(labelled(mf, ctx.thread_id) for mf in rendered.manifests)
        return manifests, ""

    def execute(self, ctx: ExecutionContext, pre_chat_commit: str,
                now: str) -> tuple[m.Event, str, list[dict[str, Any]]]:
        """Back up every target, render the approved revision, commit it once.

        Returns the outcome, the pre-chat commit and the manifests committed.
        """
        rev = ctx.revision
        backed_up = False
        manifests, why_not = self.resolve(ctx, now)
        if why_not:
            return m.ExecutionFailed(message=why_not), pre_chat_commit, []
        ctx = ExecutionContext(ctx.thread_id, ctx.namespace, ctx.requester, ctx.approver, ctx.turns, rev,
                               tuple(manifests))
        try:
            pre_chat = pre_chat_commit or self.repo.main_head()
            targets = [manifest_ref(mf) for mf in manifests] + list(rev.deletes)
            backup = self.backups.capture(ctx.thread_id, pre_chat, targets)
            backed_up = True
            pre_chat = backup.pre_chat_commit or pre_chat
            files = render_thread_folder(self._thread_render(ctx, backup.objects, backup.created, now))
            result = self.repo.commit_thread(
                ctx.thread_id, rev.digest, files, folder_of(ctx.thread_id),
                subject=f"{ctx.thread_id}: {rev.summary}"[:72],
                body=f"Revision {rev.revision}, approved by {ctx.approver}.\nRequested by {ctx.requester.user}.")
            return m.ExecutionDone(commit=result.sha), pre_chat, manifests
        except (GitError, KubeError, OSError) as exc:
            log.error("execution failed", extra={"thread_id": ctx.thread_id, "error": str(exc)})
            return m.ExecutionFailed(message=str(exc), backed_up=backed_up), pre_chat_commit, manifests

    def _thread_render(self, ctx: ExecutionContext, backups: list[dict[str, Any]], created: list[ObjectRef],
                       now: str) -> ThreadRender:
        rev = ctx.revision
        actions = [{"id": a.id, "action": a.action, "title": a.title, "params": a.params, "risk": a.risk,
                    "mutating": a.mutating, "permissions": [p.describe() for p in a.permissions],
                    "backup": a.backup, "restore": a.restore, "verify": a.verify, "diff": a.diff}
                   for a in rev.actions]
        manifests = [("", mf) for mf in ctx.manifests]
        return ThreadRender(
            thread_id=ctx.thread_id, revision=rev.revision, digest=rev.digest, request=list(ctx.turns),
            summary=rev.summary, answer=rev.answer, actions=actions, manifests=manifests,
            backups=[redact_object(b) for b in backups], created=[c.wire() for c in created],
            deletes=[d.wire() for d in rev.deletes],
            requester=ctx.requester.user, approver=ctx.approver, created_at=now)

    # ------------------------------------------------------------------------------------- sync

    def sync(self, ctx: ExecutionContext) -> m.Event:
        """Direct sync: server-side apply the revision as the requester, then verify."""
        as_requester = self.kube.as_user(ctx.requester)
        rev = ctx.revision
        try:
            for manifest in ctx.manifests:
                as_requester.apply(manifest, self.field_manager)
            for ref in rev.deletes:
                as_requester.delete(ref.api_version, ref.kind, ref.name, ref.namespace or None)
        except KubeError as exc:
            return m.SyncFailed(message=f"applying as {ctx.requester.user} failed: {exc.message}")
        problem = self.verify(ctx.manifests, rev.deletes)
        if problem:
            return m.SyncFailed(message=f"verification failed: {problem}")
        return m.SyncDone(message=f"applied {len(ctx.manifests)} object(s) as {ctx.requester.user} and verified")

    def verify(self, manifests: list[dict[str, Any]], deletes: list[ObjectRef]) -> str:
        """Wait until every object matches and rollouts finished; '' when all is well."""
        deadline = time.monotonic() + self.verify_timeout_s
        while True:
            problem = self._first_problem(manifests, deletes)
            if not problem or time.monotonic() > deadline:
                return problem
            time.sleep(0.25)

    def _first_problem(self, manifests: list[dict[str, Any]], deletes: list[ObjectRef]) -> str:
        for manifest in manifests:
            ref = manifest_ref(manifest)
            live = self.kube.get(ref.api_version, ref.kind, ref.name, ref.namespace or None)
            if live is None:
                return f"{ref.key()} does not exist"
            mismatch = subset_mismatch(expectation(manifest), live)
            if mismatch:
                return f"{ref.key()}: {mismatch}"
            if ref.kind in ROLLOUT_KINDS:
                waiting = _rollout_waiting(live)
                if waiting:
                    return f"{ref.key()}: {waiting}"
        for ref in deletes:
            if self.kube.get(ref.api_version, ref.kind, ref.name, ref.namespace or None) is not None:
                return f"{ref.key()} still exists"
        return ""

    # ---------------------------------------------------------------------------------- promote

    def promote(self, ctx: ExecutionContext, committed: bool, rating: int, comment: str,
                now: str) -> list[PullRequest]:
        """Open the pull request for the thread branch and store the resolution as knowledge."""
        prs: list[PullRequest] = []
        rev = ctx.revision
        if committed:
            body = (f"Thread `{ctx.thread_id}`, requested by {ctx.requester.user}, approved by {ctx.approver}, "
                    f"rated {rating}/100.\n\n## Request\n" + "\n".join(f"> {t}" for t in ctx.turns) +
                    f"\n\n## Plan (revision {rev.revision}, {rev.digest})\n" +
                    "\n".join(f"- {a.title} (risk {a.risk})" for a in rev.actions) +
                    f"\n\nSee `{folder_of(ctx.thread_id)}/instructions.md`.")
            prs.append(self.forge.open(ThreadRepo.branch(ctx.thread_id), f"{ctx.thread_id}: {rev.summary}"[:120], body))
        self.knowledge.add_thread(ThreadRecord(
            thread_id=ctx.thread_id, request="\n".join(ctx.turns), resolution=rev.answer or rev.summary,
            cluster_id=self.cluster_id, user_id=ctx.requester.user, response=rev.answer,
            rating=rating, timestamp=now, context="", tags=tuple(sorted({a.action for a in rev.actions})),
            steps=tuple({"action": a.action, "params": a.params, "title": a.title} for a in rev.actions)))
        self.knowledge.add_rating(ctx.thread_id, ctx.requester.user, rating, comment)
        return prs

    # ---------------------------------------------------------------------------------- restore

    def restore(self, thread_id: str, requester: Identity, pre_chat_commit: str) -> m.Event:
        """Revert commit, re-apply the backups and delete what the thread created, as the requester."""
        as_requester = self.kube.as_user(requester)
        try:
            backup = self.backups.load(thread_id)
            if pre_chat_commit:
                self.repo.restore_commit(thread_id, pre_chat_commit, folder_of(thread_id),
                                         subject=f"{thread_id}: restore to the state before the chat")
            if backup is None:
                return m.RestoreDone(message="nothing had been applied")
            for ref in reversed(backup.created):
                as_requester.delete(ref.api_version, ref.kind, ref.name, ref.namespace or None)
            for saved in backup.objects:
                self._reapply(as_requester, saved)
        except (KubeError, GitError) as exc:
            return m.RestoreFailed(message=f"restore as {requester.user} failed: {getattr(exc, 'message', exc)}")
        return m.RestoreDone(message=f"re-applied {len(backup.objects)} object(s), deleted {len(backup.created)}")

    def _reapply(self, kube: Kube, saved: dict[str, Any]) -> None:
        meta = saved["metadata"]
        live = self.kube.get(saved["apiVersion"], saved["kind"], meta["name"], meta.get("namespace"))
        body = clean_for_backup(saved)
        if live is None:
            kube.create(body)
            return
        body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        try:
            kube.replace(body)
        except NotFound:
            kube.create(clean_for_backup(saved))


def _rollout_waiting(live: dict[str, Any]) -> str:
    status = live.get("status") or {}
    spec = live.get("spec") or {}
    generation = live.get("metadata", {}).get("generation", 0)
    if status.get("observedGeneration", 0) < generation:
        return "the rollout has not been observed yet"
    wanted = spec.get("replicas", 1)
    for field in ("updatedReplicas", "readyReplicas"):
        if field in status and status.get(field, 0) < wanted:
            return f"rollout in progress ({field} {status.get(field, 0)}/{wanted})"
    return ""
