"""`aiop knowledge bench`: a synthetic corpus, timed ingest and timed searches.

Why synthetic: the targets are about size (100k, 1M threads); real threads are few. The corpus is
operations requests built from templates with varied names, namespaces and numbers. Vectors come
from the hashing embedder so a million rows can be ingested in minutes; embedding time is measured
and excluded from the ingest rate, and query embedding (MiniLM ~10-20 ms a query on 2 cores) is
not in the search latency; both are said in the README.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from controller.knowledge.base import ThreadRecord
from controller.knowledge.embedding import HashingEmbedder

TEMPLATES = [
    ("scale the {app} deployment in {ns} to {n} replicas", "scaled Deployment {app} in {ns} to {n} replicas", "scale"),
    ("set cpu requests of {app} in {ns} to {n}00m", "set requests cpu={n}00m on {app}", "set-resources"),
    ("create an s3 bucket {app}-{n} for {ns} logs", "created ACK Bucket {app}-{n} with versioning", "s3"),
    ("restart the {app} pods in {ns}", "rolled out a restart of {app}", "restart"),
    ("block ingress to {ns} except from {app}", "added NetworkPolicy deny-all plus allow from {app}", "netpol"),
    ("why is {app} crashlooping in {ns}", "the {app} container ran out of memory; raised limit to {n}Gi", "diagnose"),
    ("add a pod disruption budget for {app} in {ns}", "created PodDisruptionBudget minAvailable {n}", "pdb"),
    ("expand the {app} volume in {ns} to {n}0Gi", "resized PVC data-{app} to {n}0Gi", "pvc"),
    ("create namespace {ns}-{n} with a quota", "created Namespace {ns}-{n} and ResourceQuota", "namespace"),
    ("rotate the tls certificate of {app} ingress", "renewed Certificate {app}-tls via cert-manager", "tls"),
]
APPS = ["web", "checkout", "cart", "payments", "search", "worker", "api", "auth", "billing", "catalog", "gateway",
        "reports", "mailer", "orders", "inventory", "frontend", "redis", "postgres", "kafka", "nginx"]
NSS = ["shop", "prod", "staging", "payments", "data", "ml", "ops", "edge", "team-a", "team-b"]


def corpus(n: int, seed: int = 7) -> list[ThreadRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        req, res, tag = TEMPLATES[i % len(TEMPLATES)]
        values = {"app": rng.choice(APPS) + (str(rng.randint(1, 400)) if rng.random() < 0.7 else ""),
                  "ns": rng.choice(NSS), "n": rng.randint(1, 12)}
        out.append(ThreadRecord(thread_id=f"syn-{i}", request=req.format(**values), resolution=res.format(**values),
                                rating=rng.choice([None, 40, 60, 80, 90, 100]), tags=("k8s", tag),
                                cluster_id=rng.choice(["eks-1", "aks-1", "eks-2"]), user_id=f"user{i % 50}",
                                timestamp=f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T00:00:00Z"))
    return out


class TimedEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.seconds = 0.0

    def embed(self, texts: list[str]) -> np.ndarray:
        start = time.perf_counter()
        try:
            return super().embed(texts)
        finally:
            self.seconds += time.perf_counter() - start


def _open(kind: str, db: str | None, home: Path | None, embedder: TimedEmbedder, maintenance_work_mem: str) -> Any:
    from controller.knowledge.duckdb_store import DuckDBStore

    if kind == "postgres":
        from controller.knowledge.postgres_store import PostgresStore

        if not db:
            raise SystemExit("--store postgres needs --db postgresql://... (bench/knowledge/run.py starts one)")
        return PostgresStore(db, embedder, maintenance_work_mem=maintenance_work_mem)
    path = db or str(Path(home or tempfile.mkdtemp(prefix="aiop-bench-")) / "bench.duckdb")
    return DuckDBStore(path, embedder)


def run_bench(kind: str, threads: int, queries: int = 200, db: str | None = None, home: Path | None = None,
              batch: int = 5000, maintenance_work_mem: str = "1GB") -> str:
    """`maintenance_work_mem`: AIOP_PG_MAINTENANCE_WORK_MEM (PostgreSQL's index build after the bulk load)."""
    embedder = TimedEmbedder()
    store = _open(kind, db, home, embedder, maintenance_work_mem)
    records = corpus(threads)
    start = time.perf_counter()
    for i in range(0, len(records), batch):
        store.add_threads(records[i:i + batch])
    if hasattr(store, "build_indexes"):
        store.build_indexes()  # DuckDB: the in-memory indexes are built once after a bulk import (counted)
    elapsed = time.perf_counter() - start
    ingest = threads / max(elapsed - embedder.seconds, 1e-9)
    p50, p95 = search_latency(store, records, queries)
    store.close()
    return f"{kind} {threads} threads: search p50 {p50:.1f} ms, p95 {p95:.1f} ms, ingest {ingest:.0f} threads/s"


def search_latency(store: Any, records: list[ThreadRecord], queries: int = 200) -> tuple[float, float]:
    """p50 and p95 (ms) of `queries` searches: bench requests with ~20% of their words dropped."""
    rng = random.Random(11)
    texts = [r.request for r in rng.sample(records, min(queries, len(records)))]
    for t in texts[:5]:
        store.search(t)  # warm-up: the vector matrix is loaded on first search
    lat = []
    for t in texts:
        q = " ".join(w for w in t.split() if rng.random() > 0.2)  # a slightly different wording
        store._embed_query(q)  # query embedding excluded: measured apart (see README)
        s = time.perf_counter()
        store.search(q, top_k=5)
        lat.append((time.perf_counter() - s) * 1000)
    return float(np.percentile(lat, 50)), float(np.percentile(lat, 95))
