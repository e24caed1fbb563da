"""Object lifecycle rules the operator relies on: finalizers, garbage collection, namespace teardown,
generation, persistence, dry-run, server-side apply, logs and the workload simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from sandbox.server import SandboxServer
from tests.sandbox.conftest import api_client, deployment


def _cm(name: str, namespace: str = "default", **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace, **meta},
            "data": {"k": "v"}}


def test_finalizers_hold_deletion_until_removed(api: client.ApiClient) -> None:
    """An object with a finalizer gets a deletionTimestamp and only disappears once the finalizer is removed."""
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map("default", _cm("held", finalizers=["example.com/cleanup"]))
    core.delete_namespaced_config_map("held", "default")
    held = core.read_namespaced_config_map("held", "default")
    assert held.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("held", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("held", "default")
    assert err.value.status == 404


def test_owner_references_cascade(api: client.ApiClient) -> None:
    """Deleting an owner deletes dependents whose every owner is gone; Orphan keeps them."""
    core = client.CoreV1Api(api)
    owner = core.create_namespaced_config_map("default", _cm("owner"))
    other = core.create_namespaced_config_map("default", _cm("other-owner"))

    def ref(o: Any) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ConfigMap", "name": o.metadata.name, "uid": o.metadata.uid}

    core.create_namespaced_config_map("default", _cm("child", ownerReferences=[ref(owner)]))
    core.create_namespaced_config_map("default", _cm("shared", ownerReferences=[ref(owner), ref(other)]))
    core.delete_namespaced_config_map("owner", "default")
    names = {c.metadata.name for c in core.list_namespaced_config_map("default").items}
    assert names == {"other-owner", "shared"}
    shared = core.read_namespaced_config_map("shared", "default")
    assert [r.name for r in shared.metadata.owner_references] == ["other-owner"]
    core.delete_namespaced_config_map("other-owner", "default", propagation_policy="Orphan")
    orphan = core.read_namespaced_config_map("shared", "default")
    assert not orphan.metadata.owner_references


def test_namespace_deletion_removes_contents(api: client.ApiClient) -> None:
    """Deleting a namespace deletes everything in it; a finalizer keeps it Terminating until released."""
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": "tmp"}})
    core.create_namespaced_config_map("tmp", _cm("a", "tmp"))
    core.create_namespaced_config_map("tmp", _cm("b", "tmp", finalizers=["example.com/hold"]))
    client.AppsV1Api(api).create_namespaced_deployment("tmp", deployment("web", namespace="tmp"))
    core.delete_namespace("tmp")
    ns = core.read_namespace("tmp")
    assert ns.status.phase == "Terminating"
    assert [c.metadata.name for c in core.list_namespaced_config_map("tmp").items] == ["b"]
    assert client.AppsV1Api(api).list_namespaced_replica_set("tmp").items == []
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("tmp", _cm("late", "tmp"))
    assert err.value.status == 403 and "is being terminated" in err.value.body
    core.patch_namespaced_config_map("b", "tmp", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as err:
        core.read_namespace("tmp")
    assert err.value.status == 404


def test_generation_bumps_only_on_spec_changes(api: client.ApiClient) -> None:
    """metadata.generation changes with the spec, not with labels, annotations or status."""
    apps = client.AppsV1Api(api)
    created = apps.create_namespaced_deployment("default", deployment("web"))
    assert created.metadata.generation == 1
    apps.patch_namespaced_deployment("web", "default", {"metadata": {"labels": {"x": "y"}}})
    apps.patch_namespaced_deployment_status("web", "default", {"status": {"replicas": 7}})
    assert apps.read_namespaced_deployment("web", "default").metadata.generation == 1
    apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 5}})
    assert apps.read_namespaced_deployment("web", "default").metadata.generation == 2


def test_noop_update_keeps_resource_version(api: client.ApiClient) -> None:
    """Writing an unchanged object does not bump resourceVersion (no spurious watch events)."""
    core = client.CoreV1Api(api)
    created = core.create_namespaced_config_map("default", _cm("same"))
    again = core.patch_namespaced_config_map("same", "default", {"data": {"k": "v"}})
    assert again.metadata.resource_version == created.metadata.resource_version


def test_state_survives_restart(tmp_path: Path) -> None:
    """With a state dir, objects, users and the resourceVersion counter survive a restart."""
    state = tmp_path / "state"
    with SandboxServer(home=tmp_path / "h1", state_dir=state) as first:
        token = first.add_user("alice", ["devs"])
        api = api_client(first)
        created = client.CoreV1Api(api).create_namespaced_config_map("default", _cm("kept"))
        api.close()
        admin = first.admin_token
    with SandboxServer(home=tmp_path / "h2", state_dir=state) as second:
        assert second.admin_token == admin
        assert second.identities.authenticate(f"Bearer {token}") is not None
        api = api_client(second)
        core = client.CoreV1Api(api)
        kept = core.read_namespaced_config_map("kept", "default")
        assert kept.metadata.uid == created.metadata.uid
        newer = core.create_namespaced_config_map("default", _cm("new"))
        assert int(newer.metadata.resource_version) > int(created.metadata.resource_version)
        assert [n.metadata.name for n in core.list_namespace().items].count("default") == 1
        api.close()


def test_pod_logs_from_staged_annotations(api: client.ApiClient) -> None:
    """Pod logs come from the `sandbox.aiop.dev/logs` annotation, per container, with tailLines and previous."""
    core = client.CoreV1Api(api)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": {
        "sandbox.aiop.dev/logs": json.dumps({"app": "one\ntwo\nthree\n", "side": "side log\n"}),
        "sandbox.aiop.dev/previous-logs": "OOMKilled: out of memory\n"}},
        "spec": {"containers": [{"name": "app", "image": "x"}, {"name": "side", "image": "y"}]}}
    core.create_namespaced_pod("default", pod)
    assert core.read_namespaced_pod_log("p", "default", container="app") == "one\ntwo\nthree\n"
    assert core.read_namespaced_pod_log("p", "default", container="app", tail_lines=1) == "three\n"
    assert core.read_namespaced_pod_log("p", "default", container="side", previous=True) == \
        "OOMKilled: out of memory\n"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("p", "default", container="nope")
    assert err.value.status == 400
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("ghost", "default")
    assert err.value.status == 404


def test_pod_status_can_be_staged(api: client.ApiClient) -> None:
    """Tests stage a CrashLoopBackOff through the status subresource; spec writes do not touch it."""
    core = client.CoreV1Api(api)
    core.create_namespaced_pod("default", {"metadata": {"name": "crash"},
                                           "spec": {"containers": [{"name": "app", "image": "x"}]}})
    assert core.read_namespaced_pod("crash", "default").status.phase == "Pending"
    core.patch_namespaced_pod_status("crash", "default", {"status": {"phase": "Running", "containerStatuses": [{
        "name": "app", "ready": False, "restartCount": 5, "image": "x", "imageID": "", "state": {
            "waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}}]}})
    core.patch_namespaced_pod("crash", "default", {"metadata": {"labels": {"a": "b"}},
                                                  "status": {"phase": "Succeeded"}})
    pod = core.read_namespaced_pod("crash", "default")
    assert pod.status.phase == "Running"
    assert pod.status.container_statuses[0].state.waiting.reason == "CrashLoopBackOff"


def test_simulator_maintains_replicasets(api: client.ApiClient) -> None:
    """A Deployment gets one ReplicaSet per pod template with revisions, and a finished-rollout status."""
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment("default", deployment("web", replicas=2, image="nginx:1.26"))
    apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 3}})
    web = apps.read_namespaced_deployment("web", "default")
    assert (web.status.replicas, web.status.ready_replicas, web.status.available_replicas) == (3, 3, 3)
    assert web.status.observed_generation == web.metadata.generation
    assert {c.type for c in web.status.conditions} == {"Available", "Progressing"}
    apps.patch_namespaced_deployment("web", "default", {"spec": {"template": {"spec": {
        "containers": [{"name": "main", "image": "nginx:1.27"}]}}}})
    sets = sorted(apps.list_namespaced_replica_set("default").items,
                  key=lambda rs: int(rs.metadata.annotations["deployment.kubernetes.io/revision"]))
    assert [rs.spec.replicas for rs in sets] == [0, 3]
    assert [rs.spec.template.spec.containers[0].image for rs in sets] == ["nginx:1.26", "nginx:1.27"]
    assert all(rs.metadata.owner_references[0].controller for rs in sets)
    web = apps.read_namespaced_deployment("web", "default")
    assert web.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    scale = apps.read_namespaced_deployment_scale("web", "default")
    assert scale.spec.replicas == 3 and scale.status.selector == "app=web"
    apps.create_namespaced_stateful_set("default", {
        "metadata": {"name": "db"}, "spec": {"replicas": 2, "serviceName": "db",
                                             "selector": {"matchLabels": {"app": "db"}},
                                             "template": {"metadata": {"labels": {"app": "db"}},
                                                          "spec": {"containers": [{"name": "db", "image": "redis:7.4"}]}}}})
    db = apps.read_namespaced_stateful_set("db", "default")
    assert db.status.ready_replicas == 2 and db.status.observed_generation == 1


def test_simulator_can_be_switched_off(tmp_path: Path) -> None:
    """With simulate_workloads=False a Deployment stays as stored: no status, no ReplicaSets."""
    with SandboxServer(home=tmp_path, simulate_workloads=False) as sandbox:
        api = api_client(sandbox)
        apps = client.AppsV1Api(api)
        apps.create_namespaced_deployment("default", deployment("web"))
        assert apps.read_namespaced_deployment("web", "default").status.ready_replicas is None
        assert apps.list_namespaced_replica_set("default").items == []
        api.close()


def test_dry_run_generate_name_and_deletecollection(api: client.ApiClient) -> None:
    """dryRun=All stores nothing, generateName picks a name, deletecollection honours label selectors."""
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map("default", _cm("dry"), dry_run="All")
    assert core.list_namespaced_config_map("default").items == []
    made = core.create_namespaced_config_map("default", {"metadata": {"generateName": "job-", "labels": {
        "batch": "1"}}})
    assert made.metadata.name.startswith("job-") and len(made.metadata.name) == 9
    core.create_namespaced_config_map("default", _cm("keep", labels={"batch": "2"}))
    core.delete_collection_namespaced_config_map("default", label_selector="batch=1")
    assert [c.metadata.name for c in core.list_namespaced_config_map("default").items] == ["keep"]


def test_server_side_apply_creates_and_merges(api: client.ApiClient) -> None:
    """application/apply-patch+yaml creates when missing, merges other managers' fields, and drops what the
    same manager stopped applying (fieldManager required)."""
    core = client.CoreV1Api(api)
    body = _cm("ssa")
    core.patch_namespaced_config_map("ssa", "default", body, field_manager="aiop",
                                     _content_type="application/apply-patch+yaml")
    assert core.read_namespaced_config_map("ssa", "default").data == {"k": "v"}
    core.patch_namespaced_config_map("ssa", "default", {**body, "data": {"x": "y"}}, field_manager="other",
                                     force=True, _content_type="application/apply-patch+yaml")
    assert core.read_namespaced_config_map("ssa", "default").data == {"k": "v", "x": "y"}
    core.patch_namespaced_config_map("ssa", "default", {**body, "data": {"z": "1"}}, field_manager="aiop",
                                     _content_type="application/apply-patch+yaml")
    assert core.read_namespaced_config_map("ssa", "default").data == {"x": "y", "z": "1"}
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("ssa", "default", body, _content_type="application/apply-patch+yaml")
    assert err.value.status == 400


def test_admission_hook_denies_writes(sandbox: SandboxServer, api: client.ApiClient) -> None:
    """A registered admission hook can refuse a write; the client sees a VAP-style 422 message."""

    def no_red(request: Any) -> str | None:
        if request.kind == "ConfigMap" and (request.object.get("data") or {}).get("color") == "red":
            return "red is not allowed"
        return None

    sandbox.admission_hooks.append(no_red)
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map("default", {"metadata": {"name": "ok"}, "data": {"color": "blue"}})
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("ok", "default", {"data": {"color": "red"}})
    assert err.value.status == 422
    assert ("configmaps \\\"ok\\\" is forbidden: ValidatingAdmissionPolicy 'no_red' with binding 'no_red' "
            "denied request: red is not allowed") in err.value.body


def test_server_side_apply_removes_fields_the_manager_dropped(api: client.ApiClient) -> None:
    """Re-applying a manifest without a label or container removes them; other appliers' fields stay."""
    apps = client.AppsV1Api(api)
    first = deployment("web", labels={"app": "web"})
    first["metadata"]["labels"] = {"app": "web", "stage": "canary"}
    first["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "proxy"})

    def apply(body: dict[str, Any], manager: str) -> Any:
        return apps.patch_namespaced_deployment("web", "default", body, field_manager=manager, force=True,
                                                _content_type="application/apply-patch+yaml")

    apply(first, "aiop")
    apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": "web", "annotations": {"team": "sre"}}}, "other")
    second = deployment("web", labels={"app": "web"})
    web = apply(second, "aiop")
    assert web.metadata.labels == {"app": "web"}
    assert [c.name for c in web.spec.template.spec.containers] == ["main"]
    assert web.metadata.annotations["team"] == "sre"
    appliers = {m.manager for m in web.metadata.managed_fields if m.operation == "Apply"}
    assert appliers == {"aiop", "other"}  # the deployment controller's own Update entries come on top
