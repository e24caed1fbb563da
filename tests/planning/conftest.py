"""Planner test fixtures: one backend (one model load) per test session."""

from __future__ import annotations

import time

import pytest

from controller.planning.offline.planner import OfflineBackend, shared_classifier


@pytest.fixture(scope="session")
def backend() -> OfflineBackend:
    started = time.perf_counter()
    classifier = shared_classifier()
    classifier.classify("warm up the model and the anchor matrix")
    print(f"\noffline planner: model + anchors loaded in {time.perf_counter() - started:.1f}s")
    return OfflineBackend(classifier)
