"""Diagnoses against the sandbox's simulated cluster (issue 13 §5): nothing staged, the failures happen.

The sandbox's kubelet, scheduler and controllers (driven by sandbox/behaviour.yaml) pull images from a
registry that does not know every tag, schedule against node capacity, run probes against the ports a
container listens on, keep Endpoints from ready pods and provision claims through StorageClasses. Each
test creates ordinary objects, waits until the cluster shows the failure a real one would show, and
then asks the offline planner through the same reader the controller uses (`LiveClusterReader`, here
as the admin). The diagnosis must name the cause from what the cluster says and offer the fix the
catalog can make.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.adapters.kube import Kube, load_api_client
from controller.engine.live import LiveClusterReader
from controller.planning.offline.planner import OfflineBackend
from sandbox.server import SandboxServer
from tests.planning.fixtures import request

pytestmark = pytest.mark.xdist_group("sandbox-sim")


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[Kube]:
    with SandboxServer(home=tmp_path / "home", clock_speed=20.0) as server:
        yield Kube(load_api_client(str(server.kubeconfig_path)))


def _wait(what: str, check: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"the simulated cluster never showed: {what}")
        time.sleep(0.5)


def _deployment(name: str, image: str, container: dict[str, Any] | None = None, replicas: int = 1,
                labels: dict[str, str] | None = None) -> dict[str, Any]:
    labels = labels or {"app": name}
    spec = {"name": name, "image": image, **(container or {})}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "shop",
                                                                        "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [spec]}}}}


def _setup(kube: Kube, *objects: dict[str, Any]) -> LiveClusterReader:
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    for obj in objects:
        kube.create(obj)
    return LiveClusterReader(kube)


def _pods(kube: Kube, app: str) -> list[dict[str, Any]]:
    return kube.list("v1", "Pod", "shop", label_selector=f"app={app}")


def _waiting(kube: Kube, app: str, reasons: tuple[str, ...]) -> bool:
    return any(((cs.get("state") or {}).get("waiting") or {}).get("reason") in reasons
               for p in _pods(kube, app) for cs in (p.get("status") or {}).get("containerStatuses") or [])


def _events(kube: Kube, reason: str) -> list[dict[str, Any]]:
    return [e for e in kube.list("v1", "Event", "shop") if e.get("reason") == reason]


def test_an_unknown_tag_is_named_with_the_registry_answer(backend: OfflineBackend, kube: Kube) -> None:
    reader = _setup(kube, _deployment("web", "nginx:9.99.1", {"ports": [{"containerPort": 80}]}))
    _wait("ErrImagePull or ImagePullBackOff", lambda: _waiting(kube, "web", ("ErrImagePull", "ImagePullBackOff")))
    _wait("a Failed pull event", lambda: bool(_events(kube, "Failed")))
    result = backend.propose(request("web never starts, why?"), reader)
    assert result.intent == "diagnose"
    assert "repository nginx, tag 9.99.1" in result.answer and "no such tag" in result.answer
    assert result.actions == []  # no earlier image ran, so there is nothing to go back to


def test_pending_for_memory_names_the_scheduler_cause_and_the_request(backend: OfflineBackend, kube: Kube) -> None:
    reader = _setup(kube, _deployment("indexer", "nginx:1.27", {"resources": {"requests": {"memory": "64Gi"}}}))
    _wait("a FailedScheduling event", lambda: bool(_events(kube, "FailedScheduling")))
    result = backend.propose(request("why is indexer stuck in pending?"), reader)
    text = result.answer + " ".join(result.findings)
    assert "Insufficient memory" in text and "lack enough free memory" in text and "memory 64Gi" in result.answer
    # the admin reads the nodes (16Gi each in the behaviour file): 64Gi can never fit, so a request that fits is offered
    assert "No node has more than 16Gi of memory" in result.answer
    assert [(a.action, a.params["requests"]) for a in result.actions] == [("set-resources", {"memory": "12Gi"})]


def test_a_probe_on_the_wrong_port_is_fixed_to_the_port_the_container_listens_on(backend: OfflineBackend,
                                                                                kube: Kube) -> None:
    reader = _setup(kube, _deployment("web", "nginx:1.27", {
        "ports": [{"containerPort": 80}], "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 5}}))
    _wait("an Unhealthy event", lambda: bool(_events(kube, "Unhealthy")))
    result = backend.propose(request("web pods run but are never ready, what's going on?"), reader)
    assert "readiness probe" in result.answer.lower() and "8080" in result.answer
    assert [(a.action, a.params["port"]) for a in result.actions] == [("set-probe", 80)]


def test_a_service_selector_that_matches_no_pod_gets_the_workload_selector(backend: OfflineBackend,
                                                                            kube: Kube) -> None:
    reader = _setup(kube, _deployment("web", "nginx:1.27", {"ports": [{"containerPort": 80}]}),
                    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
                     "spec": {"selector": {"app": "wbe"}, "ports": [{"port": 80, "targetPort": 80}]}})
    _wait("a running web pod", lambda: any((p.get("status") or {}).get("phase") == "Running" for p in _pods(kube, "web")))
    result = backend.propose(request("the web service has no endpoints, why?"), reader)
    assert "app=wbe" in result.answer and "matches no pod" in result.answer
    assert [(a.action, a.params["selector"]) for a in result.actions] == [("set-service-selector", {"app": "web"})]


def test_a_claim_with_an_unknown_class_names_the_class(backend: OfflineBackend, kube: Kube) -> None:
    reader = _setup(kube, {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                           "metadata": {"name": "scratch", "namespace": "shop"},
                           "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast-ssd",
                                    "resources": {"requests": {"storage": "5Gi"}}}})
    _wait("a ProvisioningFailed event", lambda: bool(_events(kube, "ProvisioningFailed")))
    result = backend.propose(request("the scratch claim never binds, why?"), reader)
    assert "fast-ssd" in result.answer and "not found" in result.answer and "Pending" in result.answer
