"""What the built-in planner cannot do, said honestly: requests outside the catalog (issue 13 §2).

Why a list of concepts and not only a low classifier score: a request outside the catalog often
contains words the catalog knows ("scale the Kafka topic to 12 partitions", "allow SSH into the
nodes", "label the GitHub issue"), so the intent classifier scores it high for a real action. The
concepts in `scope.yaml` name what no catalog action can do; a request that asks for one gets an
answer that names it and says what the operator can do instead, and no plan.

Object names are masked before matching (a Deployment called `kafka-ui` or a namespace called
`tickets` is a name, not a concept), and only requests that would become a plan are screened: a
question or a diagnosis that mentions a taint or a node is still answered. A concept can be refused only
when it is the whole request (`unless`): "take a snapshot first, then grow it to 40Gi" asks for a change
the operator snapshots before anyway, so the change is planned and its "Before running" line answers the
snapshot, while "take a snapshot of the orders database" is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SCOPE_FILE = Path(__file__).with_name("scope.yaml")
_NAME = re.compile(r"(?<![\w/])[a-z0-9]+(?:[-.][a-z0-9]+)+(?![\w/])|`[^`]*`|\S+[:/@]\S+")
_VOCABULARY = frozenset({"non-root", "read-only", "one-off", "cluster-admin", "cluster-wide", "port-forward",
                         "cert-manager", "e-mail"})


@dataclass(frozen=True)
class OutOfScope:
    what: str
    instead: str


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    what: str
    instead: str
    unless: re.Pattern[str] | None = None  # the request also asks for a change that makes this concept incidental
    note: str = ""  # what the answer says then

    def refuses(self, low: str) -> bool:
        return bool(self.pattern.search(low)) and not (self.unless is not None and self.unless.search(low))


def _load(path: Path = SCOPE_FILE) -> list[_Rule]:
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [_Rule(re.compile(str(r["pattern"]), re.I), str(r["what"]), str(r["instead"]),
                  re.compile(str(r["unless"]), re.I) if r.get("unless") else None, str(r.get("note", "")))
            for r in raw["out_of_scope"]]


_RULES = _load()


def masked(text: str, names: Iterable[str] = ()) -> str:
    """The request with object names replaced by `x` (hyphenated names, backticked commands, known names)."""
    low = re.sub(r"\s+", " ", text.lower().replace("\u2019", "'"))
    low = _NAME.sub(lambda m: m.group(0) if m.group(0) in _VOCABULARY else " x ", low)
    for name in sorted({n.lower() for n in names if n and len(n) > 2}, key=len, reverse=True):
        low = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", " x ", low)
    return low


def out_of_scope(text: str, names: Iterable[str] = ()) -> OutOfScope | None:
    """The first out-of-catalog concept the request asks for, or None."""
    low = masked(text, names)
    for rule in _RULES:
        if rule.refuses(low):
            return OutOfScope(rule.what, rule.instead)
    return None


def incidental_notes(text: str, names: Iterable[str] = ()) -> list[str]:
    """What the answer says about a concept a rule let pass because a change was asked with it."""
    low = masked(text, names)
    return [rule.note for rule in _RULES if rule.unless is not None and rule.note and rule.pattern.search(low)
            and rule.unless.search(low)]


def incidental(step: str, names: Iterable[str] = ()) -> bool:
    """Whether one step of a request asks only for what a rule lets another step's plan answer.

    "take a snapshot first" beside "grow it to 40Gi" is the plan's snapshot, not a step to plan.
    """
    low = masked(step, names)
    return any(rule.unless is not None and rule.pattern.search(low) for rule in _RULES) and \
        not any(rule.unless is not None and rule.unless.search(low) for rule in _RULES)
