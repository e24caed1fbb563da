"""Scoring a set of requests (tuning.yaml, heldout.yaml) through the offline planner: the figures the README reports.

A set has three sections (see heldout.yaml): out-of-catalog requests (wrong when answered with any
action), requests for actions (right when the actions come in order with the parameters given) and
read-only requests (right when no action is planned, the intent is the read-only one and the answer
says the given words).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from controller.catalog.registry import CATALOG
from controller.planning.offline.planner import OfflineBackend
from tests.planning.fixtures import request, shop_cluster

DATA = Path(__file__).with_name("data")


@dataclass
class Score:
    name: str
    out_total: int = 0
    out_wrong: list[str] = field(default_factory=list)
    act_total: int = 0
    act_misses: list[str] = field(default_factory=list)
    ro_total: int = 0
    ro_misses: list[str] = field(default_factory=list)
    ro_mutating: list[str] = field(default_factory=list)

    @property
    def wrong_rate(self) -> float:
        return len(self.out_wrong) / self.out_total if self.out_total else 0.0

    def lines(self) -> list[str]:
        return [
            f"{self.name}: out-of-catalog {self.out_total}, wrong mutating plans {len(self.out_wrong)} "
            f"({self.wrong_rate:.1%})",
            f"{self.name}: actions {self.act_total - len(self.act_misses)}/{self.act_total} right",
            f"{self.name}: read-only {self.ro_total - len(self.ro_misses)}/{self.ro_total} right, "
            f"{len(self.ro_mutating)} answered with a mutating plan",
        ]


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and _subset(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            _subset(e, a) for e, a in zip(expected, actual, strict=True))
    return bool(expected == actual or str(expected) == str(actual))


def score(backend: OfflineBackend, name: str) -> Score:
    data = yaml.safe_load((DATA / f"{name}.yaml").read_text(encoding="utf-8"))
    out = Score(name)
    for text in data.get("out_of_catalog") or []:
        out.out_total += 1
        result = backend.propose(request(text), shop_cluster())
        if result.actions:
            out.out_wrong.append(f"{text!r} -> {[a.action for a in result.actions]}")
    for row in data.get("actions") or []:
        out.act_total += 1
        result = backend.propose(request(row["say"]), shop_cluster())
        got = [(a.action, CATALOG[a.action].params.model_validate(a.params).model_dump()) for a in result.actions]
        want = row["expect"]
        ok = len(got) == len(want) and all(g[0] == w["action"] and _subset(w.get("params", {}), g[1])
                                           for g, w in zip(got, want, strict=True))
        if not ok:
            out.act_misses.append(f"{row['say']!r} -> {result.kind} {[(a.action, a.params) for a in result.actions]} "
                                  f"{result.answer[:160]!r}")
    for row in data.get("read_only") or []:
        out.ro_total += 1
        result = backend.propose(request(row["say"]), shop_cluster())
        if result.actions:
            out.ro_mutating.append(row["say"])
        ok = (not result.actions and result.intent == row["intent"]
              and all(w.lower() in result.answer.lower() for w in row.get("mentions", [])))
        if not ok:
            out.ro_misses.append(f"{row['say']!r} -> {result.kind}/{result.intent} {result.answer[:160]!r}")
    return out
