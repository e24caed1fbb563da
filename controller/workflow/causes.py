"""Cause detection: what changed on a conversation that the controller has not handled yet.

Pure, like kopf's cause detection: it compares what people wrote (spec) with what the controller
has recorded as handled (status) and returns the events to feed the state machine, plus the effects
to resume when the controller was stopped in the middle of a busy phase. Identity checks that need
the API server (may this approver approve?) are left to the caller: an approval comes back as a
`PendingApproval`, which the caller turns into an `ApprovalReceived` once it knows.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.api.constants import Phase
from controller.api.types import ConversationSpec, ConversationStatus
from controller.workflow import machine as m


@dataclass(frozen=True)
class PendingApproval:
    revision: int
    digest: str
    approver_user: str
    approver_groups: tuple[str, ...]


Cause = m.Event | PendingApproval


def detect(spec: ConversationSpec, status: ConversationStatus) -> list[Cause]:
    """Events not yet handled, in the order a person would expect them handled."""
    causes: list[Cause] = []
    for index in range(status.processed_turns, len(spec.turns)):
        causes.append(m.MessageReceived(turn=index + 1, text=spec.turns[index].text))
    approval = spec.approval
    if approval is not None and (approval.revision, approval.digest) != _last_seen_approval(status):
        who = approval.approver
        causes.append(PendingApproval(approval.revision, approval.digest,
                                      who.user if who else "", tuple(who.groups) if who else ()))
    rating = spec.rating
    if rating is not None and rating.fingerprint() != status.seen_rating:
        causes.append(m.RatingReceived(score=rating.score, comment=rating.comment, revision=rating.revision or 0))
    if spec.restore is not None and spec.restore.requested and not status.restore_handled:
        by = spec.restore.requested_by.user if spec.restore.requested_by else ""
        causes.append(m.RestoreRequested(by=by))
    return causes


def _last_seen_approval(status: ConversationStatus) -> tuple[int, str]:
    return status.seen_approval_revision, status.seen_approval_digest


def resume_effects(status: ConversationStatus) -> list[m.Effect]:
    """Effects to run again after a restart in a busy phase; each effect is idempotent.

    Completed counts as busy until its promotion (pull requests, knowledge) is recorded.
    """
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
