"""Run `aiop knowledge bench` for DuckDB and for a real PostgreSQL started here (as in the tests).

`.venv/bin/python bench/knowledge/run.py 10000 100000` prints one line per store and size;
`--store postgres` (or duckdb) runs one store only.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from controller.tools.knowledge_bench import run_bench
from tests.knowledge.pgserver import PgServer

# room to build the HNSW graph in memory after the bulk load (1M x 384 needs ~2 GB; the operator's
# default, AIOP_PG_MAINTENANCE_WORK_MEM, is 1GB)
MAINTENANCE_WORK_MEM = "4GB"


def main() -> None:
    args = sys.argv[1:]
    stores = ["duckdb", "postgres"]
    if "--store" in args:
        i = args.index("--store")
        stores = [args[i + 1]]
        del args[i:i + 2]
    sizes = [int(a) for a in args] or [10_000]
    server = PgServer().init()
    try:
        for n in sizes:
            for kind in stores:
                db = server.fresh_database(f"bench{n}") if kind == "postgres" else None
                print(run_bench(kind, n, db=db, home=Path(tempfile.mkdtemp(prefix="aiop-bench-")),
                                maintenance_work_mem=MAINTENANCE_WORK_MEM), flush=True)
    finally:
        server.destroy()


if __name__ == "__main__":
    main()
