"""The real kubectl 1.37 binary against the sandbox: what a person typing kubectl would see."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from kubernetes import client

from sandbox.server import SandboxServer
from tests.sandbox.conftest import DEPLOYMENT_YAML, KUBECTL, WIDGET_CRD, Kubectl, as_json, deployment, widget


def _apply_file(kubectl: Kubectl, tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "app.yaml"
    path.write_text(text)
    return kubectl("apply", "-f", str(path))


def test_apply_then_reapply_after_edit(kubectl: Kubectl, tmp_path: Path) -> None:
    """`kubectl apply -f` creates a namespace and a deployment, and re-applying an edit patches it."""
    out = _apply_file(kubectl, tmp_path, DEPLOYMENT_YAML)
    assert "namespace/shop created" in out.stdout
    assert "deployment.apps/web created" in out.stdout
    edited = DEPLOYMENT_YAML.replace("nginx:1.25", "nginx:1.26").replace("value: blue", "value: green")
    out = _apply_file(kubectl, tmp_path, edited)
    assert "deployment.apps/web configured" in out.stdout
    assert "namespace/shop unchanged" in out.stdout
    deploy = as_json(kubectl("get", "deployment", "web", "-n", "shop", "-o", "json"))
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.26"
    assert container["env"] == [{"name": "MODE", "value": "green"}]
    assert deploy["metadata"]["generation"] == 2
    assert "kubectl.kubernetes.io/last-applied-configuration" in deploy["metadata"]["annotations"]
    out = _apply_file(kubectl, tmp_path, edited)
    assert "deployment.apps/web unchanged" in out.stdout


def test_get_with_label_selector_and_table_columns(kubectl: Kubectl, tmp_path: Path) -> None:
    """`kubectl get -l app=web` prints the READY/UP-TO-DATE/AVAILABLE columns of a finished rollout."""
    _apply_file(kubectl, tmp_path, DEPLOYMENT_YAML)
    kubectl("apply", "-f", "-", stdin=json.dumps(deployment("other", namespace="shop")))
    out = kubectl("get", "deployments", "-n", "shop", "-l", "app=web").stdout
    lines = out.strip().splitlines()
    assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert len(lines) == 2 and lines[1].split()[:4] == ["web", "2/2", "2", "2"]
    names = kubectl("get", "deploy", "-n", "shop", "-l", "app!=web", "-o", "name").stdout.split()
    assert names == ["deployment.apps/other"]
    listing = as_json(kubectl("get", "deploy", "-n", "shop", "-o", "json"))
    assert listing["kind"] == "List" and len(listing["items"]) == 2
    ns_out = kubectl("get", "ns", "shop").stdout.splitlines()
    assert ns_out[0].split() == ["NAME", "STATUS", "AGE"] and ns_out[1].split()[:2] == ["shop", "Active"]


def test_patch_strategic_merge_and_json(kubectl: Kubectl, tmp_path: Path) -> None:
    """The three `kubectl patch --type` flavours change exactly what they say."""
    _apply_file(kubectl, tmp_path, DEPLOYMENT_YAML)
    kubectl("patch", "deployment", "web", "-n", "shop", "-p",
            json.dumps({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}}))
    deploy = as_json(kubectl("get", "deploy", "web", "-n", "shop", "-o", "json"))
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:2" and container["env"] == [{"name": "MODE", "value": "blue"}]
    kubectl("patch", "deployment", "web", "-n", "shop", "--type", "merge", "-p",
            json.dumps({"metadata": {"labels": {"tier": "front"}}}))
    kubectl("patch", "deployment", "web", "-n", "shop", "--type", "json", "-p",
            json.dumps([{"op": "replace", "path": "/spec/replicas", "value": 3}]))
    deploy = as_json(kubectl("get", "deploy", "web", "-n", "shop", "-o", "json"))
    assert deploy["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert deploy["spec"]["replicas"] == 3
    failed = kubectl("patch", "deployment", "ghost", "-n", "shop", "-p", "{}", check=False)
    assert failed.returncode != 0
    assert 'deployments.apps "ghost" not found' in failed.stderr


def test_scale_sets_replicas_and_status(kubectl: Kubectl, tmp_path: Path) -> None:
    """`kubectl scale --replicas=4` changes spec.replicas and the simulated rollout follows."""
    _apply_file(kubectl, tmp_path, DEPLOYMENT_YAML)
    out = kubectl("scale", "deployment", "web", "-n", "shop", "--replicas=4").stdout
    assert "deployment.apps/web scaled" in out
    deploy = as_json(kubectl("get", "deploy", "web", "-n", "shop", "-o", "json"))
    assert deploy["spec"]["replicas"] == 4
    assert deploy["status"]["readyReplicas"] == 4
    assert deploy["status"]["observedGeneration"] == deploy["metadata"]["generation"]


def test_auth_can_i_follows_role_bindings(kubectl: Kubectl, sandbox: SandboxServer, tmp_path: Path) -> None:
    """`kubectl auth can-i ... --as alice` answers yes only where a Role/RoleBinding allows it."""
    kubectl("create", "namespace", "shop")
    kubectl("create", "namespace", "other")
    kubectl("create", "role", "deployer", "-n", "shop", "--verb=get,list,patch", "--resource=deployments")
    kubectl("create", "rolebinding", "alice-deployer", "-n", "shop", "--role=deployer", "--user=alice")
    yes = kubectl("auth", "can-i", "patch", "deployments", "-n", "shop", "--as", "alice", check=False)
    assert yes.returncode == 0 and yes.stdout.strip() == "yes"
    no = kubectl("auth", "can-i", "delete", "deployments", "-n", "shop", "--as", "alice", check=False)
    assert no.returncode == 1 and no.stdout.strip() == "no"
    elsewhere = kubectl("auth", "can-i", "patch", "deployments", "-n", "other", "--as", "alice", check=False)
    assert elsewhere.stdout.strip() == "no"
    whoami = kubectl("auth", "whoami", "-o", "json", "--as", "alice")
    assert as_json(whoami)["status"]["userInfo"]["username"] == "alice"
    denied = kubectl("delete", "deployment", "x", "-n", "shop", "--as", "alice", check=False)
    assert ('deployments.apps "x" is forbidden: User "alice" cannot delete resource "deployments" in API group '
            '"apps" in the namespace "shop"') in denied.stderr
    token_kubeconfig = sandbox.user_kubeconfig("alice")
    mine = kubectl("get", "deployments", "-n", "shop", kubeconfig=token_kubeconfig)
    assert mine.returncode == 0
    forbidden = kubectl("get", "pods", "-n", "shop", kubeconfig=token_kubeconfig, check=False)
    assert 'User "alice" cannot list resource "pods"' in forbidden.stderr


def test_get_watch_prints_new_objects(sandbox: SandboxServer, kubectl: Kubectl, tmp_path: Path) -> None:
    """`kubectl get -w` keeps running and prints an object created after it started."""
    kubectl("create", "configmap", "first", "-n", "default")
    home = tmp_path / "watch-home"
    home.mkdir()
    env = {"HOME": str(home), "KUBECONFIG": str(sandbox.kubeconfig_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([KUBECTL, "get", "configmaps", "-n", "default", "-w"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        header = proc.stdout.readline()
        assert header.split()[:3] == ["NAME", "DATA", "AGE"]
        assert proc.stdout.readline().split()[0] == "first"
        time.sleep(0.3)
        kubectl("create", "configmap", "second", "-n", "default", "--from-literal=a=b")
        line = proc.stdout.readline()
        assert line.split()[:2] == ["second", "1"]
    finally:
        proc.kill()
        proc.wait()


def test_delete_removes_objects(kubectl: Kubectl, tmp_path: Path) -> None:
    """`kubectl delete` removes a deployment; its ReplicaSets go with it."""
    _apply_file(kubectl, tmp_path, DEPLOYMENT_YAML)
    assert kubectl("get", "rs", "-n", "shop", "-o", "name").stdout.strip()
    out = kubectl("delete", "deployment", "web", "-n", "shop").stdout
    assert 'deployment.apps "web" deleted' in out
    assert kubectl("get", "deploy,rs", "-n", "shop", "-o", "name").stdout.strip() == ""
    missing = kubectl("get", "deployment", "web", "-n", "shop", check=False)
    assert 'deployments.apps "web" not found' in missing.stderr


def test_crd_in_api_resources_and_printer_columns(kubectl: Kubectl, api: client.ApiClient, tmp_path: Path) -> None:
    """After creating a CRD, `kubectl api-resources` lists it and `kubectl get` shows its printer columns."""
    (tmp_path / "crd.json").write_text(json.dumps(WIDGET_CRD))
    kubectl("apply", "-f", str(tmp_path / "crd.json"))
    out = kubectl("api-resources", "--api-group", "example.com").stdout
    row = out.strip().splitlines()[1].split()
    assert row == ["widgets", "wd", "example.com/v1", "true", "Widget"]
    (tmp_path / "w.json").write_text(json.dumps(widget("w1", size=4, color="green")))
    kubectl("apply", "-f", str(tmp_path / "w.json"))
    lines = kubectl("get", "widgets").stdout.strip().splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "COLOR", "PHASE", "AGE"]
    cells = lines[1].split()
    assert cells[:3] == ["w1", "4", "green"] and len(cells) == 4  # PHASE is blank: no status yet
    short = kubectl("get", "wd", "w1", "-o", "jsonpath={.spec.size}").stdout
    assert short == "4"
    crd_state = as_json(kubectl("get", "crd", "widgets.example.com", "-o", "json"))
    conditions = {c["type"]: c["status"] for c in crd_state["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}


def test_schema_violation_shown_by_kubectl(kubectl: Kubectl, tmp_path: Path) -> None:
    """kubectl shows the field path of a CRD schema violation."""
    (tmp_path / "crd.json").write_text(json.dumps(WIDGET_CRD))
    kubectl("apply", "-f", str(tmp_path / "crd.json"))
    (tmp_path / "bad.json").write_text(json.dumps(widget("bad", size=99)))
    out = kubectl("apply", "-f", str(tmp_path / "bad.json"), check=False)
    assert out.returncode != 0
    assert 'The Widget "bad" is invalid: spec.size' in out.stderr
    assert "spec.size" in out.stderr


def test_get_pods_shows_staged_container_state(kubectl: Kubectl, api: client.ApiClient) -> None:
    """A pod staged as CrashLoopBackOff shows that STATUS and its restarts in `kubectl get pods`."""
    core = client.CoreV1Api(api)
    core.create_namespaced_pod("default", {"metadata": {"name": "crash"},
                                           "spec": {"containers": [{"name": "app", "image": "x"}]}})
    core.patch_namespaced_pod_status("crash", "default", {"status": {"phase": "Running", "containerStatuses": [{
        "name": "app", "ready": False, "restartCount": 7, "image": "x", "imageID": "",
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}})
    lines = kubectl("get", "pods").stdout.strip().splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert lines[1].split()[:4] == ["crash", "0/1", "CrashLoopBackOff", "7"]
    logs = kubectl("logs", "crash", check=False)
    assert logs.returncode == 0 and logs.stdout == ""
