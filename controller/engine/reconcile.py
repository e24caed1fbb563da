"""Reconcile one conversation object: detect causes, step the machine, run effects, write status.

Shaped like a Flux reconcile: fetch (the body kopf hands us), then a loop in which the pure state
machine decides and the executor acts, and status written in one place (`_write`) after every
step, so progress survives a crash and the UI sees each phase as it happens. On entry, effects of
a busy phase are resumed first (Executing, Syncing, Restoring), because a reconcile only finds the
thread in such a phase when the controller stopped in the middle of one.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from controller.adapters.kube import Kube, KubeError, NotFound
from controller.adapters.telemetry import EFFECT_SECONDS, EFFECTS, PLANS, THREAD_TRANSITIONS, Alerts
from controller.api.constants import KIND_REQUEST, PLURAL_CONVERSATION, PLURAL_REQUEST, VERB_APPROVE, Phase
from controller.api.types import (
    Condition,
    ConversationSpec,
    ConversationStatus,
    Identity,
    Links,
    Message,
    PullRequestLink,
    RequestSpec,
)
from controller.engine.execution import ExecutionContext, Executor, folder_of
from controller.engine.planning import Planner, ThreadView
from controller.redact import redact_text
from controller.workflow import machine as m
from controller.workflow.bridge import state_of, with_state
from controller.workflow.causes import PendingApproval, detect, resume_effects

log = logging.getLogger("aiop.reconcile")


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Services:
    kube: Kube
    planner: Planner
    executor: Executor
    alerts: Alerts


def thread_id_of(body: dict[str, Any], spec_thread_id: str | None) -> str:
    if spec_thread_id:
        return spec_thread_id
    meta = body["metadata"]
    return f"{meta['namespace']}-{meta['name']}"[:40].strip("-").lower()


def parse_spec(body: dict[str, Any]) -> ConversationSpec:
    raw = body.get("spec") or {}
    if body.get("kind") == KIND_REQUEST:
        return RequestSpec.model_validate(raw).as_conversation()
    return ConversationSpec.model_validate(raw)


def describe_validation(exc: ValidationError) -> str:
    return "; ".join(f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


class Reconciler:
    """One reconcile of one object."""

    def __init__(self, svc: Services, body: dict[str, Any]) -> None:
        self.svc = svc
        self.body = body
        meta = body["metadata"]
        self.name: str = meta["name"]
        self.namespace: str = meta["namespace"]
        self.api_version: str = body["apiVersion"]
        self.kind: str = body["kind"]
        self.status = ConversationStatus()
        self.spec: ConversationSpec | None = None

    # ------------------------------------------------------------------------------ entry

    def run(self) -> None:
        try:
            self.status = ConversationStatus.model_validate(self.body.get("status") or {})
        except ValidationError:
            log.warning("status unreadable; starting from scratch", extra={"object": self.name})
            self.status = ConversationStatus()
        try:
            self.spec = parse_spec(self.body)
        except ValidationError as exc:
            self._invalid_spec(describe_validation(exc))
            return
        thread_id = thread_id_of(self.body, self.spec.thread_id)
        if self.status.thread_id != thread_id:
            self.status = self.status.model_copy(update={"thread_id": thread_id})
            self._write()
        queue: deque[m.Effect] = deque(resume_effects(self.status))
        self._drain(queue)
        for cause in self._collapsed(detect(self.spec, self.status)):
            self._feed(self._resolve(cause))
        if self.status.phase is Phase.COMPLETED:
            self._follow_pull_requests()

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
            self.status = self.status.model_copy(update={
                "links": self.status.links.model_copy(update={"pull_requests": links})})
            for old, p in zip(before, links, strict=True):
                if p.state != old.state and p.state != "open":
                    self._say("assistant", f"Pull request {p.url} was {p.state}.")
                elif p.review != old.review and p.review != "none":
                    self._say("assistant", f"Pull request {p.url}: review {p.review.replace('_', ' ')}.")
            self._write()

    def _collapsed(self, causes: list[Any]) -> list[Any]:
        """Several unhandled messages are planned once, with all of them as context."""
        messages = [c for c in causes if isinstance(c, m.MessageReceived)]
        others = [c for c in causes if not isinstance(c, m.MessageReceived)]
        return ([messages[-1]] if messages else []) + others

    def _resolve(self, cause: Any) -> m.Event:
        """Mark a cause as seen and turn identity checks into facts."""
        if isinstance(cause, PendingApproval):
            self.status = self.status.model_copy(update={
                "seen_approval_revision": cause.revision, "seen_approval_digest": cause.digest})
            authorized = bool(cause.approver_user) and self._may_approve(
                Identity(user=cause.approver_user, groups=list(cause.approver_groups)))
            return m.ApprovalReceived(cause.revision, cause.digest, cause.approver_user or "(no approver named)",
                                      authorized)
        if isinstance(cause, m.RatingReceived):
            assert self.spec is not None and self.spec.rating is not None
            self.status = self.status.model_copy(update={"seen_rating": self.spec.rating.fingerprint()})
            self._say("user", f"Rated {cause.score}/100" + (f": {cause.comment}" if cause.comment else ""))
        if isinstance(cause, m.RestoreRequested):
            self.status = self.status.model_copy(update={"restore_handled": True})
            self._say("user", "Restore to the state before this chat.")
        return cause  # type: ignore[no-any-return]

    def _may_approve(self, who: Identity) -> bool:
        resource = PLURAL_REQUEST if self.kind == KIND_REQUEST else PLURAL_CONVERSATION
        try:
            allowed, _ = self.svc.kube.can_i(who, VERB_APPROVE, "aiop.dev", resource, self.namespace, self.name)
            return allowed
        except KubeError:
            return False

    # ---------------------------------------------------------------------------- the loop

    def _feed(self, event: m.Event) -> None:
        before = self.status.phase
        state, effects = m.step(state_of(self.status), event)
        self.status = with_state(self.status, state, now_rfc3339())
        if self.status.phase != before:
            THREAD_TRANSITIONS.labels(phase=self.status.phase.value).inc()
            log.info("phase", extra={"thread_id": self.status.thread_id, "from": before.value,
                                     "to": self.status.phase.value, "event": type(event).__name__})
        self._write()
        self._drain(deque(effects))

    def _drain(self, queue: deque[m.Effect]) -> None:
        while queue:
            effect = queue.popleft()
            name = type(effect).__name__
            with EFFECT_SECONDS.labels(effect=name).time():
                try:
                    event = self._run(effect)
                    EFFECTS.labels(effect=name, outcome="ok").inc()
                except NotFound:
                    log.info("object gone; stopping", extra={"object": self.name})
                    return
                except Exception as exc:  # a bug or an outage: the thread says so, nothing is lost
                    EFFECTS.labels(effect=name, outcome="error").inc()
                    log.exception("effect failed", extra={"effect": name, "thread_id": self.status.thread_id})
                    event = m.ErrorOccurred(message=f"{name} failed: {redact_text(str(exc))}")
            if event is not None:
                self._feed(event)
            else:
                self._write()

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
        if effect.turn:
            for index in range(self.status.processed_turns, effect.turn):
                self._say("user", redact_text(self.spec.turns[index].text))
        view = ThreadView(self.status.thread_id, self.namespace, self.name, self.spec, list(self.status.revisions))
        proposal = self.svc.planner.propose(view, turn, effect.feedback, now_rfc3339())
        PLANS.labels(kind=type(proposal.event).__name__).inc()
        self.status = self.status.model_copy(update={
            "processed_turns": max(self.status.processed_turns, turn),
            "revisions": [*self.status.revisions, proposal.revision],
            "missing_permissions": proposal.missing,
        })
        self._say("assistant", proposal.message, proposal.revision.revision)
        return proposal.event

    def _context(self, revision_no: int) -> ExecutionContext:
        assert self.spec is not None
        revision = next(r for r in self.status.revisions if r.revision == revision_no)
        approver = self.spec.approval.approver.user if self.spec.approval and self.spec.approval.approver else ""
        executed = tuple(self.status.executed_manifests) if revision_no == self.status.approved_revision else ()
        return ExecutionContext(self.status.thread_id, self.namespace, self.spec.requester, approver,
                                [redact_text(t.text) for t in self.spec.turns], revision, executed,
                                str(self.spec.context or ""))

    def _execute(self, effect: m.Execute) -> m.Event:
        ctx = self._context(effect.revision)
        if ctx.revision.digest != effect.digest:
            return m.ExecutionFailed(message=f"revision {effect.revision} no longer has digest {effect.digest}")
        self._say("assistant", f"Approved revision {effect.revision}. Backing up and committing to "
                               f"thread/{self.status.thread_id}…", effect.revision)
        event, pre_chat, manifests = self.svc.executor.execute(ctx, self.status.links.pre_chat_commit, now_rfc3339())
        links = self.status.links
        update: dict[str, Any] = {"pre_chat_commit": pre_chat, "repo": self.svc.executor.repo.url,
                                  "branch": f"thread/{self.status.thread_id}",
                                  "folder": folder_of(self.status.thread_id)}
        if isinstance(event, m.ExecutionDone):
            done = replace(ctx, executed_manifests=tuple(manifests))
            shas = [event.commit, *self.svc.executor.thread_commits(done)] if self.svc.executor.targets else [event.commit]
            update["commits"] = [*links.commits, *(s for s in dict.fromkeys(shas) if s not in links.commits)]
            self._say("assistant", f"Committed {event.commit[:12]} to thread/{self.status.thread_id} "
                                   f"({folder_of(self.status.thread_id)}/). Applying…", effect.revision)
        elif isinstance(event, m.ExecutionFailed):
            self._say("assistant", f"Execution failed: {event.message}", effect.revision)
        self.status = self.status.model_copy(update={"links": links.model_copy(update=update),
                                                     "executed_manifests": manifests,
                                                     "has_backup": self.status.has_backup or getattr(event, "backed_up", True)})
        return event

    def _sync(self, effect: m.Sync) -> m.Event:
        ctx = self._context(effect.revision)
        event = self.svc.executor.sync(ctx)
        synced_by = self.svc.executor.sync_objects(ctx)
        if synced_by:
            self.status = self.status.model_copy(update={
                "links": self.status.links.model_copy(update={"argo_application": synced_by})})
        text = event.message if isinstance(event, m.SyncDone) else f"Sync failed: {event.message}"  # type: ignore[union-attr]
        suffix = " Rate the result (100 opens the pull request), or restore." if isinstance(event, m.SyncDone) else ""
        self._say("assistant", text[:1].upper() + text[1:] + "." + suffix, effect.revision)
        return event

    def _promote(self, effect: m.Promote) -> None:
        assert self.spec is not None
        ctx = self._context(effect.revision)
        committed = effect.revision == self.status.approved_revision and bool(self.status.links.commits)
        rating = self.spec.rating
        prs = self.svc.executor.promote(ctx, committed, rating.score if rating else 100,
                                        rating.comment if rating else "", now_rfc3339())
        known = {(p.repo, p.number) for p in self.status.links.pull_requests}
        links = [*self.status.links.pull_requests] + [
            PullRequestLink(repo=p.repo, number=p.number, url=p.url, state=p.state) for p in prs
            if (p.repo, p.number) not in known]
        self.status = self.status.model_copy(update={
            "links": self.status.links.model_copy(update={"pull_requests": links}), "rated_revision": effect.revision,
            "last_rating": rating.score if rating else 100})
        text = "Thank you. " + (f"Opened pull request {prs[0].url}." if prs else "Stored as knowledge.")
        self._say("assistant", text, effect.revision)

    def _restore(self) -> m.Event:
        assert self.spec is not None
        event = self.svc.executor.restore(self.status.thread_id, self.spec.requester, self.status.links.pre_chat_commit)
        message = event.message if isinstance(event, (m.RestoreDone, m.RestoreFailed)) else ""
        self._say("assistant", ("Restored: " if isinstance(event, m.RestoreDone) else "Restore failed: ") + message)
        return event

    # ----------------------------------------------------------------------------- status

    def _say(self, role: str, text: str, revision: int | None = None) -> None:
        messages = self.status.messages
        if messages and messages[-1].role == role and messages[-1].text == text:
            return
        message = Message(id=len(messages) + 1, role=role, text=text, revision=revision,  # type: ignore[arg-type]
                          time=now_rfc3339())
        self.status = self.status.model_copy(update={"messages": [*messages, message]})

    def _invalid_spec(self, problem: str) -> None:
        cond = Condition(type="Ready", status="False", reason="InvalidSpec", message=problem,
                         last_transition_time=now_rfc3339())
        others = [c for c in self.status.conditions if c.type != "Ready"]
        self.status = self.status.model_copy(update={"conditions": [*others, cond]})
        self._write()

    def _write(self) -> None:
        generation = self.body.get("metadata", {}).get("generation", 0)
        self.status = self.status.model_copy(update={"observed_generation": generation})
        self.svc.kube.merge_patch(self.api_version, self.kind, self.name, self.namespace,
                                  {"status": self.status.wire()}, subresource="status")


def reconcile(svc: Services, body: dict[str, Any]) -> None:
    Reconciler(svc, body).run()


__all__ = ["Links", "Phase", "Reconciler", "Services", "reconcile"]
