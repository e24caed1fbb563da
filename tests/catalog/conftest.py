"""The shop namespace every catalog test plans against (the cluster of the eval scenarios)."""

from __future__ import annotations

from typing import Any

import pytest

from controller.planning.memory_cluster import MemoryCluster


def _deployment(name: str, image: str, replicas: int, revision: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": name}, "uid": f"uid-{name}",
                     "resourceVersion": "42", "annotations": {"deployment.kubernetes.io/revision": str(revision)}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": name, "image": image,
                                                  "ports": [{"containerPort": 8080}]}]}},
        },
        "status": {"replicas": replicas, "readyReplicas": replicas},
    }


def _replicaset(revision: int, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"web-rs{revision}", "namespace": "shop",
                     "labels": {"app": "web", "pod-template-hash": f"h{revision}"},
                     "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                          "uid": "uid-web", "controller": True}]},
        "spec": {"replicas": 0 if revision == 1 else 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": f"h{revision}"}},
                              "spec": {"containers": [{"name": "web", "image": image,
                                                       "ports": [{"containerPort": 8080}]}]}}},
    }


def shop_objects() -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        _deployment("web", "nginx:1.27", 2, 2),
        _deployment("worker", "busybox:1.36", 1, 1),
        {"apiVersion": "apps/v1", "kind": "StatefulSet",
         "metadata": {"name": "postgres", "namespace": "shop", "labels": {"app": "postgres"}},
         "spec": {"replicas": 1, "serviceName": "postgres", "selector": {"matchLabels": {"app": "postgres"}},
                  "template": {"metadata": {"labels": {"app": "postgres"}},
                               "spec": {"containers": [{"name": "postgres", "image": "postgres:16"}]}}}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config", "namespace": "shop"},
         "data": {"LOG_LEVEL": "info"}},
        _replicaset(1, "nginx:1.26"),
        _replicaset(2, "nginx:1.27"),
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
         "data": {"password": "aHVudGVyMg=="}},
    ]


@pytest.fixture
def shop() -> MemoryCluster:
    return MemoryCluster(shop_objects())
