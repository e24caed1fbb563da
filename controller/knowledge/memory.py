"""An in-memory knowledge store: word-overlap search, ratings per user, rated-100 first among equals."""

from __future__ import annotations

import re
import threading
from typing import Any

from controller.knowledge.base import ThreadRecord
from controller.knowledge.events import learn_preferences
from controller.planning.types import KnowledgeHit

_WORD = re.compile(r"[a-z0-9][a-z0-9.:/-]*")
_STOP = frozenset({"the", "a", "an", "to", "in", "of", "for", "and", "please", "my", "is", "it", "on", "with"})


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


class MemoryKnowledgeStore:
    def __init__(self) -> None:
        self._threads: dict[str, ThreadRecord] = {}
        self._ratings: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    def add_thread(self, record: ThreadRecord) -> None:
        with self._lock:
            self._threads[record.thread_id] = record
            if record.rating is not None:
                self._ratings.setdefault(record.thread_id, {})[record.user_id or "import"] = record.rating

    def add_rating(self, thread_id: str, user: str, score: int, comment: str = "") -> None:
        with self._lock:
            self._ratings.setdefault(thread_id, {})[user] = score

    def _rating(self, thread_id: str) -> int | None:
        scores = self._ratings.get(thread_id)
        return round(sum(scores.values()) / len(scores)) if scores else None

    def preferences(self, user: str) -> dict[str, Any]:
        with self._lock:
            plans = [(r.thread_id, [dict(s) for s in r.steps]) for r in self._threads.values() if r.user_id == user]
        return learn_preferences(plans)

    def search(self, text: str, top_k: int = 5, min_rating: int | None = None, *, context: str | None = None,
               tags: tuple[str, ...] | list[str] = (), cluster: str | None = None) -> list[KnowledgeHit]:
        query = _words(text)
        hits = []
        with self._lock:
            for record in self._threads.values():
                rating = self._rating(record.thread_id)
                if min_rating is not None and (rating is None or rating < min_rating):
                    continue
                if (context is not None and record.context != context) or (cluster is not None and
                                                                         record.cluster_id != cluster):
                    continue
                if not {t.lower() for t in tags} <= {t.lower() for t in record.tags}:
                    continue
                words = _words(record.request + " " + record.resolution)
                common = query & words
                if not common:
                    continue
                score = len(common) / len(query | words)
                hits.append(KnowledgeHit(thread_id=record.thread_id, request=record.request,
                                         resolution=record.resolution, rating=rating, score=round(score, 4),
                                         why="shared words: " + ", ".join(sorted(common)[:8]),
                                         steps=list(record.steps)))
        hits.sort(key=lambda h: (h.score, h.rating == 100), reverse=True)
        return hits[:top_k]
