"""The central store: PostgreSQL + pgvector, shared by every cluster (on AWS, reachable from Azure).

URL: `postgresql://USER:PASSWORD@HOST:5432/DB?sslmode=verify-full&sslrootcert=/etc/aiop/rds-ca.pem`.
For RDS/Aurora use `sslmode=verify-full` with the AWS RDS CA bundle (global-bundle.pem) so the
server's name is checked; `sslmode=require` encrypts without checking the name. The password may
instead come from libpq's PGPASSWORD / ~/.pgpass, or an IAM auth token, never from code.

Full text is a stored `tsvector` (english) with a GIN index, ranked by ts_rank_cd over an OR of the
query's words; vectors are `vector(384)` with an HNSW index (cosine). The same events and appliers
as DuckDB (sqlstore.py); a dropped connection is reopened on the next call, so the sync agent's
retries work across a server restart.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg

from controller.knowledge import events as ev
from controller.knowledge import migrations
from controller.knowledge.base import Filters
from controller.knowledge.embedding import DIM, Embedder, default_embedder
from controller.knowledge.ranking import Candidate
from controller.knowledge.sqlstore import SqlStore, query_terms


def _m001_core(conn: Any) -> None:
    for sql in (
        "CREATE TABLE events (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, "
        "kind TEXT NOT NULL, origin TEXT NOT NULL, thread_id TEXT, user_id TEXT, ts TEXT NOT NULL, "
        "payload TEXT NOT NULL, remote BOOLEAN NOT NULL DEFAULT false)",
        "CREATE INDEX events_thread ON events (thread_id)",
        "CREATE INDEX events_user ON events (user_id)",
        "CREATE TABLE threads (thread_id TEXT PRIMARY KEY, cluster_id TEXT, user_id TEXT, request_text TEXT, "
        "response_text TEXT, resolution_text TEXT, resolution_status TEXT, rating INTEGER, ts TEXT, text_hash TEXT, "
        "updated_ts TEXT, updated_event TEXT)",
        "CREATE INDEX threads_user ON threads (user_id)",
        "CREATE INDEX threads_ts ON threads (ts)",
        "CREATE TABLE thread_metadata (thread_id TEXT PRIMARY KEY, context TEXT, keywords TEXT, "
        "resolution_steps TEXT, tags TEXT)",
        "CREATE TABLE messages (message_id TEXT PRIMARY KEY, thread_id TEXT, role TEXT, user_id TEXT, text TEXT, ts TEXT)",
        "CREATE INDEX messages_thread ON messages (thread_id)",
        "CREATE TABLE plan_revisions (thread_id TEXT, revision INTEGER, digest TEXT, summary TEXT, actions TEXT, "
        "ts TEXT, PRIMARY KEY (thread_id, revision))",
        "CREATE TABLE ratings (thread_id TEXT, user_id TEXT, score INTEGER, comment TEXT, ts TEXT, event_id TEXT, "
        "PRIMARY KEY (thread_id, user_id))",
        "CREATE INDEX ratings_user ON ratings (user_id)",
        "CREATE TABLE preferences (user_id TEXT, key TEXT, value TEXT, ts TEXT, event_id TEXT, "
        "PRIMARY KEY (user_id, key))",
        "CREATE TABLE forgotten_users (user_id TEXT PRIMARY KEY, ts TEXT)",
        "CREATE TABLE sync_state (name TEXT PRIMARY KEY, value BIGINT)",
    ):
        conn.execute(sql)


def _m002_search(conn: Any) -> None:
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    conn.execute(f"CREATE TABLE embeddings (text_hash TEXT PRIMARY KEY, vec vector({DIM}))")
    conn.execute(f"ALTER TABLE threads ADD COLUMN embedding vector({DIM})")
    conn.execute("ALTER TABLE threads ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
                 "(to_tsvector('english', coalesce(request_text, '') || ' ' || coalesce(resolution_text, ''))) STORED")
    conn.execute("CREATE INDEX threads_tsv ON threads USING gin (tsv)")
    conn.execute("CREATE INDEX threads_embedding ON threads USING hnsw (embedding vector_cosine_ops)")


MIGRATIONS: list[migrations.Migration] = [("001_core", _m001_core), ("002_search", _m002_search)]
OR_SCAN = 5000  # rows matching any query word that are ranked when too few match every word


def vector_literal(vec: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.6g}" for x in vec.tolist()) + "]"


class PostgresStore(SqlStore):
    placeholder = "%s"

    def __init__(self, url: str, embedder: Embedder | None = None, origin: str = "central",
                 connect_timeout: float = 5.0) -> None:
        super().__init__()
        self.url = url
        self.origin = origin
        self.embedder = embedder or default_embedder()
        self.connect_timeout = connect_timeout
        self.conn: Any = None
        self._connect()

    def _connect(self) -> None:
        self.conn = psycopg.connect(self.url, autocommit=True, connect_timeout=int(max(self.connect_timeout, 1)))
        migrations.apply(self.conn, MIGRATIONS, self._tx, ev.now_iso())
        self.conn.execute("SET hnsw.ef_search = 100")

    def _ensure_connected(self) -> None:
        if self.conn is None or self.conn.closed or self.conn.broken:
            with contextlib.suppress(Exception):
                if self.conn is not None:
                    self.conn.close()
            self.conn = None
            self._connect()

    def close(self) -> None:
        with self._lock:
            if self.conn is not None:
                self.conn.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Any]:
        with self.conn.transaction():
            yield self.conn

    def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(self._sql(sql), rows)

    # --------------------------------------------------------------------------- writes

    def _store_embeddings(self, hashes: list[str], vectors: np.ndarray) -> None:
        self._many("INSERT INTO embeddings (text_hash, vec) VALUES (?, CAST(? AS vector)) "
                   "ON CONFLICT (text_hash) DO NOTHING",
                   [(h, vector_literal(v)) for h, v in zip(hashes, vectors, strict=True)])

    def _set_thread_vectors(self, rows: list[tuple[str, str]]) -> None:
        for start in range(0, len(rows), 500):
            chunk = [tid for tid, _ in rows[start:start + 500]]
            self._exec("UPDATE threads t SET embedding = e.vec FROM embeddings e WHERE e.text_hash = t.text_hash "
                       f"AND t.thread_id IN ({self._marks(len(chunk))})", chunk)

    # --------------------------------------------------------------------------- search

    def _text_candidates(self, text: str, filters: Filters, n: int) -> list[Candidate]:
        terms = query_terms(text)
        if not terms:
            return []
        where, params = self._filter_sql(filters)
        join = " JOIN thread_metadata m ON m.thread_id = t.thread_id" if filters.context or filters.tags else ""
        cond = f" AND {where}" if where else ""
        # every word first (a GIN lookup that stays small however common the words are), then any word
        # over at most OR_SCAN matching rows: ranking every row that shares one common word is what
        # made an OR query slow on large tables
        rows = self._all("SELECT t.thread_id, ts_rank_cd(t.tsv, q) AS score FROM threads t" + join +
                         ", to_tsquery('english', ?) q WHERE t.tsv @@ q" + cond +
                         " ORDER BY score DESC, t.thread_id LIMIT ?", [" & ".join(terms), *params, n])
        if len(rows) < n and len(terms) > 1:
            seen = {r[0] for r in rows}
            more = self._all("SELECT thread_id, ts_rank_cd(tsv, q) AS score FROM (SELECT t.thread_id, t.tsv FROM threads t"
                             + join + ", to_tsquery('english', ?) q0 WHERE t.tsv @@ q0" + cond + " LIMIT ?) c, "
                             "to_tsquery('english', ?) q ORDER BY score DESC, thread_id LIMIT ?",
                             [" | ".join(terms), *params, OR_SCAN, " | ".join(terms), n])
            rows += [r for r in more if r[0] not in seen][: n - len(rows)]
        return [Candidate(r[0], i, float(r[1])) for i, r in enumerate(rows, start=1)]

    def _vector_candidates(self, vec: np.ndarray, filters: Filters, n: int) -> list[Candidate]:
        where, params = self._filter_sql(filters)
        join = " JOIN thread_metadata m ON m.thread_id = t.thread_id" if filters.context or filters.tags else ""
        lit = vector_literal(vec)
        rows = self._all("SELECT t.thread_id, 1 - (t.embedding <=> CAST(? AS vector)) AS score FROM threads t" + join +
                         " WHERE t.embedding IS NOT NULL" + (f" AND {where}" if where else "") +
                         " ORDER BY t.embedding <=> CAST(? AS vector) LIMIT ?", [lit, *params, lit, n])
        return [Candidate(r[0], i, float(r[1])) for i, r in enumerate(rows, start=1)]
