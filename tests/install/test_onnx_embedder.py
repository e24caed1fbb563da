"""The image's embedder (ONNX Runtime) gives the vectors sentence-transformers gives.

Why: the image runs all-MiniLM-L6-v2 through ONNX Runtime (no torch: ~400 MB less RSS and ~700 MB
less image), while development machines may use sentence-transformers. Knowledge written by one is
searched by the other, so the two must agree: the weights are exported exactly as the image build
does (`controller.minilm.export_onnx`), and each of 1,000 sentences (short, long past the 256-token
limit, empty, non-ASCII) must have cosine ≥ 0.999 between the two runtimes.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from controller.minilm import OnnxMiniLM, export_onnx, load_model
from controller.planning.offline.embedder import Embedder

pytestmark = [pytest.mark.timeout(600), pytest.mark.xdist_group("minilm")]

VOCABULARY = ("scale deploy web worker api checkout cart payments shop prod staging replicas pod pods crashloop "
         "crashlooping oom memory cpu limit request quota namespace service ingress expose port restart "
         "rollout rollback image tag label annotation configmap secret hpa autoscale min max bucket s3 "
         "encryption versioning azure resource group storage account network policy deny allow why is the "
         "my our to in of for from with and not keep more less please now broken slow failing latency "
         "error 500 timeout node drain disruption budget cronjob job backup restore snapshot volume")
WORDS = VOCABULARY.split()


def sentences(count: int = 1000, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    out = ["", "   ", "ünïcödé straße 東京 — scale the café to 3", "x" * 3000, " ".join(WORDS) * 3]
    while len(out) < count:
        size = rng.choice((1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 30)) if len(out) % 50 else 300
        text = " ".join(rng.choice(WORDS) for _ in range(size))
        out.append(text.capitalize() + rng.choice(("", "?", ".", "!")) if rng.random() < 0.5 else text)
    return out


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(tmp_path_factory.mktemp("minilm-onnx"))


def test_onnx_vectors_match_sentence_transformers(exported: Path) -> None:
    texts = sentences()
    assert len(texts) == 1000 and len(set(texts)) > 950
    onnx = OnnxMiniLM(exported).encode(texts, batch_size=64)
    torch_model = load_model("sentence-transformers", "")
    reference = torch_model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    assert onnx.shape == reference.shape == (1000, 384)
    cosines = np.sum(onnx * reference, axis=1)
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.999, f"cosine {cosines[worst]:.5f} for {texts[worst][:80]!r}"
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)


def test_the_setting_selects_the_runtime(exported: Path, tmp_path: Path) -> None:
    assert isinstance(load_model("onnx", str(exported)), OnnxMiniLM)
    assert isinstance(load_model("auto", str(exported)), OnnxMiniLM)
    assert not isinstance(load_model("auto", str(tmp_path)), OnnxMiniLM)  # nothing exported: torch
    with pytest.raises(FileNotFoundError, match="AIOP_ONNX_MODEL_DIR"):
        load_model("onnx", str(tmp_path))
    planner = Embedder(model=OnnxMiniLM(exported))
    near, far = planner.encode(["scale web to 3 replicas", "set web replicas to three"]), planner.encode_one("bucket")
    assert float(near[0] @ near[1]) > float(near[0] @ far) + 0.2  # the planner's similarity works on ONNX
