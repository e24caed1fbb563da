"""The workflow of one thread as a pure state machine: `step(state, event) -> (state, effects)`.

No I/O and no clock: the controller detects events from the custom resource (causes.py), feeds them
here, executes the returned effects, and feeds the effects' outcomes back as new events. Because
every decision lives in this one function, a table test can cover every phase x event pair, and
"nothing runs without approval of the exact plan" is checked in one place: the only path to an
`Execute` effect is an `ApprovalReceived` event that names the current revision's digest and comes
from an authorized approver while the thread is `AwaitingApproval`. "Authorized" is decided outside
(SubjectAccessReviews need the API server): the approver holds the `approve` verb *and* every
permission the plan needs. And the only way out of `Executing` other than done or failed is
`PlanStale`: a target changed since the plan was made, so the plan is re-proposed, never applied.

An event that makes no sense in a phase never raises: it leaves the phase as it is and records a
condition that says why (reason `InvalidTransition`, `ApprovalStale`, `Busy`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from controller.api.constants import ConditionType, Phase, Reason

# ------------------------------------------------------------------------------------------ state


@dataclass(frozen=True)
class Cond:
    """A condition without its timestamp (the executor stamps it when it writes status)."""

    type: str
    status: str
    reason: str
    message: str = ""


@dataclass(frozen=True)
class ThreadState:
    """What the machine needs to decide; derived from and written back to the CR's status."""

    phase: Phase = Phase.PLANNING
    current_revision: int = 0
    current_digest: str = ""
    approved_revision: int = 0
    approved_digest: str = ""
    has_backup: bool = False
    alerts: int = 0
    conditions: tuple[Cond, ...] = field(default_factory=tuple)

    def condition(self, type_: str) -> Cond | None:
        return next((c for c in self.conditions if c.type == type_), None)


# ----------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class MessageReceived:
    turn: int
    text: str


@dataclass(frozen=True)
class PlanProposed:
    revision: int
    digest: str
    mutating: bool
    suspicious: str = ""  # the request looked like an attempt to get around the rules: alert admins


@dataclass(frozen=True)
class QuestionAsked:
    """The planner needs an answer from the person before it can propose anything."""

    revision: int
    digest: str
    question: str


@dataclass(frozen=True)
class PermissionsMissing:
    revision: int
    digest: str
    missing: tuple[str, ...]


@dataclass(frozen=True)
class PolicyRejected:
    reason: str


@dataclass(frozen=True)
class ApprovalReceived:
    revision: int
    digest: str
    approver: str
    authorized: bool
    refusal: str = ""  # why the approver may not approve (a missing verb, missing permissions)


@dataclass(frozen=True)
class PlanStale:
    """A target changed after the plan was made: nothing was applied, the plan is made again."""

    message: str


@dataclass(frozen=True)
class ExecutionDone:
    commit: str


@dataclass(frozen=True)
class ExecutionFailed:
    message: str
    backed_up: bool = False


@dataclass(frozen=True)
class SyncDone:
    message: str = ""


@dataclass(frozen=True)
class SyncFailed:
    message: str


@dataclass(frozen=True)
class RatingReceived:
    score: int
    comment: str = ""
    revision: int = 0  # 0: the revision awaiting rating
    rater: str = ""
    authorized: bool = True
    refusal: str = ""


@dataclass(frozen=True)
class RestoreRequested:
    by: str = ""
    authorized: bool = True
    refusal: str = ""
    refusal_reason: str = Reason.RESTORE_UNAUTHORIZED.value


@dataclass(frozen=True)
class RestoreDone:
    message: str = ""


@dataclass(frozen=True)
class RestoreFailed:
    message: str


@dataclass(frozen=True)
class ErrorOccurred:
    message: str


Event = (
    MessageReceived
    | PlanProposed
    | QuestionAsked
    | PermissionsMissing
    | PolicyRejected
    | ApprovalReceived
    | PlanStale
    | ExecutionDone
    | ExecutionFailed
    | SyncDone
    | SyncFailed
    | RatingReceived
    | RestoreRequested
    | RestoreDone
    | RestoreFailed
    | ErrorOccurred
)

# ---------------------------------------------------------------------------------------- effects


@dataclass(frozen=True)
class Plan:
    """Understand, check policy and permissions, search knowledge, propose (or answer).

    `feedback` is what a person said about the last result (a rating and its comment): the planner
    reads it as their words. A stale plan is planned again from the same words against the current
    state, without feedback: the operator's own "was not applied" sentence is not a request.
    """

    turn: int
    feedback: str = ""


@dataclass(frozen=True)
class Alert:
    """Tell the admins: an Event, a webhook when configured, a metric."""

    reason: str
    message: str


@dataclass(frozen=True)
class Execute:
    """Back up the targets, render the approved revision and commit it to the thread branch."""

    revision: int
    digest: str


@dataclass(frozen=True)
class Sync:
    """Apply the committed folder (as the requester) and verify the result."""

    revision: int
    digest: str


@dataclass(frozen=True)
class RecordRating:
    score: int
    comment: str


@dataclass(frozen=True)
class Promote:
    """Open the pull requests and store the resolution as knowledge."""

    revision: int
    digest: str


@dataclass(frozen=True)
class Restore:
    """Revert to the pre-chat commit, re-apply backups, delete what the thread created."""


Effect = Plan | Alert | Execute | Sync | RecordRating | Promote | Restore

# ------------------------------------------------------------------------------------ transitions

_REPLANNABLE = frozenset(
    {
        Phase.PLANNING,
        Phase.PERMISSIONS_MISSING,
        Phase.AWAITING_APPROVAL,
        Phase.REJECTED,
        Phase.FAILED,
        Phase.AWAITING_RATING,
    }
)
_BUSY = frozenset({Phase.EXECUTING, Phase.SYNCING, Phase.RESTORING})
_CLOSED = frozenset({Phase.COMPLETED, Phase.RESTORED})


def _with(state: ThreadState, *conds: Cond, **changes: object) -> ThreadState:
    """A copy of the state with the given fields changed and the conditions set (by type)."""
    kept = tuple(c for c in state.conditions if c.type not in {n.type for n in conds})
    return replace(state, conditions=kept + conds, **changes)  # type: ignore[arg-type]


def _refuse(state: ThreadState, type_: str, reason: Reason, message: str) -> tuple[ThreadState, list[Effect]]:
    return _with(state, Cond(type_, "False", reason, message)), []


def _invalid(state: ThreadState, event: Event) -> tuple[ThreadState, list[Effect]]:
    name = type(event).__name__
    return _refuse(state, ConditionType.READY, Reason.INVALID_TRANSITION, f"{name} is not expected in phase {state.phase}")


def _alert(state: ThreadState, reason: Reason, message: str) -> tuple[ThreadState, Alert]:
    return replace(state, alerts=state.alerts + 1), Alert(reason.value, message)


def _on_message(state: ThreadState, ev: MessageReceived) -> tuple[ThreadState, list[Effect]]:
    if state.phase in _BUSY:
        return _refuse(state, ConditionType.READY, Reason.BUSY,
                       f"message {ev.turn} waits until {state.phase} is over")
    if state.phase in _CLOSED:
        return _refuse(state, ConditionType.READY, Reason.THREAD_CLOSED,
                       f"the thread is {state.phase}; start a new thread for message {ev.turn}")
    return _with(state, Cond(ConditionType.READY, "Unknown", Reason.PLAN_PROPOSED, "planning"),
                 phase=Phase.PLANNING), [Plan(turn=ev.turn)]


def _on_plan(state: ThreadState, ev: PlanProposed) -> tuple[ThreadState, list[Effect]]:
    if state.phase is not Phase.PLANNING:
        return _invalid(state, ev)
    common = {"current_revision": ev.revision, "current_digest": ev.digest}
    effects: list[Effect] = []
    if ev.suspicious:
        state, alert = _alert(state, Reason.SUSPICIOUS_REQUEST, ev.suspicious)
        effects.append(alert)
    if ev.mutating:
        return _with(state, Cond(ConditionType.PLANNED, "True", Reason.PLAN_PROPOSED,
                                 f"revision {ev.revision} awaits approval of digest {ev.digest}"),
                     Cond(ConditionType.READY, "False", Reason.PLAN_PROPOSED, "awaiting approval"),
                     phase=Phase.AWAITING_APPROVAL, **common), effects
    return _with(state, Cond(ConditionType.PLANNED, "True", Reason.ANSWERED,
                             f"revision {ev.revision} answers without changing anything"),
                 Cond(ConditionType.READY, "True", Reason.ANSWERED, "answered; rate it or keep chatting"),
                 phase=Phase.AWAITING_RATING, **common), effects


def _on_question(state: ThreadState, ev: QuestionAsked) -> tuple[ThreadState, list[Effect]]:
    if state.phase is not Phase.PLANNING:
        return _invalid(state, ev)
    return _with(state, Cond(ConditionType.PLANNED, "False", Reason.NEEDS_INPUT, ev.question),
                 Cond(ConditionType.READY, "False", Reason.NEEDS_INPUT, "waiting for your answer"),
                 current_revision=ev.revision, current_digest=ev.digest), []


def _on_permissions_missing(state: ThreadState, ev: PermissionsMissing) -> tuple[ThreadState, list[Effect]]:
    if state.phase is not Phase.PLANNING:
        return _invalid(state, ev)
    message = "missing: " + "; ".join(ev.missing)
    state, alert = _alert(state, Reason.PERMISSIONS_MISSING, message)
    return _with(state, Cond(ConditionType.PERMITTED, "False", Reason.PERMISSIONS_MISSING, message),
                 Cond(ConditionType.READY, "False", Reason.PERMISSIONS_MISSING, message),
                 phase=Phase.PERMISSIONS_MISSING, current_revision=ev.revision, current_digest=ev.digest), [alert]


def _on_rejected(state: ThreadState, ev: PolicyRejected) -> tuple[ThreadState, list[Effect]]:
    if state.phase is not Phase.PLANNING:
        return _invalid(state, ev)
    state, alert = _alert(state, Reason.POLICY_VIOLATION, ev.reason)
    return _with(state, Cond(ConditionType.POLICY, "False", Reason.POLICY_VIOLATION, ev.reason),
                 Cond(ConditionType.READY, "False", Reason.POLICY_VIOLATION, ev.reason),
                 phase=Phase.REJECTED, current_digest=""), [alert]


def _on_approval(state: ThreadState, ev: ApprovalReceived) -> tuple[ThreadState, list[Effect]]:
    approved = ConditionType.APPROVED
    if state.phase in {Phase.PERMISSIONS_MISSING, Phase.REJECTED}:
        return _refuse(state, approved, Reason.NOTHING_TO_APPROVE,
                       f"the thread is {state.phase}: there is no plan that may run")
    if state.phase is not Phase.AWAITING_APPROVAL:
        return _refuse(state, approved, Reason.APPROVAL_NOT_EXPECTED,
                       f"approval of revision {ev.revision} ignored in phase {state.phase}")
    if ev.revision < state.current_revision:
        return _refuse(state, approved, Reason.APPROVAL_STALE,
                       f"revision {ev.revision} is stale: revision {state.current_revision} replaced it; "
                       f"approve digest {state.current_digest}")
    if ev.revision != state.current_revision or ev.digest != state.current_digest:
        return _refuse(state, approved, Reason.APPROVAL_UNKNOWN_DIGEST,
                       f"digest {ev.digest} is not the digest of revision {state.current_revision}")
    if not ev.authorized:
        message = f"{ev.approver} may not approve: " + (
            ev.refusal or "the RBAC verb approve on aiconversations is missing")
        state, alert = _alert(state, Reason.APPROVAL_UNAUTHORIZED, message)
        return _with(state, Cond(approved, "False", Reason.APPROVAL_UNAUTHORIZED, message)), [alert]
    return _with(state, Cond(approved, "True", Reason.APPROVED,
                             f"revision {ev.revision} ({ev.digest}) approved by {ev.approver}"),
                 phase=Phase.EXECUTING, approved_revision=ev.revision, approved_digest=ev.digest), [
        Execute(ev.revision, ev.digest)]


def _on_stale(state: ThreadState, ev: PlanStale) -> tuple[ThreadState, list[Effect]]:
    if state.phase is not Phase.EXECUTING:
        return _invalid(state, ev)
    return _with(state, Cond(ConditionType.APPROVED, "False", Reason.PLAN_STALE, ev.message),
                 Cond(ConditionType.READY, "Unknown", Reason.PLAN_STALE, ev.message),
                 phase=Phase.PLANNING, approved_revision=0, approved_digest=""), [Plan(turn=0)]


def _on_execution(state: ThreadState, ev: ExecutionDone | ExecutionFailed) -> tuple[ThreadState, list[Effect]]:
    if state.phase is not Phase.EXECUTING:
        return _invalid(state, ev)
    if isinstance(ev, ExecutionFailed):
        return _with(state, Cond(ConditionType.COMMITTED, "False", Reason.EXECUTION_FAILED, ev.message),
                     Cond(ConditionType.READY, "False", Reason.EXECUTION_FAILED, ev.message),
                     phase=Phase.FAILED, has_backup=state.has_backup or ev.backed_up), []
    return _with(state, Cond(ConditionType.COMMITTED, "True", Reason.COMMITTED, f"commit {ev.commit}"),
                 phase=Phase.SYNCING, has_backup=True), [Sync(state.approved_revision, state.approved_digest)]


def _on_sync(state: ThreadState, ev: SyncDone | SyncFailed) -> tuple[ThreadState, list[Effect]]:
    if state.phase is not Phase.SYNCING:
        return _invalid(state, ev)
    if isinstance(ev, SyncFailed):
        return _with(state, Cond(ConditionType.SYNCED, "False", Reason.SYNC_FAILED, ev.message),
                     Cond(ConditionType.READY, "False", Reason.SYNC_FAILED, ev.message), phase=Phase.FAILED), []
    return _with(state, Cond(ConditionType.SYNCED, "True", Reason.SYNCED, ev.message or "applied and verified"),
                 Cond(ConditionType.READY, "True", Reason.SYNCED, "applied; rate the result"),
                 phase=Phase.AWAITING_RATING), []


def _on_rating(state: ThreadState, ev: RatingReceived) -> tuple[ThreadState, list[Effect]]:
    if state.phase is not Phase.AWAITING_RATING:
        return _refuse(state, ConditionType.RATED, Reason.INVALID_TRANSITION,
                       f"nothing to rate in phase {state.phase}")
    if ev.revision and ev.revision != state.current_revision:
        return _refuse(state, ConditionType.RATED, Reason.INVALID_TRANSITION,
                       f"revision {ev.revision} is not the one awaiting rating ({state.current_revision})")
    if not ev.authorized:
        message = f"{ev.rater or '(no rater named)'} may not rate: " + (
            ev.refusal or "the RBAC verb rate on aiconversations is missing")
        state, alert = _alert(state, Reason.RATING_UNAUTHORIZED, message)
        return _with(state, Cond(ConditionType.RATED, "False", Reason.RATING_UNAUTHORIZED, message)), [alert]
    record = RecordRating(ev.score, ev.comment)
    if ev.score == 100:
        return _with(state, Cond(ConditionType.RATED, "True", Reason.RATED, "rated 100: promoted"),
                     Cond(ConditionType.READY, "True", Reason.RATED, "completed"),
                     phase=Phase.COMPLETED), [record, Promote(state.current_revision, state.current_digest)]
    feedback = ev.comment or f"the result was rated {ev.score}/100"
    return _with(state, Cond(ConditionType.RATED, "False", Reason.REPLANNING, f"rated {ev.score}: re-planning"),
                 Cond(ConditionType.READY, "Unknown", Reason.REPLANNING, feedback),
                 phase=Phase.PLANNING), [record, Plan(turn=0, feedback=feedback)]


def _on_restore(state: ThreadState, ev: RestoreRequested) -> tuple[ThreadState, list[Effect]]:
    if not ev.authorized and ev.refusal_reason == Reason.RESTORE_UNAUTHORIZED:
        message = f"{ev.by or '(nobody named)'} may not restore: " + (
            ev.refusal or "the RBAC verb restore on aiconversations is missing")
        state, alert = _alert(state, Reason.RESTORE_UNAUTHORIZED, message)
        return _with(state, Cond(ConditionType.RESTORED, "False", Reason.RESTORE_UNAUTHORIZED, message)), [alert]
    if state.phase in {Phase.RESTORING, Phase.RESTORED}:
        return state, []
    if not ev.authorized:
        return _refuse(state, ConditionType.RESTORED, Reason(ev.refusal_reason), ev.refusal)
    if not state.has_backup:
        return _refuse(state, ConditionType.RESTORED, Reason.RESTORE_NOT_AVAILABLE,
                       "nothing has run yet, so there is nothing to restore")
    return _with(state, Cond(ConditionType.RESTORED, "Unknown", Reason.RESTORE_REQUESTED,
                             f"restore requested{' by ' + ev.by if ev.by else ''}"),
                 phase=Phase.RESTORING), [Restore()]


def _on_restore_outcome(state: ThreadState, ev: RestoreDone | RestoreFailed) -> tuple[ThreadState, list[Effect]]:
    if state.phase is not Phase.RESTORING:
        return _invalid(state, ev)
    if isinstance(ev, RestoreFailed):
        return _with(state, Cond(ConditionType.RESTORED, "False", Reason.RESTORE_FAILED, ev.message),
                     Cond(ConditionType.READY, "False", Reason.RESTORE_FAILED, ev.message), phase=Phase.FAILED), []
    return _with(state, Cond(ConditionType.RESTORED, "True", Reason.RESTORED,
                             ev.message or "back to the state before the chat"),
                 Cond(ConditionType.READY, "True", Reason.RESTORED, "restored"), phase=Phase.RESTORED), []


def _on_error(state: ThreadState, ev: ErrorOccurred) -> tuple[ThreadState, list[Effect]]:
    if state.phase in _CLOSED:
        return _refuse(state, ConditionType.READY, Reason.ERROR, ev.message)
    return _with(state, Cond(ConditionType.READY, "False", Reason.ERROR, ev.message), phase=Phase.FAILED), []


def step(state: ThreadState, event: Event) -> tuple[ThreadState, list[Effect]]:
    """The one transition function. Total: every (phase, event) pair has an answer."""
    match event:
        case MessageReceived():
            return _on_message(state, event)
        case PlanProposed():
            return _on_plan(state, event)
        case QuestionAsked():
            return _on_question(state, event)
        case PermissionsMissing():
            return _on_permissions_missing(state, event)
        case PolicyRejected():
            return _on_rejected(state, event)
        case ApprovalReceived():
            return _on_approval(state, event)
        case PlanStale():
            return _on_stale(state, event)
        case ExecutionDone() | ExecutionFailed():
            return _on_execution(state, event)
        case SyncDone() | SyncFailed():
            return _on_sync(state, event)
        case RatingReceived():
            return _on_rating(state, event)
        case RestoreRequested():
            return _on_restore(state, event)
        case RestoreDone() | RestoreFailed():
            return _on_restore_outcome(state, event)
        case ErrorOccurred():
            return _on_error(state, event)
    raise TypeError(f"not an event: {event!r}")  # unreachable for well-typed callers
