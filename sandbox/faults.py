"""Seeded fault injection: the transient failures a real API server produces, on purpose and reproducibly.

Why: the operator must treat 5xx, 429, slow answers, timeouts and dropped watches as transient
(issue 10: a 503 from SubjectAccessReviews turned into a permanent "not allowed"). A real cluster
produces these rarely and never on demand; the sandbox produces them per verb, resource and user at
a chosen rate, from a seed, so a failing soak test can be replayed exactly (the same seed and the same
sequence of requests draw the same faults).

Fault kinds, and what each does to a write (a fault never leaves a half-written object; every write
is one step on the server loop):

- `error`: answer 500 (`Internal error occurred: etcdserver: leader changed`), 503 (`the server is
  currently unable to handle the request`) or 504 (`Timeout: request did not complete within requested
  timeout - context deadline exceeded`) as a Status. Nothing was written.
- `throttle`: answer 429 with `Retry-After`, in plain text as API Priority and Fairness does
  (`Too many requests, please try again later.`). Nothing was written.
- `latency`: wait `seconds`, then serve the request normally.
- `timeout`: hold the request `seconds`, then drop the connection without an answer. Nothing was written.
- `timeout-after-write`: serve the request (the write commits and watchers see it), hold the answer
  `seconds`, then drop the connection: the client cannot know its write happened, as when a real
  API server times out after etcd committed.
- `drop-watch`: a watch stream ends after `seconds` (the client must re-watch from its last version).

Faults apply to resource requests only (health and discovery paths are never faulted). The fault file
(`aiop sandbox --faults FILE [--seed N]`, or `SandboxServer.set_faults`) is YAML or JSON:

    seed: 7
    rules:
      - kind: error            # error | throttle | latency | timeout | timeout-after-write | drop-watch
        code: 503              # error only: 500 | 503 | 504
        rate: 0.05             # probability per matching request, 0..1
        verbs: [create, update, patch]          # default: every verb
        resources: [aiconversations.aiop.dev]   # plural[.group][/subresource], "*" or "*/status"
        users: ["*"]                            # user names; default: everyone
      - {kind: throttle, rate: 0.02, retryAfterSeconds: 1}
      - {kind: latency, rate: 0.1, seconds: 0.2}

The first rule whose match draws a fault wins; rules are drawn in file order.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

FaultKind = Literal["error", "throttle", "latency", "timeout", "timeout-after-write", "drop-watch"]

ERROR_STATUS: dict[int, tuple[str, str]] = {
    500: ("InternalError", "Internal error occurred: etcdserver: leader changed"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "Timeout: request did not complete within requested timeout - context deadline exceeded"),
}
THROTTLE_MESSAGE = "Too many requests, please try again later."


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class FaultRule(_Model):
    """One kind of fault, where it applies and how often."""

    kind: FaultKind
    rate: float = Field(ge=0, le=1)
    verbs: tuple[str, ...] = ("*",)
    resources: tuple[str, ...] = ("*",)
    users: tuple[str, ...] = ("*",)
    code: int = 500
    retry_after_seconds: int = Field(1, ge=0)
    seconds: float = Field(1.0, ge=0)

    @model_validator(mode="after")
    def _code_is_known(self) -> FaultRule:
        if self.kind == "error" and self.code not in ERROR_STATUS:
            raise ValueError(f"code {self.code} is not one of {sorted(ERROR_STATUS)}")
        return self

    def matches(self, verb: str, resource: str, subresource: str, user: str) -> bool:
        if self.kind == "drop-watch" and verb != "watch":
            return False
        return (_listed(self.verbs, verb) and _listed(self.users, user)
                and any(_resource_matches(pattern, resource, subresource) for pattern in self.resources))


class FaultPlan(_Model):
    """A fault file: the rules and the seed of their random draws."""

    seed: int = 0
    rules: tuple[FaultRule, ...] = ()


def _listed(allowed: tuple[str, ...], value: str) -> bool:
    return "*" in allowed or value in allowed


def _resource_matches(pattern: str, resource: str, subresource: str) -> bool:
    """`deployments.apps` (any subresource), `pods/log` (that one), `*`, `*/status`."""
    main, _, sub = pattern.partition("/")
    if main not in ("*", resource) and not (main and "." not in main and resource.split(".")[0] == main):
        return False
    return not sub or sub in ("*", subresource)


@dataclass(frozen=True)
class Fault:
    """A fault drawn for one request."""

    kind: FaultKind
    code: int
    retry_after_seconds: int
    seconds: float


@dataclass(frozen=True)
class InjectedFault:
    """What the log keeps of one injected fault."""

    kind: FaultKind
    verb: str
    resource: str
    subresource: str
    user: str
    code: int


class FaultPlanError(ValueError):
    """A fault file that cannot be used; the message names the file and the field."""


def load_plan(source: Path | str | dict[str, Any], seed: int | None = None) -> FaultPlan:
    """A FaultPlan from a YAML/JSON file or a dict; `seed` (the CLI's --seed) overrides the file's."""
    where = "the fault plan"
    if isinstance(source, dict):
        data: Any = source
    else:
        where = str(source)
        try:
            data = yaml.safe_load(Path(source).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise FaultPlanError(f"{where}: cannot read: {exc}") from exc
    try:
        plan = FaultPlan.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors())
        raise FaultPlanError(f"{where}: {problems}") from exc
    return plan.model_copy(update={"seed": seed}) if seed is not None else plan


class FaultInjector:
    """Draws faults for requests; thread-safe, so tests switch plans while the server runs."""

    def __init__(self, log_limit: int = 10000) -> None:
        self._lock = threading.Lock()
        self._plan = FaultPlan()
        self._random = random.Random(0)
        self._log: list[InjectedFault] = []
        self._log_limit = log_limit
        self._counts: Counter[str] = Counter()

    def configure(self, plan: FaultPlan | None) -> None:
        """Use this plan from now on (None: no faults); restarts the seeded draws and clears the log."""
        with self._lock:
            self._plan = plan or FaultPlan()
            self._random = random.Random(self._plan.seed)
            self._log = []
            self._counts = Counter()

    def draw(self, verb: str, resource: str, subresource: str, user: str) -> Fault | None:
        with self._lock:
            for rule in self._plan.rules:
                if not rule.matches(verb, resource, subresource, user):
                    continue
                if self._random.random() >= rule.rate:
                    continue
                self._counts[rule.kind] += 1
                if len(self._log) < self._log_limit:
                    self._log.append(InjectedFault(rule.kind, verb, resource, subresource, user, rule.code))
                return Fault(rule.kind, rule.code, rule.retry_after_seconds, rule.seconds)
        return None

    def log(self) -> list[InjectedFault]:
        with self._lock:
            return list(self._log)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
