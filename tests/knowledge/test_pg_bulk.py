"""PostgreSQL bulk ingest: COPY into staging tables, indexes dropped for an import into an empty table and
built once afterwards (with AIOP_PG_MAINTENANCE_WORK_MEM), the same results as row-by-row writes (ratings
aggregated, vectors set, idempotent)."""

from __future__ import annotations

import psycopg
import pytest

from controller.knowledge import events as ev
from controller.knowledge.base import ThreadRecord
from controller.knowledge.embedding import HashingEmbedder
from controller.knowledge.factory import open_url
from controller.knowledge.postgres_store import BULK_INDEXES, BULK_MIN, PostgresStore
from controller.settings import SettingsError, load_settings
from tests.knowledge.pgserver import PgServer


def _records(n: int) -> list[ThreadRecord]:
    return [ThreadRecord(thread_id=f"b{i}", request=f"scale app{i} in shop to {i % 9 + 1} replicas",
                         resolution=f"scaled app{i}", rating=100 if i % 2 else 60, tags=("k8s",), user_id=f"u{i % 7}",
                         timestamp="2025-01-01T00:00:00Z") for i in range(n)]


def _indexes(store: PostgresStore) -> set[str]:
    return {r[0] for r in store._all("SELECT indexname FROM pg_indexes WHERE tablename = 'threads'")}


def test_bulk_import_builds_indexes_once_and_matches_row_writes(pg_url: str) -> None:
    store = PostgresStore(pg_url, HashingEmbedder(), origin="c1")
    try:
        records = _records(BULK_MIN + 200)
        events = [ev.new_event("thread", ev.thread_payload(r), "c1", r.timestamp) for r in records]
        assert store.ingest(events, remote=False) == len(records)
        assert not set(BULK_INDEXES) & _indexes(store)  # dropped for the load
        assert store.ingest(events, remote=True) == 0  # ids already stored: idempotent
        store.add_threads(_records(3))  # a small write while the load is pending: no index work
        hits = store.search("scale app17 in shop", top_k=3)  # the first search builds the indexes
        assert hits and hits[0].thread_id == "b17"
        assert set(BULK_INDEXES) <= _indexes(store)
        assert "meaning rank" in hits[0].why and "full-text rank" in hits[0].why
        assert store._all("SELECT count(*) FROM threads WHERE embedding IS NULL")[0][0] == 0
        assert store._all("SELECT rating FROM threads WHERE thread_id = 'b17'")[0][0] == 100
        assert store.last_seq() == len(records) + 3
        store.add_rating("b17", "someone", 0)
        assert store._all("SELECT rating FROM threads WHERE thread_id = 'b17'")[0][0] == 50
    finally:
        store.close()


def test_update_of_existing_thread_keeps_other_ratings_and_new_vector(pg_url: str) -> None:
    store = PostgresStore(pg_url, HashingEmbedder(), origin="c1")
    try:
        store.add_thread(ThreadRecord(thread_id="x", request="old text", resolution="r", rating=40, user_id="a",
                                      timestamp="2025-01-01T00:00:00Z"))
        store.add_rating("x", "b", 80)
        before = store._all("SELECT embedding::text FROM threads WHERE thread_id = 'x'")[0][0]
        store.add_thread(ThreadRecord(thread_id="x", request="new text entirely", resolution="r2", rating=100,
                                      user_id="a", timestamp="2025-01-02T00:00:00Z"))
        rating, after = store._all("SELECT rating, embedding::text FROM threads WHERE thread_id = 'x'")[0]
        assert rating == 90  # a's rating is now 100, b's 80
        assert after != before
        assert set(BULK_INDEXES) <= _indexes(store)  # small writes never drop indexes
    finally:
        store.close()


def test_index_build_memory_comes_from_the_settings(pg_url: str, pg: PgServer) -> None:
    """AIOP_PG_MAINTENANCE_WORK_MEM reaches PostgreSQL's index build through the factory: a value PostgreSQL
    refuses (below its 1MB minimum) fails the build with PostgreSQL's own message; a sane one builds."""
    records = _records(BULK_MIN)
    events = [ev.new_event("thread", ev.thread_payload(r), "c1", r.timestamp) for r in records]
    for value, url in (("1kB", pg_url), ("64MB", pg.fresh_database("t_mwm_ok"))):
        memory = load_settings({"AIOP_PG_MAINTENANCE_WORK_MEM": value}).pg_maintenance_work_mem
        store = open_url(url, HashingEmbedder(), origin="c1", maintenance_work_mem=memory)
        try:
            store.ingest(events, remote=False)
            if value == "1kB":
                with pytest.raises(psycopg.Error, match="maintenance_work_mem"):
                    store.search("scale app17 in shop", top_k=1)
            else:
                assert store.search("scale app17 in shop", top_k=1)[0].thread_id == "b17"
                assert isinstance(store, PostgresStore) and set(BULK_INDEXES) <= _indexes(store)
        finally:
            store.close()


def test_index_build_memory_setting_refuses_what_is_no_size() -> None:
    with pytest.raises(SettingsError, match="AIOP_PG_MAINTENANCE_WORK_MEM"):
        load_settings({"AIOP_PG_MAINTENANCE_WORK_MEM": "1GB'; DROP TABLE threads; --"})
