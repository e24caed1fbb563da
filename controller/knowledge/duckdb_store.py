"""The embedded store: one DuckDB file under $AIOP_HOME, also the cluster's local cache.

Both halves of hybrid search run in memory over indexes built from the stored rows at the first
search (or by `build_indexes()` after a bulk import) and kept in step on every write:
- full text: BM25 over an inverted index in numpy (textindex.py), words stemmed by the Porter
  stemmer of DuckDB's fts extension, LOADed from the pinned `duckdb-extension-fts` wheel (nothing is
  downloaded at run time);
- vectors: the `embeddings` table (keyed by text hash, the embedding cache) loaded into a float32
  matrix, brute force when small and an IVF index when large (vectors.py).
DuckDB stays the record: the indexes are caches a restart rebuilds.
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
from controller.knowledge.sqlstore import SqlStore
from controller.knowledge.textindex import TextIndex
from controller.knowledge.vectors import VectorIndex

_VALUES = re.compile(r"VALUES \((\?(?:, \?)*)\)")
LOAD_BATCH = 100_000  # rows read at a time when the full-text index is built
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
        self._index: VectorIndex | None = None
        self._text: TextIndex | None = None
        self._stems: dict[str, str] = {}
        self._allowed_memo: tuple[Filters, int, set[str]] | None = None
        self._generation = 0  # bumped by every write: filtered id sets are recomputed

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
        self._generation += 1

    def _removed(self, thread_ids: list[str]) -> None:
        if self._index is not None:
            self._index.remove(thread_ids)
        if self._text is not None:
            self._text.remove(thread_ids)

    def _after_apply(self, touched: list[tuple[str, str]], vectors: dict[str, np.ndarray] | None,
                     removed: list[str]) -> None:
        super()._after_apply(touched, vectors, removed)
        if not touched or (self._index is None and self._text is None):
            return
        ids = [tid for tid, _ in touched]
        with self._locked():
            if self._text is not None:
                texts: dict[str, str] = {}
                rated: dict[str, int | None] = {}
                for start in range(0, len(ids), 2000):
                    chunk = ids[start:start + 2000]
                    for r in self._all("SELECT thread_id, request_text, resolution_text, rating FROM threads "
                                       "WHERE thread_id IN (SELECT unnest(CAST(? AS VARCHAR[])))", [chunk]):
                        texts[r[0]] = f"{r[1]}\n{r[2]}"
                        rated[r[0]] = r[3]
                present = [tid for tid in ids if tid in texts]
                self._text.add(present, [texts[tid] for tid in present], [rated[tid] for tid in present])
            if self._index is not None:
                vectors = dict(vectors or {})
                missing = list({h for _, h in touched if h not in vectors})
                for start in range(0, len(missing), 2000):
                    chunk = missing[start:start + 2000]
                    for h, vec in self._all("SELECT text_hash, vec FROM embeddings WHERE text_hash IN "
                                            "(SELECT unnest(CAST(? AS VARCHAR[])))", [chunk]):
                        vectors[h] = np.asarray(vec, dtype=np.float32)
                pairs = [(tid, h) for tid, h in touched if h in vectors]
                if pairs:
                    self._index.upsert([t for t, _ in pairs], np.stack([vectors[h] for _, h in pairs]))

    # --------------------------------------------------------------------------- search

    def _stem(self, words: list[str]) -> list[str]:
        """Porter stems from the fts extension (one query per batch of new words, then cached)."""
        new = [w for w in words if w not in self._stems]
        if new:
            rows = self._all("SELECT w, stem(w, 'porter') FROM (SELECT unnest(CAST(? AS VARCHAR[])) AS w)", [new])
            self._stems.update((r[0], r[1]) for r in rows)
        return [self._stems.get(w, w) for w in words]

    def build_indexes(self) -> None:
        """Build the in-memory full-text and vector indexes from the stored rows (after a bulk import)."""
        with self._locked():
            self._text = self._load_text()
            self._index = self._load_index()

    build_fts = build_indexes  # the older name

    def _load_text(self) -> TextIndex:
        index = TextIndex(self._stem)
        # a cursor of its own: `index.add` stems new words through self.conn, and a query on a
        # connection drops the result that connection was still streaming (only the first batch was read)
        cur = self.conn.cursor()
        try:
            cur.execute("SELECT thread_id, request_text, resolution_text, rating FROM threads ORDER BY thread_id")
            while True:
                rows = cur.fetchmany(LOAD_BATCH)
                if not rows:
                    break
                index.add([r[0] for r in rows], [f"{r[1]}\n{r[2]}" for r in rows], [r[3] for r in rows])
        finally:
            cur.close()
        index.merge()
        return index

    def _aggregate(self, ids: list[str]) -> None:
        super()._aggregate(ids)
        if self._text is not None and ids:
            self._text.set_ratings(super()._ratings(ids))

    def _ratings(self, ids: list[str]) -> dict[str, int | None]:
        known = self._text.ratings(ids) if self._text is not None else None
        return known if known is not None else super()._ratings(ids)

    def _allowed(self, filters: Filters) -> set[str] | None:
        """Ids that pass the filters (None: no filter), memoised until the next write."""
        if filters.empty:
            return None
        memo = self._allowed_memo
        if memo is not None and memo[0] == filters and memo[1] == self._generation:
            return memo[2]
        where, params = self._filter_sql(filters)
        ids = {r[0] for r in self._all("SELECT t.thread_id FROM threads t JOIN thread_metadata m "
                                       f"ON m.thread_id = t.thread_id WHERE {where}", params)}
        self._allowed_memo = (filters, self._generation, ids)
        return ids

    def _text_candidates(self, text: str, filters: Filters, n: int) -> list[Candidate]:
        if self._text is None:
            self._text = self._load_text()
        allowed = self._allowed(filters)
        mask = None if allowed is None else self._text.row_mask(allowed)
        return [Candidate(tid, i, score) for i, (tid, score) in enumerate(self._text.top(text, n, mask), start=1)]

    def _load_index(self) -> VectorIndex:
        index = VectorIndex(DIM)
        table = self.conn.execute("SELECT t.thread_id, e.vec FROM threads t JOIN embeddings e "
                                  "ON e.text_hash = t.text_hash ORDER BY t.thread_id").fetch_arrow_table()
        if table.num_rows:
            ids = table.column("thread_id").to_pylist()
            flat = table.column("vec").combine_chunks().flatten().to_numpy(zero_copy_only=False)
            index.upsert(ids, np.asarray(flat, dtype=np.float32).reshape(len(ids), DIM))
        return index

    def _vector_candidates(self, vec: np.ndarray, filters: Filters, n: int) -> list[Candidate]:
        if self._index is None:
            self._index = self._load_index()
        allowed = self._allowed(filters)
        mask = None if allowed is None else self._index.row_mask(allowed)
        return [Candidate(tid, i, score) for i, (tid, score) in enumerate(self._index.top(vec, n, mask), start=1)]
