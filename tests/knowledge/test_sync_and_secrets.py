"""The cluster cache syncs with a real PostgreSQL that goes away mid-run; secrets never reach a table."""

from __future__ import annotations

from pathlib import Path

import duckdb
import psycopg
import pytest

from controller.knowledge.base import ThreadRecord
from controller.knowledge.duckdb_store import DuckDBStore
from controller.knowledge.embedding import HashingEmbedder
from controller.knowledge.postgres_store import PostgresStore
from controller.knowledge.sync import ClusterCache, SyncAgent
from tests.knowledge.pgserver import PgServer

pytestmark = pytest.mark.timeout(180)


def _agent(local: DuckDBStore, url: str, cache_size: int = 5000) -> SyncAgent:
    return SyncAgent(local, lambda: PostgresStore(url, HashingEmbedder(), origin="central"), batch=3,
                     cache_size=cache_size)


def test_sync_survives_an_outage_and_merges_ratings(pg: PgServer, pg_url: str, tmp_path: Path) -> None:
    eks = DuckDBStore(tmp_path / "eks.duckdb", HashingEmbedder(), origin="eks")
    aks = DuckDBStore(tmp_path / "aks.duckdb", HashingEmbedder(), origin="aks")
    a_eks, a_aks = _agent(eks, pg_url), _agent(aks, pg_url)
    eks.add_threads([ThreadRecord(f"t{i}", f"scale service {i} to {i} replicas", f"scaled {i}", rating=100,
                                  user_id="alice") for i in range(5)])
    first = a_eks.sync_once()
    assert first.ok and first.pushed == 5
    assert a_eks.sync_once().pushed == 0  # only what is new is sent

    pg.stop()
    try:
        eks.add_rating("t1", "alice", 40)
        eks.add_thread(ThreadRecord("t9", "rotate the ingress certificate", "rotated it", rating=100))
        down = a_eks.sync_once()
        assert not down.ok and a_eks.pending() == 2
        assert eks.search("rotate ingress certificate")[0].thread_id == "t9"  # the cache still answers
    finally:
        pg.start()

    back = a_eks.sync_once()
    assert back.ok and back.pushed == 2 and a_eks.pending() == 0
    assert a_aks.sync_once().pulled == 7
    assert aks.thread("t9") is not None
    # both clusters rate t2; they converge whatever order the events travel in
    aks.add_rating("t2", "bob", 70)
    eks.add_rating("t2", "carol", 90)
    for agent in (a_aks, a_eks, a_aks):
        assert agent.sync_once().ok
    central = PostgresStore(pg_url, HashingEmbedder())
    for s in (eks, aks, central):
        detail = s.thread("t2")
        assert detail is not None and detail.ratings == {"alice": 100, "bob": 70, "carol": 90}
        assert s.thread("t1").ratings == {"alice": 40}  # type: ignore[union-attr]
    assert central.count() == 6
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone() == (9, 9)
    central.close()


def test_forget_user_travels_and_old_events_stay_dropped(pg_url: str, tmp_path: Path) -> None:
    eks = DuckDBStore(tmp_path / "eks.duckdb", HashingEmbedder(), origin="eks")
    aks = DuckDBStore(tmp_path / "aks.duckdb", HashingEmbedder(), origin="aks")
    a_eks, a_aks = _agent(eks, pg_url), _agent(aks, pg_url)
    eks.add_thread(ThreadRecord("x", "drain node ip-10-0-0-1", "drained", user_id="mallory", rating=100))
    a_eks.sync_once()
    a_aks.sync_once()
    aks.forget_user("mallory")
    a_aks.sync_once()
    a_eks.sync_once()
    assert eks.thread("x") is None and aks.thread("x") is None
    central = PostgresStore(pg_url, HashingEmbedder())
    assert central.thread("x") is None
    central.ingest(eks.events_after(0, 100) + aks.events_after(0, 100))
    assert central.thread("x") is None
    central.close()


def test_bounded_cache_keeps_rated_100_and_unpushed(pg_url: str, tmp_path: Path) -> None:
    local = DuckDBStore(tmp_path / "c.duckdb", HashingEmbedder(), origin="c")
    local.add_threads([ThreadRecord(f"r{i}", f"request {i}", "done", rating=50,
                                    timestamp=f"2025-01-{i + 1:02d}T00:00:00Z") for i in range(6)] +
                      [ThreadRecord("best", "request best", "done", rating=100, timestamp="2024-01-01T00:00:00Z")])
    agent = _agent(local, pg_url, cache_size=3)
    report = agent.sync_once()
    assert report.ok and report.evicted == 4
    assert {h for h in ("best", "r5", "r4") if local.thread(h)} == {"best", "r5", "r4"}


def test_cluster_cache_falls_back_to_central(pg_url: str, tmp_path: Path) -> None:
    central = PostgresStore(pg_url, HashingEmbedder())
    central.add_thread(ThreadRecord("far", "expand the persistent volume of postgres", "resized pvc", rating=100))
    local = DuckDBStore(tmp_path / "c.duckdb", HashingEmbedder(), origin="c")
    cache = ClusterCache(local, _agent(local, pg_url))
    assert [h.thread_id for h in cache.search("expand persistent volume")] == ["far"]
    central.close()


SECRETS = ["AKIAIOSFODNN7EXAMPLE", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "hunter2-Sup3rS3cret",
           "xoxb-1234567890-abcdefghij", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N"]
PLANTED = (f"my aws key is {SECRETS[0]} and token {SECRETS[1]}, db password={SECRETS[2]} "
           f"slack {SECRETS[3]} Authorization: Bearer {SECRETS[4]}")


def _raw_dump_duckdb(path: Path) -> str:
    conn = duckdb.connect(str(path), read_only=True)
    tables = [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables "
                                         "WHERE table_schema = 'main'").fetchall()]
    text = "".join(repr(conn.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables if t != "embeddings")
    conn.close()
    return text


def test_secrets_never_stored(pg_url: str, tmp_path: Path) -> None:
    local = DuckDBStore(tmp_path / "s.duckdb", HashingEmbedder(), origin="c")
    local.add_thread(ThreadRecord("sec", PLANTED, PLANTED, response=PLANTED, context="prod", user_id="alice",
                                  keywords=(SECRETS[0],), tags=("aws",), rating=100,
                                  steps=({"action": "create-secret", "params": {"value": f"password={SECRETS[2]}",
                                                                                "note": SECRETS[1]}},)))
    local.add_message("sec", "user", "alice", PLANTED)
    local.add_rating("sec", "bob", 100, comment=PLANTED)
    local.add_plan_revision("sec", 1, "sha256:x", PLANTED, [{"action": "x", "params": {"t": SECRETS[3]}}])
    local.set_preference("alice", "note", PLANTED)
    assert local.search("aws key token")[0].thread_id == "sec"
    agent = _agent(local, pg_url)
    assert agent.sync_once().ok
    local.close()
    dumps = {"duckdb": _raw_dump_duckdb(tmp_path / "s.duckdb")}
    with psycopg.connect(pg_url) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        dumps["postgres"] = "".join(repr(conn.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables)
    for where, text in dumps.items():
        assert "[REDACTED]" in text, where
        for secret in SECRETS:
            assert secret not in text, (where, secret)
            assert secret[:12] not in text, (where, secret)
