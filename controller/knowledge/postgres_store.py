"""The central store: PostgreSQL + pgvector, shared by every cluster (on AWS, reachable from Azure).

URL: `postgresql://USER:PASSWORD@HOST:5432/DB?sslmode=verify-full&sslrootcert=/etc/aiop/rds-ca.pem`.
For RDS/Aurora use `sslmode=verify-full` with the AWS RDS CA bundle (global-bundle.pem) so the
server's name is checked; `sslmode=require` encrypts without checking the name. The password may
instead come from libpq's PGPASSWORD / ~/.pgpass, or an IAM auth token, never from code.

Full text is a stored `tsvector` (english) with a GIN index, ranked by ts_rank_cd over at most 1000
rows that match every query word, then (when too few do) over a bounded sample of rows matching each
word alone or every word but one; vectors are `vector(384)` with an HNSW index (cosine). The same events and appliers
as DuckDB (sqlstore.py); a dropped connection is reopened on the next call, so the sync agent's
retries work across a server restart.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format

from controller.knowledge import events as ev
from controller.knowledge import migrations
from controller.knowledge.base import Filters
from controller.knowledge.embedding import DIM, Embedder, default_embedder
from controller.knowledge.ranking import Candidate
from controller.knowledge.sqlstore import SqlStore, query_terms

# the search indexes; a bulk import into an empty table drops them and builds them once afterwards
BULK_INDEXES = {
    "threads_tsv": "CREATE INDEX IF NOT EXISTS threads_tsv ON threads USING gin (tsv)",
    "threads_embedding": "CREATE INDEX IF NOT EXISTS threads_embedding ON threads USING hnsw (embedding vector_cosine_ops)",
}
BULK_MIN = 1000  # threads in one ingest that make an import into an empty table a bulk load
# memory for building the indexes after a bulk load; the HNSW graph of 1M x 384 needs ~2 GB to be built
# in memory (beyond it pgvector inserts on disk, much slower). Per session only. The operator passes
# AIOP_PG_MAINTENANCE_WORK_MEM (controller/settings.py, validated there); this is its default.
DEFAULT_MAINTENANCE_WORK_MEM = "1GB"


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
    for sql in BULK_INDEXES.values():
        conn.execute(sql)


MIGRATIONS: list[migrations.Migration] = [("001_core", _m001_core), ("002_search", _m002_search)]
AND_SCAN = 1000  # rows matching every query word that are ranked (equally good text matches beyond it)
GIN_FUZZY_LIMIT = 5000  # see _connect
FALLBACK_BELOW = 5  # fewer rows than this matching every word: relax the query
OR_SCAN = 1000  # rows matching any query word that are ranked when too few match every word


def vector_literal(vec: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.6g}" for x in vec.tolist()) + "]"


def _vector_dumper(oid: int) -> type[Dumper]:
    """pgvector's binary format (int16 dim, int16 unused, float32 big-endian) for COPY ... (FORMAT BINARY)."""

    class VectorDumper(Dumper):
        format = Format.BINARY

        def dump(self, obj: Any) -> bytes:
            vec = np.asarray(obj, dtype=">f4")
            return struct.pack(">HH", len(vec), 0) + vec.tobytes()

    VectorDumper.oid = oid
    return VectorDumper


class PostgresStore(SqlStore):
    placeholder = "%s"

    def __init__(self, url: str, embedder: Embedder | None = None, origin: str = "central",
                 connect_timeout: float = 5.0, maintenance_work_mem: str = DEFAULT_MAINTENANCE_WORK_MEM) -> None:
        super().__init__()
        self.url = url
        self.maintenance_work_mem = maintenance_work_mem
        self.origin = origin
        self.embedder = embedder or default_embedder()
        self.connect_timeout = connect_timeout
        self.conn: Any = None
        self._bulk_pending = False
        self._vector_oid = 0
        self._connect()

    def _connect(self) -> None:
        self.conn = psycopg.connect(self.url, autocommit=True, connect_timeout=int(max(self.connect_timeout, 1)))
        migrations.apply(self.conn, MIGRATIONS, self._tx, ev.now_iso())
        self.conn.execute("SET hnsw.ef_search = 100")
        self._vector_oid = int(self._all("SELECT oid FROM pg_type WHERE typname = 'vector'")[0][0])
        self.conn.adapters.register_dumper(np.ndarray, _vector_dumper(self._vector_oid))
        if not self._bulk_pending:
            self._build_indexes()  # an import that stopped before building them

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
    #
    # Bulk paths: rows go in by COPY (vectors in pgvector's binary format) into temporary staging
    # tables that empty themselves at commit, then one INSERT ... SELECT ... ON CONFLICT per table.
    # A thread row is written once, with its vector and its aggregated rating (its authors' ratings
    # are upserted first), so each index gets one entry per thread instead of three row versions.
    # A large import into an empty table drops the two search indexes and `build_indexes()` (or the
    # next search, or the next connection) builds them in one pass with maintenance_work_mem raised.

    def _stage(self, table: str, columns: str, rows: list[tuple[Any, ...]], binary: bool = False,
               types: list[str | int] | None = None) -> None:
        self.conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({columns}) ON COMMIT DELETE ROWS")
        self.conn.execute(f"TRUNCATE {table}")
        fmt = " (FORMAT BINARY)" if binary else ""
        with self.conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN{fmt}") as copy:
            if types:
                copy.set_types(types)
            for row in rows:
                copy.write_row(row)

    def _insert_events(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        with self.conn.cursor() as cur, cur.copy(
                "COPY events (event_id, kind, origin, thread_id, user_id, ts, payload, remote) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _store_embeddings(self, hashes: list[str], vectors: np.ndarray) -> None:
        if not hashes:
            return
        self._stage("stage_embeddings", f"text_hash TEXT, vec vector({DIM})",
                    list(zip(hashes, np.asarray(vectors, dtype=np.float32), strict=True)),
                    binary=True, types=["text", self._vector_oid])
        self.conn.execute("INSERT INTO embeddings (text_hash, vec) SELECT DISTINCT ON (text_hash) text_hash, vec "
                          "FROM stage_embeddings ON CONFLICT (text_hash) DO NOTHING")

    def _set_thread_vectors(self, rows: list[tuple[str, str]]) -> None:
        """Nothing to do: `_write_threads` stored each thread with its vector."""

    def _write_threads(self, thread_rows: list[tuple[Any, ...]], meta_rows: list[tuple[Any, ...]],
                       rating_rows: list[tuple[Any, ...]]) -> None:
        if len(thread_rows) >= BULK_MIN and not self._bulk_pending and not self._all("SELECT 1 FROM threads LIMIT 1"):
            for index in BULK_INDEXES:
                self.conn.execute(f"DROP INDEX IF EXISTS {index}")
            self._bulk_pending = True
        if rating_rows:
            self._stage("stage_ratings", "thread_id TEXT, user_id TEXT, score INTEGER, comment TEXT, ts TEXT, "
                        "event_id TEXT", rating_rows)
            self.conn.execute(
                "INSERT INTO ratings (thread_id, user_id, score, comment, ts, event_id) SELECT * FROM stage_ratings "
                "ON CONFLICT (thread_id, user_id) DO UPDATE SET score = excluded.score, comment = excluded.comment, "
                "ts = excluded.ts, event_id = excluded.event_id WHERE excluded.ts > ratings.ts OR "
                "(excluded.ts = ratings.ts AND excluded.event_id > ratings.event_id)")
        self._stage("stage_threads", "thread_id TEXT, cluster_id TEXT, user_id TEXT, request_text TEXT, "
                    "response_text TEXT, resolution_text TEXT, resolution_status TEXT, rating INTEGER, ts TEXT, "
                    "text_hash TEXT, updated_ts TEXT, updated_event TEXT", thread_rows)
        self.conn.execute(
            "INSERT INTO threads (thread_id, cluster_id, user_id, request_text, response_text, resolution_text, "
            "resolution_status, rating, ts, text_hash, updated_ts, updated_event, embedding) "
            "SELECT s.thread_id, s.cluster_id, s.user_id, s.request_text, s.response_text, s.resolution_text, "
            "s.resolution_status, (SELECT CAST(round(avg(r.score)) AS INTEGER) FROM ratings r "
            "WHERE r.thread_id = s.thread_id), s.ts, s.text_hash, s.updated_ts, s.updated_event, e.vec "
            "FROM stage_threads s LEFT JOIN embeddings e ON e.text_hash = s.text_hash "
            "ON CONFLICT (thread_id) DO UPDATE SET "
            "cluster_id = excluded.cluster_id, user_id = excluded.user_id, request_text = excluded.request_text, "
            "response_text = excluded.response_text, resolution_text = excluded.resolution_text, "
            "resolution_status = excluded.resolution_status, rating = excluded.rating, ts = excluded.ts, "
            "text_hash = excluded.text_hash, updated_ts = excluded.updated_ts, updated_event = excluded.updated_event, "
            "embedding = excluded.embedding")
        self._stage("stage_meta", "thread_id TEXT, context TEXT, keywords TEXT, resolution_steps TEXT, tags TEXT",
                    meta_rows)
        self.conn.execute(
            "INSERT INTO thread_metadata (thread_id, context, keywords, resolution_steps, tags) "
            "SELECT * FROM stage_meta ON CONFLICT (thread_id) DO UPDATE SET context = excluded.context, "
            "keywords = excluded.keywords, resolution_steps = excluded.resolution_steps, tags = excluded.tags")

    def build_indexes(self) -> None:
        """Build the search indexes a bulk import dropped (a no-op when they exist)."""
        with self._locked():
            self._build_indexes()

    def _build_indexes(self) -> None:
        present = {r[0] for r in self._all("SELECT indexname FROM pg_indexes WHERE tablename = 'threads'")}
        missing = [i for i in BULK_INDEXES if i not in present]
        if missing:
            self.conn.execute("SELECT set_config('maintenance_work_mem', %s, false)", (self.maintenance_work_mem,))
            for index in missing:
                self.conn.execute(BULK_INDEXES[index])
            self.conn.execute("RESET maintenance_work_mem")
            self.conn.execute("ANALYZE threads")
        self._bulk_pending = False

    # --------------------------------------------------------------------------- search

    def _text_candidates(self, text: str, filters: Filters, n: int) -> list[Candidate]:
        if self._bulk_pending:
            self._build_indexes()
        terms = query_terms(text)
        if not terms:
            return []
        where, params = self._filter_sql(filters)
        join = " JOIN thread_metadata m ON m.thread_id = t.thread_id" if filters.context or filters.tags else ""
        cond = f" AND {where}" if where else ""
        # every word first (a GIN lookup that stays small however common the words are), then any word
        # over at most OR_SCAN matching rows: ranking every row that shares one common word is what
        # made an OR query slow on large tables
        # both are bounded: at most SCAN matching rows are read and ranked, so a query of common words
        # costs the same at 1M rows as at 10k (ranking every match made p95 grow with the table)
        rows = self._all("SELECT thread_id, ts_rank_cd(tsv, q) AS score FROM (SELECT t.thread_id, t.tsv FROM threads t"
                         + join + ", to_tsquery('english', ?) q0 WHERE t.tsv @@ q0" + cond + " LIMIT ?) c, "
                         "to_tsquery('english', ?) q ORDER BY score DESC, thread_id LIMIT ?",
                         [" & ".join(terms), *params, AND_SCAN, " & ".join(terms), n])
        # then, while fewer than FALLBACK_BELOW rows match (a group of only common words reads a long GIN
        # posting list, ~40 ms at 1M rows, so it is not paid when every word already found a few): every word but one (a paraphrase adds or swaps a word), then each word alone;
        # a few rows per group, so a rare word's rows are not crowded out by the thousands of rows sharing
        # one common word, and GIN intersections that start from a rare word stay cheap
        tiers = [[[t for t in terms if t != skip] for skip in terms]] if len(terms) > 2 else []
        tiers.append([[t] for t in terms] if len(terms) > 1 else [])
        enough = min(n, FALLBACK_BELOW)
        for groups in tiers:
            if len(rows) >= enough or not groups:
                break
            per = max(OR_SCAN // len(groups), 20)
            parts, args = [], []
            for g in groups:
                parts.append("(SELECT t.thread_id, t.tsv FROM threads t" + join + " WHERE t.tsv @@ to_tsquery('english', ?)"
                             + cond + " LIMIT ?)")
                args += [" & ".join(g), *params, per]
            seen = {r[0] for r in rows}
            with self.conn.transaction():
                # a group of common words reads a 100k-entry GIN posting list (~40 ms at 1M threads) to keep
                # `per` rows of it: past GIN_FUZZY_LIMIT matches GIN returns a random subset instead (not used
                # for the every-word query: thinning each word's list apart empties their intersection)
                self.conn.execute(f"SET LOCAL gin_fuzzy_search_limit = {GIN_FUZZY_LIMIT}")
                more = self._all("SELECT thread_id, ts_rank_cd(tsv, q) AS score FROM (SELECT DISTINCT ON (thread_id) * FROM ("
                                 + " UNION ALL ".join(parts) + ") u) c, to_tsquery('english', ?) q "
                                 "ORDER BY score DESC, thread_id LIMIT ?", [*args, " | ".join(terms), n + len(rows)])
            rows += [r for r in more if r[0] not in seen][: n - len(rows)]
        return [Candidate(r[0], i, float(r[1])) for i, r in enumerate(rows, start=1)]

    def _vector_candidates(self, vec: np.ndarray, filters: Filters, n: int) -> list[Candidate]:
        if self._bulk_pending:
            self._build_indexes()
        where, params = self._filter_sql(filters)
        join = " JOIN thread_metadata m ON m.thread_id = t.thread_id" if filters.context or filters.tags else ""
        lit = np.asarray(vec, dtype=np.float32)  # sent in pgvector's binary format
        rows = self._all("SELECT t.thread_id, 1 - (t.embedding <=> CAST(? AS vector)) AS score FROM threads t" + join +
                         " WHERE t.embedding IS NOT NULL" + (f" AND {where}" if where else "") +
                         " ORDER BY t.embedding <=> CAST(? AS vector) LIMIT ?", [lit, *params, lit, n])
        return [Candidate(r[0], i, float(r[1])) for i, r in enumerate(rows, start=1)]
