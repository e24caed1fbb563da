"""Reconcile one conversation object: detect causes, decide who may do what, step the machine, run effects.

Shaped like a Flux reconcile: fetch (the body kopf hands us), then a loop in which the pure state
machine decides and the executor acts, with status written in one place (`_commit`) once per
machine step — so progress survives a crash and the UI sees each phase — and never twice for one
step. On entry, effects of a busy phase are resumed first (Executing, Syncing, Restoring), because a
reconcile only finds the thread in such a phase when it is waiting (verification) or the controller
stopped in the middle of one.

Identity: every approval, rating and restore names a person (the admission policy binds the name to
the caller); this module asks the API server, with SubjectAccessReviews, whether that person holds
the custom verb (`approve`, `rate`, `restore`) — and for an approval, every permission the plan
needs. A refusal is recorded for that person only. A transient failure of those checks (or of
anything else) leaves the cause unhandled and raises `Transient`: the handler retries with backoff.

Locks: an approval that would execute first takes the locks of the plan's targets; while another
thread holds one, the approval waits (condition `Locked`, saying who holds what) and is looked at
again on the next tick. Locks are released when the thread is Completed or Restored, or when it
failed or went stale before anything of it was applied.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from controller.adapters.kube import Kube, KubeError, NotFound
from controller.adapters.telemetry import EFFECT_SECONDS, EFFECTS, PLANS, THREAD_TRANSITIONS, Alerts
from controller.api.constants import (
    KIND_REQUEST,
    PLURAL_CONVERSATION,
    PLURAL_REQUEST,
    VERB_APPROVE,
    VERB_RATE,
    VERB_RESTORE,
    ConditionType,
    Phase,
    Reason,
)
from controller.api.types import (
    Condition,
    ConversationSpec,
    ConversationStatus,
    ExecutionRecord,
    Identity,
    Links,
    Message,
    Permission,
    PlanRevision,
    PullRequestLink,
    RequestSpec,
)
from controller.engine.data_restore import to_restore
from controller.engine.errors import Transient, is_transient, transient_from
from controller.engine.execution import ExecutionContext, Executor
from controller.engine.history import History
from controller.engine.locks import Holder, TargetLocks, ThreadIds
from controller.engine.planning import Planner, ThreadView
from controller.engine.serial import KeyedLocks
from controller.engine.snapshots import Snapshots
from controller.engine.targets import lock_keys
from controller.redact import redact_text
from controller.textclean import clean_text
from controller.workflow import machine as m
from controller.workflow.bridge import state_of, with_state
from controller.workflow.causes import (
    PendingApproval,
    PendingRating,
    PendingRestore,
    chain,
    detect,
    history_intact,
    resume_effects,
)

log = logging.getLogger("aiop.reconcile")
LOCK_RETRY_S = 3.0
INLINE_VERIFY_S = 2.0  # verification polled in the reconcile before leaving it to the timer


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Services:
    kube: Kube
    planner: Planner
    executor: Executor
    alerts: Alerts
    locks: TargetLocks
    thread_ids: ThreadIds
    history: History
    serial: KeyedLocks = field(default_factory=KeyedLocks)
    verify_timeout_s: float = 60.0
    # A seam for crash tests: called with "start", "before:<Effect>" and "after:<Effect>"; raising `Crash`
    # there stops the reconcile on the spot, as a killed process would (nothing after it is written).
    crash_hook: Callable[[str], None] | None = None


class Crash(BaseException):
    """A simulated kill of the controller at an effect boundary (BaseException: nothing catches it)."""


def thread_id_of(body: dict[str, Any], spec_thread_id: str | None) -> str:
    """The thread id: the one asked for, else `<namespace>-<name>` (shortened with a hash when long)."""
    import hashlib

    if spec_thread_id:
        return spec_thread_id
    meta = body["metadata"]
    full = f"{meta['namespace']}-{meta['name']}".lower()
    if len(full) <= 40:
        return full.strip("-")
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{full[:31].rstrip('-')}-{digest}"


def parse_spec(body: dict[str, Any]) -> ConversationSpec:
    raw = body.get("spec") or {}
    if body.get("kind") == KIND_REQUEST:
        return RequestSpec.model_validate(raw).as_conversation()
    return ConversationSpec.model_validate(raw)


def describe_validation(exc: ValidationError) -> str:
    return "; ".join(f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def _set_condition(status: ConversationStatus, type_: str, state: str, reason: str, message: str,
                   now: str) -> ConversationStatus:
    old = next((c for c in status.conditions if c.type == type_), None)
    if old is not None and (old.status, old.reason, old.message) == (state, reason, message):
        return status
    stamp = old.last_transition_time if old is not None and old.status == state else now
    cond = Condition(type=type_, status=state, reason=reason, message=message,  # type: ignore[arg-type]
                     last_transition_time=stamp)
    return status.model_copy(update={"conditions": [*(c for c in status.conditions if c.type != type_), cond]})


def _drop_condition(status: ConversationStatus, type_: str) -> ConversationStatus:
    if not any(c.type == type_ for c in status.conditions):
        return status
    return status.model_copy(update={"conditions": [c for c in status.conditions if c.type != type_]})


class Reconciler:
    """One reconcile of one object."""

    def __init__(self, svc: Services, body: dict[str, Any]) -> None:
        self.svc = svc
        self.body = body
        meta = body["metadata"]
        self.name: str = meta["name"]
        self.namespace: str = meta["namespace"]
        self.uid: str = meta.get("uid", "")
        self.api_version: str = body["apiVersion"]
        self.kind: str = body["kind"]
        self.status = ConversationStatus()
        self.spec: ConversationSpec | None = None
        self.written = ConversationStatus()
        self.resource_version: str = meta.get("resourceVersion", "")
        self.requeue: float | None = None  # seconds until this object wants another look

    @property
    def holder(self) -> Holder:
        return Holder(self.status.thread_id, self.kind, self.namespace, self.name, self.uid)

    # ------------------------------------------------------------------------------ entry

    def run(self) -> float | None:
        """Handle everything pending; returns when to look again (None: on the next change)."""
        try:
            self.status = ConversationStatus.model_validate(self.body.get("status") or {})
        except ValidationError:
            log.warning("status unreadable; starting from scratch", extra={"object": self.name})
            self.status = ConversationStatus()
        self.written = self.status
        try:
            self.spec = parse_spec(self.body)
        except ValidationError as exc:
            self._condition(ConditionType.READY, "False", "InvalidSpec", describe_validation(exc))
            self._commit()
            return None
        if not self._claim_thread_id():
            self._commit()
            return None
        if not history_intact(self.spec, self.status):
            self._condition(ConditionType.READY, "False", Reason.TURNS_REWRITTEN,
                            "turns that were already handled have been changed or removed; nothing more is "
                            "planned in this thread: start a new one")
            self._commit()
            return None
        self._drain(deque(resume_effects(self.status)))
        for cause in self._collapsed(detect(self.spec, self.status)):
            event = self._resolve(cause)
            if event is not None:
                self._feed(event)
        if self.status.phase is Phase.COMPLETED:
            self._follow_pull_requests()
        self._retain_snapshots()
        self.status = _drop_condition(self.status, ConditionType.RECONCILING)  # a whole pass succeeded
        self._commit()
        return self.requeue

    def _claim_thread_id(self) -> bool:
        assert self.spec is not None
        thread_id = self.status.thread_id or thread_id_of(self.body, self.spec.thread_id)
        if self.spec.thread_id and self.spec.thread_id != thread_id:
            thread_id = self.spec.thread_id
        ready = next((c for c in self.status.conditions if c.type == ConditionType.READY), None)
        if self.status.thread_id == thread_id and self.status.processed_turns and not (
                ready and ready.reason == Reason.THREAD_ID_TAKEN):
            return True  # claimed before this conversation's first plan was recorded
        self.status = self.status.model_copy(update={"thread_id": thread_id})
        try:
            taken = self.svc.thread_ids.claim(self.holder)
        except KubeError as exc:
            if exc.transient:
                raise transient_from(exc, "claiming the thread id") from exc
            raise
        if taken:
            self._condition(ConditionType.READY, "False", Reason.THREAD_ID_TAKEN, taken)
            return False
        return True

    def _follow_pull_requests(self) -> None:
        """Review and merge state of the thread's pull requests, read back from the forges."""
        open_prs = [(p.repo, p.number) for p in self.status.links.pull_requests if p.state == "open"]
        if not open_prs:
            return
        found = self.svc.executor.follow_pull_requests(self.status.thread_id, open_prs)
        links = [p.model_copy(update={"state": found[(p.repo, p.number)].state,
                                      "review": found[(p.repo, p.number)].review})
                 if (p.repo, p.number) in found else p for p in self.status.links.pull_requests]
        before = self.status.links.pull_requests
        if links != before:
            self._links(pull_requests=links)
            for old, p in zip(before, links, strict=True):
                if p.state != old.state and p.state != "open":
                    self._say("assistant", f"Pull request {p.url} was {p.state}.")
                elif p.review != old.review and p.review != "none":
                    self._say("assistant", f"Pull request {p.url}: review {p.review.replace('_', ' ')}.")

    def _collapsed(self, causes: list[Any]) -> list[Any]:
        """Several unhandled messages are planned once, with all of them as context."""
        messages = [c for c in causes if isinstance(c, m.MessageReceived)]
        others = [c for c in causes if not isinstance(c, m.MessageReceived)]
        return ([messages[-1]] if messages else []) + others

    # --------------------------------------------------------------------- who may do what

    @property
    def _resource(self) -> str:
        return PLURAL_REQUEST if self.kind == KIND_REQUEST else PLURAL_CONVERSATION

    def _may(self, who: Identity, verb: str) -> bool:
        """A SubjectAccessReview for a custom verb on this object; transient failures are retried."""
        try:
            allowed, _ = self.svc.kube.can_i(who, verb, "aiop.dev", self._resource, self.namespace, self.name)
            return allowed
        except KubeError as exc:
            if exc.transient:
                raise transient_from(exc, f"checking whether {who.user} may {verb}") from exc
            return False

    def _lacking(self, who: Identity, needs: list[Permission]) -> list[str]:
        """The permissions `who` lacks, described; transient review failures are retried."""
        missing: list[str] = []
        for perm in needs:
            try:
                allowed, _ = self.svc.kube.can_i(who, perm.verb, perm.group, perm.resource, perm.namespace,
                                                 perm.name, perm.subresource)
            except KubeError as exc:
                if exc.transient:
                    raise transient_from(exc, f"checking {who.user}'s permissions") from exc
                allowed = False
            if not allowed and perm.describe() not in missing:
                missing.append(perm.describe())
        return missing

    def _approver_refusal(self, approver: Identity, revision: PlanRevision) -> str:
        """'' when the approver holds `approve` and every permission the plan needs, else why not."""
        if not self._may(approver, VERB_APPROVE):
            return "the RBAC verb approve on aiconversations is missing"
        missing = self._lacking(approver, [p for a in revision.actions for p in a.permissions])
        if missing:
            return "an approver must be allowed to make the change themselves; missing: " + "; ".join(missing)
        return ""

    def _resolve(self, cause: Any) -> m.Event | None:
        """Turn a cause into an event, checking who wrote it; None while it must wait (locks)."""
        if isinstance(cause, PendingApproval):
            return self._resolve_approval(cause)
        if isinstance(cause, PendingRating):
            return self._resolve_rating(cause)
        if isinstance(cause, PendingRestore):
            return self._resolve_restore(cause)
        return cause  # type: ignore[no-any-return]

    def _resolve_approval(self, cause: PendingApproval) -> m.Event | None:
        who = cause.approver
        name = who.user if who else "(no approver named)"
        probe = m.ApprovalReceived(cause.revision, cause.digest, name, True)
        _state, effects = m.step(state_of(self.status), probe)
        if not any(isinstance(e, m.Execute) for e in effects):  # stale, unknown, not expected: the machine says
            self._seen(seen_approval=cause.fingerprint)
            return probe
        revision = self._revision(cause.revision)
        refusal = "no approver is named" if who is None else self._approver_refusal(who, revision)
        if refusal:
            self._seen(seen_approval=cause.fingerprint)
            return m.ApprovalReceived(cause.revision, cause.digest, name, False, refusal)
        if not self._take_locks(lock_keys(revision)):
            return None
        self._seen(seen_approval=cause.fingerprint)
        return probe

    def _resolve_rating(self, cause: PendingRating) -> m.Event:
        who = cause.rater
        authorized = who is not None and self._may(who, VERB_RATE)
        self._seen(seen_rating=cause.fingerprint)
        if authorized and self.status.phase is Phase.AWAITING_RATING:
            self._say("user", f"Rated {cause.score}/100" + (f": {clean_text(cause.comment)}" if cause.comment else ""),
                      author=who.user if who else "")
        return m.RatingReceived(score=cause.score, comment=clean_text(cause.comment), revision=cause.revision,
                                rater=who.user if who else "", authorized=authorized,
                                refusal="" if who else "no rater is named (spec.rating.ratedBy)")

    def _resolve_restore(self, cause: PendingRestore) -> m.Event | None:
        who = cause.by
        if who is None or not self._may(who, VERB_RESTORE):
            self._seen(seen_restore=cause.fingerprint)
            return m.RestoreRequested(by=who.user if who else "", authorized=False,
                                      refusal="" if who else "no one is named (spec.restore.requestedBy)")
        if self.status.phase not in {Phase.RESTORING, Phase.RESTORED} and self.status.has_backup:
            lacking = self._lacking(who, self.svc.executor.restore_needs(self.status.thread_id, self.status.execution))
            if lacking:
                self._seen(seen_restore=cause.fingerprint)
                return m.RestoreRequested(by=who.user, authorized=False,
                                          refusal="restore runs as the person who asks for it, who is missing: "
                                                  + "; ".join(lacking))
            conflicts = self.svc.executor.restore_conflicts(self.status.thread_id, self.status.execution)
            if conflicts:
                self._seen(seen_restore=cause.fingerprint)
                return m.RestoreRequested(by=who.user, authorized=False, refusal_reason=Reason.RESTORE_CONFLICT.value,
                                          refusal="restoring would undo someone else's later change, so nothing was "
                                                  "restored: " + "; ".join(conflicts))
            keys = self.status.locks or self._executed_keys()
            if keys and not self._take_locks(keys):
                return None
        self._seen(seen_restore=cause.fingerprint)
        self._say("user", "Restore to the state before this chat.", author=who.user)
        return m.RestoreRequested(by=who.user)

    def _executed_keys(self) -> list[str]:
        record = self.status.execution
        if record is None:
            return []
        return sorted({r.key() for r in record.deletes} | {k for repo in record.repos for k in repo.objects})

    def _take_locks(self, keys: list[str]) -> bool:
        try:
            held_by = self.svc.locks.acquire(self.holder, keys)
        except KubeError as exc:
            if exc.transient:
                raise transient_from(exc, "taking the locks of the plan's targets") from exc
            raise
        if held_by:
            self._condition(ConditionType.LOCKED, "True", Reason.TARGET_LOCKED,
                            f"waiting: {held_by}; this thread goes on when it is released")
            self.requeue = LOCK_RETRY_S
            return False
        self.status = self.status.model_copy(update={"locks": sorted(set(self.status.locks) | set(keys))})
        self.status = _drop_condition(self.status, ConditionType.LOCKED)
        return True

    def _release_locks(self) -> None:
        if not self.status.locks:
            return
        try:
            self.svc.locks.release(self.holder, list(self.status.locks))
        except KubeError as exc:
            if exc.transient:
                raise transient_from(exc, "releasing the thread's locks") from exc
            raise
        self.status = self.status.model_copy(update={"locks": []})

    # ---------------------------------------------------------------------------- the loop

    def _feed(self, event: m.Event) -> None:
        before = self.status.phase
        state, effects = m.step(state_of(self.status), event)
        self.status = with_state(self.status, state, now_rfc3339())
        if self.status.phase != before:
            THREAD_TRANSITIONS.labels(phase=self.status.phase.value).inc()
            log.info("phase", extra={"thread_id": self.status.thread_id, "from": before.value,
                                     "to": self.status.phase.value, "event": type(event).__name__})
        self._commit()
        self._drain(deque(effects))

    def _drain(self, queue: deque[m.Effect]) -> None:
        while queue:
            effect = queue.popleft()
            name = type(effect).__name__
            if self.svc.crash_hook is not None:
                self.svc.crash_hook(f"before:{name}")
            with EFFECT_SECONDS.labels(effect=name).time():
                try:
                    event = self._run(effect)
                    EFFECTS.labels(effect=name, outcome="ok").inc()
                except NotFound:
                    log.info("object gone; stopping", extra={"object": self.name})
                    return
                except Exception as exc:
                    if is_transient(exc):
                        EFFECTS.labels(effect=name, outcome="retry").inc()
                        raise exc if isinstance(exc, Transient) else transient_from(exc, name) from exc
                    EFFECTS.labels(effect=name, outcome="error").inc()  # a bug: the thread says so
                    log.exception("effect failed", extra={"effect": name, "thread_id": self.status.thread_id})
                    event = m.ErrorOccurred(message=f"{name} failed: {redact_text(str(exc))}")
            if self.svc.crash_hook is not None:
                self.svc.crash_hook(f"after:{name}")
            if event is not None:
                self._feed(event)

    def _run(self, effect: m.Effect) -> m.Event | None:
        assert self.spec is not None
        match effect:
            case m.Plan():
                return self._plan(effect)
            case m.Alert():
                self.svc.alerts.raise_alert(self.body, effect.reason, effect.message)
                return None
            case m.Execute():
                return self._execute(effect)
            case m.Sync():
                return self._sync(effect)
            case m.RecordRating():
                self._record_rating(effect)
                return None
            case m.Promote():
                self._promote(effect)
                return None
            case m.Restore():
                return self._restore()
        return None

    # ----------------------------------------------------------------------------- effects

    def _plan(self, effect: m.Plan) -> m.Event:
        assert self.spec is not None
        turn = effect.turn or len(self.spec.turns)
        ignored = []
        for index in range(self.status.processed_turns, max(effect.turn, self.status.processed_turns)):
            written = self.spec.turns[index]
            author = written.author.user if written.author else self.spec.requester.user
            self._say("user", redact_text(clean_text(written.text)), author=author)
            if author != self.spec.requester.user and not self.svc.planner.allow_collaborators:
                ignored.append(f"message {index + 1} by {author}")
        view = ThreadView(self.status.thread_id, self.namespace, self.name, self.spec, list(self.status.revisions))
        proposal = self.svc.planner.propose(view, turn, effect.feedback, now_rfc3339())
        PLANS.labels(kind=type(proposal.event).__name__).inc()
        digest = self.status.turns_digest
        for index in range(self.status.processed_turns, max(turn, self.status.processed_turns)):
            digest = chain(digest, self.spec.turns[index])
        self.status = self.status.model_copy(update={
            "processed_turns": max(self.status.processed_turns, turn),
            "turns_digest": digest,
            "revisions": [*self.status.revisions, proposal.revision],
            "missing_permissions": proposal.missing,
        })
        if ignored:
            self._say("system", "Not used for planning (only the requester's messages shape a plan here): "
                                + ", ".join(ignored) + ".")
        self._say("assistant", proposal.message, proposal.revision.revision)
        self.status = self.svc.history.bound(self.status.thread_id, self.status)
        return proposal.event

    def _revision(self, number: int) -> PlanRevision:
        return next(r for r in self.status.revisions if r.revision == number)

    def _context(self, revision_no: int) -> ExecutionContext:
        assert self.spec is not None
        approver = self.spec.approval.approver.user if self.spec.approval and self.spec.approval.approver else ""
        earlier = tuple(self.status.execution.snapshots) if self.status.execution else ()
        return ExecutionContext(self.status.thread_id, self.namespace, self.spec.requester, approver,
                                [redact_text(clean_text(t.text)) for t in self.spec.turns],
                                self._revision(revision_no), str(self.spec.context or ""), earlier)

    def _execute(self, effect: m.Execute) -> m.Event:
        ctx = self._context(effect.revision)
        if ctx.revision.digest != effect.digest:
            return m.ExecutionFailed(message=f"revision {effect.revision} no longer has digest {effect.digest}")
        event, record = self.svc.executor.execute(ctx, self.status.links.pre_chat_commit, now_rfc3339())
        if isinstance(event, m.ExecutionDone) and record is not None:
            known = self.status.links.commits
            shas = [r.commit for r in record.repos if r.commit and r.commit not in known]
            primary = record.repos[0]
            self.status = self.status.model_copy(update={"execution": record, "has_backup": True})
            self._links(pre_chat_commit=record.pre_chat_commit, repo=self.svc.executor.repo.url,
                        branch=primary.branch, folder=primary.folder, commits=[*known, *dict.fromkeys(shas)])
            self._say("assistant", f"Approved revision {effect.revision}. Backed up and committed "
                                   f"{event.commit[:12]} to {primary.branch} ({primary.folder}/). Applying…",
                      effect.revision)
        elif isinstance(event, m.PlanStale):
            self._say("assistant", event.message, effect.revision)
            if not self.status.has_backup:
                self._release_locks()
        elif isinstance(event, m.ExecutionFailed):
            self._say("assistant", f"Execution failed: {event.message}", effect.revision)
            if event.backed_up:
                self.status = self.status.model_copy(update={"has_backup": True})
            elif not self.status.has_backup:
                self._release_locks()
        return event

    def _sync(self, effect: m.Sync) -> m.Event | None:
        record = self.status.execution
        if record is None or record.revision != effect.revision:
            return m.SyncFailed(message=f"no execution record for revision {effect.revision}")
        revision = self._revision(effect.revision)
        executor = self.svc.executor
        req = executor.sync_request(self.status.thread_id, record, revision)
        # --- snapshots (issue 14; controller/engine/snapshots.py): nothing is applied before every snapshot of this
        # execution is ready; one that fails or is late fails the thread with nothing changed
        snapshots = executor.snapshots
        if not record.sync_started and snapshots is not None and any(s.state == "Pending" for s in record.snapshots):
            wait = snapshots.wait(record, now_rfc3339())
            record = record.model_copy(update={"snapshots": wait.records})
            self.status = self.status.model_copy(update={"execution": record})
            if wait.failed:
                return self._sync_said(m.SyncFailed(message=f"{wait.failed}. Nothing was applied"), effect.revision)
            if not wait.ready:
                self._condition(ConditionType.SYNCED, "Unknown", Reason.WAITING_FOR_SNAPSHOTS, wait.message)
                self.requeue = 1.0
                return None
        failed = next((s for s in record.snapshots if s.state == "Failed" and s.revision == record.revision), None)
        if not record.sync_started and failed is not None:
            return self._sync_said(m.SyncFailed(message=f"snapshot {failed.name} failed: {failed.message}. "
                                                        "Nothing was applied"), effect.revision)
        # --- end snapshots
        if not record.sync_started:
            outcome = executor.start_sync(req, revision)
            if not outcome.ok:
                return self._sync_said(m.SyncFailed(message=outcome.message), effect.revision)
            record = record.model_copy(update={"sync_started": now_rfc3339(),
                                               "snapshots": Snapshots.mark_used(list(record.snapshots)),
                                               "sync_objects": executor.sync_objects(req)})
            self.status = self.status.model_copy(update={"execution": record})
            if record.sync_objects:
                self._links(argo_application=record.sync_objects)
        state = executor.sync_state(req)
        waited = 0.0
        while not (state.done or state.failed) and waited < INLINE_VERIFY_S:  # a quick rollout needs no tick
            time.sleep(0.25)
            waited += 0.25
            state = executor.sync_state(req)
        if state.done:
            applied = executor.applied_states(record)
            self.status = self.status.model_copy(update={"execution": record.model_copy(update={"applied": applied})})
            return self._sync_said(m.SyncDone(message=executor.describe_sync(req, state)), effect.revision)
        started = datetime.strptime(record.sync_started, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        late = (datetime.now(UTC) - started).total_seconds() > self.svc.verify_timeout_s
        if state.failed or late:
            return self._sync_said(m.SyncFailed(message=executor.describe_sync(req, state)), effect.revision)
        self._condition(ConditionType.SYNCED, "Unknown", Reason.VERIFYING, state.message or "verifying")
        self.requeue = 1.0
        return None

    def _sync_said(self, event: m.SyncDone | m.SyncFailed, revision: int) -> m.Event:
        text = event.message if isinstance(event, m.SyncDone) else f"Sync failed: {event.message}"
        suffix = " Rate the result (100 opens the pull request), or restore." if isinstance(event, m.SyncDone) else ""
        self._say("assistant", text[:1].upper() + text[1:] + "." + suffix, revision)
        return event

    def _record_rating(self, effect: m.RecordRating) -> None:
        """Ratings below 100 are remembered too, so a failed approach steers later plans away."""
        assert self.spec is not None
        if effect.score == 100:
            return  # Promote stores it, with the pull requests
        revision = self._revision(self.status.current_revision)
        try:
            self.svc.executor.record_rating(self.status.thread_id, revision, self._context(revision.revision).turns,
                                            self.spec.requester, effect.score, effect.comment, now_rfc3339())
        except Exception as exc:  # knowledge informs later plans; its outage must not stop this thread
            log.warning("rating not stored as knowledge", extra={"thread_id": self.status.thread_id,
                                                                 "error": str(exc)})

    def _promote(self, effect: m.Promote) -> None:
        assert self.spec is not None
        ctx = self._context(effect.revision)
        rating = self.spec.rating
        record = self.status.execution if self.status.execution and self.status.links.commits else None
        prs = self.svc.executor.promote(self.status.thread_id, record, ctx.revision, ctx.turns, ctx.requester,
                                        ctx.approver, rating.score if rating else 100,
                                        rating.comment if rating else "", now_rfc3339())
        known = {(p.repo, p.number) for p in self.status.links.pull_requests}
        links = [*self.status.links.pull_requests] + [
            PullRequestLink(repo=p.repo, number=p.number, url=p.url, state=p.state) for p in prs
            if (p.repo, p.number) not in known]
        self._links(pull_requests=links)
        self.status = self.status.model_copy(update={"rated_revision": effect.revision,
                                                     "last_rating": rating.score if rating else 100})
        self._release_locks()
        text = "Thank you. " + (f"Opened pull request {prs[0].url}." if prs else "Stored as knowledge.")
        self._say("assistant", text, effect.revision)

    def _restore(self) -> m.Event | None:
        assert self.spec is not None
        restore = self.spec.restore
        restorer = restore.requested_by if restore and restore.requested_by else self.spec.requester
        record: ExecutionRecord | None = self.status.execution
        # --- data restore (issue 14; controller/engine/data_restore.py): volumes and databases come back from their
        # snapshots first, one round of steps per reconcile (nothing blocks), then the revert and the object backups
        data = self.svc.executor.data_restore
        if record is not None and data is not None and to_restore(list(record.snapshots)):
            self.svc.executor.sync_engine.remove(self.status.thread_id)  # a GitOps tool must not fight the restore
            progress = data.step(self.status.thread_id, list(record.snapshots), restorer)
            record = record.model_copy(update={"snapshots": progress.records})
            self.status = self.status.model_copy(update={"execution": record})
            if progress.failed:
                self._say("assistant", f"Restore failed: {progress.failed}")
                return m.RestoreFailed(message=progress.failed)
            if not progress.done:
                self._condition(ConditionType.RESTORED, "Unknown", Reason.RESTORING_DATA, progress.message)
                self.requeue = 1.0
                return None
            self._say("assistant", f"Data restored: {progress.message}.")
        # --- end data restore
        event = self.svc.executor.restore(self.status.thread_id, record, restorer, self.status.links.pre_chat_commit)
        if isinstance(event, m.RestoreDone):
            self._release_locks()
        message = event.message if isinstance(event, (m.RestoreDone, m.RestoreFailed)) else ""
        self._say("assistant", ("Restored: " if isinstance(event, m.RestoreDone) else "Restore failed: ") + message)
        return event

    def _retain_snapshots(self) -> None:
        """Retention (issue 14): a closed thread's snapshots go `AIOP_SNAPSHOT_GRACE_HOURS` after it closed —
        Completed with every pull request merged or closed, or Restored — unless `spec.keepSnapshots`."""
        record, snapshots, spec = self.status.execution, self.svc.executor.snapshots, self.spec
        if record is None or snapshots is None or spec is None or not any(s.state != "Deleted"
                                                                          for s in record.snapshots):
            return
        runbooks = self.svc.executor.instructions  # the operator's own runbook PR does not hold a restore open
        prs = [p for p in self.status.links.pull_requests if runbooks is None or p.repo != runbooks.forge.name]
        closed = (self.status.phase is Phase.RESTORED or (self.status.phase is Phase.COMPLETED and prs
                                                          and all(p.state != "open" for p in prs)))
        if not closed or (spec.restore is not None and spec.restore.fingerprint() != self.status.seen_restore):
            return
        stamps = [c.last_transition_time for c in self.status.conditions
                  if c.type in (ConditionType.READY, ConditionType.RESTORED) and c.last_transition_time]
        kept = snapshots.retain(list(record.snapshots), max(stamps) if stamps else now_rfc3339(), spec.keep_snapshots,
                                now_rfc3339())
        if kept != list(record.snapshots):
            self.status = self.status.model_copy(update={"execution": record.model_copy(update={"snapshots": kept})})
            gone = [s.name for s, old in zip(kept, record.snapshots, strict=True)
                    if s.state == "Deleted" and old.state != "Deleted"]
            if gone:
                self._say("assistant", "Deleted the snapshots taken before the change (the thread is closed): "
                                       + ", ".join(gone) + ".")

    # ----------------------------------------------------------------------------- status

    def _seen(self, **fingerprints: str) -> None:
        self.status = self.status.model_copy(update=fingerprints)

    def _links(self, **changes: Any) -> None:
        self.status = self.status.model_copy(update={"links": self.status.links.model_copy(update=changes)})

    def _condition(self, type_: str, state: str, reason: str, message: str) -> None:
        self.status = _set_condition(self.status, type_, state, reason, message, now_rfc3339())

    def _say(self, role: str, text: str, revision: int | None = None, author: str = "") -> None:
        messages = self.status.messages
        if messages and messages[-1].role == role and messages[-1].text == text:
            return
        number = max(self.status.message_count, messages[-1].id if messages else 0) + 1
        message = Message(id=number, role=role, text=text, author=author, revision=revision,  # type: ignore[arg-type]
                          time=now_rfc3339())
        self.status = self.status.model_copy(update={"messages": [*messages, message], "message_count": number})

    def _commit(self) -> None:
        """Write status if it changed: the one place status is written."""
        generation = self.body.get("metadata", {}).get("generation", 0)
        self.status = self.status.model_copy(update={"observed_generation": generation})
        if self.status == self.written:
            return
        patch: dict[str, Any] = {"status": self.status.wire()}
        if self.resource_version:  # never over a newer status: a conflict re-reads and runs again
            patch["metadata"] = {"resourceVersion": self.resource_version}
        try:
            written = self.svc.kube.merge_patch(self.api_version, self.kind, self.name, self.namespace, patch,
                                                subresource="status", metadata_only=True)
        except KubeError as exc:
            if exc.transient:
                raise transient_from(exc, "writing the thread's status") from exc
            raise
        self.resource_version = (written.get("metadata") or {}).get("resourceVersion", "")
        self.written = self.status


BUSY_RETRY_S = 0.5


class ThreadBusy(Transient):
    """Another reconcile of this thread is running: try again shortly (nothing failed)."""

    def __init__(self) -> None:
        super().__init__("another reconcile of this thread is running", delay=BUSY_RETRY_S)


def reconcile(svc: Services, body: dict[str, Any]) -> float | None:
    """One reconcile, serialized per object (kopf's handlers and timers may both call it).

    It starts from the object as the API server has it now, not as the watch last delivered it: after a
    dropped watch kopf's copy can be older than our own last status write, and acting on it would
    repeat handled steps. Status is then written with that resourceVersion as a precondition.
    """
    meta = body.get("metadata", {})
    uid = meta.get("uid", "") or meta["name"]
    with svc.serial.hold(uid) as held:
        if not held:
            # Another reconcile of this object is running, and may have read it before the change that
            # brought us here: this one must run again, not count as done.
            raise ThreadBusy()
        if svc.crash_hook is not None:
            svc.crash_hook("start")
        try:
            fresh = svc.kube.get(body["apiVersion"], body["kind"], meta["name"], meta.get("namespace"))
        except KubeError as exc:
            if exc.transient:
                raise transient_from(exc, "reading the thread") from exc
            raise
        if fresh is None or (fresh.get("metadata") or {}).get("uid", uid) != uid:
            return None  # deleted (or re-created: that is another object's reconcile)
        fresh.setdefault("apiVersion", body["apiVersion"])
        fresh.setdefault("kind", body["kind"])
        return Reconciler(svc, fresh).run()


def record_retry(svc: Services, body: dict[str, Any], message: str, delay: float) -> None:
    """Best effort: say in status that a transient error is being retried (the API may be what is down).

    The conditions are those of the object as it is now, written with its resourceVersion: the body
    kopf handed over can be older than the reconcile's own status writes, and writing its conditions
    back erased them (bench.load: a stale plan's `Ready: PlanStale` was replaced by the approval-time
    conditions, so the re-plan was never resumed and the thread stayed in Planning for good).
    """
    meta = body["metadata"]
    cond = {"type": ConditionType.RECONCILING.value, "status": "True", "reason": Reason.RETRYING.value,
            "message": f"{message}; retrying in {delay:.0f}s", "lastTransitionTime": now_rfc3339()}
    try:
        live = svc.kube.get(body["apiVersion"], body["kind"], meta["name"], meta["namespace"])
        if live is None:
            return
        conditions = [c for c in ((live.get("status") or {}).get("conditions") or [])
                      if c.get("type") != ConditionType.RECONCILING.value]
        svc.kube.merge_patch(body["apiVersion"], body["kind"], meta["name"], meta["namespace"],
                             {"metadata": {"resourceVersion": live["metadata"]["resourceVersion"]},
                              "status": {"conditions": [*conditions, cond]}}, subresource="status",
                             metadata_only=True)
    except KubeError:
        pass


__all__ = ["Links", "Phase", "Reconciler", "Services", "ThreadBusy", "Transient", "reconcile", "record_retry"]
