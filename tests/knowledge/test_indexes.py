"""The in-memory indexes of the DuckDB store: BM25 postings (tail and merged) and the IVF vector index."""

from __future__ import annotations

import numpy as np

from controller.knowledge import textindex, vectors
from controller.knowledge.textindex import TextIndex
from controller.knowledge.vectors import VectorIndex


def test_bm25_tail_merge_and_remove(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(textindex, "MERGE_MIN", 3)
    index = TextIndex(lambda words: [w.rstrip("s") for w in words])
    index.add(["a", "b"], ["scale the checkout deployment", "restart the cart pods"])
    index.add(["c"], ["scale cart replicas"])
    assert index.top("cart replicas", 5)[0][0] == "c"
    index.remove(["c"])
    assert "c" not in [t for t, _ in index.top("cart", 5)]
    index.add(["b"], ["create a bucket"])  # an update: the old text no longer matches
    assert [t for t, _ in index.top("bucket", 5)] == ["b"] and index.top("pods", 5) == []


def test_ivf_finds_the_exact_vector(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(vectors, "IVF_MIN", 2000)
    rng = np.random.default_rng(1)
    data = rng.standard_normal((3000, 32)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    index = VectorIndex(32)
    index.upsert([f"v{i}" for i in range(3000)], data)
    assert index.ivf
    hits = [index.top(data[i], 1)[0][0] for i in range(0, 3000, 97)]
    assert hits == [f"v{i}" for i in range(0, 3000, 97)]
    index.remove(["v0"])
    assert index.top(data[0], 1)[0][0] != "v0"
