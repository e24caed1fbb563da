"""Budgets, the loop breaker and the audit trail of one planning round.

Why one object: every AI call of a round goes through `Ledger.charge` before it is sent and
`Ledger.record` after, so the per-thread budget (tokens, estimated cost, calls), the detection of
repeated identical calls and the audit record cannot disagree. The audit record holds only
redacted excerpts and sha256 digests of what was sent and received: enough to prove what an AI
was shown and what it said, without storing prompts in the conversation status.

Thread totals survive between rounds in `ThreadUsage` (in process memory, bounded).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from controller.backends import metrics
from controller.backends.config import Budget
from controller.backends.errors import BudgetExceeded
from controller.redact import redact_text

EXCERPT_CHARS = 240


@dataclass
class Spent:
    tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0


class ThreadUsage:
    """What each thread has spent so far, across planning rounds (the newest 1000 threads)."""

    def __init__(self, keep: int = 1000) -> None:
        self._spent: OrderedDict[str, Spent] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    def of(self, thread_id: str) -> Spent:
        with self._lock:
            spent = self._spent.pop(thread_id, None) or Spent()
            self._spent[thread_id] = spent
            while len(self._spent) > self._keep:
                self._spent.popitem(last=False)
            return spent


def digest(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def excerpt(text: str, chars: int = EXCERPT_CHARS) -> str:
    one = redact_text(text).replace("\n", " ")
    return one if len(one) <= chars else one[: chars - 1] + "…"


@dataclass
class Ledger:
    """One planning round of one thread."""

    thread_id: str
    budget: Budget
    spent: Spent
    calls: list[dict[str, Any]] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)
    stopped: str = ""

    def charge(self) -> None:
        """Before a call: refuse it when the thread's budget is spent."""
        reason = ""
        if self.spent.tokens >= self.budget.max_tokens:
            reason = f"the thread used {self.spent.tokens} tokens (budget {self.budget.max_tokens})"
        elif self.budget.max_cost_usd and self.spent.cost_usd >= self.budget.max_cost_usd:
            reason = f"the thread cost about ${self.spent.cost_usd:.4f} (budget ${self.budget.max_cost_usd:g})"
        elif self.spent.calls >= self.budget.max_calls:
            reason = f"the thread made {self.spent.calls} AI calls (budget {self.budget.max_calls})"
        if reason:
            self.stop("budget", reason)

    def stop(self, kind: str, reason: str) -> None:
        metrics.BUDGET_STOPS.labels(reason=kind).inc()
        self.stopped = reason
        raise BudgetExceeded(reason)

    def repeated(self, key: str, limit: int = 2) -> None:
        """The loop breaker: the same call with the same arguments `limit` times in a round stops it."""
        self.seen[key] = self.seen.get(key, 0) + 1
        if self.seen[key] >= limit:
            name = key.split("{", 1)[0]
            self.stop("loop", f"the AI repeated the identical call {name} {self.seen[key]} times (loop stopped)")

    def record(self, *, backend: str, role: str, model: str, outcome: str, latency_s: float, tokens_in: int,
               tokens_out: int, cost_usd: float, request: Any, response: str, attempt: int,
               via: str = "", refusals: tuple[str, ...] = ()) -> None:
        """After a call (successful or not): metrics, thread totals and the audit entry.

        `via` is the request shape that got the answer, `refusals` what the server refused first."""
        self.spent.tokens += tokens_in + tokens_out
        self.spent.cost_usd += cost_usd
        self.spent.calls += 1
        metrics.CALLS.labels(backend=backend, role=role, outcome=outcome).inc()
        metrics.LATENCY.labels(backend=backend, role=role).observe(latency_s)
        metrics.TOKENS.labels(backend=backend, direction="in").inc(tokens_in)
        metrics.TOKENS.labels(backend=backend, direction="out").inc(tokens_out)
        if cost_usd:
            metrics.COST.labels(backend=backend).inc(cost_usd)
        if outcome != "ok":
            metrics.ERRORS.labels(backend=backend, kind=outcome).inc()
        last_user: dict[str, Any] = next(
            (m for m in reversed(request.get("messages", [])) if m.get("role") in ("user", "tool")), {})
        self.calls.append({
            "backend": backend, "role": role, "model": model, "attempt": attempt, "outcome": outcome,
            "latencyMs": int(latency_s * 1000), "inputTokens": tokens_in, "outputTokens": tokens_out,
            "costUsd": round(cost_usd, 6),
            "requestDigest": digest(request), "requestExcerpt": excerpt(str(last_user.get("text", ""))),
            "responseDigest": digest(response), "responseExcerpt": excerpt(response),
        })
        if via:
            self.calls[-1]["via"] = via
        if refusals:
            self.calls[-1]["refused"] = [excerpt(r, 160) for r in refusals]

    def note(self, backend: str, role: str, outcome: str, detail: str) -> None:
        """An audit line for a step that made no AI call (offline role, fallback)."""
        self.calls.append({"backend": backend, "role": role, "model": "", "outcome": outcome,
                           "detail": excerpt(detail), "inputTokens": 0, "outputTokens": 0})
