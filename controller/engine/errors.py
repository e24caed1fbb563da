"""Errors are outcomes with a kind: transient ones are retried, permanent ones explain themselves.

Why this module: a SubjectAccessReview that answers 503 for a moment must never become "you are not
allowed", an alert or a terminal phase (principle 7). The adapters say what kind an error is
(`KubeError.transient`, `GitError.transient`); the engine raises `Transient` for those, and the
reconciler turns it into a retry with backoff and jitter while the cause stays unhandled, so nothing
is lost. A permanent error becomes the condition that explains it.

    Exception
     ├── KubeError (adapters.kube)   .transient: HTTP 0/408/425/429/5xx, timeouts, 409 "modified"
     ├── GitError (adapters.gitrepo) .transient: a remote that cannot be reached or is busy
     ├── SnapshotError (adapters.snapshots.base) .transient: a cloud API throttled, 5xx or unreachable
     └── Transient                   raised by the engine: retry later; never a refusal, an alert
                                     or a terminal phase
"""

from __future__ import annotations

import random

from controller.adapters.gitrepo import GitError
from controller.adapters.kube import KubeError
from controller.adapters.snapshots.base import SnapshotError


class Transient(Exception):
    """Something that may work if tried again later; `delay` is a hint in seconds."""

    def __init__(self, message: str, delay: float = 0.0) -> None:
        super().__init__(message)
        self.message = message
        self.delay = delay


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, Transient):
        return True
    if isinstance(exc, KubeError | GitError | SnapshotError):
        return exc.transient
    return isinstance(exc, TimeoutError | ConnectionError)


def transient_from(exc: BaseException, what: str) -> Transient:
    """The `Transient` to raise for `exc`, saying what was being done."""
    detail = getattr(exc, "message", None) or str(exc)
    delay = exc.retry_after if isinstance(exc, KubeError) else 0.0
    return Transient(f"{what}: {detail}", delay)


def backoff(attempt: int, hint: float = 0.0, base: float = 1.0, cap: float = 60.0) -> float:
    """Exponential backoff with jitter (never less than a server's Retry-After hint)."""
    ceiling = min(cap, base * (2 ** max(attempt, 0)))
    return max(hint, random.uniform(ceiling / 2, ceiling))
