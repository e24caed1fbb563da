"""Similar past resolutions, with their ratings, for the proposal being shown.

Why behind one function: the knowledge store is the right source, but the embedded DuckDB store
belongs to the controller (one writer process). The UI searches the central PostgreSQL store when
`AIOP_KNOWLEDGE_URL` names one (`open_knowledge()`); otherwise, or when it cannot be reached, it
falls back to the Completed conversations this person may see in the cluster, ranked by shared
words. Either way the
page gets the same `Similar` rows, and the threads the planner built on (`reused_from`) come first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from controller.api.constants import Phase
from ui.model import parse_status

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(["a", "an", "and", "the", "to", "of", "in", "on", "for", "is", "it", "my", "me", "please", "can", "you", "i", "with", "by", "at", "be"])


@dataclass(frozen=True)
class Similar:
    thread_id: str
    request: str
    resolution: str
    rating: int | None
    source: str
    reused: bool = False


class KnowledgeSearch(Protocol):
    """The slice of the controller's `KnowledgeStore` the UI reads."""

    def search(self, text: str, top_k: int = 5, min_rating: int | None = None) -> list[Any]: ...


def open_knowledge(url: str) -> KnowledgeSearch | None:
    """The central knowledge DB (PostgreSQL + pgvector) when one is configured; else None.

    The embedded DuckDB store has a single writer, the controller, in another process, so the UI
    does not open it; without a central DB the fallback below answers from the cluster.
    """
    try:
        from controller.knowledge import factory

        if not url or not factory.is_postgres(url):
            return None
        store: KnowledgeSearch = factory.open_url(url, origin="ui")
        return store
    except Exception:  # driver missing, database down: the fallback still answers
        return None


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def _from_store(store: KnowledgeSearch, text: str, reused: set[str], top_k: int) -> list[Similar]:
    hits = store.search(text, top_k=top_k)
    return [Similar(thread_id=str(getattr(h, "thread_id", "")), request=str(getattr(h, "request", "")),
                    resolution=str(getattr(h, "resolution", "")), rating=getattr(h, "rating", None),
                    source="knowledge store", reused=str(getattr(h, "thread_id", "")) in reused) for h in hits]


def _from_threads(threads: Iterable[dict[str, Any]], text: str, reused: set[str], exclude: str,
                  top_k: int) -> list[tuple[float, Similar]]:
    wanted = _words(text)
    ranked: list[tuple[float, Similar]] = []
    for obj in threads:
        status = parse_status(obj)
        if status.phase is not Phase.COMPLETED or status.thread_id == exclude:
            continue
        turns = [t.get("text", "") for t in (obj.get("spec") or {}).get("turns") or []]
        request = " / ".join(turns)
        resolution = status.revisions[-1].summary if status.revisions else ""
        have = _words(request + " " + resolution)
        overlap = len(wanted & have) / max(1, len(wanted | have))
        is_reused = status.thread_id in reused
        if overlap <= 0 and not is_reused:
            continue
        ranked.append((overlap, Similar(thread_id=status.thread_id, request=request, resolution=resolution,
                                        rating=status.last_rating, source="past threads in this cluster",
                                        reused=is_reused)))
    return ranked


def similar_resolutions(text: str, reused_from: list[str], threads: Iterable[dict[str, Any]],
                        exclude_thread: str = "", store: KnowledgeSearch | None = None,
                        top_k: int = 5) -> list[Similar]:
    """Past resolutions like this request: the ones the plan reused first, then by rating and likeness."""
    reused = set(reused_from)
    rows: list[tuple[float, Similar]] = []
    if store is not None:
        try:
            rows = [(1.0, s) for s in _from_store(store, text, reused, top_k) if s.thread_id != exclude_thread]
        except Exception:
            rows = []
    if not rows:
        rows = _from_threads(threads, text, reused, exclude_thread, top_k)
    rows.sort(key=lambda r: (r[1].reused, r[0], r[1].rating or 0), reverse=True)
    return [s for _, s in rows[:top_k]]
