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
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from controller.adapters.kube import Kube, load_api_client
from controller.api.types import Identity
from controller.client import ConversationClient
from controller.tools import bootstrap
from sandbox.server import SandboxServer

REQUESTS = [
    "scale web in shop to {n} replicas", "please set the number of web instances in shop to {n}",
    "bump worker in shop to {n} replicas", "I need {n} replicas of worker in shop",
]


def _rss_kb(pid: int) -> tuple[int, int]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=20)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="aiop-bench-"))
    with SandboxServer(port=0, home=home) as server:
        kube = Kube(load_api_client(str(server.kubeconfig_path)))
        bootstrap.install_crds(kube)
        bootstrap.install_admission(kube, server)
        bootstrap.install_demo(kube)
        env = {**os.environ, "AIOP_HOME": str(home), "AIOP_METRICS_PORT": "0", "AIOP_LOG_LEVEL": "WARNING"}
        controller = subprocess.Popen([sys.executable, "-m", "controller.cli", "controller", "--kubeconfig",
                                       str(server.kubeconfig_path)], env=env, stderr=subprocess.DEVNULL)
        try:
            client = ConversationClient(kube)
            who = Identity(user=bootstrap.DEMO_USER)
            warm = "bench-warmup"
            client.say("shop", warm, "scale web in shop to 2", who)
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
            rss, peak = _rss_kb(controller.pid)
        finally:
            controller.terminate()
            controller.wait(timeout=20)
    result = {
        "threads": args.threads,
        "message_to_proposal_ms": {"p50": round(statistics.median(to_proposal) * 1000),
                                   "p95": round(_pct(to_proposal, 0.95) * 1000)},
        "approval_to_awaiting_rating_ms": {"p50": round(statistics.median(to_rating) * 1000),
                                           "p95": round(_pct(to_rating, 0.95) * 1000)},
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
