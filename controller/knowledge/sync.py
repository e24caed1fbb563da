"""The cluster cache and its sync agent: a local DuckDB that trades events with the central PostgreSQL.

Why events and cursors: the local store appends every change as an event with a unique id. The
agent pushes local events after the `push` cursor and pulls central events after the `pull`
cursor, moving each cursor only after the other side committed. A crash or an outage in between
means the same events are sent again, and the receiver skips ids it has, so nothing is lost and
nothing is applied twice. Ratings are last-writer-wins per (thread, user), so they merge whatever
order they arrive in. While the central DB is down, planning keeps working from the cache and
events wait in the local log.

The cache is bounded: after a sync it keeps the `cache_size` most relevant threads (rated 100
first, then by rating, then newest), never evicting a thread whose events are not yet pushed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controller.knowledge.base import ThreadRecord
from controller.knowledge.sqlstore import SqlStore
from controller.planning.types import KnowledgeHit

log = logging.getLogger("aiop.knowledge.sync")

PUSH, PULL = "push", "pull"


@dataclass
class SyncReport:
    pushed: int = 0
    pulled: int = 0
    evicted: int = 0
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


class SyncAgent:
    def __init__(self, local: SqlStore, central: Callable[[], SqlStore], batch: int = 500,
                 cache_size: int = 5000) -> None:
        self.local = local
        self._open_central = central
        self._central: SqlStore | None = None
        self.batch = batch
        self.cache_size = cache_size
        self._wake = threading.Event()
        self._mutex = threading.Lock()

    def central(self) -> SqlStore:
        if self._central is None:
            self._central = self._open_central()
        return self._central

    def pending(self) -> int:
        """Local events not yet in the central DB."""
        return len(self.local.events_after(self.local.cursor(PUSH), limit=1_000_000, local_only=True))

    def sync_once(self) -> SyncReport:
        report = SyncReport()
        with self._mutex:
            try:
                central = self.central()
                while True:
                    batch = self.local.events_after(self.local.cursor(PUSH), self.batch, local_only=True)
                    if not batch:
                        break
                    report.pushed += central.ingest(batch, remote=True)
                    self.local.set_cursor(PUSH, batch[-1].seq)
                while True:
                    batch = central.events_after(self.local.cursor(PULL), self.batch)
                    if not batch:
                        break
                    report.pulled += self.local.ingest(batch, remote=True)
                    self.local.set_cursor(PULL, batch[-1].seq)
            except Exception as exc:  # the central DB being down is expected; events wait locally
                report.error = f"{type(exc).__name__}: {exc}".strip()
                log.warning("knowledge sync failed; events stay queued", extra={"error": report.error})
                self._drop_central()
            report.evicted = self.local.evict(self.cache_size, pushed_seq=self.local.cursor(PUSH))
        return report

    def _drop_central(self) -> None:
        if self._central is not None:
            try:
                self._central.close()
            except Exception:  # closing a broken connection may fail too
                pass
        self._central = None

    def kick(self) -> None:
        self._wake.set()

    def run(self, stop: threading.Event, interval: float = 30.0, max_backoff: float = 300.0) -> None:
        delay = interval
        while not stop.is_set():
            report = self.sync_once()
            delay = interval if report.ok else min(max(delay, interval) * 2, max_backoff)
            self._wake.wait(delay)
            self._wake.clear()

    def start(self, interval: float = 30.0) -> tuple[threading.Thread, threading.Event]:
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop, interval), name="aiop-knowledge-sync", daemon=True)
        thread.start()
        return thread, stop


class ClusterCache:
    """The engine's store when a central DB is configured: the local cache first, the central DB second."""

    def __init__(self, local: SqlStore, agent: SyncAgent) -> None:
        self.local = local
        self.agent = agent

    def add_thread(self, record: ThreadRecord) -> None:
        self.local.add_thread(record)
        self.agent.kick()

    def add_rating(self, thread_id: str, user: str, score: int, comment: str = "") -> None:
        self.local.add_rating(thread_id, user, score, comment)
        self.agent.kick()

    def preferences(self, user: str) -> dict[str, Any]:
        return self.local.preferences(user)

    def search(self, text: str, top_k: int = 5, min_rating: int | None = None, *, context: str | None = None,
               tags: tuple[str, ...] | list[str] = (), cluster: str | None = None) -> list[KnowledgeHit]:
        hits = self.local.search(text, top_k, min_rating, context=context, tags=tags, cluster=cluster)
        if len(hits) >= top_k:
            return hits
        try:
            more = self.agent.central().search(text, top_k, min_rating, context=context, tags=tags, cluster=cluster)
        except Exception as exc:  # central down: the cache answers alone
            log.info("central knowledge search unavailable", extra={"error": str(exc)})
            self.agent._drop_central()
            return hits
        seen = {h.thread_id for h in hits}
        return hits + [h for h in more if h.thread_id not in seen][: top_k - len(hits)]

    def get(self, thread_id: str) -> KnowledgeHit | None:
        """A named thread: from the cache, else from the central store (threads of other clusters)."""
        hit = self.local.get(thread_id)
        if hit is not None:
            return hit
        try:
            return self.agent.central().get(thread_id)
        except Exception as exc:  # central down: the cache answers alone
            log.info("central knowledge lookup unavailable", extra={"error": str(exc)})
            self.agent._drop_central()
            return None
