"""What the planner needs from a store beyond search (issue 13 §6), on every store the engine may run with.

- A hit carries the thread's latest rating comment (what failed, in the rater's words), redacted.
- A thread is fetched by its id (a person named it), shaped like a hit, from the cache or the central store.

Stores: DuckDB and a real PostgreSQL + pgvector (the `store` fixture), the in-memory store, and the
cluster cache (DuckDB + central PostgreSQL).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.knowledge.base import KnowledgeStore, ThreadRecord
from controller.knowledge.duckdb_store import DuckDBStore
from controller.knowledge.embedding import HashingEmbedder
from controller.knowledge.memory import MemoryKnowledgeStore
from controller.knowledge.postgres_store import PostgresStore
from controller.knowledge.sqlstore import SqlStore
from controller.knowledge.sync import ClusterCache, SyncAgent

pytestmark = pytest.mark.timeout(120)

RESTART = ThreadRecord("th-7", "restart the worker deployment", "restarted Deployment shop/worker", rating=20,
                       user_id="alice", cluster_id="eks-1",
                       steps=({"action": "restart", "params": {"kind": "Deployment", "name": "worker",
                                                               "namespace": "shop"}},))


def _comments_follow_the_latest_rating(store: KnowledgeStore) -> None:
    store.add_thread(RESTART)
    assert store.search("restart worker")[0].comment == ""  # rated on import, no comment given
    store.add_rating("th-7", "alice", 20, "restarting did nothing, it was OOMKilled again")
    hit = store.search("restart worker")[0]
    assert hit.thread_id == "th-7" and hit.comment == "restarting did nothing, it was OOMKilled again"
    store.add_rating("th-7", "bob", 40)  # a later rating without a comment keeps the last one said
    assert store.search("restart worker")[0].comment == "restarting did nothing, it was OOMKilled again"
    store.add_rating("th-7", "carol", 10, "still crashing; the db password is Gr4nite-Owl-77")
    hit = store.search("restart worker")[0]
    assert hit.comment.startswith("still crashing") and "Gr4nite-Owl-77" not in hit.comment
    looked_up = store.get("th-7")
    assert looked_up is not None and looked_up.comment == hit.comment
    assert looked_up.steps == hit.steps and looked_up.rating == hit.rating
    assert store.get("no-such-thread") is None


def test_sql_stores_return_the_latest_rating_comment(store: SqlStore) -> None:
    _comments_follow_the_latest_rating(store)


def test_memory_store_returns_the_latest_rating_comment() -> None:
    _comments_follow_the_latest_rating(MemoryKnowledgeStore())


def test_a_comment_stored_before_survives_reopening_the_file(tmp_path: Path) -> None:
    """Comments were always kept in `ratings.comment`; a file written earlier needs no migration to show them."""
    first = DuckDBStore(tmp_path / "k.duckdb", HashingEmbedder(), origin="c1")
    first.add_thread(RESTART)
    first.add_rating("th-7", "alice", 20, "restarting did nothing")
    first.close()
    again = DuckDBStore(tmp_path / "k.duckdb", HashingEmbedder(), origin="c1")
    try:
        assert again.search("restart the worker")[0].comment == "restarting did nothing"
    finally:
        again.close()


def test_the_cluster_cache_fetches_a_named_thread_from_the_central_store(pg_url: str, tmp_path: Path) -> None:
    central = PostgresStore(pg_url, HashingEmbedder(), origin="central")
    central.add_thread(ThreadRecord("ops-scale-frontend", "scale the frontend to 6", "scaled", rating=100,
                                    cluster_id="eu-west-prod"))
    central.add_rating("ops-scale-frontend", "zoe", 100, "worked before the sale")
    local = DuckDBStore(tmp_path / "c.duckdb", HashingEmbedder(), origin="c")
    local.add_thread(ThreadRecord("here", "restart web", "restarted", rating=100))
    cache = ClusterCache(local, SyncAgent(local, lambda: PostgresStore(pg_url, HashingEmbedder(), origin="central")))
    try:
        far = cache.get("ops-scale-frontend")
        assert far is not None and far.cluster_id == "eu-west-prod" and far.comment == "worked before the sale"
        near = cache.get("here")
        assert near is not None and near.request == "restart web"
        assert cache.get("nowhere") is None
    finally:
        local.close()
        central.close()
