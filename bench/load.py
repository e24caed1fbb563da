"""Load benchmark (issue 10): many threads in one controller, and concurrent approvals on shared objects.

`python -m bench.load [--threads 200] [--contended 50]`, with the real controller as its own process
(offline planner) and the sandbox API server:

1. `--threads` conversations are opened at once ("scale web/worker in shop to N"); every one must
   settle; message -> proposal is timed per thread (p50, p95) under that load.
2. `--contended` of them, all on the two Deployments web and worker, are approved at once. The driver
   behaves like their users: a thread that reaches AwaitingRating is rated 100 (releasing its lock);
   a thread whose plan went stale is shown its new revision and approves it again. When all are
   Completed, every applied change is checked against the one before it on the same Deployment: each
   thread's "from N" must be the value the previous thread left ("0 lost or silently overwritten").

Prints the figures and writes bench/results/load.json.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.harness import Bench, demo_with_controller, pct, rss_kb, write_result
from controller.adapters.kube import KubeError
from controller.client import settled

TITLE = re.compile(r"Scale Deployment shop/(\w+) from (\d+) to (\d+)")


def _retry(call: Any) -> Any:
    for attempt in range(20):
        try:
            return call()
        except KubeError as exc:
            if not exc.transient or attempt == 19:
                raise
            time.sleep(0.2)
    return None


def open_threads(bench: Bench, count: int) -> tuple[list[str], list[float], dict[str, str]]:
    """Open every thread at once; returns names, seconds to a proposal each, and phases at the end."""
    names = [f"load-{i}" for i in range(count)]
    started: dict[str, float] = {}

    def say(i: int) -> None:
        deployment = "web" if i % 2 == 0 else "worker"
        started[names[i]] = time.monotonic()
        _retry(lambda: bench.client.say("shop", names[i], f"scale {deployment} in shop to {3 + i % 40}", bench.who))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(say, range(count)))
    seconds: dict[str, float] = {}
    phases: dict[str, str] = {}
    deadline = time.monotonic() + 3600
    while len(seconds) < count and time.monotonic() < deadline:
        for obj in _retry(lambda: bench.client.list("shop")):
            name = obj["metadata"]["name"]
            if (name in started and name not in seconds and (obj.get("status") or {}).get("revisions")
                    and settled(obj)):
                seconds[name] = time.monotonic() - started[name]
                phases[name] = obj["status"]["phase"]
        time.sleep(0.2)
    return names, [seconds[n] for n in names if n in seconds], phases


def contended_approvals(bench: Bench, names: list[str], timeout: float) -> dict[str, Any]:
    """Approve all at once and drive them like their users until all are Completed."""
    for name in names:
        _retry(lambda name=name: bench.client.approve("shop", name, bench.who))
    t0 = time.monotonic()
    approved = {n: 1 for n in names}
    replans = 0
    done: dict[str, dict[str, Any]] = {}
    deadline = t0 + timeout
    while len(done) < len(names) and time.monotonic() < deadline:
        for obj in _retry(lambda: bench.client.list("shop")):
            name = obj["metadata"]["name"]
            if name not in approved or name in done or not settled(obj):
                continue
            st = obj["status"]
            if st["phase"] == "AwaitingRating":
                _retry(lambda name=name: bench.client.rate("shop", name, bench.who, 100))
            elif st["phase"] == "AwaitingApproval" and st["currentRevision"] > approved[name]:
                replans += 1
                approved[name] = st["currentRevision"]
                _retry(lambda name=name: bench.client.approve("shop", name, bench.who))
            elif st["phase"] == "Completed":
                done[name] = obj
        time.sleep(0.2)
    drained = time.monotonic() - t0
    return {"completed": len(done), "replanned": replans, "seconds": round(drained, 1),
            "chain_breaks": chain_breaks(list(done.values()))}


def chain_breaks(completed: list[dict[str, Any]]) -> list[str]:
    """Applied changes per Deployment, in commit order: each must start where the previous one ended."""
    applied = []
    for obj in completed:
        st = obj["status"]
        record = st.get("execution") or {}
        revision = next((r for r in st["revisions"] if r["revision"] == record.get("revision")), None)
        if revision is None:
            print(f"{obj['metadata']['name']}: no execution record for revision {record.get('revision')}", flush=True)
            continue
        match = TITLE.search(revision["actions"][0]["title"])
        if match:
            applied.append((record.get("syncStarted", ""), obj["metadata"]["name"], match.group(1),
                            int(match.group(2)), int(match.group(3))))
    breaks = []
    last: dict[str, int] = {}
    for _when, name, deployment, before, after in sorted(applied):
        if deployment in last and last[deployment] != before:
            breaks.append(f"{name}: planned from {before}, but {deployment} was at {last[deployment]}")
        last[deployment] = after
    return breaks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=200)
    parser.add_argument("--contended", type=int, default=50)
    args = parser.parse_args()
    with demo_with_controller() as bench:
        warm = "load-warmup"
        bench.client.say("shop", warm, "how many replicas has web in shop?", bench.who)
        bench.client.wait_settled("shop", warm, timeout=600)
        t0 = time.monotonic()
        names, seconds, phases = open_threads(bench, args.threads)
        opened = time.monotonic() - t0
        ready = [n for n in names if phases.get(n) == "AwaitingApproval"]
        print(f"{len(seconds)} of {args.threads} threads settled in {opened:.1f} s; message -> proposal p50 "
              f"{statistics.median(seconds) * 1000:.0f} ms, p95 {pct(seconds, 0.95) * 1000:.0f} ms", flush=True)
        contended = contended_approvals(bench, ready[: args.contended], timeout=3600)
        rss, peak = rss_kb(bench.controller.pid)
    result = {
        "threads": args.threads, "settled": len(seconds), "all_settled_s": round(opened, 1),
        "message_to_proposal_ms": {"p50": round(statistics.median(seconds) * 1000),
                                   "p95": round(pct(seconds, 0.95) * 1000)},
        "contended_approvals": {"threads": min(args.contended, len(ready)), **contended},
        "controller_rss_mb": round(rss / 1024), "controller_peak_rss_mb": round(peak / 1024),
    }
    write_result("load", result)


if __name__ == "__main__":
    main()
