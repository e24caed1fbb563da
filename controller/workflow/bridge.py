"""Between the machine's small state and the custom resource's status (both directions, pure).

The machine decides on a handful of fields; the status carries them plus the thread's history.
Keeping the mapping here means the machine never sees pydantic models and the executor never
copies fields by hand. Condition timestamps change only when a condition's status changes, as
Kubernetes conventions ask.
"""

from __future__ import annotations

from controller.api.types import Condition, ConversationStatus
from controller.workflow.machine import Cond, ThreadState


def state_of(status: ConversationStatus) -> ThreadState:
    return ThreadState(
        phase=status.phase,
        current_revision=status.current_revision,
        current_digest=_digest_of(status, status.current_revision),
        approved_revision=status.approved_revision,
        approved_digest=status.approved_digest,
        has_backup=status.has_backup,
        alerts=status.alerts,
        conditions=tuple(Cond(c.type, c.status, c.reason, c.message) for c in status.conditions),
    )


def _digest_of(status: ConversationStatus, revision: int) -> str:
    for rev in status.revisions:
        if rev.revision == revision:
            return rev.digest
    return ""


def with_state(status: ConversationStatus, state: ThreadState, now: str) -> ConversationStatus:
    """The status with the machine's decisions written in; `now` stamps changed conditions."""
    previous = {c.type: c for c in status.conditions}
    conditions = []
    for cond in state.conditions:
        old = previous.get(cond.type)
        stamp = old.last_transition_time if old is not None and old.status == cond.status else now
        conditions.append(Condition(type=cond.type, status=cond.status,  # type: ignore[arg-type]
                                    reason=cond.reason, message=cond.message, last_transition_time=stamp))
    return status.model_copy(update={
        "phase": state.phase,
        "current_revision": state.current_revision,
        "approved_revision": state.approved_revision,
        "approved_digest": state.approved_digest,
        "has_backup": state.has_backup,
        "alerts": state.alerts,
        "conditions": conditions,
    })
