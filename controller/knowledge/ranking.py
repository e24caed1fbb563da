"""Hybrid ranking, pure: reciprocal-rank fusion of a full-text list and a vector list.

Why RRF: BM25 scores and cosine similarities live on different scales; ranks do not. A thread at
rank r in a list adds 1/(K + r). "Rated 100 first among equals": equal list scores share a rank, fused
scores are compared at three decimals, and a rated-100 thread goes first within a tie. Each hit says why it matched.
"""

from __future__ import annotations

from dataclasses import dataclass

RRF_K = 60
CANDIDATES = 50  # taken from each list before fusion
MIN_COSINE = 0.2  # below this a vector neighbour is noise, not a reason to show a thread


@dataclass(frozen=True)
class Candidate:
    thread_id: str
    rank: int  # 1-based
    score: float  # the list's own score (BM25 or cosine)


@dataclass(frozen=True)
class Fused:
    thread_id: str
    score: float
    why: str


def tie_ranks(hits: list[Candidate]) -> list[Candidate]:
    """Equal list scores share a rank (1, 1, 3, ...), so equally good threads tie after fusion."""
    out: list[Candidate] = []
    for i, c in enumerate(hits):
        same = out and round(out[-1].score, 6) == round(c.score, 6)
        out.append(Candidate(c.thread_id, out[-1].rank if same else i + 1, c.score))
    return out


def fuse(text_hits: list[Candidate], vector_hits: list[Candidate], ratings: dict[str, int | None],
         top_k: int, matched_terms: dict[str, list[str]] | None = None, ranked: bool = False) -> list[Fused]:
    """Fused top_k. `ranked`: the lists already went through `tie_ranks` (their ranks are kept as given)."""
    if not ranked:
        text_hits, vector_hits = tie_ranks(text_hits), tie_ranks(vector_hits)
    scores: dict[str, float] = {}
    reasons: dict[str, list[str]] = {}
    for c in text_hits:
        scores[c.thread_id] = scores.get(c.thread_id, 0.0) + 1.0 / (RRF_K + c.rank)
        terms = (matched_terms or {}).get(c.thread_id)
        detail = f" on {', '.join(terms[:6])}" if terms else ""
        reasons.setdefault(c.thread_id, []).append(f"full-text rank {c.rank} (bm25 {c.score:.2f}){detail}")
    for c in vector_hits:
        scores[c.thread_id] = scores.get(c.thread_id, 0.0) + 1.0 / (RRF_K + c.rank)
        reasons.setdefault(c.thread_id, []).append(f"meaning rank {c.rank} (cosine {c.score:.2f})")

    def key(tid: str) -> tuple[float, bool, float]:
        return (round(scores[tid], 3), ratings.get(tid) == 100, scores[tid])

    ordered = sorted(scores, key=key, reverse=True)[:top_k]
    out = []
    for tid in ordered:
        why = "; ".join(reasons[tid])
        if ratings.get(tid) == 100:
            why += "; rated 100"
        out.append(Fused(tid, round(scores[tid], 5), why))
    return out


def contenders(fused: list[Fused], top_k: int) -> list[str]:
    """Threads that can still be in the top_k once ratings break ties.

    `fused` is every candidate fused without ratings, best first. Ratings only reorder threads whose
    fused scores are equal at three decimals, so any thread below the k-th one's rounded score is
    out; a small margin covers the double rounding of `Fused.score`. Only these rows are read.
    """
    if len(fused) <= top_k:
        return [f.thread_id for f in fused]
    cut = round(fused[top_k - 1].score, 3) - 0.0006
    return [f.thread_id for f in fused if f.score >= cut]
