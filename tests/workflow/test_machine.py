"""The thread's state machine, phase by event: every pair has a defined answer, none raises.

What a user would notice: a plan runs only after approval of its exact digest; a stale or
unauthorized approval changes nothing and says why; a message while the operator is busy waits;
restore is possible once something ran, and only then.
"""

from __future__ import annotations

import pytest

from controller.api.constants import Phase, Reason
from controller.workflow import machine as m

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64

EVENTS: dict[str, m.Event] = {
    "message": m.MessageReceived(turn=2, text="scale web to 3"),
    "plan": m.PlanProposed(revision=2, digest=D2, mutating=True),
    "answer": m.PlanProposed(revision=2, digest=D2, mutating=False),
    "suspicious_plan": m.PlanProposed(revision=2, digest=D2, mutating=True, suspicious="tries to act as bob"),
    "question": m.QuestionAsked(revision=2, digest=D2, question="which namespace?"),
    "perm": m.PermissionsMissing(revision=2, digest=D2, missing=("patch deployments",)),
    "reject": m.PolicyRejected(reason="kube-system is protected"),
    "approve": m.ApprovalReceived(revision=1, digest=D1, approver="alice", authorized=True),
    "approve_stale": m.ApprovalReceived(revision=0, digest=D1, approver="alice", authorized=True),
    "approve_unknown": m.ApprovalReceived(revision=1, digest=D2, approver="alice", authorized=True),
    "approve_unauth": m.ApprovalReceived(revision=1, digest=D1, approver="mallory", authorized=False),
    "approve_lacks_perms": m.ApprovalReceived(revision=1, digest=D1, approver="mallory", authorized=False,
                                              refusal="missing: patch deployments"),
    "stale": m.PlanStale(message="Deployment shop/web was changed since the plan was made"),
    "exec_done": m.ExecutionDone(commit="abc123"),
    "exec_failed": m.ExecutionFailed(message="push rejected", backed_up=True),
    "sync_done": m.SyncDone(),
    "sync_failed": m.SyncFailed(message="403"),
    "rate100": m.RatingReceived(score=100),
    "rate60": m.RatingReceived(score=60, comment="too slow"),
    "rate_unauth": m.RatingReceived(score=100, rater="mallory", authorized=False),
    "restore": m.RestoreRequested(by="alice"),
    "restore_unauth": m.RestoreRequested(by="mallory", authorized=False),
    "restore_conflict": m.RestoreRequested(by="alice", authorized=False, refusal="web changed",
                                           refusal_reason=Reason.RESTORE_CONFLICT.value),
    "restore_done": m.RestoreDone(),
    "restore_failed": m.RestoreFailed(message="forbidden"),
    "error": m.ErrorOccurred(message="boom"),
}

P = Phase
# For each phase: event -> (phase after, effect class names). Missing pairs mean "unchanged, no effects".
TABLE: dict[Phase, dict[str, tuple[Phase, tuple[str, ...]]]] = {
    P.PLANNING: {
        "message": (P.PLANNING, ("Plan",)),
        "plan": (P.AWAITING_APPROVAL, ()),
        "answer": (P.AWAITING_RATING, ()),
        "suspicious_plan": (P.AWAITING_APPROVAL, ("Alert",)),
        "question": (P.PLANNING, ()),
        "perm": (P.PERMISSIONS_MISSING, ("Alert",)),
        "reject": (P.REJECTED, ("Alert",)),
        "error": (P.FAILED, ()),
    },
    P.PERMISSIONS_MISSING: {"message": (P.PLANNING, ("Plan",)), "error": (P.FAILED, ())},
    P.AWAITING_APPROVAL: {
        "message": (P.PLANNING, ("Plan",)),
        "approve": (P.EXECUTING, ("Execute",)),
        "approve_unauth": (P.AWAITING_APPROVAL, ("Alert",)),
        "approve_lacks_perms": (P.AWAITING_APPROVAL, ("Alert",)),
        "error": (P.FAILED, ()),
    },
    P.EXECUTING: {
        "stale": (P.PLANNING, ("Plan",)),
        "exec_done": (P.SYNCING, ("Sync",)),
        "exec_failed": (P.FAILED, ()),
        "restore": (P.RESTORING, ("Restore",)),
        "error": (P.FAILED, ()),
    },
    P.SYNCING: {
        "sync_done": (P.AWAITING_RATING, ()),
        "sync_failed": (P.FAILED, ()),
        "restore": (P.RESTORING, ("Restore",)),
        "error": (P.FAILED, ()),
    },
    P.AWAITING_RATING: {
        "message": (P.PLANNING, ("Plan",)),
        "rate100": (P.COMPLETED, ("RecordRating", "Promote")),
        "rate60": (P.PLANNING, ("RecordRating", "Plan")),
        "rate_unauth": (P.AWAITING_RATING, ("Alert",)),
        "restore": (P.RESTORING, ("Restore",)),
        "error": (P.FAILED, ()),
    },
    P.COMPLETED: {"restore": (P.RESTORING, ("Restore",))},
    P.RESTORING: {"restore_done": (P.RESTORED, ()), "restore_failed": (P.FAILED, ()), "error": (P.FAILED, ())},
    P.RESTORED: {},
    P.REJECTED: {"message": (P.PLANNING, ("Plan",)), "error": (P.FAILED, ())},
    P.FAILED: {"message": (P.PLANNING, ("Plan",)), "restore": (P.RESTORING, ("Restore",)), "error": (P.FAILED, ())},
}


for _phase in Phase:  # a restore by someone without the verb is refused and alerted, whatever the phase
    TABLE[_phase]["restore_unauth"] = (_phase, ("Alert",))


def _state(phase: Phase) -> m.ThreadState:
    executed = phase in {P.EXECUTING, P.SYNCING, P.AWAITING_RATING, P.COMPLETED, P.RESTORING, P.RESTORED, P.FAILED}
    return m.ThreadState(phase=phase, current_revision=1, current_digest=D1,
                         approved_revision=1 if executed else 0, approved_digest=D1 if executed else "",
                         has_backup=executed)


def test_table_covers_every_phase() -> None:
    """Every phase of DESIGN.md's vocabulary has a row."""
    assert set(TABLE) == set(Phase)


@pytest.mark.parametrize("phase", list(Phase))
@pytest.mark.parametrize("event_name", list(EVENTS))
def test_every_phase_event_pair(phase: Phase, event_name: str) -> None:
    """Each (phase, event) pair gives the expected phase and effects; unexpected pairs change nothing."""
    before = _state(phase)
    after, effects = m.step(before, EVENTS[event_name])
    expected_phase, expected_effects = TABLE[phase].get(event_name, (phase, ()))
    assert after.phase == expected_phase
    assert tuple(type(e).__name__ for e in effects) == expected_effects
    if (expected_phase, expected_effects) == (phase, ()) and event_name not in {"error", "question"}:
        # nothing happened: no effect ran, and unless this was a no-op restore, a condition says why
        assert after.current_digest == before.current_digest
        if not (event_name in {"restore", "restore_conflict"} and phase in {P.RESTORING, P.RESTORED}):
            assert after.conditions, f"{event_name} in {phase} must leave a condition"


def test_only_the_exact_digest_executes() -> None:
    """Approving an older revision, or a digest that is not the plan's, runs nothing and says why."""
    state = m.ThreadState(phase=P.AWAITING_APPROVAL, current_revision=2, current_digest=D2)
    stale, effects = m.step(state, m.ApprovalReceived(revision=1, digest=D1, approver="alice", authorized=True))
    assert (stale.phase, effects) == (P.AWAITING_APPROVAL, [])
    cond = stale.condition("Approved")
    assert cond is not None and cond.reason == Reason.APPROVAL_STALE and D2 in cond.message
    unknown, effects = m.step(state, m.ApprovalReceived(revision=2, digest=D1, approver="alice", authorized=True))
    assert effects == [] and unknown.condition("Approved").reason == Reason.APPROVAL_UNKNOWN_DIGEST  # type: ignore[union-attr]
    ok, effects = m.step(state, m.ApprovalReceived(revision=2, digest=D2, approver="alice", authorized=True))
    assert ok.phase == P.EXECUTING and effects == [m.Execute(2, D2)]


def test_unauthorized_approver_is_refused_and_alerts() -> None:
    """Someone without the approve verb cannot run the plan; admins hear about it."""
    state = m.ThreadState(phase=P.AWAITING_APPROVAL, current_revision=1, current_digest=D1)
    after, effects = m.step(state, EVENTS["approve_unauth"])
    assert after.phase == P.AWAITING_APPROVAL and after.alerts == 1
    assert [type(e) for e in effects] == [m.Alert]
    assert after.condition("Approved").reason == Reason.APPROVAL_UNAUTHORIZED  # type: ignore[union-attr]


def test_low_rating_replans_with_feedback() -> None:
    """A rating below 100 goes back to planning with the person's comment as feedback."""
    after, effects = m.step(_state(P.AWAITING_RATING), EVENTS["rate60"])
    assert after.phase == P.PLANNING
    assert effects[1] == m.Plan(turn=0, feedback="too slow")


def test_a_stale_plan_replans_from_the_same_words() -> None:
    """A stale plan is planned again without feedback: the operator's "was not applied" sentence is no
    request (the offline planner read it as "roll back to revision 1"; tests/engine/test_stale_replan.py)."""
    after, effects = m.step(_state(P.EXECUTING), EVENTS["stale"])
    assert after.phase == P.PLANNING and effects == [m.Plan(turn=0)]


def test_rating_names_the_wrong_revision() -> None:
    """A rating that names another revision than the one awaiting rating is refused."""
    after, effects = m.step(_state(P.AWAITING_RATING), m.RatingReceived(score=100, revision=7))
    assert after.phase == P.AWAITING_RATING and effects == []


def test_restore_before_anything_ran_is_refused() -> None:
    """The restore button does nothing before a backup exists, and says so."""
    state = m.ThreadState(phase=P.AWAITING_APPROVAL, current_revision=1, current_digest=D1)
    after, effects = m.step(state, EVENTS["restore"])
    assert effects == [] and after.condition("Restored").reason == Reason.RESTORE_NOT_AVAILABLE  # type: ignore[union-attr]


def test_replanned_thread_after_execution_can_still_restore() -> None:
    """After a low rating sends the thread back to planning, restore still brings back the pre-chat state."""
    state = m.ThreadState(phase=P.AWAITING_APPROVAL, current_revision=2, current_digest=D2, has_backup=True,
                          approved_revision=1, approved_digest=D1)
    after, effects = m.step(state, EVENTS["restore"])
    assert after.phase == P.RESTORING and effects == [m.Restore()]
