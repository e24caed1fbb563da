"""Steps 6-11 of a thread: back up, render and commit, sync and verify, promote, restore.

Execute writes one `ExecutionRecord` (per repo: URL, branch, folder, commit, files, the objects it
routed there; the resolved manifests; the field manager; the locks) and every later effect — sync,
verify, promote, restore — reads that record instead of recomputing routes, re-rendering or asking
git again (Argo CD's dry → hydrated record). Each step is idempotent, so a controller killed
mid-way repeats it safely on restart: backups keep the first state seen, commits are keyed by plan
digest in git, applying is server-side apply, pull requests are opened once per branch, restore
checks its own marker commit. Errors a retry may cure (`KubeError.transient`, `GitError.transient`)
are raised for the reconciler to retry; the others become the step's failure.

Before anything is backed up or committed, the plan's targets are read again: if one changed since
the plan was made (its fingerprint differs), nothing is applied and the outcome is `PlanStale`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any, Protocol

from controller.adapters.backups import BackupStore, clean_for_backup
from controller.adapters.forge import OPEN, PullRequest, PullRequestStatus
from controller.adapters.gitrepo import GitError, ThreadRepo
from controller.adapters.kube import Kube, KubeError, NotFound
from controller.adapters.snapshots.base import SnapshotError
from controller.adapters.sync.base import Expected, SyncOutcome, SyncRequest, SyncState
from controller.adapters.sync.direct import DirectSync
from controller.api.constants import FIELD_MANAGER_PREFIX, LABEL_THREAD, THREADS_DIR
from controller.api.types import (
    ExecutionRecord,
    Identity,
    ObjectRef,
    Permission,
    PlanRevision,
    RepoRecord,
    SnapshotRecord,
    TargetState,
)
from controller.catalog.base import expectation, manifest_ref
from controller.catalog.registry import CATALOG, validate_call
from controller.engine.data_restore import DataRestore, restored_keys
from controller.engine.live import LiveClusterReader
from controller.engine.planning import labelled
from controller.engine.snapshots import Snapshots
from controller.engine.targets import changed_since, merge_by_object, observe
from controller.knowledge.base import KnowledgeStore, ThreadRecord
from controller.kubevalues import subset_mismatch
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

    def start(self, req: SyncRequest) -> SyncOutcome: ...

    def status(self, req: SyncRequest) -> SyncState: ...

    def describe(self, req: SyncRequest, state: SyncState) -> str: ...

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
    """What Execute needs from the conversation: who asked and approved, the words, the revision."""

    thread_id: str
    namespace: str
    requester: Identity
    approver: str
    turns: list[str]
    revision: PlanRevision
    context: str = ""  # the conversation's context (k8s, cloud-aws...), for routing to target repos
    snapshots: tuple[SnapshotRecord, ...] = ()  # taken by earlier executions of this thread (the first one wins)

    @property
    def contexts(self) -> frozenset[str]:
        return contexts_of(self.revision, self.context)


def contexts_of(revision: PlanRevision, context: str = "") -> frozenset[str]:
    found = {str(CATALOG[a.action].context) for a in revision.actions if a.action in CATALOG}
    return frozenset({context} if context else found)


def folder_of(thread_id: str, root: str = THREADS_DIR) -> str:
    return f"{root}/{thread_id}"


def field_manager_of(thread_id: str, revision: int) -> str:
    """One server-side apply manager per thread revision: a later revision never drops an earlier one's fields."""
    return f"{FIELD_MANAGER_PREFIX}-{thread_id}-r{revision}"


class Executor:
    def __init__(self, kube: Kube, repo: ThreadRepo, forge: Forge, backups: BackupStore,
                 knowledge: KnowledgeStore, cluster_id: str, field_manager: str = "ai-operator",
                 verify_timeout_s: float = 60.0, sync_engine: SyncEngine | None = None,
                 targets: tuple[TargetRepo, ...] = (), instructions: TargetRepo | None = None,
                 sync_repo_url: str = "", snapshots: Snapshots | None = None,
                 data_restore: DataRestore | None = None) -> None:
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
        self.snapshots = snapshots  # issue 14: the snapshot step (None: no snapshots are taken)
        self.data_restore = data_restore

    # ---------------------------------------------------------------------------------- routing

    def route(self, manifests: list[dict[str, Any]],
              contexts: frozenset[str]) -> list[tuple[TargetRepo, list[dict[str, Any]]]]:
        """Each repo with the manifests it receives (by kind first, then context); primary first, always."""
        by_target: dict[str, list[dict[str, Any]]] = {t.name: [] for t in (self.primary, *self.targets)}
        for manifest in manifests:
            target = (next((t for t in self.targets if manifest.get("kind") in t.kinds), None)
                      or next((t for t in self.targets if t.contexts & contexts), None) or self.primary)
            by_target[target.name].append(manifest)
        return [(self.primary, by_target[self.primary.name])] + [
            (t, by_target[t.name]) for t in self.targets if by_target[t.name]]

    def _target(self, name: str) -> TargetRepo | None:
        return next((t for t in (self.primary, *self.targets) if t.name == name), None)

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
        return merge_by_object(manifests), ""

    def _unready(self, manifests: list[dict[str, Any]]) -> list[str]:
        """Workloads the plan changes whose pods were not all ready before the change: verification asks
        that the new template rolls out, not that the change heals what was broken before."""
        out = []
        for manifest in manifests:
            ref = manifest_ref(manifest)
            if ref.kind not in ROLLOUT_KINDS:
                continue
            live = self.kube.get(ref.api_version, ref.kind, ref.name, ref.namespace or None)
            if live is None:
                continue
            wanted = (live.get("spec") or {}).get("replicas", 1)
            if wanted and (live.get("status") or {}).get("readyReplicas", 0) < wanted:
                out.append(ref.key())
        return out

    def read_redacted(self, ref: ObjectRef) -> dict[str, Any] | None:
        """A target as planners saw it (redacted), read with the operator's own rights."""
        live = self.kube.get(ref.api_version, ref.kind, ref.name, ref.namespace or None)
        return redact_object(live) if live is not None else None

    def stale(self, revision: PlanRevision) -> list[str]:
        """What changed since the plan was made ([] when every target is as the plan saw it)."""
        if not revision.targets:
            return []
        now = observe(list(revision.manifests), [t.ref for t in revision.targets], self.read_redacted)
        return changed_since(list(revision.targets), now)

    def execute(self, ctx: ExecutionContext, pre_chat_commit: str,
                now: str) -> tuple[m.Event, ExecutionRecord | None]:
        """Check staleness, back up every target, render the approved revision, commit it once per repo."""
        rev = ctx.revision
        changed = self.stale(rev)
        if changed:
            return m.PlanStale(message=f"Revision {rev.revision} was not applied: " + "; ".join(changed)
                               + ". Here is the plan against the current state."), None
        manifests, why_not = self.resolve(ctx, now)
        if why_not:
            return m.ExecutionFailed(message=why_not), None
        backed_up = False
        try:
            pre_chat = pre_chat_commit or self.repo.main_head()
            targets = [manifest_ref(mf) for mf in manifests] + list(rev.deletes)
            backup = self.backups.capture(ctx.thread_id, pre_chat, targets)
            backed_up = True
            pre_chat = backup.pre_chat_commit or pre_chat
            # --- snapshots (issue 14; controller/engine/snapshots.py): taken after the backup, recorded, noted in
            # git; the Sync step waits until every one is ready before anything is applied
            snapshots = (self.snapshots.take(ctx.thread_id, rev, ctx.snapshots, now) if self.snapshots is not None
                         else list(ctx.snapshots))
            # --- end snapshots
            routed = self.route(manifests, ctx.contexts)
            elsewhere = {manifest_ref(mf).key() for t, mfs in routed if t is not self.primary for mf in mfs}
            repos: list[RepoRecord] = []
            for target, subset in routed:
                keys = {manifest_ref(mf).key() for mf in subset}
                primary = target is self.primary
                objects = [o for o in backup.objects if _mine(_key_of(o), primary, keys, elsewhere)]
                created = [c for c in backup.created if _mine(c.key(), primary, keys, elsewhere)]
                files = _relocate(render_thread_folder(self._thread_render(ctx, objects, created, now, subset)),
                                  ctx.thread_id, target.folder)
                folder = folder_of(ctx.thread_id, target.folder)
                if primary and snapshots:
                    files[f"{folder}/backup/snapshots.yaml"] = Snapshots.notes(snapshots)
                    files.update({f"{folder}/backup/{n}": c for n, c in self.snapshots.files(snapshots).items()}
                                 if self.snapshots is not None else {})
                result = target.repo.commit_thread(
                    ctx.thread_id, rev.digest, files, folder,
                    subject=f"{ctx.thread_id}: {rev.summary}"[:72],
                    body=f"Revision {rev.revision}, approved by {ctx.approver}.\nRequested by {ctx.requester.user}.")
                url = (self.sync_repo_url or target.repo.url) if primary else target.repo.url
                repos.append(RepoRecord(name=target.name, url=url, branch=ThreadRepo.branch(ctx.thread_id),
                                        folder=folder, commit=result.sha, files=sorted(files),
                                        objects=sorted(keys)))
        except (GitError, KubeError, SnapshotError) as exc:
            if exc.transient:
                raise
            log.error("execution failed", extra={"thread_id": ctx.thread_id, "error": str(exc)})
            why = f"{str(exc).rstrip('.')}. Nothing was applied" if isinstance(exc, SnapshotError) else str(exc)
            return m.ExecutionFailed(message=why, backed_up=backed_up), None
        record = ExecutionRecord(
            revision=rev.revision, digest=rev.digest, field_manager=field_manager_of(ctx.thread_id, rev.revision),
            pre_chat_commit=pre_chat, executed_by=ctx.requester, manifests=manifests, deletes=list(rev.deletes),
            repos=repos, sync_engine=self.sync_engine.name,
            unready_before=self._unready(manifests), snapshots=snapshots)
        return m.ExecutionDone(commit=repos[0].commit), record

    def _thread_render(self, ctx: ExecutionContext, backups: list[dict[str, Any]], created: list[ObjectRef],
                       now: str, manifests: list[dict[str, Any]]) -> ThreadRender:
        rev = ctx.revision
        actions = [{"id": a.id, "action": a.action, "title": a.title, "params": a.params, "risk": a.risk,
                    "mutating": a.mutating, "permissions": [p.describe() for p in a.permissions],
                    "backup": a.backup, "restore": a.restore, "verify": a.verify, "diff": a.diff}
                   for a in rev.actions]
        return ThreadRender(
            thread_id=ctx.thread_id, revision=rev.revision, digest=rev.digest, request=list(ctx.turns),
            summary=rev.summary, answer=rev.answer, actions=actions, manifests=[("", mf) for mf in manifests],
            backups=[redact_object(b) for b in backups], created=[c.wire() for c in created],
            deletes=[d.wire() for d in rev.deletes],
            requester=ctx.requester.user, approver=ctx.approver, created_at=now)

    # ------------------------------------------------------------------------------------- sync

    def sync_request(self, thread_id: str, record: ExecutionRecord, revision: PlanRevision) -> SyncRequest:
        """What the sync engine needs, entirely from the execution record."""
        expected = tuple(Expected(manifest_ref(mf), expectation(mf), manifest_ref(mf).kind in ROLLOUT_KINDS,
                                  manifest_ref(mf).key() not in record.unready_before)
                         for mf in record.manifests)
        synced = [r for r in record.repos if r.objects] or record.repos[:1]  # repos that got manifests
        sources = tuple(GitSource(name="" if r.name == self.primary.name else r.name, repo_url=r.url,
                                  branch=r.branch, path=f"{r.folder}/manifests") for r in synced)
        commits = tuple(r.commit for r in record.repos if r.commit) if record.sync_engine != "direct" else ()
        takes_over = tuple(f"{t.ref.key()} {field}" for t in revision.targets for field in t.takes_over)
        return SyncRequest(thread_id=thread_id, digest=record.digest, revision=record.revision,
                           summary=revision.summary, requester=record.executed_by,
                           manifests=tuple(record.manifests), expected=expected, deletes=tuple(record.deletes),
                           sources=sources, commits=commits, field_manager=record.field_manager,
                           takes_over=takes_over)

    def start_sync(self, req: SyncRequest, revision: PlanRevision) -> SyncOutcome:
        """Hand the record's objects to the sync engine; for direct apply, guard every write first.

        Each object is read again just before it is applied: one that already shows what was approved is
        not written again (a repeat of a start whose status write was lost), one that changed since the plan
        was made is not written at all (nothing of the revision is), and the others are applied with the
        resourceVersion just read, so a late or repeated request is refused by the server (bench.load saw a
        thread's forced apply written a second time, after its lock was released, over the next thread's).
        GitOps engines apply from git themselves, under the thread's locks.
        """
        if self.sync_engine.name != DirectSync.name:
            return self.sync_engine.start(req)
        keyed = [(manifest_ref(mf).key(), mf) for mf in req.manifests]
        live = {key: self.kube.get(mf["apiVersion"], mf["kind"], mf["metadata"]["name"],
                                   mf["metadata"].get("namespace") or None) for key, mf in keyed}
        pending = [(key, mf) for key, mf in keyed
                   if (seen := live[key]) is None or subset_mismatch(expectation(mf), seen)]
        keys = {key for key, _ in pending}
        planned = [t for t in revision.targets if t.ref.key() in keys]
        now = observe(list(revision.manifests), [t.ref for t in planned],
                      lambda ref: redact_object(obj) if (obj := live.get(ref.key())) is not None else None)
        changed = changed_since(planned, now)
        if changed:
            return SyncOutcome(False, "nothing was applied: " + "; ".join(changed) + " (by someone outside this "
                               "thread, after it was approved)")
        versions = tuple((key, version) for key in sorted(keys)
                         if (version := ((live[key] or {}).get("metadata") or {}).get("resourceVersion")))
        return self.sync_engine.start(replace(req, manifests=tuple(mf for _, mf in pending), preconditions=versions))

    def sync_state(self, req: SyncRequest) -> SyncState:
        return self.sync_engine.status(req)

    def describe_sync(self, req: SyncRequest, state: SyncState) -> str:
        text = self.sync_engine.describe(req, state)
        broken = [e.ref for e in req.expected if e.rollout and not e.ready]
        if state.done and broken:
            names = ", ".join(f"{r.kind} {r.namespace}/{r.name}" for r in broken)
            text += (f" ({names} had pods that were not ready before this change either; its rollout cannot "
                     "finish until that is fixed)")
        return text

    def sync_objects(self, req: SyncRequest) -> str:
        """The engine's objects followed for this thread ("argocd/Application/aiop-thread-x"), or ''."""
        objects = getattr(self.sync_engine, "objects", None)
        watched = {kind for _, kind in getattr(self.sync_engine, "watched", ())}
        if objects is None:
            return ""
        return ", ".join(f"{o['metadata']['namespace']}/{o['kind']}/{o['metadata']['name']}"
                         for o in objects(req) if o["kind"] in watched)

    def applied_states(self, record: ExecutionRecord) -> list[TargetState]:
        """The targets as this thread left them: restore refuses to undo anyone else's later change."""
        refs = [manifest_ref(mf) for mf in record.manifests]
        return observe(list(record.manifests), refs, self.read_redacted)

    # ---------------------------------------------------------------------------------- promote

    def promote(self, thread_id: str, record: ExecutionRecord | None, revision: PlanRevision, turns: list[str],
                requester: Identity, approver: str, rating: int, comment: str, now: str) -> list[PullRequest]:
        """Open a pull request per repo the record names (and the runbook's, on 100); store knowledge.

        Idempotent: forges return the open pull request of a branch, the runbook commit is keyed by
        the plan digest, so a Completed thread that resumes its promotion opens nothing twice.
        """
        prs: list[PullRequest] = []
        if record is not None and record.revision == revision.revision:
            links: list[tuple[str, str]] = [("Sync", record.sync_objects or f"{record.sync_engine} apply")]
            for repo in record.repos:
                target = self._target(repo.name)
                if target is None or not (repo.objects or target is self.primary):
                    continue
                body = render_pull_request(self._pr_text(thread_id, revision, turns, requester, approver, rating,
                                                         comment, repo.folder, links))
                pr = target.forge.open(repo.branch, f"{thread_id}: {revision.summary}"[:120], body)
                prs.append(pr)
                links.append((f"Pull request ({target.name})", pr.url))
            if rating == 100 and self.instructions is not None:
                runbook = self._open_runbook(thread_id, revision, turns, requester, approver, rating, links, record)
                if runbook is not None:
                    prs.append(runbook)
        self.record_rating(thread_id, revision, turns, requester, rating, comment, now)
        return prs

    def record_rating(self, thread_id: str, revision: PlanRevision, turns: list[str], requester: Identity,
                      rating: int, comment: str, now: str) -> None:
        """Every rating, with its comment and the plan's steps, becomes knowledge (failed approaches too)."""
        self.knowledge.add_thread(ThreadRecord(
            thread_id=thread_id, request="\n".join(turns), resolution=revision.answer or revision.summary,
            cluster_id=self.cluster_id, user_id=requester.user, response=revision.answer,
            rating=rating, timestamp=now, context="", tags=tuple(sorted({a.action for a in revision.actions})),
            steps=tuple({"action": a.action, "params": a.params, "title": a.title} for a in revision.actions)))
        self.knowledge.add_rating(thread_id, requester.user, rating, comment)

    def _pr_text(self, thread_id: str, revision: PlanRevision, turns: list[str], requester: Identity,
                 approver: str, rating: int, comment: str, folder: str,
                 links: list[tuple[str, str]]) -> PullRequestText:
        return PullRequestText(
            thread_id=thread_id, summary=revision.summary, request=turns, revision=revision.revision,
            digest=revision.digest,
            actions=[{"title": a.title, "risk": a.risk, "diff": a.diff} for a in revision.actions], rating=rating,
            comment=comment, requester=requester.user, approver=approver, folder=folder, links=list(links))

    def _open_runbook(self, thread_id: str, revision: PlanRevision, turns: list[str], requester: Identity,
                      approver: str, rating: int, links: list[tuple[str, str]],
                      record: ExecutionRecord) -> PullRequest | None:
        """The learned runbook (the thread's instructions.md) as a pull request to the instructions repo."""
        assert self.instructions is not None
        primary = next((r for r in record.repos if r.name == self.primary.name), None)
        if primary is None:
            return None
        instructions = self.repo.read_file(primary.commit, f"{primary.folder}/instructions.md")
        if instructions is None:
            return None
        folder = f"{INSTRUCTIONS_DIR}/{thread_id}"
        files = {f"{folder}/runbook.md": render_runbook(thread_id, instructions, rating, links)}
        self.instructions.repo.commit_thread(thread_id, revision.digest, files, folder,
                                             subject=f"runbook: {revision.summary}"[:72],
                                             body=f"Learned from thread {thread_id}, rated {rating}/100.")
        text = self._pr_text(thread_id, revision, turns, requester, approver, rating, "", folder, links)
        return self.instructions.forge.open(primary.branch, f"runbook: {revision.summary}"[:120],
                                            render_pull_request(text))

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

    def restore_conflicts(self, thread_id: str, record: ExecutionRecord | None) -> list[str]:
        """Objects someone changed after this thread applied them: restoring would undo their change."""
        if record is None or not record.applied:
            return []
        now = observe(list(record.manifests), [t.ref for t in record.applied], self.read_redacted)
        before = {t.ref.key(): t.fingerprint for t in record.applied}
        out = []
        for state in now:
            if before.get(state.ref.key()) not in (None, state.fingerprint):
                live = self.kube.get(state.ref.api_version, state.ref.kind, state.ref.name,
                                     state.ref.namespace or None) or {}
                by = ((live.get("metadata") or {}).get("labels") or {}).get(LABEL_THREAD, "")
                who = f" (last written by thread {by})" if by and by != thread_id[:63] else ""
                out.append(f"{state.ref.kind} {state.ref.namespace}/{state.ref.name} changed after this thread "
                           f"applied it{who}")
        return out

    def restore_needs(self, thread_id: str, record: ExecutionRecord | None = None) -> list[Permission]:
        """What restoring asks of the person who presses the button: update what was backed up, delete
        what the thread created, bring the data back from the snapshots (restore runs as that person, so
        their RBAC decides)."""
        backup = self.backups.load(thread_id)
        if backup is None:
            return []
        needs: list[Permission] = []
        if record is not None and self.data_restore is not None:
            needs.extend(self.data_restore.needs(list(record.snapshots)))
        for verb, refs in (("update", [_ref_of(o) for o in backup.objects]), ("delete", backup.created)):
            for ref in refs:
                info = self.kube.resource(ref.api_version, ref.kind)
                group = ref.api_version.rpartition("/")[0]
                needs.append(Permission(verb=verb, group=group, resource=info.plural, namespace=ref.namespace,
                                        name=ref.name))
        return needs

    def restore(self, thread_id: str, record: ExecutionRecord | None, restorer: Identity,
                pre_chat_commit: str) -> m.Event:
        """Revert commit, re-apply the backups and delete what the thread created, as the restorer."""
        as_restorer = self.kube.as_user(restorer)
        try:
            backup = self.backups.load(thread_id)
            pre_chat = (record.pre_chat_commit if record else "") or pre_chat_commit
            if pre_chat:
                self.repo.restore_commit(thread_id, pre_chat, folder_of(thread_id),
                                         subject=f"{thread_id}: restore to the state before the chat")
                for target in self.targets:
                    fork = target.repo.fork_point(thread_id)
                    if fork:
                        target.repo.restore_commit(thread_id, fork, folder_of(thread_id, target.folder),
                                                   subject=f"{thread_id}: restore to the state before the chat")
            self.sync_engine.remove(thread_id)  # before re-applying: a GitOps tool must not fight the restore
            if backup is None:
                return m.RestoreDone(message="nothing had been applied")
            from_snapshots = restored_keys(list(record.snapshots)) if record is not None else set()
            for ref in reversed(backup.created):
                as_restorer.delete(ref.api_version, ref.kind, ref.name, ref.namespace or None)
            reapplied = [o for o in backup.objects if _key_of(o) not in from_snapshots]  # claims from snapshots stay
            for saved in reapplied:
                self._reapply(as_restorer, saved)
        except (KubeError, GitError) as exc:
            if exc.transient:
                raise
            return m.RestoreFailed(message=f"restore as {restorer.user} failed: {getattr(exc, 'message', exc)}")
        data = f"; {len(from_snapshots)} claim(s) came back from their snapshots" if from_snapshots else ""
        return m.RestoreDone(message=f"re-applied {len(reapplied)} object(s), deleted {len(backup.created)}{data}")

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


def _ref_of(obj: dict[str, Any]) -> ObjectRef:
    meta = obj.get("metadata") or {}
    return ObjectRef(api_version=obj.get("apiVersion", ""), kind=obj.get("kind", ""), name=meta.get("name", ""),
                     namespace=meta.get("namespace") or "")


def _key_of(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return ObjectRef(api_version=obj.get("apiVersion", ""), kind=obj.get("kind", ""), name=meta.get("name", ""),
                     namespace=meta.get("namespace") or "").key()
