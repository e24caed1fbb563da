"""Load benchmark (issue 10): many threads in one controller, and concurrent approvals on shared objects.

`python -m bench.load [--threads 200] [--contended 50]`, with the real controller as its own process
(offline planner) and the sandbox API server:

1. `--threads` conversations are opened at once ("scale web/worker in shop to N"); every one must
   settle; message -> proposal is timed per thread (p50, p95) under that load.
2. `--contended` of them, all on the two Deployments web and worker, are approved at once. The driver
   behaves like their users: a thread that reaches AwaitingRating with its change applied is rated 100
   (releasing its lock); a thread whose plan went stale is shown its new revision and approves it
   again. Meanwhile a watch (the official client) records every write to web and worker in the API
   server's order, with the thread label each write left on the object.

"0 lost or silently overwritten updates" is then checked against what the cluster says
(`lost_or_overwritten`, pure): every contended thread completed with an execution record for its
current revision ("Scale ... from A to B"); each write to a Deployment was made by one of those
threads and took it from exactly the A that thread planned against to its B (a write from any other
value is a silent overwrite of someone's update); every applied change is written exactly once (none
lost); and each Deployment's final replicas are the B of its last write.

Prints the figures and writes bench/results/load.json.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s_client
from kubernetes import watch as k8s_watch

from bench.harness import Bench, demo_with_controller, pct, rss_kb, write_result
from controller.adapters.kube import KubeError
from controller.api.constants import LABEL_THREAD
from controller.client import settled

TITLE = re.compile(r"Scale Deployment shop/(\w+) from (\d+) to (\d+)")
SHARED = ("web", "worker")


@dataclass(frozen=True)
class Write:
    """One write to a Deployment as the API server ordered it: replicas before and after, who left it."""

    deployment: str
    before: int
    after: int
    thread: str  # the thread label on the object after the write ('' when none)


def _retry(call: Any) -> Any:
    for attempt in range(20):
        try:
            return call()
        except KubeError as exc:
            if not exc.transient or attempt == 19:
                raise
            time.sleep(0.2)
    return None


# ---------------------------------------------------------------------------------------- the check


def applied_change(obj: dict[str, Any]) -> tuple[str, int, int] | str:
    """(deployment, from, to) of the change a Completed thread applied, or why there is none."""
    st = obj.get("status") or {}
    name = obj["metadata"]["name"]
    last = next((m["text"] for m in reversed(st.get("messages") or []) if m.get("role") == "assistant"), "")
    if st.get("phase") != "Completed":
        return f"{name}: ended {st.get('phase')} without its change: {last[:160]!r}"
    record = st.get("execution") or {}
    if record.get("revision") != st.get("currentRevision"):
        current: dict[str, Any] = next((r for r in st.get("revisions") or []
                                        if r["revision"] == st.get("currentRevision")), {})
        return (f"{name}: Completed without applying revision {st.get('currentRevision')} (execution record: "
                f"revision {record.get('revision')}); that revision said {(current.get('answer') or last)[:160]!r}")
    revision: dict[str, Any] = next((r for r in st.get("revisions") or [] if r["revision"] == record["revision"]), {})
    titles = [a.get("title", "") for a in revision.get("actions") or []]
    match = next((m for m in map(TITLE.search, titles) if m), None)
    if match is None:
        return f"{name}: revision {record['revision']} applied no scale of web or worker: {titles}"
    return match.group(1), int(match.group(2)), int(match.group(3))


def lost_or_overwritten(threads: list[dict[str, Any]], writes: list[Write], final: dict[str, int]) -> list[str]:
    """Every lost or silently overwritten update, as sentences ([] when there is none).

    `threads`: the contended conversations at the end; `writes`: every write to the shared Deployments
    in the API server's order; `final`: their replicas at the end.
    """
    problems: list[str] = []
    applied: dict[str, tuple[str, str, int, int]] = {}  # thread label -> (name, deployment, from, to)
    for obj in threads:
        change = applied_change(obj)
        if isinstance(change, str):
            problems.append(change)
        else:
            applied[(obj["status"].get("threadId") or "")[:63]] = (obj["metadata"]["name"], *change)
    written: dict[str, int] = {}
    last: dict[str, Write] = {}
    for write in writes:
        last[write.deployment] = write
        mine = applied.get(write.thread)
        if mine is None:
            problems.append(f"{write.deployment} went {write.before} -> {write.after} by "
                            f"{write.thread or 'a writer without a thread label'}, not a contended thread's change")
            continue
        name, deployment, before, after = mine
        written[write.thread] = written.get(write.thread, 0) + 1
        if (write.deployment, write.before, write.after) != (deployment, before, after):
            problems.append(f"{name} planned {deployment} {before} -> {after}, but its write took "
                            f"{write.deployment} {write.before} -> {write.after}"
                            + (" (someone else's update overwritten)" if write.before != before else ""))
    for label, (name, deployment, before, after) in applied.items():
        count = written.get(label, 0)
        if count != 1:
            problems.append(f"{name}: its change {deployment} {before} -> {after} was written {count} times")
    for deployment, replicas in final.items():
        if deployment in last and last[deployment].after != replicas:
            problems.append(f"{deployment} ends at {replicas} replicas, but its last applied change was "
                            f"-> {last[deployment].after}")
    return problems


# ---------------------------------------------------------------------------------------- the driver


class WriteWatch:
    """Every change of replicas or thread label on the shared Deployments, through a watch (official client)."""

    def __init__(self, bench: Bench) -> None:
        self.apps = k8s_client.AppsV1Api(bench.kube.api_client)
        listed: Any = self.apps.list_namespaced_deployment("shop")
        self.resource_version = listed.metadata.resource_version
        self.state = {d.metadata.name: (d.spec.replicas, (d.metadata.labels or {}).get(LABEL_THREAD, ""))
                      for d in listed.items if d.metadata.name in SHARED}
        self.writes: list[Write] = []
        self.error = ""
        self._watch: Any = None  # one long watch: resuming from an old resourceVersion can be answered 410
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._watch = k8s_watch.Watch()  # type: ignore[no-untyped-call]
                for event in self._watch.stream(self.apps.list_namespaced_deployment, "shop",
                                          resource_version=self.resource_version, timeout_seconds=3600):
                    obj = event["object"]
                    self.resource_version = obj.metadata.resource_version
                    name = obj.metadata.name
                    if name not in self.state:
                        continue
                    now = (obj.spec.replicas, (obj.metadata.labels or {}).get(LABEL_THREAD, ""))
                    if now != self.state[name]:
                        self.writes.append(Write(name, self.state[name][0], now[0], now[1]))
                        self.state[name] = now
            except Exception as exc:
                if self._stop.is_set():  # stopping ends the response: not a loss
                    return
                if getattr(exc, "status", None) == 410 or "410" in str(exc)[:200]:
                    # a watch that cannot resume loses writes: the check must not pass
                    self.error = f"the watch of the shared Deployments could not resume: {exc}"
                    return
                # A stream that ended early (the server under load) resumes from the last version seen,
                # as an informer would: no event after it is lost.
                time.sleep(0.5)

    def stop(self) -> list[Write]:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()
        self._thread.join(timeout=30)
        return list(self.writes)


def open_threads(bench: Bench, count: int) -> tuple[list[str], list[float], dict[str, str]]:
    """Open every thread at once; returns names, seconds to a proposal each, and phases at the end."""
    names = [f"load-{i}" for i in range(count)]
    started: dict[str, float] = {}

    def say(i: int) -> None:
        deployment = SHARED[i % 2]
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


def contended_approvals(bench: Bench, names: list[str], stall: float) -> dict[str, Any]:
    """Approve all at once and drive them like their users until each has ended (or nothing has moved
    for `stall` seconds: a thread waiting for a lock nobody will release); then check the writes."""
    watch = WriteWatch(bench)
    for name in names:
        _retry(lambda name=name: bench.client.approve("shop", name, bench.who))
    t0 = time.monotonic()
    approved = {n: 1 for n in names}
    replans = 0
    ended: dict[str, dict[str, Any]] = {}
    seen: dict[str, tuple[Any, ...]] = {}
    moved = t0
    while len(ended) < len(names) and time.monotonic() - moved < stall:
        for obj in _retry(lambda: bench.client.list("shop")):
            name = obj["metadata"]["name"]
            if name not in approved or name in ended:
                continue
            where = ((obj.get("status") or {}).get("phase"), (obj.get("status") or {}).get("currentRevision"))
            if seen.get(name) != where:
                seen[name], moved = where, time.monotonic()
            if not settled(obj):
                continue
            st = obj["status"]
            applied = (st.get("execution") or {}).get("revision") == st["currentRevision"]
            if st["phase"] == "AwaitingRating" and applied:
                _retry(lambda name=name: bench.client.rate("shop", name, bench.who, 100))
            elif st["phase"] == "AwaitingApproval" and st["currentRevision"] > approved[name]:
                replans += 1
                approved[name] = st["currentRevision"]
                _retry(lambda name=name: bench.client.approve("shop", name, bench.who))
            elif st["phase"] in ("Completed", "AwaitingRating", "Failed", "Rejected", "PermissionsMissing"):
                ended[name] = obj  # AwaitingRating without its change applied: the check names it
        time.sleep(0.2)
    drained = time.monotonic() - t0
    writes = watch.stop()
    final = {d: int((bench.kube.get("apps/v1", "Deployment", d, "shop") or {})["spec"]["replicas"]) for d in SHARED}
    unfinished = [{"metadata": {"name": n}, "status": {"phase": f"{seen.get(n, ('?',))[0]} (nothing moved for "
                                                                f"{stall:.0f} s)"}} for n in names if n not in ended]
    problems = lost_or_overwritten([*ended.values(), *unfinished], writes, final)
    if watch.error:
        problems.append(watch.error)
    for problem in problems:
        print(problem, flush=True)
    completed = sum(1 for o in ended.values() if o["status"]["phase"] == "Completed")
    return {"completed": completed, "replanned": replans, "seconds": round(drained, 1),
            "writes": {d: sum(1 for w in writes if w.deployment == d) for d in SHARED}, "final_replicas": final,
            "write_order": {d: [f"{w.before}->{w.after} {w.thread}" for w in writes if w.deployment == d]
                            for d in SHARED},
            "chain_breaks": problems}


class LoadSampler:
    """The 1-minute load average of the machine, sampled every few seconds while the benchmark runs."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(5):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join(timeout=10)
        values = self.samples or [os.getloadavg()[0]]
        return {"min": round(min(values), 1), "mean": round(statistics.fmean(values), 1),
                "max": round(max(values), 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=200)
    parser.add_argument("--contended", type=int, default=50)
    args = parser.parse_args()
    load = LoadSampler()
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
        contended = contended_approvals(bench, ready[: args.contended], stall=300)
        rss, peak = rss_kb(bench.controller.pid)
    result = {
        "threads": args.threads, "settled": len(seconds), "all_settled_s": round(opened, 1),
        "message_to_proposal_ms": {"p50": round(statistics.median(seconds) * 1000),
                                   "p95": round(pct(seconds, 0.95) * 1000)},
        "contended_approvals": {"threads": min(args.contended, len(ready)), **contended},
        "controller_rss_mb": round(rss / 1024), "controller_peak_rss_mb": round(peak / 1024),
        "load_average_1m": load.stop(), "cpus": os.cpu_count(),
    }
    write_result("load", result)


if __name__ == "__main__":
    main()
