"""What every action builder of the offline planner works from: the texts, the cluster, the seed.

Why a context object: follow-up turns ("actually make it 6", "the one in payments") complete an
earlier request, so a builder reads each value from the newest turn that states it, falling back to
older turns of the same request, then to the previous plan (`seed`), then to preferences. Builders
return an `Outcome`: actions with an explanation, or a clarifying question.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from controller.planning.offline import extract
from controller.planning.offline.grounding import WORKLOAD_KINDS, Found, Grounder, NamespaceChoice, Ref
from controller.planning.types import ActionCall, PlanningRequest

T = TypeVar("T")

PREFERENCE_KEYS: dict[str, tuple[str, ...]] = {
    "namespace": ("default_namespace", "namespace"),
    "replicas": ("default_replicas", "replicas"),
    "aws_region": ("aws_region", "default_region", "region"),
    "azure_location": ("azure_location", "default_location", "location"),
    "resource_group": ("azure_resource_group", "resource_group", "default_resource_group"),
}


@dataclass
class Outcome:
    """A builder's result: `actions` + `answer`, or `question` (a clarification), plus findings."""

    actions: list[ActionCall] = field(default_factory=list)
    answer: str = ""
    question: str = ""
    findings: list[str] = field(default_factory=list)
    kind: str = "plan"  # plan | answer | clarify | unsupported

    @staticmethod
    def ask(question: str) -> Outcome:
        return Outcome(question=question, answer=question, kind="clarify")

    @staticmethod
    def plan(action: str, params: dict[str, Any], answer: str, reason: str = "") -> Outcome:
        return Outcome([ActionCall(action=action, params=params, reason=reason or answer)], answer)


@dataclass
class Ctx:
    request: PlanningRequest
    grounder: Grounder
    latest: str
    values: list[str]  # newest first: texts values may be read from
    names: list[str]  # newest first: texts names may be read from
    seed: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    _ns: NamespaceChoice | None = None

    def first(self, fn: Callable[[str], T | None], texts: Sequence[str] | None = None) -> T | None:
        """The value `fn` finds in the newest text that has one."""
        for text in self.values if texts is None else texts:
            value = fn(text)
            if value is not None and value != {} and value != []:
                return value
        return None

    def preference(self, what: str) -> Any:
        for key in PREFERENCE_KEYS.get(what, (what,)):
            if self.request.preferences.get(key) not in (None, ""):
                return self.request.preferences[key]
        return None

    @property
    def namespace_choice(self) -> NamespaceChoice:
        if self._ns is None:
            pref = self.preference("namespace")
            self._ns = self.grounder.pick_namespace(self.names, self.request.namespace, self.seed.get("namespace"),
                                                    str(pref) if pref else None)
            if self._ns.source == "preference":
                self.notes.append(f"Used your preferred namespace {self._ns.name}.")
        return self._ns

    @property
    def namespace(self) -> str:
        return self.namespace_choice.name

    def find(self, kinds: Sequence[tuple[str, str]] = WORKLOAD_KINDS, exclude: Sequence[str] = ()) -> Found:
        return self.grounder.find(self.names, self.namespace, kinds,
                                  explicit_namespace=self.namespace_choice.source == "text",
                                  seed_name=self.seed.get("name"), exclude=exclude)

    def workload(self, what: str = "workload",
                 kinds: Sequence[tuple[str, str]] = WORKLOAD_KINDS) -> Ref | Outcome:
        found = self.find(kinds)
        if found.ref is None:
            return Outcome.ask(found.question(what, self.namespace))
        if found.note and "previous plan" not in found.note:
            self.notes.append(f"I took {found.ref.kind} {found.ref.name} ({found.note}).")
        return found.ref

    def text_all(self) -> str:
        return " ".join(reversed(self.values))


def containers(ref: Ref) -> list[dict[str, Any]]:
    return list(ref.obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [])


def pick_container(ctx: Ctx, ref: Ref, image_hint: str | None = None) -> dict[str, Any] | Outcome | None:
    """The container a change is for: the only one, the one named in the text, or the one whose image matches."""
    items = containers(ref)
    if len(items) <= 1:
        return items[0] if items else None
    words = set()
    for text in ctx.values:
        words.update(extract.tokens(text))
    named = [c for c in items if str(c.get("name")) in words]
    if len(named) == 1:
        return named[0]
    if image_hint:
        repo = repo_of(image_hint)
        same = [c for c in items if repo_of(str(c.get("image", ""))) == repo]
        if len(same) == 1:
            return same[0]
    seed = ctx.seed.get("container")
    for c in items:
        if c.get("name") == seed:
            return c
    names = ", ".join(str(c.get("name")) for c in items)
    return Outcome.ask(f"{ref.kind} {ref.label} has several containers ({names}). Which one do you mean?")


def workload_container(ctx: Ctx, image_hint: str | None = None) -> tuple[Ref, dict[str, Any] | None] | Outcome:
    """The workload the request names and the container meant, or the question to ask."""
    ref = ctx.workload()
    if isinstance(ref, Outcome):
        return ref
    container = pick_container(ctx, ref, image_hint)
    if isinstance(container, Outcome):
        return container
    return ref, container


def repo_of(image: str) -> str:
    """The repository part of an image reference (no tag, no digest)."""
    base = image.split("@", 1)[0]
    head, _, last = base.rpartition("/")
    last = last.split(":", 1)[0]
    return f"{head}/{last}" if head else last


def workload_params(ref: Ref, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"kind": ref.kind, "name": ref.name, "namespace": ref.namespace}
    params.update({k: v for k, v in extra.items() if v is not None})
    return params
