"""Run `aiop knowledge bench` for DuckDB and for a real PostgreSQL started here (as in the tests).

`.venv/bin/python bench/knowledge/run.py 10000 100000` prints one line per store and size.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from controller.tools.knowledge_bench import run_bench
from tests.knowledge.pgserver import PgServer


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000]
    stores = ["duckdb", "postgres"]
    server = PgServer().init()
    try:
        for n in sizes:
            for kind in stores:
                db = server.fresh_database(f"bench{n}") if kind == "postgres" else None
                print(run_bench(kind, n, db=db, home=Path(tempfile.mkdtemp(prefix="aiop-bench-"))), flush=True)
    finally:
        server.destroy()


if __name__ == "__main__":
    main()
