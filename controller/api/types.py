"""The custom resources `AIConversation` and `AIRequest`, as pydantic models.

These models are the single source of truth: the CRDs (controller/api/crds.py), the controller's
validation of what people write, and the UI's forms are all derived from them. Everything a person
writes is validated with `extra="forbid"`, so a typo in a field is an error that says where it is,
never a silently ignored field.

People write `spec` (the request, further turns, the approval, the rating, the restore button);
only the controller writes `status`.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from controller.api.constants import Context, Phase

DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
THREAD_ID_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class ApiModel(BaseModel):
    """Strict, camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )

    def wire(self) -> dict[str, Any]:
        """The JSON a Kubernetes client would send or receive."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class Identity(ApiModel):
    """An authenticated Kubernetes user: the name and groups the API server knows them by."""

    user: str = Field(min_length=1, max_length=253)
    groups: list[str] = Field(default_factory=list)


class Turn(ApiModel):
    """One message of the person in the conversation, in order."""

    text: str = Field(min_length=1, max_length=8000)


class Approval(ApiModel):
    """The approval of one exact plan revision, named by its digest."""

    revision: int = Field(ge=1)
    digest: str = Field(pattern=DIGEST_PATTERN)
    approver: Identity | None = None
    comment: str = ""


class Rating(ApiModel):
    """0-100: how well the executed plan did. 100 promotes the branch to pull requests."""

    score: int = Field(ge=0, le=100)
    comment: str = Field(default="", max_length=4000)
    revision: int | None = Field(default=None, ge=1, description="The executed revision rated; defaults to the last.")
    rated_by: Identity | None = None

    def fingerprint(self) -> str:
        """Identifies this rating, so the controller handles each one once."""
        return f"{self.revision or 0}:{self.score}:{hashlib.sha256(self.comment.encode()).hexdigest()[:12]}"


class RestoreRequest(ApiModel):
    """The restore button: bring everything back to the state before the chat."""

    requested: bool = True
    requested_by: Identity | None = None
    reason: str = ""


class ConversationSpec(ApiModel):
    """What people write on an AIConversation."""

    thread_id: str | None = Field(default=None, pattern=THREAD_ID_PATTERN, max_length=40)
    requester: Identity
    context: Context | None = None
    turns: list[Turn] = Field(min_length=1)
    approval: Approval | None = None
    rating: Rating | None = None
    restore: RestoreRequest | None = None


class RequestSpec(ApiModel):
    """What people write on an AIRequest: a one-message conversation, for kubectl and automation."""

    thread_id: str | None = Field(default=None, pattern=THREAD_ID_PATTERN, max_length=40)
    requester: Identity
    context: Context | None = None
    text: str = Field(min_length=1, max_length=8000)
    approval: Approval | None = None
    rating: Rating | None = None
    restore: RestoreRequest | None = None

    def as_conversation(self) -> ConversationSpec:
        """An AIRequest is handled exactly like a conversation with one turn."""
        return ConversationSpec(
            thread_id=self.thread_id,
            requester=self.requester,
            context=self.context,
            turns=[Turn(text=self.text)],
            approval=self.approval,
            rating=self.rating,
            restore=self.restore,
        )


# ---------------------------------------------------------------------------------------- status


class Condition(ApiModel):
    """A Flux-style condition."""

    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""
    last_transition_time: str | None = None


class Message(ApiModel):
    """One line of the thread as people see it."""

    id: int = Field(ge=1)
    role: Literal["user", "assistant", "system"]
    text: str
    revision: int | None = None
    time: str | None = None


class Permission(ApiModel):
    """One Kubernetes permission a plan needs, checked with a SubjectAccessReview as the requester."""

    verb: str
    group: str = ""
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    def describe(self) -> str:
        res = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        grp = self.group or "core"
        where = f" in namespace {self.namespace}" if self.namespace else " cluster-wide"
        name = f' "{self.name}"' if self.name else ""
        return f"{self.verb} {res}{name} ({grp}){where}"


class ObjectRef(ApiModel):
    """A Kubernetes object by apiVersion, kind, namespace and name."""

    api_version: str
    kind: str
    name: str = ""
    namespace: str = ""

    def key(self) -> str:
        return "/".join(p for p in (self.api_version, self.kind, self.namespace, self.name) if p)


class PlannedAction(ApiModel):
    """One step of a plan, chosen from the action catalog and shown to the person before approval."""

    id: str
    action: str
    title: str
    params: dict[str, Any] = Field(default_factory=dict)
    target: ObjectRef
    risk: Literal["none", "low", "medium", "high"]
    mutating: bool
    permissions: list[Permission] = Field(default_factory=list)
    backup: str = ""
    restore: str = ""
    verify: str = ""
    diff: str = ""
    deferred: bool = Field(default=False, description="Rendered when the plan runs (see the diff's note).")


class PlanRevision(ApiModel):
    """Revision N of the plan. Its digest is what an approval must name."""

    revision: int = Field(ge=1)
    digest: str = Field(pattern=DIGEST_PATTERN)
    based_on_turn: int = Field(ge=1)
    summary: str
    answer: str = ""
    mutating: bool
    actions: list[PlannedAction] = Field(default_factory=list)
    graph: str = ""
    findings: list[str] = Field(default_factory=list)
    reused_from: list[str] = Field(default_factory=list)
    manifests: list[dict[str, Any]] = Field(default_factory=list)
    deletes: list[ObjectRef] = Field(default_factory=list)
    restore_warnings: list[str] = Field(default_factory=list)
    backend: str = ""
    ai_calls: list[dict[str, Any]] = Field(default_factory=list)
    created_at: str | None = None


class PullRequestLink(ApiModel):
    """A pull request the thread opened, on the local forge, GitHub or GitLab."""

    repo: str
    number: int
    url: str
    state: str = "open"
    review: str = Field(default="none", description="none | commented | changes_requested | approved")


class Links(ApiModel):
    """Where the thread's change lives."""

    repo: str = ""
    branch: str = ""
    folder: str = ""
    pre_chat_commit: str = ""
    commits: list[str] = Field(default_factory=list)
    pull_requests: list[PullRequestLink] = Field(default_factory=list)
    argo_application: str = ""


class ConversationStatus(ApiModel):
    """What the controller writes."""

    phase: Phase = Phase.PLANNING
    thread_id: str = ""
    observed_generation: int = 0
    processed_turns: int = 0
    current_revision: int = 0
    approved_revision: int = 0
    approved_digest: str = ""
    seen_approval_revision: int = 0
    seen_approval_digest: str = ""
    executed_manifests: list[dict[str, Any]] = Field(
        default_factory=list, description="What Execute committed for the approved revision (deferred steps resolved).")
    seen_rating: str = ""
    rated_revision: int = 0
    last_rating: int | None = None
    restore_handled: bool = False
    has_backup: bool = False
    alerts: int = 0
    messages: list[Message] = Field(default_factory=list)
    revisions: list[PlanRevision] = Field(default_factory=list)
    missing_permissions: list[Permission] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    links: Links = Field(default_factory=Links)
