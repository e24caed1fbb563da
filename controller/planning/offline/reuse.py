"""Reuse that reuses (issue 13 §6): past threads supply the plan's actions and values, adapted here.

Why adapting and not copying: a past thread ran in another namespace, maybe another cluster, against
other objects. Its *actions and values* are what worked ("scale to 6", "memory limit 1Gi"); the
*objects* must be the ones this request names, found again in this cluster. So a past thread seeds
the builders exactly like a previous plan does: values come from it when the request does not state
them, names always come from this request, and every value is checked again by the catalog.

Three uses:
- a rated-100 thread of the same kind, found by the knowledge search, is named in the plan and fills
  values the request leaves out;
- a person may name a thread ("do what ops-scale-frontend did, for ledger"), from any cluster;
- a thread rated below 100 whose plan did the same thing (same action, same object) is said, with
  its comment, and a fix offered by a diagnosis that already failed is not offered again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from controller.planning.offline.extract import tokens
from controller.planning.offline.guard import screen
from controller.planning.types import ActionCall, KnowledgeHit

REUSE_MIN_SIMILARITY = 0.2
STEER_MIN_SIMILARITY = 0.35
_IDENTITY_KEYS = ("name", "namespace", "kind", "api_version", "container", "workloads")


class Classifier(Protocol):
    def classify(self, text: str) -> Any: ...

    def similarity(self, a: str, b: str) -> float: ...


@dataclass
class Steered:
    actions: list[ActionCall]
    notes: list[str] = field(default_factory=list)


def intent_of(hit: KnowledgeHit, classifier: Classifier) -> str:
    """What kind of thread it was: its first step's action, else its request classified."""
    if hit.steps and isinstance(hit.steps[0].get("action"), str):
        return str(hit.steps[0]["action"])
    return str(classifier.classify(screen(hit.request).text).intent)


def best_match(hits: list[KnowledgeHit], intent: str, text: str, classifier: Classifier) -> KnowledgeHit | None:
    """The rated-100 past thread of the same kind most like this request."""
    best: tuple[float, KnowledgeHit] | None = None
    for hit in hits:
        if hit.rating != 100 or not hit.request.strip() or intent_of(hit, classifier) != intent:
            continue
        sim = classifier.similarity(screen(hit.request).text, text)
        if sim >= REUSE_MIN_SIMILARITY and (best is None or sim > best[0]):
            best = (sim, hit)
    return best[1] if best else None


def named(hits: list[KnowledgeHit], text: str) -> KnowledgeHit | None:
    """A past thread the person names by its id ("do what ops-scale-web did"), rated 100."""
    words = set(tokens(text))
    for hit in hits:
        if hit.thread_id.lower() in words and (hit.rating is None or hit.rating == 100):
            return hit
    return None


def seed_of(hit: KnowledgeHit, intent: str) -> dict[str, Any]:
    """The values of the thread's step of this kind, without the names (they are grounded again)."""
    for step in hit.steps:
        if step.get("action") == intent and isinstance(step.get("params"), dict):
            return {k: v for k, v in step["params"].items() if k not in _IDENTITY_KEYS}
    return {}


def where(hit: KnowledgeHit) -> str:
    cluster = f" in cluster {hit.cluster_id}" if hit.cluster_id and hit.cluster_id not in ("local", "") else ""
    return f"thread {hit.thread_id}{cluster}, rated {hit.rating}"


def _target(call: ActionCall) -> tuple[str, str]:
    return call.action, str(call.params.get("name", ""))


def _comment(hit: KnowledgeHit) -> str:
    said = hit.comment.strip() or hit.resolution.strip()
    return re.sub(r"\s+", " ", said)[:200]


def steer(hits: list[KnowledgeHit], actions: list[ActionCall], offered: bool) -> Steered:
    """Say which planned steps already failed in a past thread; drop them when they are only offered fixes."""
    out = Steered(list(actions))
    for hit in hits:
        if hit.rating is None or hit.rating >= 100:
            continue
        failed = {(str(s.get("action")), str((s.get("params") or {}).get("name", ""))) for s in hit.steps}
        same = [a for a in out.actions if _target(a) in failed]
        if not same:
            continue
        what = ", ".join(f"{a.action} of {a.params.get('name')}" for a in same)
        comment = _comment(hit)
        if offered:
            out.actions = [a for a in out.actions if a not in same]
            out.notes.append(f"I am not offering {what} again: {where(hit)} tried it"
                             + (f" (\"{comment}\")." if comment else "."))
        else:
            out.notes.append(f"Note: {where(hit)} did the same ({what})" + (f": \"{comment}\"." if comment else "."))
    return out
