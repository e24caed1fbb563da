"""Cause detection: what changed on a conversation that the controller has not handled yet.

Pure, like kopf's cause detection: it compares what people wrote (spec) with what the controller
has recorded as handled (status) and returns the events to feed the state machine, plus the effects
to resume when the controller was stopped in the middle of a busy phase. Checks that need the API
server (may this approver approve? may this person rate or restore?) are left to the caller: an
approval, a rating or a restore comes back as a `Pending*` cause naming the person, which the caller
turns into an event once it knows.

"Handled" is recorded per person: the fingerprint of an approval, rating or restore includes who
wrote it, so a refused approval by one user never hides a later valid one by another.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from controller.api.constants import ConditionType, Phase, Reason
from controller.api.types import ConversationSpec, ConversationStatus, Identity, Turn
from controller.workflow import machine as m


@dataclass(frozen=True)
class PendingApproval:
    revision: int
    digest: str
    approver: Identity | None
    fingerprint: str


@dataclass(frozen=True)
class PendingRating:
    score: int
    comment: str
    revision: int
    rater: Identity | None
    fingerprint: str


@dataclass(frozen=True)
class PendingRestore:
    by: Identity | None
    fingerprint: str


Cause = m.Event | PendingApproval | PendingRating | PendingRestore


def chain(previous: str, turn: Turn) -> str:
    """The turns digest after one more turn (sha256 chain: a rewritten turn changes every later link)."""
    return hashlib.sha256(f"{previous}:{turn.fingerprint()}".encode()).hexdigest()


def turns_digest(turns: list[Turn]) -> str:
    digest = ""
    for turn in turns:
        digest = chain(digest, turn)
    return digest


def history_intact(spec: ConversationSpec, status: ConversationStatus) -> bool:
    """The turns the controller already handled are still exactly those it handled."""
    if not status.turns_digest or status.processed_turns == 0:
        return True
    if len(spec.turns) < status.processed_turns:
        return False
    return turns_digest(spec.turns[: status.processed_turns]) == status.turns_digest


def detect(spec: ConversationSpec, status: ConversationStatus) -> list[Cause]:
    """Events not yet handled, in the order a person would expect them handled."""
    causes: list[Cause] = []
    for index in range(status.processed_turns, len(spec.turns)):
        causes.append(m.MessageReceived(turn=index + 1, text=spec.turns[index].text))
    approval = spec.approval
    if approval is not None and approval.fingerprint() != status.seen_approval:
        causes.append(PendingApproval(approval.revision, approval.digest, approval.approver, approval.fingerprint()))
    rating = spec.rating
    if rating is not None and rating.fingerprint() != status.seen_rating:
        causes.append(PendingRating(rating.score, rating.comment, rating.revision or 0, rating.rated_by,
                                    rating.fingerprint()))
    restore = spec.restore
    if restore is not None and restore.requested and restore.fingerprint() != status.seen_restore:
        causes.append(PendingRestore(restore.requested_by, restore.fingerprint()))
    return causes


def resume_effects(status: ConversationStatus) -> list[m.Effect]:
    """Effects to run again after a restart in a busy phase; each effect is idempotent.

    Completed counts as busy until its promotion (pull requests, knowledge) is recorded, and Planning
    after a low rating or a stale plan until the new revision is recorded (the condition that sent
    the thread back to planning carries the feedback, so it survives the restart).
    """
    ready = next((c for c in status.conditions if c.type == ConditionType.READY), None)
    if status.phase is Phase.PLANNING and ready is not None and ready.reason == Reason.REPLANNING:
        return [m.Plan(turn=0, feedback=ready.message)]
    if status.phase is Phase.PLANNING and ready is not None and ready.reason == Reason.PLAN_STALE:
        return [m.Plan(turn=0)]  # the same words against the current state (see machine.Plan)
    if status.phase is Phase.EXECUTING:
        return [m.Execute(status.approved_revision, status.approved_digest)]
    if status.phase is Phase.SYNCING:
        return [m.Sync(status.approved_revision, status.approved_digest)]
    if status.phase is Phase.RESTORING:
        return [m.Restore()]
    if status.phase is Phase.COMPLETED and status.rated_revision != status.current_revision:
        digest = next((r.digest for r in status.revisions if r.revision == status.current_revision), "")
        return [m.Promote(status.current_revision, digest)]
    return []
