"""A 500-turn conversation (issue 10): per-turn time stays flat and the object stays within etcd's limits.

`python -m bench.long_thread [--turns 500]`, with the real controller as its own process (offline
planner) and the sandbox API server (which refuses objects over 1.5 MiB and annotations over 256 KiB,
as a real one does, and evaluates the chart's identity admission policy in CEL on every write). Each
turn changes the plan ("no, make it N"), so every turn is a new revision with its diff.

Per turn it measures the wall time from writing a turn to its revision settled in status, the
controller's own CPU seconds (from /proc) and this process's CPU seconds (the sandbox API server, its
admission policy and the driver). A mark "turn N" is the median of the ten turns ending at N (one turn
alone is noisy on a shared machine); the figures at turns 10, 100, 250 and 500 (those that exist) are
printed and written to bench/results/long_thread.json with the ratio last/turn 10, and the sizes of
status and annotations at the end.
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


MARKS = (10, 50, 100, 150, 200, 250, 300, 350, 400, 450, 500)
REPORTED = (10, 100, 250, 500)


def window_ms(values: list[float], turn: int) -> int:
    """Median of the ten turns ending at `turn` (1-based), in ms."""
    return round(statistics.median(values[max(0, turn - 10):turn]) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=500)
    args = parser.parse_args()
    per_turn: list[float] = []
    controller_cpu: list[float] = []
    server_cpu: list[float] = []
    load: list[float] = []
    with demo_with_controller() as bench:
        client, who = bench.client, bench.who
        for turn in range(1, args.turns + 1):
            text = "scale web in shop to 3 replicas" if turn == 1 else f"no, make it {2 + turn % 9} replicas"
            t0, cpu0, own0 = time.monotonic(), cpu_seconds(bench.controller.pid), time.process_time()
            client.say("shop", "long", text, who)
            client.wait_settled("shop", "long", timeout=300)
            per_turn.append(time.monotonic() - t0)
            controller_cpu.append(cpu_seconds(bench.controller.pid) - cpu0)
            server_cpu.append(time.process_time() - own0)
            if turn in MARKS or turn == args.turns:
                load.append(os.getloadavg()[0])
                print(f"turn {turn}: {window_ms(per_turn, turn)} ms wall, controller CPU "
                      f"{window_ms(controller_cpu, turn)} ms, sandbox+driver CPU {window_ms(server_cpu, turn)} ms "
                      f"(medians of turns {max(1, turn - 9)}-{turn}; load {load[-1]:.1f})", flush=True)
        obj = client.get("shop", "long") or {}
        rss, _peak = rss_kb(bench.controller.pid)
    status = obj.get("status") or {}
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    marks = [m for m in REPORTED if m <= args.turns] + ([args.turns] if args.turns not in REPORTED else [])
    at = {str(m): {"wall_ms": window_ms(per_turn, m), "controller_cpu_ms": window_ms(controller_cpu, m),
                   "sandbox_and_driver_cpu_ms": window_ms(server_cpu, m)} for m in marks}
    first, last = at[str(marks[0])], at[str(args.turns)]
    result = {
        "turns": args.turns,
        "at_turn": at,
        "wall_ratio_last_to_turn_10": round(last["wall_ms"] / first["wall_ms"], 2),
        "controller_cpu_ratio_last_to_turn_10": round(last["controller_cpu_ms"] / first["controller_cpu_ms"], 2),
        "flat": last["wall_ms"] <= 2 * first["wall_ms"],
        "total_minutes": round(sum(per_turn) / 60, 1),
        "load_average_min_max": [round(min(load), 1), round(max(load), 1)],
        "status_kib": round(len(json.dumps(status)) / 1024, 1),
        "object_kib": round(len(json.dumps(obj)) / 1024, 1),
        "annotations_bytes": sum(len(k) + len(v) for k, v in annotations.items()),
        "revisions": len(status.get("revisions") or []),
        "detailed_revisions": sum(1 for r in status.get("revisions") or [] if not r.get("archived")),
        "messages_in_status": len(status.get("messages") or []), "message_count": status.get("messageCount"),
        "controller_rss_mb": round(rss / 1024),
    }
    write_result("long_thread", result)
    print(f"turn {marks[0]} vs turn {args.turns}: {first['wall_ms']} -> {last['wall_ms']} ms wall "
          f"({result['wall_ratio_last_to_turn_10']}x; flat = turn {args.turns} <= 2x turn {marks[0]}: {result['flat']}), "
          f"controller CPU {first['controller_cpu_ms']} -> {last['controller_cpu_ms']} ms")


if __name__ == "__main__":
    main()
