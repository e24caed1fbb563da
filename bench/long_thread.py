"""A 500-turn conversation (issue 10): per-turn time stays flat and the object stays within etcd's limits.

`python -m bench.long_thread [--turns 500]`, with the real controller (offline planner) and the sandbox
API server each as its own process (the server refuses objects over 1.5 MiB and annotations over 256 KiB,
as a real one does, and evaluates the chart's identity admission policy in CEL on every write). Each
turn changes the plan ("no, make it N"), so every turn is a new revision with its diff.

Per turn it measures the wall time from writing a turn to its revision settled in status, the
controller's own CPU seconds and the sandbox API server's (its admission policy included), both
from /proc, so the driver's watching is not counted. A mark "turn N" is the median of the ten turns ending at N (one turn
alone is noisy on a shared machine); the figures at turns 10, 100, 250 and 500 (those that exist) are
printed and written to bench/results/long_thread.json with the ratio last/turn 10, the object's size
at each mark, and the sizes of status and annotations at the end. A run cut short leaves its figures so
far in bench/results/long_thread.partial.json (rewritten at every mark).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import watch

from bench.harness import Bench, demo_with_controller, rss_kb, write_result
from controller.adapters.kube import load_api_client
from controller.api.constants import GROUP, PLURAL_CONVERSATION, VERSION
from controller.client import settled


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc."""
    stat = Path(f"/proc/{pid}/stat")
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


MARKS = (10, 50, 100, 150, 200, 250, 300, 350, 400, 450, 500)
REPORTED = (10, 100, 250, 500)


def wait_settled(api: k8s.ApiClient, namespace: str, name: str, since: str, timeout: float,
                 started: float = 0.0) -> tuple[dict[str, Any], float]:
    """Watch the conversation from resourceVersion `since` until the controller has settled it; also when
    (seconds after `started`, a `time.monotonic()`) the controller's first status write of the turn came.

    A watch, not polling: a poll reads the whole object, so the server's work per turn would grow with
    how long a turn takes (the machine's load) rather than with what the turn needs. Events are parsed
    once (`deserialize=False`; the client's default parses each one three times, a 235 KiB object too)."""
    custom = k8s.CustomObjectsApi(api)
    deadline = time.monotonic() + timeout
    first_write = 0.0
    while time.monotonic() < deadline:
        stream = watch.Watch()
        for event in stream.stream(custom.list_namespaced_custom_object, GROUP, VERSION, namespace,
                                   PLURAL_CONVERSATION, field_selector=f"metadata.name={name}",
                                   resource_version=since, timeout_seconds=max(1, int(deadline - time.monotonic())),
                                   deserialize=False):
            obj: dict[str, Any] = event["object"]
            since = obj["metadata"]["resourceVersion"]
            first_write = first_write or time.monotonic() - started
            if event["type"] in ("ADDED", "MODIFIED") and settled(obj):
                stream.stop()
                return obj, first_write
    raise TimeoutError(f"conversation {namespace}/{name} did not settle within {timeout:.0f}s")


def stuck(bench: Bench, turn: int) -> None:
    """What a turn that never settled left behind, for the person reading the run (then the bench fails)."""
    obj = bench.client.get("shop", "long") or {}
    status = obj.get("status") or {}
    alive = bench.controller.poll() is None
    print(f"turn {turn} did not settle: controller {'running' if alive else f'exited {bench.controller.returncode}'}; "
          f"generation {obj.get('metadata', {}).get('generation')}, observedGeneration "
          f"{status.get('observedGeneration')}, phase {status.get('phase')}, processedTurns "
          f"{status.get('processedTurns')} of {len((obj.get('spec') or {}).get('turns') or [])}, conditions "
          f"{json.dumps(status.get('conditions'))}; controller log: {bench.home / 'controller.log'}", flush=True)


def window_ms(values: list[float], turn: int) -> int:
    """Median of the ten turns ending at `turn` (1-based), in ms."""
    return round(statistics.median(values[max(0, turn - 10):turn]) * 1000)


def summary(turns: int, done: int, per_turn: list[float], controller_cpu: list[float], server_cpu: list[float],
            load: list[float], sizes: dict[str, float], obj: dict[str, Any], rss_mb: int | None,
            split: dict[str, list[float]] | None = None) -> dict[str, Any]:
    """The figures so far: at the reported turns reached, the ratios of the last of them to turn 10, sizes;
    `split`: per turn, the person's write and the controller's first status write after it (seconds)."""
    status = obj.get("status") or {}
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    marks = [m for m in REPORTED if m <= done] + ([done] if done not in REPORTED else [])
    at = {str(m): {"wall_ms": window_ms(per_turn, m), "controller_cpu_ms": window_ms(controller_cpu, m),
                   "sandbox_server_cpu_ms": window_ms(server_cpu, m),
                   **{f"{part}_ms": window_ms(values, m) for part, values in (split or {}).items()}}
          for m in marks}
    first, last = at[str(marks[0])], at[str(done)]
    return {
        "turns": turns, "turns_done": done, "complete": done == turns,
        "at_turn": at,
        "wall_ratio_last_to_turn_10": round(last["wall_ms"] / first["wall_ms"], 2),
        "controller_cpu_ratio_last_to_turn_10": round(last["controller_cpu_ms"] / first["controller_cpu_ms"], 2),
        "sandbox_cpu_ratio_last_to_turn_10": round(last["sandbox_server_cpu_ms"] / first["sandbox_server_cpu_ms"], 2),
        "flat": last["wall_ms"] <= 2 * first["wall_ms"],
        "total_minutes": round(sum(per_turn) / 60, 1),
        "load_average_min_max": [round(min(load), 1), round(max(load), 1)],
        "object_kib_at_turn": sizes,
        "status_kib": round(len(json.dumps(status)) / 1024, 1),
        "object_kib": round(len(json.dumps(obj)) / 1024, 1),
        "annotations_bytes": sum(len(k) + len(v) for k, v in annotations.items()),
        "revisions": len(status.get("revisions") or []),
        "detailed_revisions": sum(1 for r in status.get("revisions") or [] if not r.get("archived")),
        "messages_in_status": len(status.get("messages") or []), "message_count": status.get("messageCount"),
        "controller_rss_mb": rss_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=500)
    args = parser.parse_args()
    per_turn: list[float] = []
    controller_cpu: list[float] = []
    server_cpu: list[float] = []
    load: list[float] = []
    sizes: dict[str, float] = {}
    split: dict[str, list[float]] = {"person_write": [], "first_status_write": []}  # where a turn's wall goes
    partial = Path(__file__).parent / "results" / "long_thread.partial.json"
    with demo_with_controller({"AIOP_LOG_LEVEL": "INFO"}) as bench:  # a phase line per step, to read back
        client, who = bench.client, bench.who
        server_pid = bench.server.process.pid
        api = load_api_client(str(bench.server.kubeconfig_path))
        for turn in range(1, args.turns + 1):
            text = "scale web in shop to 3 replicas" if turn == 1 else f"no, make it {2 + turn % 9} replicas"
            t0, cpu0, own0 = time.monotonic(), cpu_seconds(bench.controller.pid), cpu_seconds(server_pid)
            said = client.say("shop", "long", text, who)
            split["person_write"].append(time.monotonic() - t0)
            try:
                obj, first_write = wait_settled(api, "shop", "long", said["metadata"]["resourceVersion"],
                                                timeout=300, started=t0)
            except TimeoutError:
                stuck(bench, turn)
                raise
            split["first_status_write"].append(first_write)
            per_turn.append(time.monotonic() - t0)
            controller_cpu.append(cpu_seconds(bench.controller.pid) - cpu0)
            server_cpu.append(cpu_seconds(server_pid) - own0)
            if turn in MARKS or turn == args.turns:
                load.append(os.getloadavg()[0])
                sizes[str(turn)] = round(len(json.dumps(obj)) / 1024, 1)
                print(f"turn {turn}: {window_ms(per_turn, turn)} ms wall, controller CPU "
                      f"{window_ms(controller_cpu, turn)} ms, sandbox API server CPU {window_ms(server_cpu, turn)} ms "
                      f"(the person's write {window_ms(split['person_write'], turn)} ms, the controller's first status "
                      f"write at {window_ms(split['first_status_write'], turn)} ms; "
                      f"medians of turns {max(1, turn - 9)}-{turn}; object {sizes[str(turn)]} KiB; "
                      f"load {load[-1]:.1f})", flush=True)
                if turn >= 10 and turn < args.turns:  # a run cut short still leaves its figures so far
                    partial.write_text(json.dumps(summary(args.turns, turn, per_turn, controller_cpu, server_cpu,
                                                          load, sizes, obj, None, split), indent=2) + "\n")
        rss, _peak = rss_kb(bench.controller.pid)
    result = summary(args.turns, args.turns, per_turn, controller_cpu, server_cpu, load, sizes, obj, round(rss / 1024),
                     split)
    partial.unlink(missing_ok=True)
    write_result("long_thread", result)
    at, first_mark = result["at_turn"], next(iter(result["at_turn"]))
    first, last = at[first_mark], at[str(args.turns)]
    print(f"turn {first_mark} vs turn {args.turns}: {first['wall_ms']} -> {last['wall_ms']} ms wall "
          f"({result['wall_ratio_last_to_turn_10']}x; flat = turn {args.turns} <= 2x turn {first_mark}: {result['flat']}), "
          f"controller CPU {first['controller_cpu_ms']} -> {last['controller_cpu_ms']} ms, "
          f"sandbox API server CPU {first['sandbox_server_cpu_ms']} -> {last['sandbox_server_cpu_ms']} ms")


if __name__ == "__main__":
    main()
