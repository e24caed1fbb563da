"""Diagnoses against the sandbox's simulated cluster (issues 12 and 13 §5): nothing staged, the failures happen.

The sandbox's kubelet, scheduler and controllers (driven by sandbox/behaviour.yaml) pull images from a
registry that does not know every tag, schedule against node capacity, run probes against the ports a
container listens on, restart containers that exit (CrashLoopBackOff with back-off) or outgrow their
memory limit (OOMKilled), keep Endpoints from ready pods and provision claims through StorageClasses. Each
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
import yaml

from controller.adapters.kube import Kube, load_api_client
from controller.engine.live import LiveClusterReader
from controller.planning.offline.planner import OfflineBackend
from sandbox.behaviour import DEFAULT_FILE, parse_behaviour
from sandbox.server import SandboxServer
from tests.planning.fixtures import request

pytestmark = pytest.mark.xdist_group("sandbox-sim")


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[Kube]:
    with SandboxServer(home=tmp_path / "home", clock_speed=20.0) as server:
        yield Kube(load_api_client(str(server.kubeconfig_path)))


# The default behaviour plus one in-house image, as a team would declare its own application: the
# worker logs that it starts, and 20 seconds later that it cannot find its database, and exits 3.
WORKER_IMAGE = {"repository": "registry.example.com/shop/worker", "tags": ["v[0-9]+"], "shell": "none",
                "run": {"exitAfterSeconds": 20, "exitCode": 3, "memoryMiB": 30,
                        "logs": ["worker ${tag} starting", "connecting to the database",
                                 {"afterSeconds": 20, "stream": "stderr", "text": "panic: DATABASE_URL is not set"}]}}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[SandboxServer, Kube]]:
    """A sandbox whose clock the test moves (speed 1, `simulator.advance`), with the worker image declared."""
    doc = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
    doc["images"].append(WORKER_IMAGE)
    behaviour = parse_behaviour(yaml.safe_dump(doc), "default + worker")
    with SandboxServer(home=tmp_path / "home", behaviour=behaviour) as server:
        yield server, Kube(load_api_client(str(server.kubeconfig_path)))


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


def _status(kube: Kube, app: str) -> dict[str, Any]:
    return dict(_pods(kube, app)[0]["status"]["containerStatuses"][0])


def _advance_until(server: SandboxServer, what: str, check: Callable[[], bool], step: float = 5.0,
                   most: float = 900.0) -> None:
    """Move the cluster clock in steps until `check` holds (no sleeping: the kubelet's back-off is minutes)."""
    assert server.simulator is not None
    moved = 0.0
    while not check():
        if moved >= most:
            raise AssertionError(f"the simulated cluster never showed {what} in {most:.0f} s of cluster time")
        server.simulator.advance(step)
        moved += step


def test_a_crash_loop_is_named_with_its_exit_code_restarts_and_last_words(
        backend: OfflineBackend, cluster: tuple[SandboxServer, Kube]) -> None:
    """The worker exits 3 after 20 s, every time: the kubelet restarts it with back-off (CrashLoopBackOff),
    keeps the exit in lastState and the last run's output for `logs --previous`. The diagnosis quotes all of
    it; a crash whose cause is the application's own configuration gets no catalog fix (as today)."""
    server, kube = cluster
    reader = _setup(kube, _deployment("worker", "registry.example.com/shop/worker:v7"))
    _advance_until(server, "CrashLoopBackOff after three restarts", lambda: _status(kube, "worker")["restartCount"] >= 3
                   and _waiting(kube, "worker", ("CrashLoopBackOff",)))
    status = _status(kube, "worker")
    assert status["lastState"]["terminated"]["exitCode"] == 3 and status["lastState"]["terminated"]["reason"] == "Error"
    pod = _pods(kube, "worker")[0]["metadata"]["name"]
    assert kube.logs("shop", pod, None, True, 50) == ("worker v7 starting\nconnecting to the database\n"
                                                       "panic: DATABASE_URL is not set\n")
    assert any("Back-off restarting failed container" in str(e.get("message")) for e in _events(kube, "BackOff"))
    restarts = status["restartCount"]

    result = backend.propose(request("why is worker crashing?"), reader)
    assert result.intent == "diagnose"
    for words in ("CrashLoopBackOff", "exit code 3", f"restartCount {restarts}", "Back-off restarting failed container",
                  "previous logs: \"panic: DATABASE_URL is not set\""):
        assert words in result.answer, words
    assert result.actions == []


def test_memory_over_the_limit_is_diagnosed_as_oom_with_a_higher_limit_offered(
        backend: OfflineBackend, cluster: tuple[SandboxServer, Kube]) -> None:
    """The documentation's stress example as a Deployment: 250 MB against a 100Mi limit is OOMKilled (137)
    at every start; the diagnosis names OOMKilled and offers twice the limit."""
    server, kube = cluster
    reader = _setup(kube, _deployment("memory-demo", "polinux/stress", {
        "command": ["stress"], "args": ["--vm", "1", "--vm-bytes", "250M", "--vm-hang", "1"],
        "resources": {"limits": {"memory": "100Mi"}, "requests": {"memory": "50Mi"}}}))
    _advance_until(server, "an OOMKilled restart", lambda: _status(kube, "memory-demo")["restartCount"] >= 2)
    last = _status(kube, "memory-demo")["lastState"]["terminated"]
    assert (last["reason"], last["exitCode"]) == ("OOMKilled", 137)

    result = backend.propose(request("why does memory-demo keep restarting?"), reader)
    assert result.intent == "diagnose"
    assert "OOMKilled" in result.answer and "exit code 137" in result.answer
    assert [(a.action, a.params["name"], a.params["limits"]) for a in result.actions] == \
        [("set-resources", "memory-demo", {"memory": "200Mi"})]
