"""Knowledge that steers later plans, through the real controller and the real knowledge store (issue 13 §6).

The store is the one production opens under AIOP_HOME (DuckDB, `factory.open_local`, embedded with the
planner's MiniLM); the plans come from the offline planner inside the real controller (the scripted
backend hands each request to it). The Kubernetes API is the sandbox, as in every loop test.

- A thread rated below 100 with a comment: the rating and its comment (redacted) reach the store, and a
  later request for the same change in another thread says that it failed, quoting the comment.
- A thread named by id ("do what X did, for web") in a store where many other threads outrank it for
  those words: the engine fetches it by id and the plan takes its action and value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from controller.api.constants import Phase
from controller.engine.services import PlannerEmbedder
from controller.knowledge import factory
from controller.knowledge.base import ThreadRecord
from controller.planning.offline.planner import OfflineBackend, shared_classifier
from tests.engine.conftest import ALICE, Loop, start_loop

pytestmark = pytest.mark.timeout(300)

SECRET = "Gr4nite-Owl-77"


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    home = tmp_path_factory.mktemp("aiop-knowledge-home")
    store = factory.open_local(home, PlannerEmbedder())
    try:
        yield from start_loop(home, knowledge=store)
    finally:
        store.close()


@pytest.fixture
def offline(loop: Loop) -> Iterator[OfflineBackend]:
    """Every planning round of this test is answered by the offline planner."""
    backend = OfflineBackend(shared_classifier())
    loop.backend.enqueue(*[backend.propose] * 6)
    yield backend
    loop.backend.replies.clear()


def _latest(obj: dict[str, Any]) -> dict[str, Any]:
    revision: dict[str, Any] = obj["status"]["revisions"][-1]
    return revision


def test_a_low_rating_comment_steers_a_later_plan(loop: Loop, offline: OfflineBackend) -> None:
    loop.client.say("shop", "restart-worker", "restart the worker deployment", ALICE)
    obj = loop.client.wait_settled("shop", "restart-worker")
    assert obj["status"]["phase"] == Phase.AWAITING_APPROVAL, obj["status"]["messages"][-1]
    assert [a["action"] for a in _latest(obj)["actions"]] == ["restart"]
    loop.client.approve("shop", "restart-worker", ALICE)
    obj = loop.client.wait_settled("shop", "restart-worker")
    assert obj["status"]["phase"] == Phase.AWAITING_RATING, obj["status"]["messages"][-1]
    first = obj["status"]["threadId"]
    loop.client.rate("shop", "restart-worker", ALICE, 20,
                     comment=f"restarting did nothing, it was OOMKilled again (db password is {SECRET})")
    loop.client.wait_settled("shop", "restart-worker")

    stored = loop.knowledge.get(first)
    assert stored is not None and stored.rating == 20
    assert "OOMKilled again" in stored.comment and SECRET not in stored.comment and "[REDACTED]" in stored.comment

    loop.client.say("shop", "restart-worker-again", "please restart the worker deployment", ALICE)
    obj = loop.client.wait_settled("shop", "restart-worker-again")
    revision = _latest(obj)
    assert [a["action"] for a in revision["actions"]] == ["restart"]  # asked for: kept, but the failure is said
    assert first in revision["answer"] and "rated 20" in revision["answer"]
    assert "restarting did nothing, it was OOMKilled again" in revision["answer"]
    assert SECRET not in str(obj["status"])


def _crowd(n: int) -> list[ThreadRecord]:
    """Threads that share every word of "do what ops-scale-frontend did, but for web" with the request."""
    return [ThreadRecord(f"t-{i:04d}", f"ops: scale the frontend-{i} deployment for the web team, do it like last time",
                         f"scaled frontend-{i} in web to {2 + i % 5} replicas", rating=100 if i % 3 else 80,
                         cluster_id="eu-west-prod",
                         steps=({"action": "scale", "params": {"kind": "Deployment", "name": f"frontend-{i}",
                                                               "namespace": "web", "replicas": 2 + i % 5}},))
            for i in range(n)]


def test_a_named_thread_is_found_by_id_in_a_large_store(loop: Loop, offline: OfflineBackend) -> None:
    named = ThreadRecord("ops-scale-frontend", "bump the storefront to six instances before the sale",
                         "storefront now runs 6 pods", rating=100, cluster_id="eu-west-prod",
                         steps=({"action": "scale", "params": {"kind": "Deployment", "name": "storefront",
                                                               "namespace": "retail", "replicas": 6}},))
    store: Any = loop.knowledge
    store.add_threads([*_crowd(300), named])
    text = "do what ops-scale-frontend did, but for web"
    assert "ops-scale-frontend" not in {h.thread_id for h in store.search(text, top_k=5)}  # search alone misses it

    loop.client.say("shop", "like-frontend", text, ALICE)
    obj = loop.client.wait_settled("shop", "like-frontend")
    assert obj["status"]["phase"] == Phase.AWAITING_APPROVAL, obj["status"]["messages"][-1]
    revision = _latest(obj)
    assert [(a["action"], a["params"]["name"], a["params"]["replicas"]) for a in revision["actions"]] == [
        ("scale", "web", 6)]
    assert revision["reusedFrom"] == ["ops-scale-frontend"]
    assert "ops-scale-frontend" in revision["answer"] and "eu-west-prod" in revision["answer"]
    assert loop.deployment("web")["spec"]["replicas"] == 2  # nothing changes before approval
