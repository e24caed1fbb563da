"""One reconcile at a time per object, across kopf's handlers and timers.

Why: kopf serializes the change handlers of one object, but a timer (following a verification, a
lock wait or a retry) runs beside them. Two reconciles of one thread at once could run an effect
twice, so both take this per-object lock; whoever finds it taken backs off and looks again later.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class KeyedLocks:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @contextmanager
    def hold(self, key: str, timeout: float = 0.0) -> Iterator[bool]:
        """Yields whether the lock was taken (waiting up to `timeout` seconds)."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        taken = lock.acquire(timeout=timeout) if timeout > 0 else lock.acquire(blocking=False)
        try:
            yield taken
        finally:
            if taken:
                lock.release()
