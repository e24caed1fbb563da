"""Sentence embeddings for the offline planner, loaded lazily once per process.

Why lazy and shared: loading all-MiniLM-L6-v2 takes several seconds, and the operator, the CLI and
the tests may build many planners. One process-wide `Embedder` loads the model on first use and
memoises every sentence it has encoded (anchor phrasings are encoded once, as one matrix).
Vectors are L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float32]

DIMENSIONS = 384
SMALL_BATCH = 8
_CACHE_LIMIT = 20_000


@contextlib.contextmanager
def _threads(count: int | None, model: Any) -> Iterator[None]:
    """Encode a handful of sentences on one thread (torch only; ONNX Runtime sizes its own pool).

    Measured on 2 shared cores: one sentence takes ~15 ms on one thread but 40-700 ms on two when
    another process is busy (the intra-op threads wait on each other). Big batches keep all threads.
    """
    from controller.minilm import uses_torch

    if count is None or not uses_torch(model):
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Embedder:
    """Encodes sentences with the packaged all-MiniLM-L6-v2; memoises results by exact text.

    The runtime (ONNX Runtime or sentence-transformers) is the one `AIOP_EMBEDDER` selects
    (`controller.minilm.load_model`); both give the same vectors.
    """

    def __init__(self, model_path: str | None = None, model: Any = None) -> None:
        """`model`: an already loaded model to share (e.g. the knowledge store's); `model_path`: a
        sentence-transformers folder to load instead of the configured runtime."""
        self._model_path = model_path
        self._model: Any = model
        self._lock = threading.RLock()
        self._cache: dict[str, Vector] = {}

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                if self._model_path is None:
                    from controller.minilm import load_model

                    self._model = load_model()
                else:
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(self._model_path, device="cpu")
            return self._model

    def encode(self, texts: Sequence[str]) -> Matrix:
        """One normalised row per text, in order."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            model = self._load()
            with self._lock, _threads(1 if len(missing) <= SMALL_BATCH else None, model):
                rows = model.encode(list(missing), batch_size=64, normalize_embeddings=True,
                                    show_progress_bar=False, convert_to_numpy=True)
            if len(self._cache) + len(missing) > _CACHE_LIMIT:
                self._cache.clear()
            for text, row in zip(missing, rows, strict=True):
                self._cache[text] = np.asarray(row, dtype=np.float32)
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])

    def encode_one(self, text: str) -> Vector:
        row: Vector = self.encode([text])[0]
        return row


def cosine(a: Vector, b: Vector) -> float:
    """Cosine of two normalised vectors."""
    return float(np.dot(a, b))


_shared: Embedder | None = None
_shared_lock = threading.Lock()


def shared_embedder() -> Embedder:
    """The process-wide embedder (the model loads on the first `encode`)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Embedder()
        return _shared
