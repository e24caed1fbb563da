"""Benchmark of the simulated cluster behind the sandbox, run on demand: `python -m bench.sandbox_cluster`.

Why: every client write now runs the scheduler, kubelets and controllers before it answers (a
Deployment's ReplicaSet, pods, their binding, start and status, Endpoints), and timers keep
crash-looping pods and probes going. This measures what that costs, in-process through the official
client over HTTPS, on the machine it runs on:
- creating a Deployment of N nginx replicas until `readyReplicas == N` (the write answers when the
  rollout is done), for N = 10, 50 and 150 (the nodes hold 330 pods), and the store's objects and events it leaves;
- a pod create answered with the cluster simulated and with it switched off (p50/p95 of 50);
- `advance(3600)`: one simulated hour of 30 crash-looping pods (back-off up to 5 min) and 30 pods
  with a failing readiness probe (every 10 s), i.e. the work a sped-up clock does;
- the resident memory the server's process gained over all of it.
Prints the figures and writes bench/results/sandbox_cluster.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from kubernetes import client, config

from sandbox.server import SandboxServer

RESULTS = Path(__file__).resolve().parent / "results" / "sandbox_cluster.json"


def _deployment(name: str, replicas: int, container: dict[str, Any] | None = None) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [container or {"name": "web", "image": "nginx:1.27"}]}}}}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}


def _pod_creates(simulate: bool, count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home, SandboxServer(home=home, simulate_workloads=simulate) as sandbox:
        api = config.new_client_from_config(config_file=str(sandbox.kubeconfig_path))
        core = client.CoreV1Api(api)
        samples = []
        for i in range(count):
            start = time.perf_counter()
            core.create_namespaced_pod("default", _pod(f"p{i}"))
            samples.append((time.perf_counter() - start) * 1000)
        api.close()
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 1), "p95_ms": round(samples[int(0.95 * (count - 1))], 1)}


def run(sizes: tuple[int, ...]) -> dict[str, Any]:
    results: dict[str, Any] = {"rss_start_mb": round(_rss_mb())}
    with tempfile.TemporaryDirectory() as home, SandboxServer(home=home) as sandbox:
        assert sandbox.simulator is not None
        api = config.new_client_from_config(config_file=str(sandbox.kubeconfig_path))
        apps = client.AppsV1Api(api)
        rollouts = {}
        for size in sizes:
            before = sandbox.store.resource_version
            start = time.perf_counter()
            apps.create_namespaced_deployment("default", _deployment(f"web{size}", size))
            created = time.perf_counter() - start
            ready = apps.read_namespaced_deployment(f"web{size}", "default").status.ready_replicas
            rollouts[size] = {"seconds": round(created, 2), "ready": ready,
                              "writes": sandbox.store.resource_version - before}
        results["deployment_until_ready"] = rollouts
        crash = {"name": "crash", "image": "busybox:1.36", "command": ["sh", "-c", "echo boom; exit 1"]}
        unready = {"name": "web", "image": "nginx:1.27", "readinessProbe": {"httpGet": {"path": "/", "port": 81}}}
        apps.create_namespaced_deployment("default", _deployment("crash", 30, crash))
        apps.create_namespaced_deployment("default", _deployment("unready", 30, unready))
        before = sandbox.store.resource_version
        start = time.perf_counter()
        sandbox.simulator.advance(3600)
        results["advance_one_hour_60_failing_pods"] = {"seconds": round(time.perf_counter() - start, 2),
                                                        "writes": sandbox.store.resource_version - before}
        restarts = [p.status.container_statuses[0].restart_count
                    for p in client.CoreV1Api(api).list_namespaced_pod("default", label_selector="app=crash").items
                    if p.status.container_statuses]
        results["restarts_after_an_hour"] = {"min": min(restarts), "max": max(restarts)}
        results["objects"] = len(sandbox.store.all_keys())
        api.close()
    results["pod_create_simulated"] = _pod_creates(True, 50)
    results["pod_create_api_only"] = _pod_creates(False, 50)
    results["rss_end_mb"] = round(_rss_mb())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,150", help="replica counts of the Deployments")
    args = parser.parse_args()
    results = run(tuple(int(s) for s in args.sizes.split(",")))
    print(json.dumps(results, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
