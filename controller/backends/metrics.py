"""Prometheus metrics of AI backends (`aiop_backend_*`): one series per backend, role and outcome.

Why here and not in adapters/telemetry: these are the only numbers that say which AI service is
slow, failing, expensive or being fallen back from, and they are recorded at exactly one place
(`ledger.Ledger.record`), whatever the adapter.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

CALLS = Counter("aiop_backend_calls_total", "AI backend calls", ["backend", "role", "outcome"])
LATENCY = Histogram("aiop_backend_latency_seconds", "Latency of one AI backend call", ["backend", "role"],
                    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 80))
TOKENS = Counter("aiop_backend_tokens_total", "Tokens sent to and received from AI backends",
                 ["backend", "direction"])
COST = Counter("aiop_backend_cost_usd_total", "Estimated cost of AI backend calls (USD)", ["backend"])
ERRORS = Counter("aiop_backend_errors_total", "AI backend errors by kind", ["backend", "kind"])
FALLBACKS = Counter("aiop_backend_fallbacks_total", "A role moved on from a backend", ["role", "from_backend", "to"])
BUDGET_STOPS = Counter("aiop_backend_budget_stops_total", "AI calls stopped by a budget or the loop breaker",
                       ["reason"])
