"""Steps 6-11 of a thread: back up, render and commit, sync and verify, promote, restore.

Each function executes one effect of the state machine and returns the event that reports its
outcome. Each is idempotent, so a controller killed mid-way repeats it safely on restart: backups
keep the first state seen, commits are keyed by plan digest in git, applying is server-side apply,
pull requests are opened once per branch, restore checks its own marker commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from controller.adapters.backups import BackupStore, clean_for_backup
from controller.adapters.forge import OPEN, PullRequest, PullRequestStatus
from controller.adapters.gitrepo import GitError, ThreadRepo
from controller.adapters.kube import Kube, KubeError, NotFound
from controller.adapters.sync.base import Expected, SyncOutcome, SyncRequest, SyncState
from controller.adapters.sync.direct import DirectSync
from controller.api.constants import THREADS_DIR
from controller.api.types import Identity, ObjectRef, PlanRevision
from controller.catalog.base import expectation, manifest_ref
from controller.catalog.registry import CATALOG, validate_call
from controller.engine.live import LiveClusterReader
from controller.engine.planning import labelled
from controller.knowledge.base import KnowledgeStore, ThreadRecord
from controller.planning.types import ActionCall
from controller.redact import redact_object
from controller.workflow import machine as m
from renderer.gitops import GitSource
from renderer.pull_request import PullRequestText, render_pull_request, render_runbook
from renderer.thread_folder import ThreadRender, render_thread_folder

log = logging.getLogger("aiop.execution")
ROLLOUT_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})
INSTRUCTIONS_DIR = "instructions"


class Forge(Protocol):
    """Opens pull requests and follows them (local bare-repo forge, GitHub, GitLab)."""

    name: str

    def open(self, head: str, title: str, body: str, base: str = "main") -> PullRequest: ...

    def status(self, number: int) -> PullRequestStatus: ...


class SyncEngine(Protocol):
    """Gets a committed thread into the cluster and reports on it (direct apply, Argo CD, Flux)."""

    name: str

    def apply(self, req: SyncRequest) -> SyncOutcome: ...

    def status(self, req: SyncRequest) -> SyncState: ...

    def remove(self, thread_id: str) -> None: ...


@dataclass(frozen=True)
class TargetRepo:
    """A dedicated repo the thread commits to; its manifests are chosen by kind or plan context."""

    name: str
    repo: ThreadRepo
    forge: Forge
    folder: str = THREADS_DIR
    kinds: frozenset[str] = frozenset()
    contexts: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ExecutionContext:
    thread_id: str
    namespace: str
    requester: Identity
    approver: str
    turns: list[str]
    revision: PlanRevision
    executed_manifests: tuple[dict[str, Any], ...] = ()  # what Execute committed (deferred steps resolved)
    context: str = ""  # the conversation's context (k8s, cloud-aws...), for routing to target repos

    @property
    def manifests(self) -> list[dict[str, Any]]:
        return list(self.executed_manifests) or list(self.revision.manifests)

    @property
    def contexts(self) -> frozenset[str]:
        found = {str(CATALOG[a.action].context) for a in self.revision.actions if a.action in CATALOG}
        return frozenset({self.context} if self.context else found)


def folder_of(thread_id: str, root: str = THREADS_DIR) -> str:
    return f"{root}/{thread_id}"


class Executor:
    def __init__(self, kube: Kube, repo: ThreadRepo, forge: Forge, backups: BackupStore,
                 knowledge: KnowledgeStore, cluster_id: str, field_manager: str = "ai-operator",
                 verify_timeout_s: float = 60.0, sync_engine: SyncEngine | None = None,
                 targets: tuple[TargetRepo, ...] = (), instructions: TargetRepo | None = None,
                 sync_repo_url: str = "") -> None:
        self.kube = kube
        self.repo = repo
        self.forge = forge
        self.backups = backups
        self.knowledge = knowledge
        self.cluster_id = cluster_id
        self.field_manager = field_manager
        self.verify_timeout_s = verify_timeout_s
        self.sync_engine: SyncEngine = sync_engine or DirectSync(kube, field_manager, verify_timeout_s)
        self.primary = TargetRepo(repo.name, repo, forge)
        self.targets = targets  # the other target repos, besides the primary
        self.instructions = instructions
        self.sync_repo_url = sync_repo_url  # where the GitOps tool fetches the primary repo, if not repo.url

    # ---------------------------------------------------------------------------------- routing

    def route(self, ctx: ExecutionContext,
              manifests: list[dict[str, Any]]) -> list[tuple[TargetRepo, list[dict[str, Any]]]]:
        """Each repo with the manifests it receives (by kind first, then context); primary first, always."""
        by_target: dict[str, list[dict[str, Any]]] = {t.name: [] for t in (self.primary, *self.targets)}
        for manifest in manifests:
            target = (next((t for t in self.targets if manifest.get("kind") in t.kinds), None)
                      or next((t for t in self.targets if t.contexts & ctx.contexts), None) or self.primary)
            by_target[target.name].append(manifest)
        return [(self.primary, by_target[self.primary.name])] + [
            (t, by_target[t.name]) for t in self.targets if by_target[t.name]]

    def sources(self, ctx: ExecutionContext) -> tuple[GitSource, ...]:
        """The thread branch and manifests folder of every repo that received manifests."""
        routed = [(t, mfs) for t, mfs in self.route(ctx, ctx.manifests) if mfs] or [(self.primary, [])]
        return tuple(GitSource(name="" if t is self.primary else t.name,
                               repo_url=(self.sync_repo_url or t.repo.url) if t is self.primary else t.repo.url,
                               branch=ThreadRepo.branch(ctx.thread_id),
                               path=f"{folder_of(ctx.thread_id, t.folder)}/manifests") for t, _ in routed)

    def thread_commits(self, ctx: ExecutionContext) -> list[str]:
        """The commits of this digest on the thread branch of every repo involved (primary first)."""
        shas = []
        for target, manifests in self.route(ctx, ctx.manifests):
            if manifests or target is self.primary:
                sha = target.repo.find_digest(ctx.thread_id, ctx.revision.digest)
                if sha:
                    shas.append(sha)
        return shas

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
            sha = ""
            routed = self.route(ctx, manifests)
            elsewhere = {manifest_ref(mf).key() for t, mfs in routed if t is not self.primary for mf in mfs}
            for target, subset in routed:
                keys = {manifest_ref(mf).key() for mf in subset}
                primary = target is self.primary
                objects = [o for o in backup.objects if _mine(_key_of(o), primary, keys, elsewhere)]
                created = [c for c in backup.created if _mine(c.key(), primary, keys, elsewhere)]
                files = _relocate(render_thread_folder(self._thread_render(ctx, objects, created, now, subset)),
                                  ctx.thread_id, target.folder)
                result = target.repo.commit_thread(
                    ctx.thread_id, rev.digest, files, folder_of(ctx.thread_id, target.folder),
                    subject=f"{ctx.thread_id}: {rev.summary}"[:72],
                    body=f"Revision {rev.revision}, approved by {ctx.approver}.\nRequested by {ctx.requester.user}.")
                sha = sha or result.sha
            return m.ExecutionDone(commit=sha), pre_chat, manifests
        except (GitError, KubeError, OSError) as exc:
            log.error("execution failed", extra={"thread_id": ctx.thread_id, "error": str(exc)})
            return m.ExecutionFailed(message=str(exc), backed_up=backed_up), pre_chat_commit, manifests

    def _thread_render(self, ctx: ExecutionContext, backups: list[dict[str, Any]], created: list[ObjectRef],
                       now: str, manifests_subset: list[dict[str, Any]] | None = None) -> ThreadRender:
        rev = ctx.revision
        actions = [{"id": a.id, "action": a.action, "title": a.title, "params": a.params, "risk": a.risk,
                    "mutating": a.mutating, "permissions": [p.describe() for p in a.permissions],
                    "backup": a.backup, "restore": a.restore, "verify": a.verify, "diff": a.diff}
                   for a in rev.actions]
        manifests = [("", mf) for mf in (ctx.manifests if manifests_subset is None else manifests_subset)]
        return ThreadRender(
            thread_id=ctx.thread_id, revision=rev.revision, digest=rev.digest, request=list(ctx.turns),
            summary=rev.summary, answer=rev.answer, actions=actions, manifests=manifests,
            backups=[redact_object(b) for b in backups], created=[c.wire() for c in created],
            deletes=[d.wire() for d in rev.deletes],
            requester=ctx.requester.user, approver=ctx.approver, created_at=now)

    # ------------------------------------------------------------------------------------- sync

    def sync_request(self, ctx: ExecutionContext) -> SyncRequest:
        rev = ctx.revision
        expected = tuple(Expected(manifest_ref(mf), expectation(mf), manifest_ref(mf).kind in ROLLOUT_KINDS)
                         for mf in ctx.manifests)
        commits = tuple(self.thread_commits(ctx)) if self.sync_engine.name != "direct" else ()
        return SyncRequest(thread_id=ctx.thread_id, digest=rev.digest, revision=rev.revision, summary=rev.summary,
                           requester=ctx.requester, manifests=tuple(ctx.manifests), expected=expected,
                           deletes=tuple(rev.deletes), sources=self.sources(ctx), commits=commits)

    def sync(self, ctx: ExecutionContext) -> m.Event:
        """Hand the committed revision to the sync engine and wait for its verdict."""
        outcome = self.sync_engine.apply(self.sync_request(ctx))
        return m.SyncDone(message=outcome.message) if outcome.ok else m.SyncFailed(message=outcome.message)

    def sync_objects(self, ctx: ExecutionContext) -> str:
        """The engine's objects followed for this thread ("argocd/Application/aiop-thread-x"), or ''."""
        objects = getattr(self.sync_engine, "objects", None)
        watched = {kind for _, kind in getattr(self.sync_engine, "watched", ())}
        if objects is None:
            return ""
        return ", ".join(f"{o['metadata']['namespace']}/{o['kind']}/{o['metadata']['name']}"
                         for o in objects(self.sync_request(ctx)) if o["kind"] in watched)

    def sync_status(self, ctx: ExecutionContext) -> SyncState:
        return self.sync_engine.status(self.sync_request(ctx))

    # ---------------------------------------------------------------------------------- promote

    def promote(self, ctx: ExecutionContext, committed: bool, rating: int, comment: str,
                now: str) -> list[PullRequest]:
        """Open a pull request per repo involved (and the runbook's, on 100); store the resolution.

        Idempotent: forges return the open pull request of a branch, the runbook commit is keyed by
        the plan digest, so a Completed thread that resumes its promotion opens nothing twice.
        """
        prs: list[PullRequest] = []
        rev = ctx.revision
        if committed:
            branch = ThreadRepo.branch(ctx.thread_id)
            links: list[tuple[str, str]] = [("Sync", self.sync_objects(ctx) or f"{self.sync_engine.name} apply")]
            for target, subset in self.route(ctx, ctx.manifests):
                if subset or target is self.primary:
                    body = render_pull_request(self._pr_text(ctx, rating, comment, target, links))
                    pr = target.forge.open(branch, f"{ctx.thread_id}: {rev.summary}"[:120], body)
                    prs.append(pr)
                    links.append((f"Pull request ({target.name})", pr.url))
            if rating == 100 and self.instructions is not None:
                runbook = self._open_runbook(ctx, rating, links)
                if runbook is not None:
                    prs.append(runbook)
        self.knowledge.add_thread(ThreadRecord(
            thread_id=ctx.thread_id, request="\n".join(ctx.turns), resolution=rev.answer or rev.summary,
            cluster_id=self.cluster_id, user_id=ctx.requester.user, response=rev.answer,
            rating=rating, timestamp=now, context="", tags=tuple(sorted({a.action for a in rev.actions})),
            steps=tuple({"action": a.action, "params": a.params, "title": a.title} for a in rev.actions)))
        self.knowledge.add_rating(ctx.thread_id, ctx.requester.user, rating, comment)
        return prs

    def _pr_text(self, ctx: ExecutionContext, rating: int, comment: str, target: TargetRepo,
                 links: list[tuple[str, str]]) -> PullRequestText:
        rev = ctx.revision
        return PullRequestText(
            thread_id=ctx.thread_id, summary=rev.summary, request=ctx.turns, revision=rev.revision, digest=rev.digest,
            actions=[{"title": a.title, "risk": a.risk, "diff": a.diff} for a in rev.actions], rating=rating,
            comment=comment, requester=ctx.requester.user, approver=ctx.approver,
            folder=folder_of(ctx.thread_id, target.folder), links=list(links))

    def _open_runbook(self, ctx: ExecutionContext, rating: int, links: list[tuple[str, str]]) -> PullRequest | None:
        """The learned runbook (the thread's instructions.md) as a pull request to the instructions repo."""
        assert self.instructions is not None
        branch = ThreadRepo.branch(ctx.thread_id)
        instructions = self.repo.read_file(f"origin/{branch}", f"{folder_of(ctx.thread_id)}/instructions.md")
        if instructions is None:
            return None
        folder = f"{INSTRUCTIONS_DIR}/{ctx.thread_id}"
        files = {f"{folder}/runbook.md": render_runbook(ctx.thread_id, instructions, rating, links)}
        self.instructions.repo.commit_thread(ctx.thread_id, ctx.revision.digest, files, folder,
                                             subject=f"runbook: {ctx.revision.summary}"[:72],
                                             body=f"Learned from thread {ctx.thread_id}, rated {rating}/100.")
        text = self._pr_text(ctx, rating, "", self.instructions, links)
        body = render_pull_request(PullRequestText(**{**text.__dict__, "folder": folder}))
        return self.instructions.forge.open(branch, f"runbook: {ctx.revision.summary}"[:120], body)

    def follow_pull_requests(self, thread_id: str,
                             known: list[tuple[str, int]]) -> dict[tuple[str, int], PullRequestStatus]:
        """Each (repo, number)'s state on its forge; the thread's sync objects go when none is open."""
        forges = {t.forge.name: t.forge for t in (self.primary, *self.targets)}
        if self.instructions is not None:
            forges.setdefault(self.instructions.forge.name, self.instructions.forge)
        out = {(repo, number): forges[repo].status(number) for repo, number in known if repo in forges}
        if out and all(s.state != OPEN for s in out.values()):
            self.sync_engine.remove(thread_id)
        return out

    # ---------------------------------------------------------------------------------- restore

    def restore(self, thread_id: str, requester: Identity, pre_chat_commit: str) -> m.Event:
        """Revert commit, re-apply the backups and delete what the thread created, as the requester."""
        as_requester = self.kube.as_user(requester)
        try:
            backup = self.backups.load(thread_id)
            if pre_chat_commit:
                self.repo.restore_commit(thread_id, pre_chat_commit, folder_of(thread_id),
                                         subject=f"{thread_id}: restore to the state before the chat")
                for target in self.targets:
                    fork = target.repo.fork_point(thread_id)
                    if fork:
                        target.repo.restore_commit(thread_id, fork, folder_of(thread_id, target.folder),
                                                   subject=f"{thread_id}: restore to the state before the chat")
            self.sync_engine.remove(thread_id)  # before re-applying: a GitOps tool must not fight the restore
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


def _relocate(files: dict[str, str], thread_id: str, root: str) -> dict[str, str]:
    """Move the rendered `threads/<id>/...` files under the target repo's own folder."""
    old, new = f"{THREADS_DIR}/{thread_id}/", f"{root}/{thread_id}/"
    return files if old == new else {new + k[len(old):] if k.startswith(old) else k: v for k, v in files.items()}


def _mine(key: str, primary: bool, keys: set[str], elsewhere: set[str]) -> bool:
    """Backups go with their manifests' repo; the primary keeps the rest (deletes included)."""
    return key not in elsewhere if primary else key in keys


def _key_of(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return ObjectRef(api_version=obj.get("apiVersion", ""), kind=obj.get("kind", ""), name=meta.get("name", ""),
                     namespace=meta.get("namespace") or "").key()
