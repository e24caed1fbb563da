"""Recall@5 of hybrid search on the labelled paraphrase set, with the real all-MiniLM-L6-v2.

Run on demand: `.venv/bin/python bench/knowledge/recall.py [--distractors N] [--store duckdb|postgres --db URL]`.
The 25 target threads (threads.jsonl) are mixed with N synthetic distractor threads; each of the
100 queries (paraphrases.jsonl, written by hand, no word-for-word copies) names the thread it should find.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from controller.knowledge.base import ThreadRecord
from controller.knowledge.embedding import MiniLMEmbedder
from controller.knowledge.factory import open_url
from controller.tools.knowledge_bench import corpus

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--distractors", type=int, default=2000)
    parser.add_argument("--db", default="")
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()
    db = args.db or str(Path(tempfile.mkdtemp(prefix="aiop-recall-")) / "recall.duckdb")
    store = open_url(db, MiniLMEmbedder())
    targets = [json.loads(line) for line in (HERE / "threads.jsonl").read_text().splitlines()]
    store.add_threads([ThreadRecord(thread_id=t["thread_id"], request=t["request"], resolution=t["resolution"],
                                    rating=t["rating"], tags=tuple(t["tags"])) for t in targets])
    store.add_threads(corpus(args.distractors, seed=3))
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
          f"{args.distractors} distractors, {elapsed / len(queries) * 1000:.0f} ms/query incl. embedding)")


if __name__ == "__main__":
    main()
