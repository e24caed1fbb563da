"""The view model: what the page shows for a conversation, decided without Streamlit.

Why apart from the page: every decision the UI makes (is the Approve button offered, is Restore
visible, was my approval refused, does the page keep polling, which words explain a 403) is a
function of the AIConversation object and the acting user. Keeping those functions pure lets unit
tests cover them as tables, and keeps `app.py`/`views.py` to layout.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from controller.adapters.kube import Forbidden, Invalid, KubeError, NotFound, Unreachable
from controller.api.constants import ConditionType, Phase, Reason
from controller.api.types import (
    Approval,
    Condition,
    ConversationStatus,
    Identity,
    PlanRevision,
)
from controller.client import ChatError, settled

# While the controller works on a thread in these phases the page re-reads it on its own.
WORKING_PHASES = frozenset({Phase.PLANNING, Phase.EXECUTING, Phase.SYNCING, Phase.RESTORING})

# Reasons the controller gives when it refuses an approval (machine.py `_on_approval`).
APPROVAL_REFUSALS = frozenset({Reason.APPROVAL_STALE, Reason.APPROVAL_UNKNOWN_DIGEST, Reason.APPROVAL_UNAUTHORIZED,
                               Reason.APPROVAL_NOT_EXPECTED, Reason.NOTHING_TO_APPROVE})

PHASE_TEXT: dict[Phase, tuple[str, str]] = {
    # phase -> (icon, what it means for the person)
    Phase.PLANNING: (":material/hourglass_top:", "The operator is working on your message."),
    Phase.PERMISSIONS_MISSING: (":material/lock:", "You lack permissions this plan needs; nothing can run."),
    Phase.AWAITING_APPROVAL: (":material/approval:", "A plan is proposed. Nothing runs until you approve it."),
    Phase.EXECUTING: (":material/play_circle:", "Backing up, committing and applying the approved plan."),
    Phase.SYNCING: (":material/sync:", "Waiting for the change to sync and become healthy."),
    Phase.AWAITING_RATING: (":material/star_half:", "Done. Rate the result: 100 opens the pull request."),
    Phase.COMPLETED: (":material/check_circle:", "Completed: rated 100, pull requests opened."),
    Phase.RESTORING: (":material/restore:", "Restoring the state before this chat."),
    Phase.RESTORED: (":material/history:", "Restored to the state before this chat."),
    Phase.REJECTED: (":material/block:", "Refused by policy; nothing ran."),
    Phase.FAILED: (":material/error:", "The change failed; see the conditions. You can restore."),
}

RISK_COLOR = {"none": "gray", "low": "green", "medium": "orange", "high": "red"}


def new_thread_name(text: str, suffix: str | None = None) -> str:
    """A readable, unique AIConversation name from the first message ("scale-web-in-shop-3f2a")."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    stem = "-".join(words)[:24].strip("-") or "chat"
    return f"{stem}-{suffix or secrets.token_hex(2)}"


def parse_status(obj: dict[str, Any]) -> ConversationStatus:
    try:
        return ConversationStatus.model_validate(obj.get("status") or {})
    except ValidationError:
        return ConversationStatus()


@dataclass(frozen=True)
class ThreadSummary:
    """One line of the sidebar's thread list."""

    namespace: str
    name: str
    phase: Phase
    requester: str
    title: str
    updated: str
    rating: int | None
    mine: bool
    text: str = field(repr=False, default="")  # everything searchable, lower-cased

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name

    def label(self) -> str:
        icon = PHASE_TEXT.get(self.phase, ("", ""))[0]
        title = self.title if len(self.title) <= 48 else self.title[:47] + "…"
        return f"{icon} {title}".strip()


def summarize(obj: dict[str, Any], me: Identity) -> ThreadSummary:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = parse_status(obj)
    turns = [t.get("text", "") for t in spec.get("turns") or []]
    requester = ((spec.get("requester") or {}).get("user")) or ""
    rating = status.last_rating if status.last_rating is not None else (spec.get("rating") or {}).get("score")
    times = [m.time for m in status.messages if m.time] or [str(meta.get("creationTimestamp") or "")]
    words = [meta.get("name", ""), meta.get("namespace", ""), status.phase.value, requester, *turns,
             *(m.text for m in status.messages), *(r.summary for r in status.revisions)]
    return ThreadSummary(namespace=meta.get("namespace", ""), name=meta.get("name", ""), phase=status.phase,
                         requester=requester, title=turns[0] if turns else meta.get("name", ""),
                         updated=max(times), rating=rating, mine=requester == me.user,
                         text=" ".join(words).lower())


def search(threads: list[ThreadSummary], query: str) -> list[ThreadSummary]:
    """Threads whose text holds every word of the query (any order, any case)."""
    words = query.lower().split()
    return [t for t in threads if all(w in t.text for w in words)]


def sort_recent(threads: list[ThreadSummary]) -> list[ThreadSummary]:
    return sorted(threads, key=lambda t: (t.updated, t.name), reverse=True)


@dataclass(frozen=True)
class ThreadView:
    """A conversation as the page needs it, with every decision about what to offer."""

    namespace: str
    name: str
    spec: dict[str, Any]
    status: ConversationStatus
    resource_version: str
    settled: bool

    @classmethod
    def of(cls, obj: dict[str, Any]) -> ThreadView:
        meta = obj.get("metadata") or {}
        return cls(namespace=meta.get("namespace", ""), name=meta.get("name", ""), spec=obj.get("spec") or {},
                   status=parse_status(obj), resource_version=str(meta.get("resourceVersion", "")),
                   settled=settled(obj))

    @property
    def phase(self) -> Phase:
        return self.status.phase

    @property
    def latest(self) -> PlanRevision | None:
        return self.status.revisions[-1] if self.status.revisions else None

    @property
    def working(self) -> bool:
        """The controller still has something to do: keep the page updating.

        Completed is published before the promotion step records the rating and the pull requests
        (`lastRating`), so a Completed thread without a recorded rating is still being worked on.
        """
        promoting = self.phase is Phase.COMPLETED and self.status.last_rating is None
        return self.phase in WORKING_PHASES or not self.settled or promoting

    @property
    def waiting_for_answer(self) -> bool:
        return self.status.processed_turns < len(self.spec.get("turns") or [])

    @property
    def approvable(self) -> PlanRevision | None:
        """The revision an Approve button is offered for (the latest mutating plan awaiting approval)."""
        rev = self.latest
        if self.phase is Phase.AWAITING_APPROVAL and rev is not None and rev.mutating and rev.actions:
            return rev
        return None

    @property
    def can_chat(self) -> bool:
        return self.phase not in {Phase.COMPLETED, Phase.RESTORED, Phase.EXECUTING, Phase.SYNCING,
                                  Phase.RESTORING}

    @property
    def can_rate(self) -> bool:
        return self.phase is Phase.AWAITING_RATING and self.settled

    @property
    def restore_offered(self) -> bool:
        """Once anything has run (a backup exists) Restore stays visible until it has been done."""
        return self.status.has_backup and self.phase not in {Phase.RESTORING, Phase.RESTORED}

    @property
    def keep_snapshots(self) -> bool:
        """Someone asked to keep the snapshots after the thread closes (`spec.keepSnapshots`)."""
        return self.spec.get("keepSnapshots") is True

    @property
    def show_pull_requests(self) -> bool:
        return bool(self.status.links.pull_requests) and (
            self.phase is Phase.COMPLETED or self.status.last_rating == 100)

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.status.conditions if c.type == type_), None)

    @property
    def approval_refusal(self) -> str | None:
        """The controller's refusal of the approval last written, once it has seen that approval."""
        approval = self.spec.get("approval") or {}
        cond = self.condition(ConditionType.APPROVED)
        if not approval or cond is None or cond.status != "False" or cond.reason not in APPROVAL_REFUSALS:
            return None
        try:
            fingerprint = Approval.model_validate(approval).fingerprint()
        except ValueError:
            return None
        if self.status.seen_approval != fingerprint:
            return None  # the controller has not looked at this approval yet
        return explain_refusal(cond)

    def revision(self, number: int) -> PlanRevision | None:
        return next((r for r in self.status.revisions if r.revision == number), None)


def explain_refusal(cond: Condition) -> str:
    lead = {
        Reason.APPROVAL_STALE: "Your approval was refused: a newer plan revision arrived after the page showed "
                               "the one you approved. Nothing ran. Review the latest revision and approve it.",
        Reason.APPROVAL_UNKNOWN_DIGEST: "Your approval was refused: it names a digest that is not the current "
                                        "plan's. Nothing ran.",
        Reason.APPROVAL_UNAUTHORIZED: "Your approval was refused: you lack the RBAC verb `approve` on "
                                      "aiconversations in this namespace. Nothing ran; ask an approver.",
        Reason.APPROVAL_NOT_EXPECTED: "The approval was ignored: the thread is not waiting for one.",
        Reason.NOTHING_TO_APPROVE: "There is no plan that may run in this thread, so the approval was refused.",
    }.get(Reason(cond.reason), "Your approval was refused.")
    return f"{lead}\n\nController: {cond.message}" if cond.message else lead


def explain_error(exc: BaseException, who: Identity | None = None) -> str:
    """One clear sentence (plus the server's own words) for anything a call to the cluster raised."""
    user = f"`{who.user}`" if who else "you"
    if isinstance(exc, Unreachable):
        return ("The Kubernetes API server cannot be reached, so the page cannot load or change threads. "
                f"Check that it is running (`aiop up`) and try again.\n\nDetails: {exc.message}")
    if isinstance(exc, Forbidden):
        text = exc.message
        if "admission" in text.lower() or "ValidatingAdmissionPolicy" in text:
            return ("The cluster's admission policy refused this change. It makes the requester, approver, "
                    f"rater and restorer fields equal to the signed-in user ({user}), so nobody can act in "
                    f"someone else's name.\n\nAPI server: {text}")
        return (f"Kubernetes RBAC does not allow {user} to do this. The UI acts as you (impersonation), so it "
                "can do only what your own roles allow: ask an admin for the aiop-requester role (chat, rate, "
                f"restore) or aiop-approver role (approve) in this namespace.\n\nAPI server: {text}")
    if isinstance(exc, NotFound):
        return f"Not found (it may have been deleted): {exc.message}"
    if isinstance(exc, Invalid):
        return f"The API server rejected the change as invalid: {exc.message}"
    if isinstance(exc, KubeError):
        return f"The Kubernetes API answered {exc.code} {exc.reason}: {exc.message}"
    if isinstance(exc, ChatError):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return (f"The controller has not finished yet ({exc}). The page keeps showing its progress; "
                "check that the controller is running if nothing changes.")
    if isinstance(exc, ValidationError):
        return f"The input is not valid: {exc.errors()[0].get('msg', exc)}"
    return f"Something went wrong ({type(exc).__name__}): {exc}"
