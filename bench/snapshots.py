"""Benchmark: approval → first change, with and without a snapshot first (issue 14). `python -m bench.snapshots`.

Why: a risky change now waits after approval for its snapshot — nothing is applied until the snapshot
is ready — so it starts later. This measures how much later the controller itself makes it. The
sandbox's CSI snapshotter cuts a snapshot at once (`timing.snapshotSeconds: 0`), so the figure is the
controller's own cost (create the VolumeSnapshot after the backup, see it `readyToUse`, then apply), not
the storage's: on EBS or Azure Disk add the time the driver takes to cut the snapshot.

Two runs of the real controller (`aiop controller` as its own process, offline planner) against the
sandbox with the CSI snapshot CRDs of `../shared/schemas/csi-snapshot` and a default VolumeSnapshotClass
for the sandbox's driver: `AIOP_SNAPSHOT_VOLUMES=auto` (a VolumeSnapshot of the claim) and `none` (no
snapshot). In each, every thread asks to expand its own bound claim (expand-pvc) and is approved; the
driver polls the claim every 10 ms from the approval until its storage request changed — the first
change a person could see. Prints the figures and writes bench/results/snapshots.json.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import yaml

from bench.harness import Bench, demo_with_controller, pct, write_result
from controller.tools import bootstrap

SCHEMAS = Path(__file__).resolve().parents[1].parent / "shared" / "schemas" / "csi-snapshot"
DRIVER = "sandbox.aiop.dev/hostpath"  # the provisioner of the sandbox's default StorageClass `standard`
SNAPSHOT_API = "snapshot.storage.k8s.io/v1"


def snapshot_objects() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    crds = [yaml.safe_load(p.read_text()) for p in sorted(SCHEMAS.glob("*.yaml"))]
    cls = {"apiVersion": SNAPSHOT_API, "kind": "VolumeSnapshotClass",
           "metadata": {"name": "csi-hostpath", "annotations": {"snapshot.storage.kubernetes.io/is-default-class":
                                                                "true"}},
           "driver": DRIVER, "deletionPolicy": "Delete"}
    return crds, cls


def bound_claim(bench: Bench, name: str) -> None:
    bootstrap.create_object(bench.kube, {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "shop"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                 "resources": {"requests": {"storage": "1Gi"}}}})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        live = bench.kube.get("v1", "PersistentVolumeClaim", name, "shop") or {}
        if (live.get("status") or {}).get("phase") == "Bound":
            return
        time.sleep(0.05)
    raise RuntimeError(f"claim shop/{name} did not bind")


def requested(bench: Bench, name: str) -> str:
    live = bench.kube.get("v1", "PersistentVolumeClaim", name, "shop") or {}
    return str(((live.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage", ""))


def run(volumes: str, threads: int) -> dict[str, Any]:
    """Approval → first change (ms) for `threads` expand-pvc threads with AIOP_SNAPSHOT_VOLUMES=`volumes`."""
    crds, cls = snapshot_objects()
    with demo_with_controller({"AIOP_SNAPSHOT_VOLUMES": volumes}) as bench:
        bootstrap.install_crds(bench.kube, crds)
        bootstrap.create_object(bench.kube, cls)
        client, who = bench.client, bench.who
        firsts, settled, providers = [], [], []
        for i in range(threads + 1):  # the first is a warm-up (model load, first git commit): not counted
            name = f"bench-vol-{i}"
            bound_claim(bench, name)
            client.say("shop", name, f"expand the {name} pvc in shop to 2Gi", who)
            obj = client.wait_settled("shop", name, timeout=300)
            status = obj.get("status") or {}
            if status.get("phase") != "AwaitingApproval":
                raise RuntimeError(f"{name}: {status.get('phase')}: {(status.get('messages') or [{}])[-1]}")
            providers.append([s["provider"] for s in status["revisions"][-1].get("snapshots") or []])
            t0 = time.monotonic()
            client.approve("shop", name, who)
            while requested(bench, name) != "2Gi":
                if time.monotonic() - t0 > 120:
                    raise RuntimeError(f"{name}: the claim was not changed within 120 s of the approval")
                time.sleep(0.01)
            first = time.monotonic() - t0
            client.wait_settled("shop", name, timeout=120)
            if i:
                firsts.append(first)
                settled.append(time.monotonic() - t0)
    return {"volumes": volumes, "threads": threads, "planned_providers": sorted({p for ps in providers for p in ps}),
            "approval_to_first_change_ms": {"min": round(min(firsts) * 1000),
                                            "p50": round(statistics.median(firsts) * 1000),
                                            "p95": round(pct(firsts, 0.95) * 1000)},
            "approval_to_awaiting_rating_ms": {"p50": round(statistics.median(settled) * 1000),
                                               "p95": round(pct(settled, 0.95) * 1000)}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=20)
    args = parser.parse_args()
    runs = [run("auto", args.threads), run("none", args.threads)]
    with_snap, without = runs
    if with_snap["planned_providers"] != ["csi"] or without["planned_providers"] != ["none"]:
        raise RuntimeError(f"unexpected snapshot plans: {with_snap['planned_providers']}, "
                           f"{without['planned_providers']}")
    load = Path("/proc/loadavg").read_text().split()[:3]
    write_result("snapshots", {"with_csi_snapshot": with_snap, "without_snapshot": without,
                               "load_average_1_5_15": load})
    for r in runs:
        print(f"AIOP_SNAPSHOT_VOLUMES={r['volumes']}: approval -> first change min "
              f"{r['approval_to_first_change_ms']['min']} ms, p50 "
              f"{r['approval_to_first_change_ms']['p50']} ms, p95 {r['approval_to_first_change_ms']['p95']} ms "
              f"({r['threads']} threads)")


if __name__ == "__main__":
    main()
