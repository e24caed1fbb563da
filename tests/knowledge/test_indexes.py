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


def test_full_text_index_is_built_from_every_row(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The rows are read in batches while new words are stemmed through the same connection: every
    batch must reach the index (a query on the streaming connection used to end the read after one)."""
    from controller.knowledge import duckdb_store
    from controller.knowledge.base import ThreadRecord
    from controller.knowledge.embedding import HashingEmbedder

    monkeypatch.setattr(duckdb_store, "LOAD_BATCH", 3)
    store = duckdb_store.DuckDBStore(tmp_path / "k.duckdb", HashingEmbedder())
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
    store.add_threads([ThreadRecord(thread_id=f"t{i}", request=f"restart {w}{i} pods", resolution=f"{w} done",
                                    rating=80) for i, w in enumerate(words)])
    store.build_indexes()
    assert store._text is not None and len(store._text) == len(words)
    assert [h.thread_id for h in store.search("restart juliet9", top_k=1)] == ["t9"]
    assert store._text.ratings([f"t{i}" for i in range(len(words))]) is not None  # ratings known in memory
    store.close()


def test_ivf_probes_square_root_of_the_lists() -> None:
    assert vectors._nprobe(64) == 16 and vectors._nprobe(1000) == 32 and vectors._nprobe(10) == 10


def test_bm25_tail_arrays_follow_new_rows_and_merge(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(textindex, "MERGE_MIN", 1000)
    index = TextIndex(lambda words: words)
    index.add(["a"], ["restart cart pods"])
    assert [t for t, _ in index.top("cart", 5)] == ["a"]  # the tail's arrays are cached for "cart"
    index.add(["b"], ["scale cart"])  # ... and dropped when "cart" gains a row
    assert sorted(t for t, _ in index.top("cart", 5)) == ["a", "b"]
    before = index.top("cart pods", 5)
    index.merge()
    assert index._tail_size == 0 and index.top("cart pods", 5) == before
