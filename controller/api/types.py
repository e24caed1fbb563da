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

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

from controller.api.constants import Context, Phase

DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
THREAD_ID_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
MAX_TURN_CHARS = 8000
MAX_TURNS = 1000  # a real API server refuses objects over 1.5 MiB long before a thread gets there


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
    """One message in the conversation, in order, with the person who wrote it.

    The chart's admission policy binds `author` to the caller (request.userInfo): a turn appended by
    anyone names them, and turns already written cannot change. A turn without an author can only
    have been written at creation, by the requester. Only the requester's turns shape a plan unless
    the operator is configured to accept collaborators (then the plan is checked against everyone's
    rights).
    """

    text: str = Field(min_length=1, max_length=MAX_TURN_CHARS)
    author: Identity | None = None

    def fingerprint(self) -> str:
        """Identifies this turn's text and author (chained in status to notice rewritten history)."""
        who = self.author.user if self.author else ""
        return hashlib.sha256(f"{who}\x00{self.text}".encode()).hexdigest()


class Approval(ApiModel):
    """The approval of one exact plan revision, named by its digest, by the approver (bound to the caller)."""

    revision: int = Field(ge=1)
    digest: str = Field(pattern=DIGEST_PATTERN)
    approver: Identity | None = None
    comment: str = Field(default="", max_length=4000)

    def fingerprint(self) -> str:
        """Identifies this approval *by this person*: a refusal of one approver never hides another's."""
        who = self.approver.user if self.approver else ""
        return f"{self.revision}:{self.digest}:{who}"


class Rating(ApiModel):
    """0-100: how well the executed plan did. 100 promotes the branch to pull requests."""

    score: int = Field(ge=0, le=100)
    comment: str = Field(default="", max_length=4000)
    revision: int | None = Field(default=None, ge=1, description="The executed revision rated; defaults to the last.")
    rated_by: Identity | None = None

    def fingerprint(self) -> str:
        """Identifies this rating by this person, so the controller handles each one once."""
        who = self.rated_by.user if self.rated_by else ""
        return (f"{self.revision or 0}:{self.score}:{hashlib.sha256(self.comment.encode()).hexdigest()[:12]}"
                f":{who}")


class RestoreRequest(ApiModel):
    """The restore button: bring everything back to the state before the chat."""

    requested: bool = True
    requested_by: Identity | None = None
    reason: str = Field(default="", max_length=4000)

    def fingerprint(self) -> str:
        """Identifies this press of the button by this person (a refused one never hides a later one)."""
        who = self.requested_by.user if self.requested_by else ""
        return f"{self.requested}:{who}:{hashlib.sha256(self.reason.encode()).hexdigest()[:12]}"


class ConversationSpec(ApiModel):
    """What people write on an AIConversation."""

    thread_id: str | None = Field(default=None, pattern=THREAD_ID_PATTERN, max_length=40)
    requester: Identity
    context: Context | None = None
    turns: list[Turn] = Field(min_length=1, max_length=MAX_TURNS)
    approval: Approval | None = None
    rating: Rating | None = None
    restore: RestoreRequest | None = None
    keep_snapshots: bool = Field(default=False, description="Keep the thread's snapshots after it is closed.")


class RequestSpec(ApiModel):
    """What people write on an AIRequest: a one-message conversation, for kubectl and automation."""

    thread_id: str | None = Field(default=None, pattern=THREAD_ID_PATTERN, max_length=40)
    requester: Identity
    context: Context | None = None
    text: str = Field(min_length=1, max_length=MAX_TURN_CHARS)
    approval: Approval | None = None
    rating: Rating | None = None
    restore: RestoreRequest | None = None
    keep_snapshots: bool = Field(default=False, description="Keep the thread's snapshots after it is closed.")

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
            keep_snapshots=self.keep_snapshots,
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
    author: str = ""  # for user lines: who wrote it, as the API server authenticated them
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
    user: str = Field(default="", description="Who lacks it, when not the requester (a collaborator, an approver).")

    def describe(self) -> str:
        res = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        grp = self.group or "core"
        where = f" in namespace {self.namespace}" if self.namespace else " cluster-wide"
        name = f' "{self.name}"' if self.name else ""
        who = f" (for {self.user})" if self.user else ""
        return f"{self.verb} {res}{name} ({grp}){where}{who}"


class ObjectRef(ApiModel):
    """A Kubernetes object by apiVersion, kind, namespace and name."""

    api_version: str
    kind: str
    name: str = ""
    namespace: str = ""

    def key(self) -> str:
        return "/".join(p for p in (self.api_version, self.kind, self.namespace, self.name) if p)


class TargetState(ApiModel):
    """A target as the plan saw it: the fingerprint of the fields the plan changes ("absent": not there).

    Recorded when the plan is made and covered by its digest, so approving a plan approves the state
    it was made against. At execution a target whose fingerprint changed makes the plan stale: it is
    re-proposed with the new diff, never applied (as Terraform and Atlantis refuse stale plans).
    """

    ref: ObjectRef
    fingerprint: str
    takes_over: list[str] = Field(default_factory=list,
                                  description="Fields owned by other field managers that applying takes over.")


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


SnapshotProviderName = Literal["csi", "velero", "aws-ebs", "aws-rds", "azure-disk", "azure-template", "none"]
# what a snapshot is of: a claim's volume, an RDS instance, an Azure resource group (its exported ARM template)
SnapshotKind = Literal["volume", "db-instance", "azure-resource-group"]


class PlannedSnapshot(ApiModel):
    """Data a plan puts at risk, and the snapshot taken of it before anything runs (issue 14).

    Shown with the plan and covered by its digest: approving the plan approves the snapshot step,
    its provider and class. `provider: none` says the data is not snapshotted, and `note` why.
    """

    kind: SnapshotKind
    source: ObjectRef = Field(description="The PersistentVolumeClaim, the ACK DBInstance or the ASO object.")
    cloud_id: str = Field(default="", description="RDS instance identifier, EBS volume id, Azure disk id or "
                                                  "Azure resource group name.")
    size: str = ""
    why: str = ""
    actions: list[str] = Field(default_factory=list, description="Ids of the plan steps that endanger it.")
    required: bool = Field(default=False, description="The steps may not run without this snapshot.")
    provider: SnapshotProviderName = "none"
    snapshot_class: str = Field(default="", description="VolumeSnapshotClass, Velero storage location, ...")
    name: str = Field(default="", description="The snapshot's name (per thread and source).")
    note: str = ""

    def describe(self) -> str:
        """`snapshot PVC billing/data-pg-0 (20Gi, VolumeSnapshotClass ebs-csi)`."""
        what = (f"PVC {self.source.namespace}/{self.source.name}" if self.kind == "volume"
                else f"resource group {self.cloud_id}" if self.kind == "azure-resource-group"
                else f"RDS instance {self.cloud_id}")
        if self.provider == "none":
            return f"NOT snapshotted: {what} ({self.note or 'no snapshot provider'})"
        if self.provider == "azure-template":
            return f"export template of {what} (Azure Resource Manager)"
        label = {"csi": "VolumeSnapshotClass", "velero": "Velero storage location", "aws-ebs": "EBS snapshot",
                 "aws-rds": "RDS DB snapshot", "azure-disk": "Azure managed-disk snapshot"}[self.provider]
        detail = ", ".join(p for p in (self.size, f"{label} {self.snapshot_class}".strip()) if p)
        return f"snapshot {what} ({detail})"


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
    targets: list[TargetState] = Field(default_factory=list)
    shaped_by: list[str] = Field(default_factory=list, description="Users whose turns shaped this plan.")
    snapshots: list[PlannedSnapshot] = Field(default_factory=list, description="Taken before the first change.")
    archived: bool = Field(default=False, description="Details moved to the thread's history in git.")


_REVISIONS = TypeAdapter(list[PlanRevision])


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


class RepoRecord(ApiModel):
    """What Execute wrote to one repo: the branch, folder and commit, and the files in it."""

    name: str
    url: str
    branch: str
    folder: str
    commit: str = ""
    files: list[str] = Field(default_factory=list)
    objects: list[str] = Field(default_factory=list, description="Keys of the manifests routed here.")


class SnapshotRecord(ApiModel):
    """A snapshot the thread took: what of, where, when it was ready, and its restore's progress."""

    name: str
    provider: SnapshotProviderName
    kind: SnapshotKind
    source: ObjectRef
    cloud_id: str = ""
    snapshot_class: str = ""
    size: str = ""
    revision: int = Field(default=1, ge=1, description="The revision whose execution took it.")
    handle: str = Field(default="", description="VolumeSnapshotContent, snapshot id or ARN, Velero backup.")
    state: Literal["Pending", "Ready", "Failed", "Deleted"] = "Pending"
    message: str = ""
    requested_at: str = ""
    ready_at: str = ""
    used: bool = Field(default=False, description="A change was applied after it was taken: restore uses it.")
    restore_phase: str = Field(default="", description="'' | a step name | Done | Failed")
    restore_message: str = ""
    restore_detail: dict[str, str] = Field(default_factory=dict, description="What restore made (ids, names).")
    expires_at: str = ""
    deleted_at: str = ""


class ExecutionRecord(ApiModel):
    """The one record of an execution that every later step reads (sync, verify, promote, restore).

    Written by Execute; sync, verification, promotion and restore never recompute routes, re-render
    or ask git again, so what was executed is exactly what is synced, promoted and restored.
    """

    revision: int = Field(ge=1)
    digest: str = Field(pattern=DIGEST_PATTERN)
    field_manager: str
    pre_chat_commit: str = ""
    executed_by: Identity
    manifests: list[dict[str, Any]] = Field(default_factory=list)
    deletes: list[ObjectRef] = Field(default_factory=list)
    repos: list[RepoRecord] = Field(default_factory=list)
    applied: list[TargetState] = Field(default_factory=list, description="Targets as this thread left them.")
    unready_before: list[str] = Field(default_factory=list,
                                      description="Workloads whose pods were not ready before the change.")
    sync_engine: str = ""
    sync_objects: str = ""
    sync_started: str = ""
    snapshots: list[SnapshotRecord] = Field(default_factory=list)


class ConversationStatus(ApiModel):
    """What the controller writes."""

    phase: Phase = Phase.PLANNING
    thread_id: str = ""
    observed_generation: int = 0
    processed_turns: int = 0
    current_revision: int = 0
    approved_revision: int = 0
    approved_digest: str = ""
    seen_approval: str = Field(default="", description="The last approval handled (revision:digest:approver).")
    seen_rating: str = ""
    seen_restore: str = ""
    turns_digest: str = Field(default="", description="Chained fingerprint of the turns handled so far.")
    execution: ExecutionRecord | None = None
    locks: list[str] = Field(default_factory=list, description="Keys of the target objects this thread holds.")
    rated_revision: int = 0
    last_rating: int | None = None
    has_backup: bool = False
    alerts: int = 0
    messages: list[Message] = Field(default_factory=list)
    message_count: int = Field(default=0, description="Messages so far; older ones than status keeps are in history.")
    history_ref: str = Field(default="", description="The git ref holding archived revisions and messages.")
    revisions: list[PlanRevision] = Field(default_factory=list)
    missing_permissions: list[Permission] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    links: Links = Field(default_factory=Links)

    def wire(self) -> dict[str, Any]:
        """As `ApiModel.wire`, with archived revisions written without their empty fields.

        Why: a 500-turn thread keeps a summary of every older revision in status; written with every
        empty list and string of a full revision, those summaries alone passed the 256 KiB a status
        should stay under. Reading them back fills the same defaults, so nothing is lost (a required
        field is always written, even when empty)."""
        data = self.model_dump(by_alias=True, exclude_none=True, mode="json", exclude={"revisions"})
        # Each kind in one call (a Python pass over 500 dumped summaries cost as much as the dump itself).
        archived = iter(_REVISIONS.dump_python([r for r in self.revisions if r.archived], by_alias=True,
                                               exclude_defaults=True, mode="json"))
        detailed = iter(_REVISIONS.dump_python([r for r in self.revisions if not r.archived], by_alias=True,
                                               exclude_none=True, mode="json"))
        data["revisions"] = [next(archived) if r.archived else next(detailed) for r in self.revisions]
        return data
