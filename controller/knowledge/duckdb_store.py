"""The embedded store: one DuckDB file under $AIOP_HOME, also the cluster's local cache.

Full text is DuckDB's fts extension (BM25), LOADed from the pinned `duckdb-extension-fts` wheel
(nothing is downloaded at run time). Its index is not incremental, so a write marks it stale and
the next search rebuilds it (cheap for a cache of thousands; for bulk imports it is built once).
Vectors live in the `embeddings` table (keyed by text hash, the embedding cache) and are searched
by brute force in numpy over a matrix kept in memory (see vectors.py).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from controller.knowledge import events as ev
from controller.knowledge import migrations
from controller.knowledge.base import Filters
from controller.knowledge.embedding import DIM, Embedder, default_embedder
from controller.knowledge.ranking import Candidate
from controller.knowledge.sqlstore import SqlStore, query_terms
from controller.knowledge.vectors import VectorIndex

_VALUES = re.compile(r"VALUES \((\?(?:, \?)*)\)")
# Okapi BM25 (k1 = 1.2, b = 0.75) over the fts extension's index tables, touching only the postings of the
# query's terms: match_bm25() scores every row, which took ~230 ms at 20k threads; this stays in the ms.
BM25_SQL = """
WITH q AS (SELECT DISTINCT stem(unnest(CAST(? AS VARCHAR[])), 'porter') AS term),
qt AS (SELECT d.termid, d.df FROM fts_main_threads.dict d JOIN q ON q.term = d.term),
tf AS (SELECT t.docid, t.termid, count(*) AS tf FROM fts_main_threads.terms t JOIN qt ON qt.termid = t.termid
       GROUP BY t.docid, t.termid),
sc AS (SELECT tf.docid, sum(ln((s.num_docs - qt.df + 0.5) / (qt.df + 0.5) + 1)
                            * tf.tf * 2.2 / (tf.tf + 1.2 * (0.25 + 0.75 * d.len / s.avgdl))) AS score
       FROM tf JOIN qt ON qt.termid = tf.termid JOIN fts_main_threads.docs d ON d.docid = tf.docid
       CROSS JOIN fts_main_threads.stats s GROUP BY tf.docid)
SELECT docs.name, sc.score FROM sc JOIN fts_main_threads.docs docs ON docs.docid = sc.docid{scope}
ORDER BY sc.score DESC, docs.name LIMIT ?
"""
BULK_MIN = 16  # rows from which an arrow table beats executemany (which prepares per row in DuckDB)


def extension_path(name: str) -> str:
    """The extension file shipped by the `duckdb-extension-<name>` wheel for this DuckDB version."""
    import importlib

    package = importlib.import_module(f"duckdb_extension_{name}")
    root = Path(package.__file__ or "").parent / "extensions"
    exact = root / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if exact.exists():
        return str(exact)
    found = sorted(root.glob(f"*/{name}.duckdb_extension"))
    if not found:
        raise RuntimeError(f"the {name} extension is missing from duckdb-extension-{name}")
    return str(found[-1])


def _m001_core(conn: Any) -> None:
    for sql in (
        "CREATE SEQUENCE events_seq START 1",
        "CREATE TABLE events (seq BIGINT PRIMARY KEY DEFAULT nextval('events_seq'), event_id TEXT NOT NULL UNIQUE, "
        "kind TEXT NOT NULL, origin TEXT NOT NULL, thread_id TEXT, user_id TEXT, ts TEXT NOT NULL, "
        "payload TEXT NOT NULL, remote BOOLEAN NOT NULL DEFAULT false)",
        "CREATE TABLE threads (thread_id TEXT PRIMARY KEY, cluster_id TEXT, user_id TEXT, request_text TEXT, "
        "response_text TEXT, resolution_text TEXT, resolution_status TEXT, rating INTEGER, ts TEXT, text_hash TEXT, "
        "updated_ts TEXT, updated_event TEXT)",
        "CREATE TABLE thread_metadata (thread_id TEXT PRIMARY KEY, context TEXT, keywords TEXT, "
        "resolution_steps TEXT, tags TEXT)",
        "CREATE TABLE messages (message_id TEXT PRIMARY KEY, thread_id TEXT, role TEXT, user_id TEXT, text TEXT, ts TEXT)",
        "CREATE TABLE plan_revisions (thread_id TEXT, revision INTEGER, digest TEXT, summary TEXT, actions TEXT, "
        "ts TEXT, PRIMARY KEY (thread_id, revision))",
        "CREATE TABLE ratings (thread_id TEXT, user_id TEXT, score INTEGER, comment TEXT, ts TEXT, event_id TEXT, "
        "PRIMARY KEY (thread_id, user_id))",
        "CREATE TABLE preferences (user_id TEXT, key TEXT, value TEXT, ts TEXT, event_id TEXT, "
        "PRIMARY KEY (user_id, key))",
        "CREATE TABLE forgotten_users (user_id TEXT PRIMARY KEY, ts TEXT)",
        "CREATE TABLE sync_state (name TEXT PRIMARY KEY, value BIGINT)",
    ):
        conn.execute(sql)


def _m002_embeddings(conn: Any) -> None:
    conn.execute(f"CREATE TABLE embeddings (text_hash TEXT PRIMARY KEY, vec FLOAT[{DIM}])")


MIGRATIONS: list[migrations.Migration] = [("001_core", _m001_core), ("002_embeddings", _m002_embeddings)]


class DuckDBStore(SqlStore):
    def __init__(self, path: str | Path, embedder: Embedder | None = None, origin: str = "local",
                 read_only: bool = False) -> None:
        super().__init__()
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.origin = origin
        self.embedder = embedder or default_embedder()
        self.conn = duckdb.connect(self.path, read_only=read_only)
        self.conn.execute(f"LOAD '{extension_path('fts')}'")
        if not read_only:
            migrations.apply(self.conn, MIGRATIONS, self._tx, ev.now_iso())
        self._fts_stale = True
        self._index: VectorIndex | None = None

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Any]:
        self.conn.begin()
        try:
            yield self.conn
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.commit()

    # --------------------------------------------------------------------------- writes

    def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """executemany, or for many rows `INSERT ... SELECT` from an arrow table (hundreds of times faster)."""
        match = _VALUES.search(sql)
        if len(rows) < BULK_MIN or match is None:
            super()._many(sql, rows)
            return
        import pyarrow as pa

        width = match.group(1).count("?")
        names = [f"c{i}" for i in range(width)]
        columns = list(zip(*rows, strict=True))
        bulk = pa.table({name: pa.array(list(col)) for name, col in zip(names, columns, strict=True)})
        self.conn.register("_bulk", bulk)
        try:
            self.conn.execute(sql[:match.start()] + f"SELECT {', '.join(names)} FROM _bulk" + sql[match.end():])
        finally:
            self.conn.unregister("_bulk")

    def _store_embeddings(self, hashes: list[str], vectors: np.ndarray) -> None:
        import pyarrow as pa

        flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
        bulk = pa.table({"h": pa.array(hashes), "v": pa.FixedSizeListArray.from_arrays(flat, DIM)})
        self.conn.register("_vectors", bulk)
        try:
            self.conn.execute("INSERT INTO embeddings (text_hash, vec) SELECT h, v FROM _vectors "
                              "ON CONFLICT (text_hash) DO NOTHING")
        finally:
            self.conn.unregister("_vectors")

    def _written(self) -> None:
        self._fts_stale = True

    def _removed(self, thread_ids: list[str]) -> None:
        if self._index is not None:
            self._index.remove(thread_ids)

    def _after_apply(self, touched: list[tuple[str, str]], vectors: dict[str, np.ndarray] | None,
                     removed: list[str]) -> None:
        super()._after_apply(touched, vectors, removed)
        if self._index is None or not touched:
            return
        vectors = dict(vectors or {})
        missing = list({h for _, h in touched if h not in vectors})
        with self._locked():
            for start in range(0, len(missing), 500):
                chunk = missing[start:start + 500]
                for h, vec in self._all(f"SELECT text_hash, vec FROM embeddings WHERE text_hash IN "
                                        f"({self._marks(len(chunk))})", chunk):
                    vectors[h] = np.asarray(vec, dtype=np.float32)
        pairs = [(tid, h) for tid, h in touched if h in vectors]
        self._index.upsert([t for t, _ in pairs], np.stack([vectors[h] for _, h in pairs]) if pairs
                           else np.zeros((0, DIM), dtype=np.float32))

    # --------------------------------------------------------------------------- search

    def build_fts(self) -> None:
        with self._locked():
            self.conn.execute("PRAGMA create_fts_index('threads', 'thread_id', 'request_text', 'resolution_text', "
                              "stemmer = 'porter', stopwords = 'english', overwrite = 1)")
            self._fts_stale = False

    def _text_candidates(self, text: str, filters: Filters, n: int) -> list[Candidate]:
        terms = query_terms(text)
        if not terms:
            return []
        if self._fts_stale:
            self.build_fts()
        where, params = self._filter_sql(filters)
        scope = ""
        if where:
            scope = (" JOIN threads t ON t.thread_id = docs.name JOIN thread_metadata m ON m.thread_id = t.thread_id"
                     f" WHERE {where}")
        rows = self._all(BM25_SQL.format(scope=scope), [terms, *params, n])
        return [Candidate(r[0], i, float(r[1])) for i, r in enumerate(rows, start=1)]

    def _load_index(self) -> VectorIndex:
        index = VectorIndex(DIM)
        table = self.conn.execute("SELECT t.thread_id, e.vec FROM threads t JOIN embeddings e "
                                  "ON e.text_hash = t.text_hash").fetch_arrow_table()
        if table.num_rows:
            ids = table.column("thread_id").to_pylist()
            flat = table.column("vec").combine_chunks().flatten().to_numpy(zero_copy_only=False)
            index.upsert(ids, np.asarray(flat, dtype=np.float32).reshape(len(ids), DIM))
        return index

    def _vector_candidates(self, vec: np.ndarray, filters: Filters, n: int) -> list[Candidate]:
        if self._index is None:
            self._index = self._load_index()
        allowed = None
        if not filters.empty:
            where, params = self._filter_sql(filters)
            allowed = {r[0] for r in self._all("SELECT t.thread_id FROM threads t JOIN thread_metadata m "
                                               f"ON m.thread_id = t.thread_id WHERE {where}", params)}
        return [Candidate(tid, i, score) for i, (tid, score) in enumerate(self._index.top(vec, n, allowed), start=1)]
