"""The per-thread reconcile lock: a second reconcile is refused while one runs, and a long hold is said.

Pure (threads in one process): a reconcile that hangs keeps every later one of its thread refused (they
answer ThreadBusy, which is not logged), so a hold past LONG_HOLD_S is logged when someone is refused.
"""

from __future__ import annotations

import logging

import pytest

from controller.engine import serial


def test_a_second_hold_is_refused_and_a_long_hold_is_logged(monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    locks = serial.KeyedLocks()
    with locks.hold("uid-1") as first:
        assert first
        with caplog.at_level(logging.WARNING, logger="aiop.serial"), locks.hold("uid-1") as second:
            assert not second
        assert not caplog.records  # refused, but not held for long
        monkeypatch.setattr(serial, "LONG_HOLD_S", -1.0)
        with caplog.at_level(logging.WARNING, logger="aiop.serial"), locks.hold("uid-1") as third:
            assert not third
        assert [r.getMessage() for r in caplog.records] == ["a reconcile has held this thread for long"]
        assert caplog.records[0].object == "uid-1"  # type: ignore[attr-defined]
        with locks.hold("uid-2") as other:
            assert other  # another thread is not held up
    with locks.hold("uid-1") as again:
        assert again
