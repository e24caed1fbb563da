"""Opening a store from settings or a URL: the one place that picks DuckDB, PostgreSQL or the cache.

- no URL: `DuckDBStore` at `<home>/knowledge.duckdb`;
- `AIOP_KNOWLEDGE_URL=postgresql://...`: a `ClusterCache` (DuckDB at `<home>/knowledge-cache.duckdb`
  plus a `SyncAgent` to the central PostgreSQL; the caller starts the agent);
- `--db URL` on the CLI: `postgresql://` / `postgres://` opens PostgreSQL, anything else is a DuckDB path.
"""

from __future__ import annotations

from pathlib import Path

from controller.knowledge.duckdb_store import DuckDBStore
from controller.knowledge.embedding import Embedder
from controller.knowledge.sqlstore import SqlStore
from controller.knowledge.sync import ClusterCache, SyncAgent

DB_FILE = "knowledge.duckdb"
CACHE_FILE = "knowledge-cache.duckdb"


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def open_url(url: str, embedder: Embedder | None = None, origin: str = "local",
             maintenance_work_mem: str | None = None) -> SqlStore:
    """`maintenance_work_mem` (PostgreSQL only; None: the store's default) is AIOP_PG_MAINTENANCE_WORK_MEM."""
    if is_postgres(url):
        from controller.knowledge.postgres_store import DEFAULT_MAINTENANCE_WORK_MEM, PostgresStore

        return PostgresStore(url, embedder, origin=origin,
                             maintenance_work_mem=maintenance_work_mem or DEFAULT_MAINTENANCE_WORK_MEM)
    return DuckDBStore(url.removeprefix("duckdb://"), embedder, origin=origin)


def open_local(home: Path, embedder: Embedder | None = None, origin: str = "local") -> DuckDBStore:
    return DuckDBStore(home / DB_FILE, embedder, origin=origin)


def open_cache(home: Path, url: str, embedder: Embedder | None = None, origin: str = "local",
               cache_size: int = 5000, maintenance_work_mem: str | None = None) -> ClusterCache:
    local = DuckDBStore(home / CACHE_FILE, embedder, origin=origin)
    agent = SyncAgent(local, lambda: open_url(url, embedder, origin=origin, maintenance_work_mem=maintenance_work_mem),
                      cache_size=cache_size)
    return ClusterCache(local, agent)
