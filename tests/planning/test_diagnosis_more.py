"""More diagnosis (issue 13 §5), against objects shaped exactly like a real cluster shows them.

Each staged object carries what the kubelet, the scheduler and the controllers write: pod conditions,
container statuses, Unhealthy / FailedScheduling / Failed / ProvisioningFailed events with the real
wording. The diagnosis must name the cause and offer the fix when the catalog can express it.
The end-to-end versions (sandbox, controller, approval) are the h13-* eval scenarios.
"""

from __future__ import annotations

from typing import Any

from controller.catalog.registry import CATALOG
from controller.planning.offline.planner import OfflineBackend
from tests.planning.fixtures import deployment, request, shop_cluster


def _event(kind: str, name: str, reason: str, message: str, component: str = "kubelet") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"{name}.{reason.lower()}", "namespace": "shop"},
            "involvedObject": {"apiVersion": "v1", "kind": kind, "name": name, "namespace": "shop"},
            "reason": reason, "message": message, "type": "Warning", "count": 12, "source": {"component": component}}


def _pod(name: str, app: str, phase: str, ready: bool, statuses: list[dict[str, Any]] | None = None,
         conditions: list[dict[str, Any]] | None = None, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    conds = conditions or [{"type": "Ready", "status": "True" if ready else "False",
                            **({} if ready else {"reason": "ContainersNotReady",
                                                 "message": f"containers with unready status: [{app}]"})}]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "shop", "labels": {"app": app}},
            "spec": spec or {"containers": [{"name": app, "image": "img:1"}]},
            "status": {"phase": phase, "conditions": conds, "containerStatuses": statuses or []}}


def _valid(backend: OfflineBackend, calls: list[Any]) -> None:
    for call in calls:
        CATALOG[call.action].params.model_validate(call.params)


def test_readiness_probe_on_a_port_nothing_listens_on_offers_the_port_fix(backend: OfflineBackend) -> None:
    web = deployment("web", "shop", "nginx:1.27", 2)
    web["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 9090}}
    cluster = shop_cluster(
        _pod("web-5d4c-aaaaa", "web", "Running", False,
             [{"name": "web", "ready": False, "restartCount": 0, "state": {"running": {}}}]),
        _event("Pod", "web-5d4c-aaaaa", "Unhealthy",
               'Readiness probe failed: Get "http://10.1.2.3:9090/ready": dial tcp 10.1.2.3:9090: connect: connection refused'),
    )
    cluster.objects = [o for o in cluster.objects if not (o["kind"] == "Deployment" and o["metadata"]["name"] == "web")]
    cluster.add(web)
    result = backend.propose(request("web pods are running but never ready, what's going on?"), cluster)
    assert result.intent == "diagnose" and "readiness probe" in result.answer.lower()
    assert "9090" in result.answer and "8080" in result.answer
    assert [(a.action, a.params["port"]) for a in result.actions] == [("set-probe", 8080)]
    _valid(backend, result.actions)


def test_readiness_failing_with_503_names_the_app_and_offers_nothing(backend: OfflineBackend) -> None:
    web = deployment("web", "shop", "nginx:1.27", 2)
    web["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 8080}}
    cluster = shop_cluster(
        _pod("web-5d4c-bbbbb", "web", "Running", False,
             [{"name": "web", "ready": False, "restartCount": 0, "state": {"running": {}}}]),
        _event("Pod", "web-5d4c-bbbbb", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503"),
    )
    cluster.objects = [o for o in cluster.objects if not (o["kind"] == "Deployment" and o["metadata"]["name"] == "web")]
    cluster.add(web)
    result = backend.propose(request("why is web not ready?"), cluster)
    assert "statuscode: 503" in result.answer and "reports itself not ready" in result.answer
    assert result.actions == []


def test_service_selector_matching_no_pod_offers_the_selector_of_its_workload(backend: OfflineBackend) -> None:
    cluster = shop_cluster(_pod("api-7f8e-ccccc", "api", "Running", True))
    for obj in cluster.objects:
        if obj["kind"] == "Service" and obj["metadata"]["name"] == "api":
            obj["spec"]["selector"] = {"app": "apx"}
    result = backend.propose(request("the api service has no endpoints, what's wrong?"), cluster)
    assert "app=apx" in result.answer and "matches no pod" in result.answer
    assert [(a.action, a.params["selector"]) for a in result.actions] == [("set-service-selector", {"app": "api"})]


def test_pending_with_failed_scheduling_names_resource_taint_and_requests(backend: OfflineBackend) -> None:
    big = {"requests": {"cpu": "2", "memory": "64Gi"}}
    worker = deployment("worker", "shop", "busybox:1.36", 1, resources=big)
    message = ("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient memory. "
               "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.")
    cluster = shop_cluster(
        _pod("worker-6c5b-ddddd", "worker", "Pending", False,
             conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}]),
        _event("Pod", "worker-6c5b-ddddd", "FailedScheduling", message, "default-scheduler"),
    )
    cluster.objects = [o for o in cluster.objects if not (o["kind"] == "Deployment" and o["metadata"]["name"] == "worker")]
    cluster.add(worker)
    result = backend.propose(request("why is the worker stuck in Pending?"), cluster)
    text = result.answer + " ".join(result.findings)
    assert "2 node(s) lack enough free memory" in text and "taint {dedicated: gpu}" in text
    assert "memory 64Gi" in result.answer and result.actions == []


def test_image_pull_names_tag_repository_and_registry_answer(backend: OfflineBackend) -> None:
    cluster = shop_cluster(
        {"apiVersion": "apps/v1", "kind": "ReplicaSet",
         "metadata": {"name": "api-6b7c8", "namespace": "shop", "ownerReferences": [{"kind": "Deployment", "name": "api"}],
                      "annotations": {"deployment.kubernetes.io/revision": "1"}},
         "spec": {"template": {"spec": {"containers": [{"name": "api", "image": "ghcr.io/acme/api:2.0.9"}]}}}},
        _pod("api-7f8e9-eeeee", "api", "Pending", False, [
            {"name": "api", "ready": False, "restartCount": 0, "image": "ghcr.io/acme/api:2.1.0",
             "state": {"waiting": {"reason": "ImagePullBackOff",
                                   "message": 'Back-off pulling image "ghcr.io/acme/api:2.1.0"'}}}]),
        _event("Pod", "api-7f8e9-eeeee", "Failed", 'Failed to pull image "ghcr.io/acme/api:2.1.0": rpc error: code = '
               'NotFound desc = failed to pull and unpack image "ghcr.io/acme/api:2.1.0": not found'),
    )
    result = backend.propose(request("please fix the api, its pods never start"), cluster)
    assert "repository ghcr.io/acme/api, tag 2.1.0" in result.answer and "no such tag" in result.answer
    assert [(a.action, a.params["image"]) for a in result.actions] == [("set-image", "ghcr.io/acme/api:2.0.9")]


def test_pvc_stuck_pending_names_the_missing_storage_class(backend: OfflineBackend) -> None:
    cluster = shop_cluster(
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "scratch", "namespace": "shop"},
         "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast-ssd",
                  "resources": {"requests": {"storage": "50Gi"}}}, "status": {"phase": "Pending"}},
        _event("PersistentVolumeClaim", "scratch", "ProvisioningFailed",
               'storageclass.storage.k8s.io "fast-ssd" not found', "persistentvolume-controller"),
    )
    result = backend.propose(request("the scratch volume claim never binds, why?"), cluster)
    assert "fast-ssd" in result.answer and "not found" in result.answer
    assert "StorageClass fast-ssd does not exist; the cluster has gp3" in result.answer and result.actions == []


def test_security_review_proposes_hardening_for_root_and_escalation(backend: OfflineBackend) -> None:
    """The review offers the securityContext hardening for workloads that may run as root (issue 13 §4)."""
    worker = deployment("worker", "shop", "busybox:1.36", 1)
    worker["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"allowPrivilegeEscalation": True}
    cluster = shop_cluster()
    cluster.objects = [o for o in cluster.objects if not (o["kind"] == "Deployment" and o["metadata"]["name"] == "worker")]
    cluster.add(worker)
    result = backend.propose(request("run a security review of shop"), cluster)
    hardened = {a.params["name"] for a in result.actions if a.action == "harden-workload"}
    assert {"worker", "web", "api"} <= hardened and "securityContext hardening" in result.answer
    _valid(backend, result.actions)
