"""Schema migrations: an ordered list of small functions, each applied once and recorded.

Why not a tool: two dialects, a handful of steps. `apply` runs the missing ones in order, each in
its own transaction together with its row in `schema_migrations`, so a crash leaves either the
whole step or none of it. Names are the key: never rename or reorder a shipped migration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Migration = tuple[str, Callable[[Any], None]]


def apply(conn: Any, migrations: Sequence[Migration], begin: Callable[[], Any], now: str) -> list[str]:
    """Apply what is missing. `conn.execute(sql, params)`; `begin()` is a transaction context."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations").fetchall()}
    applied = []
    for name, step in migrations:
        if name in done:
            continue
        with begin():
            step(conn)
            conn.execute(_insert(conn), (name, now))
        applied.append(name)
    return applied


def _insert(conn: Any) -> str:
    mark = "%s" if type(conn).__module__.startswith("psycopg") else "?"
    return f"INSERT INTO schema_migrations (name, applied_at) VALUES ({mark}, {mark})"
