"""Time searches again on a store a bench already filled (no re-ingest): the same queries as `aiop knowledge bench`.

`.venv/bin/python bench/knowledge/search_only.py postgresql://.../big1000000 1000000 [QUERIES]`, or a DuckDB
file the bench left (`--home DIR` -> DIR/bench.duckdb; its in-memory indexes are rebuilt first, not timed).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from controller.knowledge.duckdb_store import DuckDBStore
from controller.knowledge.postgres_store import PostgresStore
from controller.tools.knowledge_bench import TimedEmbedder, corpus, search_latency


def main() -> None:
    url, n = sys.argv[1], int(sys.argv[2])
    queries = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    kind = "postgres" if url.startswith("postgres") else "duckdb"
    store: Any = PostgresStore(url, TimedEmbedder()) if kind == "postgres" else DuckDBStore(url, TimedEmbedder())
    if kind == "duckdb":
        store.build_indexes()
    p50, p95 = search_latency(store, corpus(n), queries)
    store.close()
    print(f"{kind} {n} threads: search p50 {p50:.1f} ms, p95 {p95:.1f} ms ({queries} queries, search only)")


if __name__ == "__main__":
    main()
