"""The `KnowledgeStore` seam and its record type.

Declared here, where the controller consumes it. The in-memory store serves tests and the loop
until the DuckDB / PostgreSQL stores land; every implementation passes the same contract tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from controller.planning.types import KnowledgeHit


@dataclass(frozen=True)
class ThreadRecord:
    """One resolved (or attempted) thread, as the seed's schema names it."""

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


class KnowledgeStore(Protocol):
    def add_thread(self, record: ThreadRecord) -> None: ...

    def add_rating(self, thread_id: str, user: str, score: int, comment: str = "") -> None: ...

    def search(self, text: str, top_k: int = 5, min_rating: int | None = None) -> list[KnowledgeHit]: ...
