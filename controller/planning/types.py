"""The Backend seam: what a planner is given and what it must answer.

Every planner (the built-in offline one, OpenAI-compatible, Bedrock) implements `Backend.propose`.
Its answer is untrusted: the pipeline validates `PlanningResult` (extra="forbid"), each action
call against the catalog's parameter model, then policy and RBAC, before anything is shown as a
plan. The cluster is visible to planners only through `ClusterReader`, which reads *as the
requester* and never returns Secret data.
"""

from __future__ import annotations

import builtins
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from controller.api.types import Identity


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionCall(Strict):
    """One catalog action chosen by a planner, with its parameters (validated later)."""

    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""


class KnowledgeHit(Strict):
    """A past thread found in the knowledge store."""

    thread_id: str
    request: str
    resolution: str
    rating: int | None = None
    score: float = 0.0
    why: str = ""
    steps: list[dict[str, Any]] = Field(default_factory=list)
    cluster_id: str = ""
    context: str = ""
    tags: list[str] = Field(default_factory=list)
    resolution_status: str = ""
    comment: str = Field(default="", description="The comment given with the rating (what worked or failed).")


class PlanningRequest(Strict):
    """Everything a planner may see. Already redacted."""

    thread_id: str
    turns: list[str]
    feedback: str = ""
    requester: Identity
    namespace: str = Field(description="The namespace of the conversation resource: the default target.")
    context: str | None = None
    knowledge: list[KnowledgeHit] = Field(default_factory=list)
    preferences: dict[str, Any] = Field(default_factory=dict)
    previous_plan: list[ActionCall] = Field(default_factory=list)


PlanningKind = Literal["plan", "answer", "clarify", "unsupported"]


class PlanningResult(Strict):
    """A planner's answer.

    - plan: `actions` is a non-empty list of catalog calls; `answer` explains them.
    - answer: a read-only answer (diagnosis, review, question); `actions` may hold a proposed fix.
    - clarify: `answer` is a question to the person; no actions.
    - unsupported: the planner cannot map the request; `answer` says so honestly; no actions.
    """

    kind: PlanningKind
    answer: str = ""
    actions: list[ActionCall] = Field(default_factory=list)
    findings: list[str] = Field(default_factory=list)
    context: str | None = None
    intent: str = ""
    reused_from: list[str] = Field(default_factory=list)
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    calls: list[dict[str, Any]] = Field(default_factory=list,
                                        description="Audit of the AI calls made (redacted digests and excerpts).")


class ClusterReader(Protocol):
    """Read access to the live cluster, as the requester. Secrets are never returned with data."""

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None: ...

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             label_selector: str | None = None) -> builtins.list[dict[str, Any]]: ...

    def logs(self, namespace: str, pod: str, container: str | None = None, previous: bool = False,
             tail_lines: int = 50) -> str: ...

    def events(self, namespace: str, involved_name: str | None = None) -> builtins.list[dict[str, Any]]: ...


class Backend(Protocol):
    """One AI backend. `name` appears in the audit record of every call."""

    name: str

    def propose(self, request: PlanningRequest, cluster: ClusterReader) -> PlanningResult: ...
