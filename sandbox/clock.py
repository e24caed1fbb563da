"""The simulated cluster's clock: wall time, optionally running faster, and advanceable by hand.

Why a clock of its own: a container that exits after 30 s, a CrashLoopBackOff that waits five
minutes, a 600 s progress deadline or a CronJob that fires every minute would make tests slow or
flaky on the wall clock. Everything the simulated cluster decides is in clock time; `speed` makes
it pass faster (a test at speed 60 sees a minute per second) and `advance(s)` jumps it forward. At
speed 1 and no advance it is the wall clock, so timestamps agree with the API server's own.
"""

from __future__ import annotations

import datetime as dt
import threading
import time


def rfc3339(moment: float) -> str:
    """A clock reading as the API server writes timestamps (`2026-01-02T03:04:05Z`)."""
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        return None


class SimClock:
    """Seconds since the epoch, as the simulated cluster sees them."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self._lock = threading.Lock()
        self._speed = float(speed)
        self._origin_wall = time.time()
        self._origin_mono = time.monotonic()
        self._offset = 0.0

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> float:
        with self._lock:
            elapsed = time.monotonic() - self._origin_mono
            return self._origin_wall + elapsed * self._speed + self._offset

    def timestamp(self) -> str:
        return rfc3339(self.now())

    def advance(self, seconds: float) -> None:
        """Jump forward (never back): what was due in the next `seconds` becomes due now."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds

    def set_speed(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        now = self.now()
        with self._lock:
            self._origin_mono = time.monotonic()
            self._origin_wall = now - self._offset
            self._speed = float(speed)

    def real_delay(self, due: float) -> float:
        """Wall seconds until clock time `due` arrives (0 if it has)."""
        return max(0.0, (due - self.now()) / self._speed)
