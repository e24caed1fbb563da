"""Intent classification: which catalog action (or read-only intent) a sentence asks for.

Why two signals: the embedding model generalises over wording ("bump", "set the number of
instances") but at 384 dimensions it confuses close intents (scale vs autoscale, label vs delete);
short regular-expression cues over the words settle those. Both live in `anchors.yaml` as data.
The score of an intent is the mean of its two best anchor cosines plus its cue weights; the best
total wins, and a request with no cue and little similarity to anything is `unsupported`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from controller.planning.offline.embedder import Embedder, Matrix, shared_embedder

ANCHORS_FILE = Path(__file__).with_name("anchors.yaml")

ACTIONS = (
    "scale", "restart", "rollback", "set-image", "set-resources", "create-namespace", "set-configmap-key",
    "set-labels", "create-hpa", "create-pdb", "expose-service", "netpol-deny-ingress", "netpol-allow-ingress",
    "create-s3-bucket", "create-azure-resource-group", "create-azure-storage-account", "delete-object",
    "read-secret",
    # issue 13: everyday actions
    "create-ingress", "create-cronjob", "suspend-cronjob", "create-job", "create-pod", "create-statefulset",
    "create-pvc", "expand-pvc", "harden-workload", "set-env", "remove-env", "set-probe", "set-service-selector",
    "sa-aws-role", "sa-azure-identity", "create-role", "create-rolebinding", "netpol-egress", "create-canary",
)
READ_ONLY = ("diagnose", "security-review", "question")
UNSUPPORTED = "unsupported"
INTENTS = (*ACTIONS, *READ_ONLY, UNSUPPORTED)

CUE_CAP = 0.7
MIN_TOTAL = 0.34
WEAK_EMBEDDING = 0.42


@dataclass(frozen=True)
class Cue:
    pattern: re.Pattern[str]
    weight: float


@dataclass(frozen=True)
class IntentScore:
    """The winner and the evidence: embedding part, cue part, and every intent's total."""

    intent: str
    total: float
    embedding: float
    cue: float
    ranking: tuple[tuple[str, float], ...]

    @property
    def weak(self) -> bool:
        """No positive cue and no close anchor: the sentence alone does not name an intent."""
        return self.intent == UNSUPPORTED or (self.cue <= 0.0 and self.embedding < WEAK_EMBEDDING)

    @property
    def confidence(self) -> float:
        if len(self.ranking) < 2:
            return 1.0
        margin = self.ranking[0][1] - self.ranking[1][1]
        return float(max(0.05, min(1.0, 0.5 + margin + (self.total - 0.5) / 2)))


def load_anchor_data(path: Path = ANCHORS_FILE) -> dict[str, tuple[list[str], list[Cue]]]:
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    out: dict[str, tuple[list[str], list[Cue]]] = {}
    for intent, spec in raw["intents"].items():
        if intent not in INTENTS:
            raise ValueError(f"{path}: unknown intent {intent!r}")
        cues = [Cue(re.compile(c["pattern"], re.I), float(c["weight"])) for c in spec.get("cues") or []]
        out[intent] = ([str(a) for a in spec["anchors"]], cues)
    missing = set(INTENTS) - set(out)
    if missing:
        raise ValueError(f"{path}: intents without anchors: {sorted(missing)}")
    return out


class IntentClassifier:
    """Scores a sentence against every intent; anchor embeddings are computed once per instance."""

    def __init__(self, embedder: Embedder | None = None, path: Path = ANCHORS_FILE) -> None:
        self.embedder = embedder or shared_embedder()
        self._data = load_anchor_data(path)
        self._matrix: Matrix | None = None
        self._owners: list[str] = []

    def _anchors(self) -> tuple[Matrix, list[str]]:
        if self._matrix is None:
            texts: list[str] = []
            owners: list[str] = []
            for intent, (anchors, _) in self._data.items():
                texts.extend(a.lower() for a in anchors)
                owners.extend([intent] * len(anchors))
            self._matrix = self.embedder.encode(texts)
            self._owners = owners
        return self._matrix, self._owners

    def embedding_scores(self, text: str) -> dict[str, float]:
        matrix, owners = self._anchors()
        sims = matrix @ self.embedder.encode_one(text.lower())
        per: dict[str, list[float]] = {}
        for owner, sim in zip(owners, sims.tolist(), strict=True):
            per.setdefault(owner, []).append(float(sim))
        return {intent: float(np.mean(sorted(vals, reverse=True)[:2])) for intent, vals in per.items()}

    def cue_scores(self, text: str) -> dict[str, float]:
        low = text.lower().strip()
        out = {}
        for intent, (_, cues) in self._data.items():
            total = sum(c.weight for c in cues if c.pattern.search(low))
            out[intent] = max(-CUE_CAP, min(CUE_CAP, total))
        return out

    def classify(self, text: str) -> IntentScore:
        if not text.strip():
            return IntentScore(UNSUPPORTED, 0.0, 0.0, 0.0, ((UNSUPPORTED, 0.0),))
        emb = self.embedding_scores(text)
        cues = self.cue_scores(text)
        totals = {i: emb[i] + cues[i] for i in INTENTS}
        ranking = tuple(sorted(totals.items(), key=lambda kv: -kv[1]))
        best, total = ranking[0]
        if best != UNSUPPORTED and (total < MIN_TOTAL or (cues[best] <= 0 and emb[best] < 0.3)):
            best = UNSUPPORTED
        return IntentScore(best, total, emb[best], cues[best], ranking)

    def similarity(self, a: str, b: str) -> float:
        rows = self.embedder.encode([a.lower(), b.lower()])
        return float(rows[0] @ rows[1])
