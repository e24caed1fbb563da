"""Benchmark of the chat-to-commit loop in the sandbox (issue 3), run on demand: `python -m bench.loop`.

Measures, with the real controller (`aiop controller` as a separate process, offline planner) and
the sandbox API server:
- message -> proposal: from writing a turn to the revision appearing in status (AwaitingApproval);
- approval -> AwaitingRating: backup, render, commit, apply as the requester, verify;
- the controller process's memory (peak and current RSS from /proc).
Prints one line per figure and writes bench/results/loop.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from bench.harness import demo_with_controller, pct, rss_kb

REQUESTS = [
    "scale web in shop to {n} replicas", "please set the number of web instances in shop to {n}",
    "bump worker in shop to {n} replicas", "I need {n} replicas of worker in shop",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=20)
    args = parser.parse_args()
    with demo_with_controller() as bench:
        client, who = bench.client, bench.who
        warm = "bench-warmup"
        client.say("shop", warm, "how many replicas has web in shop?", who)
        client.wait_settled("shop", warm, timeout=300)
        to_proposal, to_rating = [], []
        for i in range(args.threads):
            name = f"bench-{i}"
            text = REQUESTS[i % len(REQUESTS)].format(n=3 + i % 5)
            t0 = time.monotonic()
            client.say("shop", name, text, who)
            obj = client.wait_settled("shop", name, timeout=120)
            to_proposal.append(time.monotonic() - t0)
            if obj["status"]["phase"] != "AwaitingApproval":
                print(f"warning: {name} ended {obj['status']['phase']}", file=sys.stderr)
                continue
            t1 = time.monotonic()
            client.approve("shop", name, who)
            obj = client.wait_settled("shop", name, timeout=120)
            to_rating.append(time.monotonic() - t1)
            client.rate("shop", name, who, 100)  # completed: the thread releases its lock on the Deployment
            client.wait_settled("shop", name, timeout=120)
        rss, peak = rss_kb(bench.controller.pid)
    result = {
        "threads": args.threads,
        "message_to_proposal_ms": {"p50": round(statistics.median(to_proposal) * 1000),
                                   "p95": round(pct(to_proposal, 0.95) * 1000)},
        "approval_to_awaiting_rating_ms": {"p50": round(statistics.median(to_rating) * 1000),
                                           "p95": round(pct(to_rating, 0.95) * 1000)},
        "controller_rss_mb": round(rss / 1024), "controller_peak_rss_mb": round(peak / 1024),
    }
    print(f"message -> proposal: p50 {result['message_to_proposal_ms']['p50']} ms, "
          f"p95 {result['message_to_proposal_ms']['p95']} ms ({args.threads} threads)")
    print(f"approval -> AwaitingRating: p50 {result['approval_to_awaiting_rating_ms']['p50']} ms, "
          f"p95 {result['approval_to_awaiting_rating_ms']['p95']} ms")
    print(f"controller memory: {result['controller_rss_mb']} MB RSS, peak {result['controller_peak_rss_mb']} MB")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "loop.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
