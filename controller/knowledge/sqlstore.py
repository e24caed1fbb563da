"""What DuckDB and PostgreSQL stores share: every change is an event, applied the same way.

Why one base class: both stores keep the same tables and apply the same events with the same
portable SQL (`?` placeholders, `ON CONFLICT`, JSON as text); a dialect subclass only opens the
connection, runs its migrations, and answers the two halves of hybrid search (full text and
vectors). Applying is idempotent and order-insensitive:

- an event id is stored once (`events.event_id` is unique); a copy is skipped;
- a thread, a rating (one per thread and user) and a preference are last-writer-wins registers,
  ordered by (timestamp, event id), so two clusters that rate the same thread converge whatever
  order the events arrive in;
- `forget-user` leaves a tombstone, so an old event of that user arriving later is dropped.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from controller.knowledge import events as ev
from controller.knowledge.base import Event, Filters, ThreadDetail, ThreadRecord
from controller.knowledge.embedding import Embedder
from controller.knowledge.ranking import CANDIDATES, MIN_COSINE, Candidate, contenders, fuse, tie_ranks
from controller.planning.types import KnowledgeHit

_TOKEN = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "by", "do", "for", "from", "has", "have", "i", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our", "please", "the", "this", "to", "was", "we", "with", "you", "your", "can", "could", "would", "should", "will"])


def query_terms(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for t in _TOKEN.findall(text.lower()):
        if t not in STOPWORDS and len(t) > 1:
            seen[t] = None
    return list(seen)


class SqlStore:
    """The event-sourced store. Subclasses set `self.conn`, `self.origin`, `self.embedder`."""

    origin: str
    embedder: Embedder
    conn: Any
    placeholder = "?"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._qcache: dict[str, np.ndarray] = {}

    # -------------------------------------------------------------------- dialect hooks

    def close(self) -> None:
        raise NotImplementedError

    def _tx(self) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _text_candidates(self, text: str, filters: Filters, n: int) -> list[Candidate]:
        raise NotImplementedError

    def _vector_candidates(self, vec: np.ndarray, filters: Filters, n: int) -> list[Candidate]:
        raise NotImplementedError

    def _store_embeddings(self, hashes: list[str], vectors: np.ndarray) -> None:
        raise NotImplementedError

    def _set_thread_vectors(self, rows: list[tuple[str, str]]) -> None:
        """After threads (thread_id, text_hash) were written: point them at their vectors."""

    def _removed(self, thread_ids: list[str]) -> None:
        """After threads were deleted."""

    def _written(self) -> None:
        """After any write (e.g. mark the full-text index stale)."""

    def _ensure_connected(self) -> None:
        """Reconnect when the server went away (PostgreSQL)."""

    # ------------------------------------------------------------------------- SQL utils

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def _exec(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
        return self.conn.execute(self._sql(sql), params)

    def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self.conn.executemany(self._sql(sql), rows)

    def _all(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Any]:
        return list(self._exec(sql, params).fetchall())

    @staticmethod
    def _marks(n: int) -> str:
        return ",".join("?" * n)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            self._ensure_connected()
            yield

    # ----------------------------------------------------------------------- public API

    def add_thread(self, record: ThreadRecord) -> None:
        self.add_threads([record])

    def add_threads(self, records: list[ThreadRecord]) -> int:
        """Store threads (a given `thread_id` is kept). Returns how many events were new."""
        events = [ev.new_event("thread", ev.thread_payload(r), self.origin, r.timestamp) for r in records]
        return self.ingest(events, remote=False)

    def add_rating(self, thread_id: str, user: str, score: int, comment: str = "") -> None:
        if not 0 <= score <= 100:
            raise ValueError("a rating is 0-100")
        self.ingest([ev.new_event("rating", {"thread_id": thread_id, "user": user, "score": score,
                                             "comment": comment}, self.origin)], remote=False)

    def add_message(self, thread_id: str, role: str, user: str, text: str, ts: str = "") -> None:
        self.ingest([ev.new_event("message", {"thread_id": thread_id, "role": role, "user": user, "text": text},
                                  self.origin, ts)], remote=False)

    def add_plan_revision(self, thread_id: str, revision: int, digest: str, summary: str,
                          actions: list[dict[str, Any]], ts: str = "") -> None:
        self.ingest([ev.new_event("plan", {"thread_id": thread_id, "revision": revision, "digest": digest,
                                           "summary": summary, "actions": actions}, self.origin, ts)],
                    remote=False)

    def set_preference(self, user: str, key: str, value: Any) -> None:
        self.ingest([ev.new_event("preference", {"user": user, "key": key, "value": value}, self.origin)],
                    remote=False)

    def forget_user(self, user: str) -> int:
        """Delete everything of `user` here, and record it so the deletion travels with sync."""
        with self._locked():
            before = self._count_user(user)
        self.ingest([ev.new_event("forget-user", {"user": user}, self.origin)], remote=False)
        return before

    def purge_older_than(self, days: int, now: str | None = None) -> int:
        """Retention: delete threads (with their messages, revisions, ratings, events) older than `days`."""
        cutoff = ev.cutoff_iso(days, now)
        with self._locked(), self._tx():
            ids = [r[0] for r in self._all("SELECT thread_id FROM threads WHERE ts < ?", (cutoff,))]
            self._delete_threads(ids)
        self._removed(ids)
        self._written()
        return len(ids)

    def count(self) -> int:
        with self._locked():
            return int(self._all("SELECT count(*) FROM threads")[0][0])

    def preferences(self, user: str) -> dict[str, Any]:
        """Explicit preferences over what the user's past rated plans show (newest plan wins)."""
        with self._locked():
            rows = self._all("SELECT t.thread_id, m.resolution_steps FROM threads t JOIN thread_metadata m "
                             "ON m.thread_id = t.thread_id WHERE t.user_id = ? ORDER BY t.ts", (user,))
            explicit = self._all("SELECT key, value FROM preferences WHERE user_id = ?", (user,))
        prefs = ev.learn_preferences([(tid, json.loads(steps or "[]")) for tid, steps in rows])
        for key, value in explicit:
            prefs[key] = json.loads(value)
        return prefs

    def thread(self, thread_id: str) -> ThreadDetail | None:
        with self._locked():
            rows = self._rows([thread_id])
            if not rows:
                return None
            messages = [{"role": r[0], "user": r[1], "text": r[2], "ts": r[3]} for r in self._all(
                "SELECT role, user_id, text, ts FROM messages WHERE thread_id = ? ORDER BY ts, message_id",
                (thread_id,))]
            revisions = [{"revision": r[0], "digest": r[1], "summary": r[2], "actions": json.loads(r[3]),
                          "ts": r[4]} for r in self._all(
                "SELECT revision, digest, summary, actions, ts FROM plan_revisions WHERE thread_id = ? "
                "ORDER BY revision", (thread_id,))]
            ratings = {r[0]: int(r[1]) for r in self._all(
                "SELECT user_id, score FROM ratings WHERE thread_id = ?", (thread_id,))}
        return ThreadDetail(rows[thread_id], messages, revisions, ratings)

    # --------------------------------------------------------------------------- search

    def _embed_query(self, text: str) -> np.ndarray:
        vec = self._qcache.get(text)
        if vec is None:
            vec = self.embedder.embed([text])[0]
            if len(self._qcache) > 1024:
                self._qcache.clear()
            self._qcache[text] = vec
        return vec

    def search(self, text: str, top_k: int = 5, min_rating: int | None = None, *, context: str | None = None,
               tags: tuple[str, ...] | list[str] = (), cluster: str | None = None) -> list[KnowledgeHit]:
        filters = Filters(context=context, tags=tuple(t.lower() for t in tags), cluster=cluster,
                          min_rating=min_rating)
        if not text.strip() or top_k <= 0:
            return []
        with self._locked():
            if not self._all("SELECT 1 FROM threads LIMIT 1"):
                return []  # an empty store answers without loading the embedding model
        vec = self._embed_query(text)
        n = max(CANDIDATES, top_k)
        with self._locked():
            text_c = tie_ranks(self._text_candidates(text, filters, n))
            vec_c = tie_ranks([c for c in self._vector_candidates(vec, filters, n) if c.score >= MIN_COSINE])
            everyone = len(text_c) + len(vec_c)
            # fuse without ratings first: only threads that can still make the top_k are read
            keep = set(contenders(fuse(text_c, vec_c, {}, everyone, ranked=True), top_k))
            text_c = [c for c in text_c if c.thread_id in keep]
            vec_c = [c for c in vec_c if c.thread_id in keep]
            ratings = self._ratings(list(keep))
            order = fuse(text_c, vec_c, ratings, top_k, ranked=True)
            rows = self._rows([f.thread_id for f in order])
            comments = self._comments(list(rows))
        terms = query_terms(text)
        matched = {tid: [t for t in terms if t in (r.request + " " + r.resolution).lower()]
                   for tid, r in rows.items()}
        fused = fuse(text_c, vec_c, ratings, top_k, matched, ranked=True)
        return [_hit(rows[f.thread_id], comments.get(f.thread_id, ""), f.score, f.why)
                for f in fused if f.thread_id in rows]

    def get(self, thread_id: str) -> KnowledgeHit | None:
        """One thread by its id, as a search would return it (a person named it: "do what X did")."""
        with self._locked():
            rows = self._rows([thread_id])
            comments = self._comments([thread_id])
        record = rows.get(thread_id)
        return None if record is None else _hit(record, comments.get(thread_id, ""), 1.0, "named in the request")

    def _filter_sql(self, filters: Filters, alias: str = "t", meta: str = "m") -> tuple[str, list[Any]]:
        """WHERE conditions over threads `alias` joined with thread_metadata `meta`."""
        conds: list[str] = []
        params: list[Any] = []
        if filters.cluster is not None:
            conds.append(f"{alias}.cluster_id = ?")
            params.append(filters.cluster)
        if filters.min_rating is not None:
            conds.append(f"{alias}.rating >= ?")
            params.append(filters.min_rating)
        if filters.context is not None:
            conds.append(f"{meta}.context = ?")
            params.append(filters.context)
        for tag in filters.tags:
            conds.append(f"{meta}.tags LIKE ?")
            params.append(f'%"{tag}"%')
        return " AND ".join(conds), params

    def _ratings(self, ids: list[str]) -> dict[str, int | None]:
        """Current ratings of some threads (the tie-break of fusion)."""
        out: dict[str, int | None] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            out.update((r[0], r[1]) for r in self._all(
                f"SELECT thread_id, rating FROM threads WHERE thread_id IN ({self._marks(len(chunk))})", chunk))
        return out

    def _comments(self, ids: list[str]) -> dict[str, str]:
        """Each thread's latest rating comment (what worked or failed, in the rater's words; already redacted)."""
        latest: dict[str, tuple[str, str, str]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for tid, comment, ts, event_id in self._all(
                    "SELECT thread_id, comment, ts, event_id FROM ratings "
                    f"WHERE thread_id IN ({self._marks(len(chunk))}) AND comment <> ''", chunk):
                if tid not in latest or (ts, event_id) > latest[tid][:2]:
                    latest[tid] = (ts, event_id, comment)
        return {tid: comment for tid, (_ts, _e, comment) in latest.items()}

    def _rows(self, ids: list[str]) -> dict[str, ThreadRecord]:
        if not ids:
            return {}
        out = {}
        for row in self._all(
                "SELECT t.thread_id, t.request_text, t.resolution_text, t.cluster_id, t.user_id, t.response_text, "
                "t.resolution_status, t.rating, t.ts, m.context, m.keywords, m.tags, m.resolution_steps "
                "FROM threads t JOIN thread_metadata m ON m.thread_id = t.thread_id "
                f"WHERE t.thread_id IN ({self._marks(len(ids))})", ids):
            out[row[0]] = ThreadRecord(
                thread_id=row[0], request=row[1], resolution=row[2], cluster_id=row[3], user_id=row[4],
                response=row[5], resolution_status=row[6], rating=row[7], timestamp=row[8], context=row[9] or "",
                keywords=tuple(json.loads(row[10] or "[]")), tags=tuple(json.loads(row[11] or "[]")),
                steps=tuple(json.loads(row[12] or "[]")))
        return out

    # ------------------------------------------------------------------- the event log

    def events_after(self, seq: int, limit: int = 500, local_only: bool = False) -> list[Event]:
        where = "seq > ?" + (" AND NOT remote" if local_only else "")
        with self._locked():
            rows = self._all(f"SELECT seq, event_id, kind, origin, ts, payload FROM events WHERE {where} "
                             "ORDER BY seq LIMIT ?", (seq, limit))
        return [Event(event_id=r[1], kind=r[2], payload=json.loads(r[5]), origin=r[3], ts=r[4], seq=int(r[0]))
                for r in rows]

    def last_seq(self) -> int:
        with self._locked():
            return int(self._all("SELECT coalesce(max(seq), 0) FROM events")[0][0])

    def cursor(self, name: str) -> int:
        with self._locked():
            rows = self._all("SELECT value FROM sync_state WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else 0

    def set_cursor(self, name: str, value: int) -> None:
        with self._locked(), self._tx():
            self._exec("INSERT INTO sync_state (name, value) VALUES (?, ?) "
                       "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, value))

    def ingest(self, events: list[Event], remote: bool = True) -> int:
        """Store and apply events that are new here; copies are skipped. Returns how many were new."""
        if not events:
            return 0
        if remote:
            events = [ev.redact_event(e) for e in events]  # never trust that the sender redacted
        vectors = self._vectors_for(events)
        touched: list[tuple[str, str]] = []
        removed: list[str] = []
        with self._locked(), self._tx():
            ids = [e.event_id for e in events]
            seen: set[str] = set()
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                seen.update(r[0] for r in self._all(
                    f"SELECT event_id FROM events WHERE event_id IN ({self._marks(len(chunk))})", chunk))
            fresh: list[Event] = []
            for e in events:
                if e.event_id not in seen:
                    seen.add(e.event_id)
                    fresh.append(e)
            tomb = self._tombstones([ev.event_user(e) for e in fresh])
            fresh = [e for e in fresh if not (ev.event_user(e) in tomb and e.ts < tomb[ev.event_user(e)]
                                              and e.kind != "forget-user")]
            self._insert_events([(e.event_id, e.kind, e.origin, ev.event_thread(e), ev.event_user(e), e.ts,
                                  ev.dumps(e.payload), remote) for e in fresh])
            threads = [e for e in fresh if e.kind == "thread"]
            if threads:
                touched = self._apply_threads(threads)
            for e in fresh:
                if e.kind == "rating":
                    self._apply_rating(e.payload["thread_id"], e.payload["user"], int(e.payload["score"]),
                                       e.payload.get("comment", ""), e.ts, e.event_id)
                elif e.kind == "message":
                    p = e.payload
                    self._exec("INSERT INTO messages (message_id, thread_id, role, user_id, text, ts) "
                               "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING",
                               (e.event_id, p["thread_id"], p.get("role", ""), p.get("user", ""), p.get("text", ""),
                                e.ts))
                elif e.kind == "plan":
                    p = e.payload
                    self._exec("INSERT INTO plan_revisions (thread_id, revision, digest, summary, actions, ts) "
                               "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (thread_id, revision) DO UPDATE SET "
                               "digest = excluded.digest, summary = excluded.summary, actions = excluded.actions, "
                               "ts = excluded.ts",
                               (p["thread_id"], int(p["revision"]), p.get("digest", ""), p.get("summary", ""),
                                ev.dumps(p.get("actions") or []), e.ts))
                elif e.kind == "preference":
                    p = e.payload
                    self._lww_upsert("preferences", ("user_id", "key"), (p["user"], p["key"]),
                                     {"value": ev.dumps(p.get("value"))}, e.ts, e.event_id)
                elif e.kind == "forget-user":
                    removed.extend(self._apply_forget(e.payload["user"], e.ts, e.event_id))
            if touched:
                self._set_thread_vectors(touched)
        self._after_apply(touched, vectors, removed)
        self._written()
        return len(fresh)

    def _after_apply(self, touched: list[tuple[str, str]], vectors: dict[str, np.ndarray] | None,
                     removed: list[str]) -> None:
        if removed:
            self._removed(removed)

    def _vectors_for(self, events: list[Event]) -> dict[str, np.ndarray] | None:
        """Embed the thread texts not yet in the embedding cache (outside the write lock)."""
        texts = {}
        for e in events:
            if e.kind == "thread":
                text = ev.embed_text(e.payload.get("request", ""), e.payload.get("resolution", ""))
                texts[ev.text_hash(text)] = text
        if not texts:
            return None
        hashes = list(texts)
        with self._locked():
            known: set[str] = set()
            for start in range(0, len(hashes), 500):
                chunk = hashes[start:start + 500]
                known.update(r[0] for r in self._all(
                    f"SELECT text_hash FROM embeddings WHERE text_hash IN ({self._marks(len(chunk))})", chunk))
        missing = [h for h in hashes if h not in known]
        out: dict[str, np.ndarray] = {}
        if missing:
            vecs = self.embedder.embed([texts[h] for h in missing])
            out = dict(zip(missing, vecs, strict=True))
            with self._locked(), self._tx():
                self._store_embeddings(missing, vecs)
        return out

    # ------------------------------------------------------------------------ appliers

    def _tombstones(self, users: list[str]) -> dict[str, str]:
        users = [u for u in set(users) if u]
        if not users:
            return {}
        return {r[0]: r[1] for r in self._all(
            f"SELECT user_id, ts FROM forgotten_users WHERE user_id IN ({self._marks(len(users))})", users)}

    def _lww_upsert(self, table: str, keys: tuple[str, ...], key_values: tuple[Any, ...], values: dict[str, Any],
                    ts: str, event_id: str) -> None:
        cols = [*keys, *values, "ts", "event_id"]
        sets = ", ".join(f"{c} = excluded.{c}" for c in [*values, "ts", "event_id"])
        self._exec(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({self._marks(len(cols))}) "
                   f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets} "
                   f"WHERE excluded.ts > {table}.ts OR (excluded.ts = {table}.ts AND excluded.event_id > {table}.event_id)",
                   (*key_values, *values.values(), ts, event_id))

    def _apply_threads(self, events: list[Event]) -> list[tuple[str, str]]:
        latest: dict[str, Event] = {}
        for e in events:
            tid = e.payload["thread_id"]
            if tid not in latest or (e.ts, e.event_id) > (latest[tid].ts, latest[tid].event_id):
                latest[tid] = e
        ids = list(latest)
        current = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            current.update({r[0]: (r[1], r[2]) for r in self._all(
                f"SELECT thread_id, updated_ts, updated_event FROM threads WHERE thread_id IN ({self._marks(len(chunk))})",
                chunk)})
        winners = [e for tid, e in latest.items() if tid not in current or (e.ts, e.event_id) > current[tid]]
        if not winners:
            return []
        thread_rows, meta_rows, rating_rows, touched = [], [], [], []
        for e in winners:
            p = e.payload
            h = ev.text_hash(ev.embed_text(p.get("request", ""), p.get("resolution", "")))
            thread_rows.append((p["thread_id"], p.get("cluster_id") or "local", p.get("user_id") or "",
                                p.get("request", ""), p.get("response") or "", p.get("resolution", ""),
                                p.get("resolution_status") or "resolved", p.get("rating"), p.get("timestamp") or e.ts,
                                h, e.ts, e.event_id))
            meta_rows.append((p["thread_id"], p.get("context") or "", ev.dumps(p.get("keywords") or []),
                              ev.dumps(p.get("steps") or []), ev.dumps(p.get("tags") or [])))
            if p.get("rating") is not None:
                rating_rows.append((p["thread_id"], p.get("user_id") or "import", int(p["rating"]), "", e.ts,
                                    e.event_id))
            touched.append((p["thread_id"], h))
        self._write_threads(thread_rows, meta_rows, rating_rows)
        return touched

    def _insert_events(self, rows: list[tuple[Any, ...]]) -> None:
        """Append new events (ids already checked absent): (event_id, kind, origin, thread_id, user_id, ts,
        payload, remote)."""
        self._many("INSERT INTO events (event_id, kind, origin, thread_id, user_id, ts, payload, remote) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def _write_threads(self, thread_rows: list[tuple[Any, ...]], meta_rows: list[tuple[Any, ...]],
                       rating_rows: list[tuple[Any, ...]]) -> None:
        """Upsert the winning thread versions, their metadata and their authors' ratings, then aggregate."""
        self._many("INSERT INTO threads (thread_id, cluster_id, user_id, request_text, response_text, resolution_text, "
                   "resolution_status, rating, ts, text_hash, updated_ts, updated_event) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (thread_id) DO UPDATE SET "
                   "cluster_id = excluded.cluster_id, user_id = excluded.user_id, request_text = excluded.request_text, "
                   "response_text = excluded.response_text, resolution_text = excluded.resolution_text, "
                   "resolution_status = excluded.resolution_status, ts = excluded.ts, text_hash = excluded.text_hash, "
                   "updated_ts = excluded.updated_ts, updated_event = excluded.updated_event", thread_rows)
        self._many("INSERT INTO thread_metadata (thread_id, context, keywords, resolution_steps, tags) "
                   "VALUES (?, ?, ?, ?, ?) ON CONFLICT (thread_id) DO UPDATE SET context = excluded.context, "
                   "keywords = excluded.keywords, resolution_steps = excluded.resolution_steps, tags = excluded.tags",
                   meta_rows)
        self._many("INSERT INTO ratings (thread_id, user_id, score, comment, ts, event_id) VALUES (?, ?, ?, ?, ?, ?) "
                   "ON CONFLICT (thread_id, user_id) DO UPDATE SET score = excluded.score, comment = excluded.comment, "
                   "ts = excluded.ts, event_id = excluded.event_id WHERE excluded.ts > ratings.ts OR "
                   "(excluded.ts = ratings.ts AND excluded.event_id > ratings.event_id)", rating_rows)
        self._aggregate([r[0] for r in thread_rows])

    def _apply_rating(self, thread_id: str, user: str, score: int, comment: str, ts: str, event_id: str,
                      aggregate: bool = True) -> None:
        self._lww_upsert("ratings", ("thread_id", "user_id"), (thread_id, user), {"score": score, "comment": comment},
                         ts, event_id)
        if aggregate:
            self._aggregate([thread_id])

    def _aggregate(self, ids: list[str]) -> None:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            self._exec("UPDATE threads SET rating = (SELECT CAST(round(avg(r.score)) AS INTEGER) FROM ratings r "
                       f"WHERE r.thread_id = threads.thread_id) WHERE thread_id IN ({self._marks(len(chunk))})", chunk)

    def _delete_threads(self, ids: list[str]) -> None:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = self._marks(len(chunk))
            for table in ("thread_metadata", "messages", "plan_revisions", "ratings", "events", "threads"):
                self._exec(f"DELETE FROM {table} WHERE thread_id IN ({marks})", chunk)

    def _count_user(self, user: str) -> int:
        return int(self._all("SELECT count(*) FROM threads WHERE user_id = ?", (user,))[0][0])

    def _apply_forget(self, user: str, ts: str, event_id: str) -> list[str]:
        ids = [r[0] for r in self._all("SELECT thread_id FROM threads WHERE user_id = ?", (user,))]
        self._delete_threads(ids)
        rated = [r[0] for r in self._all("SELECT DISTINCT thread_id FROM ratings WHERE user_id = ?", (user,))]
        self._exec("DELETE FROM ratings WHERE user_id = ?", (user,))
        self._aggregate(rated)
        self._exec("DELETE FROM messages WHERE user_id = ?", (user,))
        self._exec("DELETE FROM preferences WHERE user_id = ?", (user,))
        self._exec("DELETE FROM events WHERE user_id = ? AND kind <> 'forget-user'", (user,))
        self._exec("INSERT INTO forgotten_users (user_id, ts) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET "
                   "ts = excluded.ts WHERE excluded.ts > forgotten_users.ts", (user, ts))
        return ids

    # ---------------------------------------------------------------- bounded cache

    def evict(self, keep: int, pushed_seq: int | None = None) -> int:
        """Keep the `keep` most relevant threads (rated 100 first, then rating, then newest).

        A thread whose own events are not yet pushed (seq > `pushed_seq`) is never evicted.
        """
        with self._locked():
            total = int(self._all("SELECT count(*) FROM threads")[0][0])
            if total <= keep:
                return 0
            rows = self._all("SELECT thread_id FROM threads ORDER BY CASE WHEN rating = 100 THEN 1 ELSE 0 END DESC, "
                             "coalesce(rating, -1) DESC, ts DESC LIMIT ? OFFSET ?", (total - keep, keep))
            ids = [r[0] for r in rows]
            if pushed_seq is not None and ids:
                pending = {r[0] for r in self._all(
                    "SELECT DISTINCT thread_id FROM events WHERE seq > ? AND NOT remote", (pushed_seq,))}
                ids = [t for t in ids if t not in pending]
            with self._tx():
                self._delete_threads(ids)
        self._removed(ids)
        self._written()
        return len(ids)


def _hit(r: ThreadRecord, comment: str, score: float, why: str) -> KnowledgeHit:
    return KnowledgeHit(thread_id=r.thread_id, request=r.request, resolution=r.resolution, rating=r.rating,
                        score=score, why=why, steps=list(r.steps), cluster_id=r.cluster_id, context=r.context,
                        tags=list(r.tags), resolution_status=r.resolution_status, comment=comment)
