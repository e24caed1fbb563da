"""Shared pieces of the backend tests: the shop cluster, a requester, a planning request, the real model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.api.types import Identity
from controller.planning.memory_cluster import MemoryCluster
from controller.planning.types import PlanningRequest
from tests.backends.llama_server import LlamaServer, gguf

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


@pytest.fixture(scope="session")
def gemma_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Gemma 3 270M GGUF, assembled once per test session (per xdist worker) into a temporary cache."""
    return gguf(tmp_path_factory.getbasetemp() / "gguf-cache")


@pytest.fixture(scope="session")
def llama_server(gemma_gguf: Path) -> Iterator[LlamaServer]:
    """One llama.cpp server for every test that needs it (they share the `llama` xdist group)."""
    with LlamaServer(gemma_gguf) as server:
        yield server
