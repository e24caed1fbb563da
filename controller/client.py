"""A client of the conversation custom resources, acting as a person (through impersonation).

The CLI (`aiop chat`), the eval runner and the UI all change threads the same way people with
kubectl do: by writing `spec` of an AIConversation as the authenticated user, never by calling
the controller. Every write carries the resourceVersion it read, so two people typing at once
never lose a turn (a conflict is retried on the fresh object).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from controller.adapters.kube import Conflict, Kube, NotFound
from controller.api.constants import API_VERSION, KIND_CONVERSATION, Phase
from controller.api.types import Approval, Condition, Identity, Rating, RestoreRequest

BUSY = {Phase.EXECUTING, Phase.SYNCING, Phase.RESTORING}


class Progress(BaseModel):
    """The fields of a status that say whether the controller is done with what was written.

    Why not the whole `ConversationStatus`: `settled` runs for every event of every thread (kopf's timer
    filter, the UI, waiting clients), and validating a 500-turn status with its revisions and messages
    took 8.5 ms each time; these fields take a few microseconds whatever the thread's length."""

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True, frozen=True)

    phase: Phase = Phase.PLANNING
    processed_turns: int = 0
    current_revision: int = 0
    rated_revision: int = 0
    seen_approval: str = ""
    seen_rating: str = ""
    seen_restore: str = ""
    conditions: list[Condition] = Field(default_factory=list)


class ChatError(Exception):
    """A request the client cannot make (no such thread, nothing to approve, ...)."""


def settled(obj: dict[str, Any]) -> bool:
    """The controller has handled everything the person wrote, and is not in the middle of a step."""
    spec = obj.get("spec") or {}
    try:
        status = Progress.model_validate(obj.get("status") or {})
    except ValueError:
        return False
    if status.phase in BUSY:
        return False
    if status.phase is Phase.COMPLETED and status.rated_revision != status.current_revision:
        return False  # pull requests and knowledge not recorded yet
    if status.phase is Phase.PLANNING and not any(
            c.type == "Ready" and c.reason in {"NeedsInput", "InvalidSpec"} for c in status.conditions):
        return False  # a plan is being made
    if status.processed_turns < len(spec.get("turns") or []):
        return False
    try:
        approval = Approval.model_validate(spec["approval"]) if spec.get("approval") else None
        rating = Rating.model_validate(spec["rating"]) if spec.get("rating") else None
        restore = RestoreRequest.model_validate(spec["restore"]) if spec.get("restore") else None
    except ValueError:
        return True  # the controller reports an invalid spec as a condition; nothing more will happen
    if approval is not None and approval.fingerprint() != status.seen_approval:
        return False
    if rating is not None and rating.fingerprint() != status.seen_rating:
        return False
    return not (restore is not None and restore.requested and restore.fingerprint() != status.seen_restore)


class ConversationClient:
    def __init__(self, kube: Kube, kind: str = KIND_CONVERSATION) -> None:
        self.kube = kube
        self.kind = kind

    def _as(self, who: Identity) -> Kube:
        return self.kube.as_user(who)

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.kube.get(API_VERSION, self.kind, name, namespace)

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.kube.list(API_VERSION, self.kind, namespace)

    def _update_spec(self, namespace: str, name: str, who: Identity,
                     change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        for _attempt in range(5):
            obj = self._as(who).get(API_VERSION, self.kind, name, namespace)
            if obj is None:
                raise ChatError(f"there is no conversation {namespace}/{name}")
            patch = {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]}, "spec": change(obj)}
            try:
                return self._as(who).merge_patch(API_VERSION, self.kind, name, namespace, patch)
            except Conflict:
                continue
        raise ChatError(f"conversation {namespace}/{name} kept changing; try again")

    def say(self, namespace: str, name: str, text: str, who: Identity, context: str | None = None) -> dict[str, Any]:
        """Start the conversation with this message, or add it as the next turn."""
        turn = {"text": text, "author": who.wire()}
        try:
            return self._append_turn(namespace, name, who, turn)
        except NotFound:
            pass
        spec: dict[str, Any] = {"requester": who.wire(), "turns": [turn]}
        if context:
            spec["context"] = context
        try:
            return self._as(who).create({"apiVersion": API_VERSION, "kind": self.kind,
                                         "metadata": {"name": name, "namespace": namespace}, "spec": spec})
        except Conflict:  # someone started it in the meantime: the message is their thread's next turn
            return self._append_turn(namespace, name, who, turn)

    def _append_turn(self, namespace: str, name: str, who: Identity, turn: dict[str, Any]) -> dict[str, Any]:
        """One request whose body is the new turn alone: it cannot conflict with the controller's status
        writes (no resourceVersion to go stale) and costs the same on turn 500 as on turn 2. It is never
        re-sent by the client (a lost response followed by a retry would add the turn twice)."""
        return self._as(who).json_patch(API_VERSION, self.kind, name, namespace,
                                        [{"op": "add", "path": "/spec/turns/-", "value": turn}], idempotent=False)

    def approve(self, namespace: str, name: str, who: Identity, revision: int | None = None) -> dict[str, Any]:
        """Approve a revision (default: the latest) by its digest, as shown in status."""
        def change(obj: dict[str, Any]) -> dict[str, Any]:
            revisions = (obj.get("status") or {}).get("revisions") or []
            if not revisions:
                raise ChatError("there is no plan to approve yet")
            chosen = revisions[-1] if revision is None else next(
                (r for r in revisions if r["revision"] == revision), None)
            if chosen is None:
                raise ChatError(f"there is no revision {revision}")
            return {"approval": {"revision": chosen["revision"], "digest": chosen["digest"], "approver": who.wire()}}
        return self._update_spec(namespace, name, who, change)

    def rate(self, namespace: str, name: str, who: Identity, score: int, comment: str = "") -> dict[str, Any]:
        def change(obj: dict[str, Any]) -> dict[str, Any]:
            current = (obj.get("status") or {}).get("currentRevision") or None
            rating: dict[str, Any] = {"score": score, "comment": comment, "ratedBy": who.wire()}
            if current:
                rating["revision"] = current
            return {"rating": rating}
        return self._update_spec(namespace, name, who, change)

    def restore(self, namespace: str, name: str, who: Identity, reason: str = "") -> dict[str, Any]:
        return self._update_spec(namespace, name, who, lambda obj: {
            "restore": {"requested": True, "requestedBy": who.wire(), "reason": reason}})

    def keep_snapshots(self, namespace: str, name: str, who: Identity, keep: bool) -> dict[str, Any]:
        """Keep the thread's snapshots after it closes (or let retention delete them again)."""
        return self._update_spec(namespace, name, who, lambda obj: {"keepSnapshots": keep})

    def wait_settled(self, namespace: str, name: str, timeout: float = 120.0) -> dict[str, Any]:
        """Wait until the controller has handled everything written so far."""
        deadline = time.monotonic() + timeout
        obj: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            obj = self.get(namespace, name)
            if obj is not None and settled(obj):
                return obj
            time.sleep(0.1)
        phase = ((obj or {}).get("status") or {}).get("phase")
        raise TimeoutError(f"conversation {namespace}/{name} did not settle within {timeout:.0f}s (phase {phase})")
