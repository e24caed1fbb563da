"""A 500-turn conversation (issue 10): per-turn time stays flat and the object stays within etcd's limits.

`python -m bench.long_thread [--turns 500]`, with the real controller as its own process (offline
planner) and the sandbox API server (which refuses objects over 1.5 MiB and annotations over 256 KiB,
as a real one does). Each turn changes the plan ("no, make it N"), so every turn is a new revision
with its diff. Measures the time from writing a turn to its revision in status, for the first and the
last ten turns, and the sizes of status and annotations at the end. Writes bench/results/long_thread.json.

The wall time per turn includes the sandbox API server, which runs in this process and evaluates the
chart's admission policy (turn authorship: every turn of the old and the new object) in cel-python, an
interpreter: on a 400-turn thread that is most of a turn's time (py-spy), where a real API server's
compiled CEL is not. So the controller's own CPU seconds per turn (from /proc) are measured apart.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from bench.harness import demo_with_controller, rss_kb, write_result


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=500)
    args = parser.parse_args()
    with demo_with_controller() as bench:
        client, who = bench.client, bench.who
        per_turn: list[float] = []
        controller_cpu: list[float] = []
        for turn in range(1, args.turns + 1):
            text = "scale web in shop to 3 replicas" if turn == 1 else f"no, make it {2 + turn % 9} replicas"
            t0, cpu0 = time.monotonic(), cpu_seconds(bench.controller.pid)
            client.say("shop", "long", text, who)
            client.wait_settled("shop", "long", timeout=300)
            per_turn.append(time.monotonic() - t0)
            controller_cpu.append(cpu_seconds(bench.controller.pid) - cpu0)
            if turn % 50 == 0:
                print(f"turn {turn}: {per_turn[-1] * 1000:.0f} ms, controller CPU {controller_cpu[-1] * 1000:.0f} ms",
                      flush=True)
        obj = client.get("shop", "long") or {}
        rss, _peak = rss_kb(bench.controller.pid)
    status = obj.get("status") or {}
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    first, last = statistics.median(per_turn[:10]), statistics.median(per_turn[-10:])
    cpu_first, cpu_last = statistics.median(controller_cpu[:10]), statistics.median(controller_cpu[-10:])
    result = {
        "turns": args.turns, "turn_1_10_ms": round(first * 1000), "last_10_turns_ms": round(last * 1000),
        "ratio": round(last / first, 2), "controller_cpu_turn_1_10_ms": round(cpu_first * 1000),
        "controller_cpu_last_10_turns_ms": round(cpu_last * 1000), "controller_cpu_ratio": round(cpu_last / cpu_first, 2), "status_kib": round(len(json.dumps(status)) / 1024, 1),
        "object_kib": round(len(json.dumps(obj)) / 1024, 1),
        "annotations_bytes": sum(len(k) + len(v) for k, v in annotations.items()),
        "revisions": len(status.get("revisions") or []),
        "detailed_revisions": sum(1 for r in status.get("revisions") or [] if not r.get("archived")),
        "messages_in_status": len(status.get("messages") or []), "message_count": status.get("messageCount"),
        "controller_rss_mb": round(rss / 1024),
    }
    write_result("long_thread", result)


if __name__ == "__main__":
    main()
