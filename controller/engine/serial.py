"""One reconcile at a time per object, across kopf's handlers and timers.

Why: kopf serializes the change handlers of one object, but a timer (following a verification, a
lock wait or a retry) runs beside them. Two reconciles of one thread at once could run an effect
twice, so both take this per-object lock; whoever finds it taken backs off and looks again later.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("aiop.serial")
LONG_HOLD_S = 60.0  # a reconcile holding its thread this long is said in the log (every later one is refused)


class KeyedLocks:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._since: dict[str, float] = {}  # key -> when its holder took it

    @contextmanager
    def hold(self, key: str, timeout: float = 0.0) -> Iterator[bool]:
        """Yields whether the lock was taken (waiting up to `timeout` seconds)."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        taken = lock.acquire(timeout=timeout) if timeout > 0 else lock.acquire(blocking=False)
        if taken:
            self._since[key] = time.monotonic()
        else:
            held = time.monotonic() - self._since.get(key, time.monotonic())
            if held > LONG_HOLD_S:
                log.warning("a reconcile has held this thread for long", extra={"object": key, "held_s": round(held)})
        try:
            yield taken
        finally:
            if taken:
                self._since.pop(key, None)
                lock.release()
