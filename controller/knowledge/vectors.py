"""The vector half of embedded search, in numpy: brute force for small stores, an IVF index for large ones.

Why not DuckDB's array_cosine_similarity or an HNSW index: on 2 cores numpy's matrix-vector product
over a float32 matrix is several times faster than the SQL function, and an HNSW build of 100k rows
took minutes. Why IVF above `IVF_MIN` rows: a full matrix-vector product reads every vector (1.5 GB
at 1M rows, ~270 ms on this machine); an inverted file of k-means lists (spherical k-means on a
sample, then every row assigned to its nearest centroid, rows stored grouped by list) reads only
the `nprobe` lists nearest the query (√lists of them, at least 16: ~3% of the rows at 1M, where 8% read
120 MB a query), then takes the exact top n in float32.

Rows are append-only: an upsert of a known id marks the old row dead and appends; rows added after
the IVF build sit in a brute-force tail until it is large enough to regroup. Vectors are unit
length, so cosine is a dot product. The store that owns the DuckDB file keeps the index in step.
"""

from __future__ import annotations

import numpy as np

IVF_MIN = 20_000  # below this many rows, brute force is already a few ms
REGROUP = 0.25  # regroup when the unindexed tail is this fraction of the grouped rows
MIN_PROBE = 16  # lists searched: max(MIN_PROBE, √lists) — 32 of 1000 at 1M rows


def _nprobe(lists: int) -> int:
    return min(lists, max(MIN_PROBE, int(np.ceil(np.sqrt(lists)))))


def _nlist(n: int) -> int:
    return int(min(1024, max(64, np.sqrt(n))))


def kmeans(data: np.ndarray, k: int, iters: int = 8, seed: int = 0) -> np.ndarray:
    """Spherical k-means (unit centroids, dot product), on a sample the caller picked."""
    rng = np.random.default_rng(seed)
    cent = data[rng.choice(len(data), size=k, replace=False)].copy()
    for _ in range(iters):
        assign = _nearest(data, cent)
        sums = np.zeros_like(cent)
        np.add.at(sums, assign, data)
        counts = np.bincount(assign, minlength=k)
        empty = counts == 0
        if empty.any():  # re-seed empty lists from random points
            sums[empty] = data[rng.choice(len(data), size=int(empty.sum()), replace=False)]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        cent = (sums / np.maximum(norms, 1e-12)).astype(np.float32)
    return cent


def _nearest(data: np.ndarray, cent: np.ndarray, chunk: int = 16384) -> np.ndarray:
    out = np.empty(len(data), dtype=np.int32)
    for s in range(0, len(data), chunk):
        out[s:s + chunk] = np.argmax(data[s:s + chunk] @ cent.T, axis=1)
    return out


def top_rows(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the n highest scores, best first (-inf never returned)."""
    k = min(n, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    part = part[np.isfinite(scores[part])]
    order: np.ndarray = part[np.argsort(-scores[part], kind="stable")]
    return order


class VectorIndex:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._ids: list[str] = []  # per row
        self._row: dict[str, int] = {}  # id -> its live row
        self._alive = np.zeros(1024, dtype=bool)
        # the tail: rows >= self._grouped_upto, in row order
        self._tail = np.zeros((1024, dim), dtype=np.float32)
        self._grouped_upto = 0
        # the IVF part: rows < self._grouped_upto, grouped by list
        self._cent: np.ndarray | None = None
        self._gmat = np.zeros((0, dim), dtype=np.float32)
        self._grows = np.zeros(0, dtype=np.int64)  # row of each grouped vector
        self._offsets = np.zeros(1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._row)

    @property
    def ivf(self) -> bool:
        return self._cent is not None

    def _grow(self, rows: int) -> None:
        if rows > len(self._alive):
            size = max(rows, 2 * len(self._alive))
            alive = np.zeros(size, dtype=bool)
            alive[: len(self._ids)] = self._alive[: len(self._ids)]
            self._alive = alive
        tail_need = rows - self._grouped_upto
        if tail_need > len(self._tail):
            size = max(tail_need, 2 * len(self._tail))
            tail = np.zeros((size, self.dim), dtype=np.float32)
            used = len(self._ids) - self._grouped_upto
            tail[:used] = self._tail[:used]
            self._tail = tail

    def upsert(self, ids: list[str], vectors: np.ndarray) -> None:
        if not ids:
            return
        vectors = np.asarray(vectors, dtype=np.float32)
        self._grow(len(self._ids) + len(ids))
        for tid in ids:
            old = self._row.get(tid)
            if old is not None:
                self._alive[old] = False
        start = len(self._ids)
        self._ids.extend(ids)
        t0 = start - self._grouped_upto
        self._tail[t0:t0 + len(ids)] = vectors
        for i, tid in enumerate(ids):
            self._row[tid] = start + i
        self._alive[start:start + len(ids)] = True
        # a repeated id within one call: only its last row is alive
        if len(set(ids)) != len(ids):
            for i, tid in enumerate(ids):
                if self._row[tid] != start + i:
                    self._alive[start + i] = False
        self._maybe_regroup()

    def remove(self, ids: list[str]) -> None:
        for tid in ids:
            row = self._row.pop(tid, None)
            if row is not None:
                self._alive[row] = False

    # ------------------------------------------------------------------------------ IVF

    def _maybe_regroup(self) -> None:
        total = len(self._ids)
        tail = total - self._grouped_upto
        if total < IVF_MIN or tail < max(IVF_MIN, REGROUP * self._grouped_upto):
            return
        self.regroup()

    def regroup(self) -> None:
        """Train the lists (again) on a sample of the live rows and group every live row."""
        total = len(self._ids)
        alive_rows = np.flatnonzero(self._alive[:total])
        if len(alive_rows) < IVF_MIN:
            return
        vecs = self._vectors_of(alive_rows)
        k = _nlist(len(alive_rows))
        rng = np.random.default_rng(len(alive_rows))
        sample = vecs[rng.choice(len(vecs), size=min(len(vecs), max(40 * k, 20_000)), replace=False)]
        cent = kmeans(sample, k)
        assign = _nearest(vecs, cent)
        order = np.argsort(assign, kind="stable")
        self._gmat = np.ascontiguousarray(vecs[order])
        self._grows = alive_rows[order]
        self._offsets = np.concatenate([[0], np.cumsum(np.bincount(assign, minlength=k))]).astype(np.int64)
        self._cent = cent
        self._grouped_upto = total
        self._tail = np.zeros((1024, self.dim), dtype=np.float32)

    def _vectors_of(self, rows: np.ndarray) -> np.ndarray:
        """Vectors of the given rows (ascending), from the grouped part and the tail."""
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        in_tail = rows >= self._grouped_upto
        if in_tail.any():
            out[in_tail] = self._tail[rows[in_tail] - self._grouped_upto]
        if (~in_tail).any():
            pos = np.empty(len(self._alive), dtype=np.int64)
            pos[self._grows] = np.arange(len(self._grows))
            out[~in_tail] = self._gmat[pos[rows[~in_tail]]]
        return out

    # --------------------------------------------------------------------------- search

    def top(self, query: np.ndarray, n: int, allowed: np.ndarray | None = None,
            nprobe: int | None = None) -> list[tuple[str, float]]:
        """The n nearest live rows (optionally only rows where `allowed[row]`), as (id, cosine)."""
        total = len(self._ids)
        if not total or n <= 0:
            return []
        q = np.asarray(query, dtype=np.float32)
        mask = self._alive[:total] if allowed is None else self._alive[:total] & allowed[:total]
        rows_parts: list[np.ndarray] = []
        score_parts: list[np.ndarray] = []
        tail_n = total - self._grouped_upto
        if tail_n:
            score_parts.append(self._tail[:tail_n] @ q)
            rows_parts.append(np.arange(self._grouped_upto, total))
        if self._cent is not None:
            lists = len(self._cent)
            probe = nprobe or _nprobe(lists)
            if allowed is not None:
                probe = lists  # a filter may leave few rows: search them all
            near = np.argsort(-(self._cent @ q))[:probe] if probe < lists else np.arange(lists)
            near.sort()
            for lst in near:
                a, b = self._offsets[lst], self._offsets[lst + 1]
                if b > a:
                    score_parts.append(self._gmat[a:b] @ q)
                    rows_parts.append(self._grows[a:b])
        if not rows_parts:
            return []
        rows = np.concatenate(rows_parts)
        scores = np.concatenate(score_parts)
        scores = np.where(mask[rows], scores, -np.inf)
        best = top_rows(scores, n)
        return [(self._ids[int(rows[i])], float(scores[i])) for i in best]

    def row_mask(self, ids: set[str]) -> np.ndarray:
        mask = np.zeros(len(self._ids), dtype=bool)
        rows = [self._row[t] for t in ids if t in self._row]
        if rows:
            mask[rows] = True
        return mask
