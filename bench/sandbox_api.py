"""Benchmark of the sandbox API server's request path, run on demand: `python -m bench.sandbox_api`.

Why: every write now computes field ownership (managedFields) and checks sizes, labels and stored
admission policies, and every request is authorized against the bootstrap RBAC; this measures what
that costs a client, through the official client over HTTPS, on the machine it runs on:
- small ConfigMap creates, merge patches and gets;
- merge patches of a 500 KB custom object (a long conversation thread's size);
- server-side applies of a Deployment as two alternating field managers (force), with the simulated
  cluster switched off so only the API server is measured;
- `list` of 500 ConfigMaps in pages of 50.
Prints p50/p95 per operation and writes bench/results/sandbox_api.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client, config

from sandbox.server import SandboxServer

RESULTS = Path(__file__).resolve().parent / "results" / "sandbox_api.json"
NOTES_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "notes.bench.example.com"},
    "spec": {"group": "bench.example.com", "scope": "Namespaced",
             "names": {"plural": "notes", "singular": "note", "kind": "Note"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "properties": {"spec": {"type": "object", "properties": {
                     "turns": {"type": "array", "items": {"type": "string"}},
                     "count": {"type": "integer"}}}}}}}]},
}


def _timed(fn: Callable[[int], Any], count: int) -> dict[str, float]:
    samples = []
    for i in range(count):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {"n": count, "p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[int(0.95 * (count - 1))], 2)}


def _deployment(replicas: int) -> dict[str, Any]:
    labels = {"app": "web"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:1.25",
                                                           "env": [{"name": f"E{i}", "value": "x"} for i in
                                                                   range(20)]}]}}}}


def run(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home, SandboxServer(home=Path(home), simulate_workloads=False) as server:
        api = config.new_client_from_config(config_file=str(server.kubeconfig_path))
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        custom = client.CustomObjectsApi(api)
        results: dict[str, Any] = {}
        results["configmap create"] = _timed(
            lambda i: core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"},
                                                                    "data": {"k": "v"}}), count)
        results["configmap merge patch"] = _timed(
            lambda i: core.patch_namespaced_config_map(f"c{i}", "default", {"data": {"k": str(i)}}), count)
        results["configmap get"] = _timed(lambda i: core.read_namespaced_config_map(f"c{i}", "default"), count)
        client.ApiextensionsV1Api(api).create_custom_resource_definition(NOTES_CRD)
        turns = ["t" * 1000] * 500
        custom.create_namespaced_custom_object("bench.example.com", "v1", "default", "notes", {
            "apiVersion": "bench.example.com/v1", "kind": "Note", "metadata": {"name": "long"},
            "spec": {"turns": turns, "count": 0}})
        results["500 KB custom object merge patch"] = _timed(
            lambda i: custom.patch_namespaced_custom_object("bench.example.com", "v1", "default", "notes", "long",
                                                            {"spec": {"count": i + 1}}), max(10, count // 5))
        results["deployment apply (2 managers, force)"] = _timed(
            lambda i: apps.patch_namespaced_deployment("web", "default", _deployment(1 + i % 3),
                                                       field_manager=f"thread-{i % 2}", force=True,
                                                       _content_type="application/apply-patch+yaml"), count)
        for i in range(count, 500):
            core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})

        def paged(_: int) -> None:
            token = None
            while True:
                page = core.list_namespaced_config_map("default", limit=50, _continue=token)
                token = page.metadata._continue
                if not token:
                    return

        results["list 500 in pages of 50"] = _timed(paged, 10)
        api.close()
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="requests per operation")
    args = parser.parse_args()
    results = run(args.count)
    for name, figures in results.items():
        print(f"{name:40s} n={figures['n']:4d}  p50 {figures['p50_ms']:7.2f} ms  p95 {figures['p95_ms']:7.2f} ms")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
