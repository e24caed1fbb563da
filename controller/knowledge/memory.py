"""An in-memory knowledge store: word-overlap search, ratings per user, rated-100 first among equals.

Like the SQL stores, a hit carries the thread's latest rating comment (redacted, as every stored text),
so a low rating's reason reaches the planner whichever store the engine runs with.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from controller.knowledge.base import ThreadRecord
from controller.knowledge.events import learn_preferences
from controller.planning.types import KnowledgeHit
from controller.redact import redact_text

_WORD = re.compile(r"[a-z0-9][a-z0-9.:/-]*")
_STOP = frozenset({"the", "a", "an", "to", "in", "of", "for", "and", "please", "my", "is", "it", "on", "with"})


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


class MemoryKnowledgeStore:
    def __init__(self) -> None:
        self._threads: dict[str, ThreadRecord] = {}
        self._ratings: dict[str, dict[str, int]] = {}
        self._comments: dict[str, str] = {}
        self._lock = threading.Lock()

    def add_thread(self, record: ThreadRecord) -> None:
        with self._lock:
            self._threads[record.thread_id] = record
            if record.rating is not None:
                self._ratings.setdefault(record.thread_id, {})[record.user_id or "import"] = record.rating

    def add_rating(self, thread_id: str, user: str, score: int, comment: str = "") -> None:
        with self._lock:
            self._ratings.setdefault(thread_id, {})[user] = score
            if comment.strip():
                self._comments[thread_id] = redact_text(comment)

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
                hits.append(self._hit(record, round(score, 4), "shared words: " + ", ".join(sorted(common)[:8])))
        hits.sort(key=lambda h: (h.score, h.rating == 100), reverse=True)
        return hits[:top_k]

    def get(self, thread_id: str) -> KnowledgeHit | None:
        """One thread by its id (a person named it)."""
        with self._lock:
            record = self._threads.get(thread_id)
            return None if record is None else self._hit(record, 1.0, "named in the request")

    def _hit(self, record: ThreadRecord, score: float, why: str) -> KnowledgeHit:
        return KnowledgeHit(thread_id=record.thread_id, request=record.request, resolution=record.resolution,
                            rating=self._rating(record.thread_id), score=score, why=why, steps=list(record.steps),
                            cluster_id=record.cluster_id, comment=self._comments.get(record.thread_id, ""))
