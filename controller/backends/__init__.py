"""AI backends: configuration, the OpenAI-compatible / Azure OpenAI / Bedrock adapters, and cooperation.

Why a package of its own: every AI service is untrusted and unreliable in the same ways (it times
out, rate-limits, answers in the wrong shape, repeats itself, echoes what it was shown), so the
handling of those failures is written once, above thin wire adapters, and every backend ends in
the same `Backend.propose` seam that the planning pipeline already guards.

Errors (all `BackendError`):

    BackendError
    ├── ConfigError        the backends file is wrong (names the field); raised at start-up
    ├── TransientError     timeout, connection reset, 429, 5xx: retried with bounded backoff
    ├── FatalError         401/403/404/400: the next backend is tried, never this one again this round
    ├── InvalidOutput      the answer is not a valid tool call: one repair attempt, then the next backend
    └── BudgetExceeded     the thread's token, cost, call or tool-iteration budget is spent, or a loop
                           of identical calls was detected: stop asking AIs; the offline planner answers
"""
