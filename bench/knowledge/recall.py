"""Recall@5 of hybrid search on the labelled paraphrase set, with the real all-MiniLM-L6-v2.

Run on demand: `.venv/bin/python bench/knowledge/recall.py [--distractors N] [--store duckdb|postgres --db URL]`.
The 25 target threads (threads.jsonl) are mixed with N synthetic distractor threads; each of the
100 queries (paraphrases.jsonl, written by hand, no word-for-word copies) names the thread it should find.

Two kinds of distractors (`--kind`): `near` are the bench corpus, built from the same templates as
many targets ("restart the cart5 pods in shop" competes with the target "restart the cart pods"),
so a "miss" is often an equally good thread; `other` are threads on other operations topics
(DNS, CI, IAM, databases, monitoring, cost, ...) that share the everyday words of the targets
(namespace, pods, deployment, create, memory). `--embed request` embeds the request alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from controller.knowledge import events
from controller.knowledge.base import ThreadRecord
from controller.knowledge.embedding import MiniLMEmbedder
from controller.knowledge.factory import open_url
from controller.tools.knowledge_bench import corpus

HERE = Path(__file__).parent
OTHER = [
    ("add a dns record {app}.{ns}.example.com pointing to the load balancer",
     "created Route53 A record {app}.{ns}.example.com alias to the nlb"),
    ("the ci pipeline of {app} fails on the lint step", "pinned the linter version in the {app} pipeline"),
    ("give user {app}-dev read access to the {ns} namespace", "created RoleBinding view for {app}-dev in {ns}"),
    ("create a read replica of the {app} rds database", "added an Aurora reader instance to {app}-db"),
    ("alert when {app} error rate is above {n} percent", "added a PrometheusRule {app}-errors at {n}%"),
    ("why did the aws bill go up for {ns} last month", "nat gateway traffic from {ns} pods doubled; added vpc endpoints"),
    ("upgrade the {ns} cluster node group to the latest ami", "rolled the {ns} nodegroup to the new ami, {n} nodes"),
    ("the {app} pods cannot pull their image from ecr", "attached the ecr read policy to the node role"),
    ("move the {app} secrets to aws secrets manager", "created an ExternalSecret {app} from secrets manager"),
    ("show the memory usage of pods in {ns}", "listed pod memory in {ns}; {app} uses the most"),
    ("create a grafana dashboard for {app} latency", "added dashboard {app}-latency with p50/p95/p99 panels"),
    ("drain node ip-10-0-{n}-12 for maintenance", "cordoned and drained ip-10-0-{n}-12"),
    ("set up a vpn from the {ns} vnet to aws", "created a site-to-site vpn between azure and the aws vpc"),
    ("the {app} deployment logs are missing in cloudwatch", "fixed the fluent-bit output for {ns}"),
    ("tune postgres max connections for {app}", "raised max_connections to {n}00 and added pgbouncer"),
    ("enable encryption at rest for the {app} dynamodb table", "turned on KMS encryption for table {app}"),
]


def other_topics(n: int, seed: int = 5) -> list[ThreadRecord]:
    import random

    from controller.tools.knowledge_bench import APPS, NSS

    rng = random.Random(seed)
    out = []
    for i in range(n):
        req, res = OTHER[i % len(OTHER)]
        values = {"app": rng.choice(APPS) + (str(rng.randint(1, 400)) if rng.random() < 0.5 else ""),
                  "ns": rng.choice(NSS), "n": rng.randint(1, 12)}
        out.append(ThreadRecord(thread_id=f"other-{i}", request=req.format(**values), resolution=res.format(**values),
                                rating=rng.choice([None, 60, 80, 100]), tags=("ops",)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--distractors", type=int, default=2000)
    parser.add_argument("--db", default="")
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--kind", choices=["near", "other", "both"], default="near")
    parser.add_argument("--embed", choices=["both", "request"], default="both",
                        help="what a thread's vector is made from (an experiment; the store embeds both)")
    args = parser.parse_args()
    if args.embed == "request":
        events.embed_text = lambda request, resolution: request
    db = args.db or str(Path(tempfile.mkdtemp(prefix="aiop-recall-")) / "recall.duckdb")
    store = open_url(db, MiniLMEmbedder())
    targets = [json.loads(line) for line in (HERE / "threads.jsonl").read_text().splitlines()]
    store.add_threads([ThreadRecord(thread_id=t["thread_id"], request=t["request"], resolution=t["resolution"],
                                    rating=t["rating"], tags=tuple(t["tags"])) for t in targets])
    if args.kind in ("near", "both"):
        store.add_threads(corpus(args.distractors, seed=3))
    if args.kind in ("other", "both"):
        store.add_threads(other_topics(args.distractors))
    queries = [json.loads(line) for line in (HERE / "paraphrases.jsonl").read_text().splitlines()]
    found, misses = 0, []
    start = time.perf_counter()
    for q in queries:
        ids = [h.thread_id for h in store.search(q["query"], top_k=args.top)]
        if q["expected"] in ids:
            found += 1
        else:
            misses.append((q["query"], q["expected"], ids[:3]))
    elapsed = time.perf_counter() - start
    for miss in misses:
        print("miss:", miss)
    print(f"recall@{args.top} {found / len(queries):.2f} ({found}/{len(queries)} queries, "
          f"{args.distractors} {args.kind} distractors, {elapsed / len(queries) * 1000:.0f} ms/query incl. embedding)")


if __name__ == "__main__":
    main()
