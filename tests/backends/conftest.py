"""Shared pieces of the backend tests: the shop cluster, a requester, a planning request."""

from __future__ import annotations

from typing import Any

import pytest

from controller.api.types import Identity
from controller.planning.memory_cluster import MemoryCluster
from controller.planning.types import PlanningRequest

ALICE = Identity(user="alice@example.com", groups=["devs"])


def deployment(name: str, replicas: int = 2, env: list[dict[str, str]] | None = None,
               annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "shop", "labels": {"app": name}, "annotations": annotations or {}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": f"ghcr.io/shop/{name}:1.0",
                                                           "env": env or []}]}}},
            "status": {"readyReplicas": replicas}}


@pytest.fixture
def shop() -> MemoryCluster:
    return MemoryCluster([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        deployment("web"), deployment("worker", 1),
    ])


def request(text: str, thread: str = "t1", **extra: Any) -> PlanningRequest:
    return PlanningRequest(thread_id=thread, turns=[text], requester=ALICE, namespace="shop", **extra)
