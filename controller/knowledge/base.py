"""The `KnowledgeStore` seam, its records, and the event that every change to a store is.

Declared here, where the controller consumes it. Two widths, both Protocols:

- `KnowledgeStore` is what the engine needs: store a promoted thread, rate it, search, fetch a thread
  a person names by its id, and read a user's preferences; hits carry the latest rating comment. The
  in-memory store, the DuckDB store, the PostgreSQL store and the cluster cache (DuckDB synced with
  PostgreSQL) all satisfy it.
- `KnowledgeBase` is what tools (CLI, sync agent, UI) need on top: messages, plan revisions,
  explicit preferences, the event log, retention and deleting a user's data.

Why events: history is append-only `Event`s with globally unique ids. A store applies an event
once (a second copy is ignored), so a sync between a cluster's cache and the central database is
idempotent, can resume from a cursor, and loses nothing when the central database was down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from controller.planning.types import KnowledgeHit


@dataclass(frozen=True)
class ThreadRecord:
    """One resolved (or attempted) thread, as the seed's schema names it.

    Threads: ThreadID, ClusterID, UserID, RequestText, ResponseText, ResolutionStatus, Rating,
    Timestamp. Thread Metadata: Context, Keywords, ResolutionSteps (`steps`), Tags.
    `resolution` is the short text a person reads as "what fixed it".
    """

    thread_id: str
    request: str
    resolution: str
    cluster_id: str = "local"
    user_id: str = ""
    response: str = ""
    resolution_status: str = "resolved"
    rating: int | None = None
    timestamp: str = ""
    context: str = ""
    keywords: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    steps: tuple[dict[str, Any], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Filters:
    """Search filters. Tags match when the thread has every tag asked for."""

    context: str | None = None
    tags: tuple[str, ...] = ()
    cluster: str | None = None
    min_rating: int | None = None

    @property
    def empty(self) -> bool:
        return self.context is None and not self.tags and self.cluster is None and self.min_rating is None


@dataclass(frozen=True)
class Event:
    """One change, as stored in the append-only log and sent by the sync agent.

    kinds: thread, rating, message, plan, preference, forget-user.
    `seq` is the position in the log of the store it was read from (0 when not yet stored).
    """

    event_id: str
    kind: str
    payload: dict[str, Any]
    origin: str
    ts: str
    seq: int = 0


@dataclass(frozen=True)
class ThreadDetail:
    """A thread with everything recorded about it."""

    record: ThreadRecord
    messages: list[dict[str, Any]]
    revisions: list[dict[str, Any]]
    ratings: dict[str, int]


class KnowledgeStore(Protocol):
    """What the engine uses: step 3 (search), step 10 (store a rated resolution), box #20 (preferences)."""

    def add_thread(self, record: ThreadRecord) -> None: ...

    def add_rating(self, thread_id: str, user: str, score: int, comment: str = "") -> None: ...

    def search(self, text: str, top_k: int = 5, min_rating: int | None = None, *, context: str | None = None,
               tags: tuple[str, ...] | list[str] = (), cluster: str | None = None) -> list[KnowledgeHit]: ...

    def get(self, thread_id: str) -> KnowledgeHit | None:
        """One thread by id, shaped like a search hit (with its latest rating comment)."""
        ...

    def preferences(self, user: str) -> dict[str, Any]: ...


class KnowledgeBase(KnowledgeStore, Protocol):
    """The whole store, for tools and the sync agent."""

    def add_threads(self, records: list[ThreadRecord]) -> int: ...

    def add_message(self, thread_id: str, role: str, user: str, text: str, ts: str = "") -> None: ...

    def add_plan_revision(self, thread_id: str, revision: int, digest: str, summary: str,
                          actions: list[dict[str, Any]], ts: str = "") -> None: ...

    def set_preference(self, user: str, key: str, value: Any) -> None: ...

    def thread(self, thread_id: str) -> ThreadDetail | None: ...

    def count(self) -> int: ...

    def purge_older_than(self, days: int, now: str | None = None) -> int: ...

    def forget_user(self, user: str) -> int: ...

    def close(self) -> None: ...
