"""One contract, both stores (DuckDB file and a real PostgreSQL + pgvector)."""

from __future__ import annotations

import pytest

from controller.knowledge.base import ThreadRecord
from controller.knowledge.sqlstore import SqlStore

pytestmark = pytest.mark.timeout(120)

CORPUS = [
    ThreadRecord("scale-1", "scale the checkout deployment in shop to 6 replicas",
                 "scaled Deployment checkout in namespace shop to 6 replicas", rating=100, tags=("k8s", "scale"),
                 context="prod-eks", cluster_id="eks-1", user_id="alice",
                 steps=({"action": "scale", "params": {"namespace": "shop", "name": "checkout", "replicas": 6}},)),
    ThreadRecord("scale-2", "scale the cart deployment to 3 replicas", "scaled cart to 3 replicas", rating=60,
                 tags=("k8s", "scale"), context="dev-aks", cluster_id="aks-1", user_id="bob"),
    ThreadRecord("s3-1", "create an s3 bucket for application logs with versioning",
                 "created S3 bucket app-logs with versioning enabled", rating=90, tags=("aws", "s3"),
                 context="prod-eks", cluster_id="eks-1", user_id="carol"),
    ThreadRecord("netpol-1", "block all ingress traffic to the payments namespace except from the gateway",
                 "added a NetworkPolicy default-deny with an allow rule for the gateway", rating=100,
                 tags=("k8s", "security"), context="prod-eks", cluster_id="eks-1", user_id="alice"),
]


@pytest.fixture
def filled(store: SqlStore) -> SqlStore:
    store.add_threads(CORPUS)
    return store


def test_search_returns_thread_steps_and_why(filled: SqlStore) -> None:
    hits = filled.search("scale checkout to 6 replicas", top_k=3)
    assert hits[0].thread_id == "scale-1"
    assert hits[0].steps[0]["action"] == "scale"
    assert "full-text" in hits[0].why and "rated 100" in hits[0].why
    assert hits[0].rating == 100 and hits[0].cluster_id == "eks-1" and hits[0].tags == ["k8s", "scale"]


def test_filters(filled: SqlStore) -> None:
    assert {h.thread_id for h in filled.search("scale deployment replicas", cluster="aks-1")} == {"scale-2"}
    assert {h.thread_id for h in filled.search("scale deployment replicas", min_rating=100)} <= {"scale-1", "netpol-1"}
    assert "scale-2" not in {h.thread_id for h in filled.search("scale deployment replicas", context="prod-eks")}
    assert {h.thread_id for h in filled.search("bucket logs", tags=["aws"])} == {"s3-1"}
    assert filled.search("bucket logs", tags=["aws", "k8s"]) == []


def test_rated_100_first_among_equals(store: SqlStore) -> None:
    store.add_threads([ThreadRecord("a", "restart the web deployment", "restarted web", rating=80),
                       ThreadRecord("b", "restart the web deployment", "restarted web", rating=100)])
    hits = store.search("restart the web deployment")
    assert [h.thread_id for h in hits] == ["b", "a"]


def test_ratings_one_per_user_and_average(filled: SqlStore) -> None:
    filled.add_rating("scale-2", "bob", 100)  # bob's own rating (from the import) is replaced
    filled.add_rating("scale-2", "dave", 80)
    detail = filled.thread("scale-2")
    assert detail is not None
    assert detail.ratings == {"bob": 100, "dave": 80}
    assert detail.record.rating == 90
    with pytest.raises(ValueError):
        filled.add_rating("scale-2", "dave", 101)


def test_messages_revisions_and_keeping_ids(filled: SqlStore) -> None:
    filled.add_message("s3-1", "user", "carol", "please make a bucket", "2025-01-01T00:00:00Z")
    filled.add_message("s3-1", "assistant", "", "here is the plan", "2025-01-01T00:00:01Z")
    filled.add_plan_revision("s3-1", 1, "sha256:abc", "Create bucket", [{"action": "create-s3-bucket"}])
    detail = filled.thread("s3-1")
    assert detail is not None
    assert [m["text"] for m in detail.messages] == ["please make a bucket", "here is the plan"]
    assert detail.revisions[0]["digest"] == "sha256:abc"
    assert filled.thread("nope") is None
    assert filled.count() == 4


def test_reingest_is_idempotent_and_does_not_reembed(filled: SqlStore) -> None:
    calls = filled.embedder.calls  # type: ignore[attr-defined]
    filled.add_threads(CORPUS)
    assert filled.embedder.calls == calls  # type: ignore[attr-defined]
    assert filled.count() == 4
    events = filled.events_after(0, 1000)
    assert filled.ingest(events) == 0  # every id is known


def test_preferences_learned_and_explicit(filled: SqlStore) -> None:
    prefs = filled.preferences("alice")
    assert prefs["namespace"] == "shop" and prefs["replicas"] == 6
    filled.set_preference("alice", "sync_engine", "argocd")
    filled.set_preference("alice", "replicas", 3)
    prefs = filled.preferences("alice")
    assert prefs["sync_engine"] == "argocd" and prefs["replicas"] == 3
    assert filled.preferences("nobody") == {}


def test_retention(store: SqlStore) -> None:
    store.add_threads([ThreadRecord("old", "rotate the tls certificate", "rotated", timestamp="2020-01-01T00:00:00Z"),
                       ThreadRecord("new", "rotate the tls certificate again", "rotated",
                                    timestamp="2025-06-01T00:00:00Z")])
    store.add_message("old", "user", "u", "rotate it", "2020-01-01T00:00:00Z")
    assert store.purge_older_than(30, now="2025-06-10T00:00:00Z") == 1
    assert store.thread("old") is None and store.thread("new") is not None
    assert [h.thread_id for h in store.search("rotate tls certificate")] == ["new"]
    assert all(e.payload.get("thread_id") != "old" for e in store.events_after(0, 1000))


def test_forget_user(filled: SqlStore) -> None:
    filled.add_rating("s3-1", "alice", 10)
    filled.set_preference("alice", "replicas", 2)
    filled.add_message("scale-2", "user", "alice", "alice was here")
    assert filled.forget_user("alice") == 2
    assert filled.thread("scale-1") is None and filled.thread("netpol-1") is None
    s3 = filled.thread("s3-1")
    assert s3 is not None and "alice" not in s3.ratings and s3.record.rating == 90
    assert filled.preferences("alice") == {}
    scale2 = filled.thread("scale-2")
    assert scale2 is not None and scale2.messages == []
    raw = [e for e in filled.events_after(0, 1000) if e.kind != "forget-user"]
    assert "alice" not in repr(raw)
    assert {h.thread_id for h in filled.search("scale checkout replicas")} <= {"scale-2"}


def test_migrations_recorded_once(store: SqlStore) -> None:
    names = [r[0] for r in store._all("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == sorted(names) and len(names) == len(set(names)) >= 2
