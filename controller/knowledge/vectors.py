"""A brute-force cosine index in numpy over a cached matrix: the vector half of embedded search.

Why not DuckDB's array_cosine_similarity or an HNSW index: on 2 cores numpy's matrix-vector product
over a float32 matrix is several times faster than the SQL function (ENVIRONMENT.md), and an HNSW
build of 100k rows took minutes. Vectors are unit length, so cosine is a dot product. The index is
kept in step by the store that owns the DuckDB file (DuckDB has one writer process).
"""

from __future__ import annotations

import numpy as np


class VectorIndex:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._matrix = np.zeros((1024, dim), dtype=np.float32)
        self._alive = np.zeros(1024, dtype=bool)

    def __len__(self) -> int:
        return len(self._row)

    def _grow(self, need: int) -> None:
        size = self._matrix.shape[0]
        if need <= size:
            return
        while size < need:
            size *= 2
        matrix = np.zeros((size, self.dim), dtype=np.float32)
        matrix[: len(self._ids)] = self._matrix[: len(self._ids)]
        alive = np.zeros(size, dtype=bool)
        alive[: len(self._ids)] = self._alive[: len(self._ids)]
        self._matrix, self._alive = matrix, alive

    def upsert(self, ids: list[str], vectors: np.ndarray) -> None:
        self._grow(len(self._ids) + len(ids))
        for tid, vec in zip(ids, vectors, strict=True):
            row = self._row.get(tid)
            if row is None:
                row = len(self._ids)
                self._ids.append(tid)
                self._row[tid] = row
            self._matrix[row] = vec
            self._alive[row] = True

    def remove(self, ids: list[str]) -> None:
        for tid in ids:
            row = self._row.pop(tid, None)
            if row is not None:
                self._alive[row] = False

    def top(self, query: np.ndarray, n: int, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        used = len(self._ids)
        if not used or n <= 0:
            return []
        scores = self._matrix[:used] @ query.astype(np.float32)
        mask = self._alive[:used].copy()
        if allowed is not None:
            keep = np.zeros(used, dtype=bool)
            rows = [self._row[t] for t in allowed if t in self._row]
            keep[rows] = True
            mask &= keep
        scores = np.where(mask, scores, -np.inf)
        k = min(n, int(mask.sum()))
        if k <= 0:
            return []
        part = np.argpartition(-scores, k - 1)[:k]
        order = part[np.argsort(-scores[part])]
        return [(self._ids[i], float(scores[i])) for i in order]
