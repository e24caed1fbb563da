"""Everyday kubectl workflows on a Deployment, end to end through the API server and the simulated cluster.

What a real cluster shows: `rollout status` waits for a rollout and reports success, `rollout history`
lists one revision per pod template (and prints a revision's template), `rollout undo` brings a
previous template back as a new revision, `rollout restart` stamps `kubectl.kubernetes.io/restartedAt`
and rolls, `set image|env|resources` change the template, `scale` changes replicas (and `wait` sees
them ready), `describe` lists the object's events (found by a field selector on involvedObject), and
`wait --for=delete` returns once a pod is gone.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client

from tests.sandbox.conftest import Kubectl, as_json


def _template(kubectl: Kubectl) -> dict[str, Any]:
    spec: dict[str, Any] = as_json(kubectl("get", "deploy", "web", "-o", "json"))["spec"]["template"]
    return spec


def test_rollout_history_undo_and_restart(kubectl: Kubectl) -> None:
    """Each template change is a revision; undo and restart roll like a cluster does."""
    kubectl("create", "deployment", "web", "--image=nginx:1.25", "--replicas=2")
    assert "successfully rolled out" in kubectl("rollout", "status", "deploy/web", "--timeout=60s").stdout
    kubectl("set", "image", "deploy/web", "nginx=nginx:1.26")
    kubectl("rollout", "status", "deploy/web", "--timeout=60s")
    history = kubectl("rollout", "history", "deploy/web").stdout.split()
    assert history[history.index("CHANGE-CAUSE") + 1:] == ["1", "<none>", "2", "<none>"]
    assert "Image:\tnginx:1.25" in kubectl("rollout", "history", "deploy/web", "--revision=1").stdout
    kubectl("rollout", "undo", "deploy/web")
    kubectl("rollout", "status", "deploy/web", "--timeout=60s")
    assert _template(kubectl)["spec"]["containers"][0]["image"] == "nginx:1.25"
    annotations = as_json(kubectl("get", "deploy", "web", "-o", "json"))["metadata"]["annotations"]
    assert annotations["deployment.kubernetes.io/revision"] == "3"
    kubectl("rollout", "restart", "deploy/web")
    kubectl("rollout", "status", "deploy/web", "--timeout=60s")
    assert "kubectl.kubernetes.io/restartedAt" in _template(kubectl)["metadata"]["annotations"]
    undo_missing = kubectl("rollout", "undo", "deploy/web", "--to-revision=9", check=False)
    assert "unable to find specified revision 9 in history" in undo_missing.stderr


def test_set_env_resources_scale_and_wait(kubectl: Kubectl) -> None:
    """`set env`, `set resources` and `scale` write what they say; `wait` sees the scaled rollout ready."""
    kubectl("create", "deployment", "web", "--image=nginx:1.25")
    kubectl("set", "env", "deploy/web", "MODE=blue", "LEVEL=3")
    kubectl("set", "resources", "deploy/web", "--limits=cpu=200m,memory=128Mi", "--requests=cpu=100m")
    container = _template(kubectl)["spec"]["containers"][0]
    assert container["env"] == [{"name": "MODE", "value": "blue"}, {"name": "LEVEL", "value": "3"}]
    assert container["resources"] == {"limits": {"cpu": "200m", "memory": "128Mi"}, "requests": {"cpu": "100m"}}
    kubectl("set", "env", "deploy/web", "LEVEL-")
    assert _template(kubectl)["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "blue"}]
    assert "scaled" in kubectl("scale", "deploy/web", "--replicas=4").stdout
    kubectl("wait", "--for=jsonpath={.status.readyReplicas}=4", "deploy/web", "--timeout=60s")
    kubectl("wait", "--for=condition=Available", "deploy/web", "--timeout=60s")
    assert kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}").stdout == "4"


def test_describe_lists_the_objects_events(kubectl: Kubectl, api: client.ApiClient) -> None:
    """Events reach `describe` through its involvedObject field selector; other objects' events do not."""
    kubectl("create", "configmap", "settings")
    kubectl("create", "configmap", "other")
    core = client.CoreV1Api(api)
    uid = core.read_namespaced_config_map("settings", "default").metadata.uid
    for name, target, target_uid in (("e1", "settings", uid), ("e2", "other", "x")):
        core.create_namespaced_event("default", {
            "metadata": {"name": name}, "type": "Warning", "reason": "Drifted", "message": f"{target} changed",
            "involvedObject": {"kind": "ConfigMap", "name": target, "namespace": "default", "uid": target_uid},
            "source": {"component": "aiop"}, "count": 1})
    described = kubectl("describe", "configmap", "settings").stdout
    assert "Warning  Drifted" in described and "settings changed" in described
    assert "other changed" not in described
    kubectl("create", "deployment", "web", "--image=nginx:1.25")
    kubectl("rollout", "status", "deploy/web", "--timeout=60s")
    assert "ScalingReplicaSet" in kubectl("describe", "deploy", "web").stdout


def test_wait_for_ready_and_for_delete(kubectl: Kubectl) -> None:
    """A pod becomes Ready; `delete --wait=false` then `wait --for=delete` returns once it is gone."""
    kubectl("run", "p", "--image=nginx:1.25")
    assert "condition met" in kubectl("wait", "--for=condition=Ready", "pod/p", "--timeout=60s").stdout
    kubectl("delete", "pod", "p", "--wait=false")
    kubectl("wait", "--for=delete", "pod/p", "--timeout=60s")
    assert "NotFound" in kubectl("get", "pod", "p", check=False).stderr
    listed = json.loads(kubectl("get", "pods", "-o", "json").stdout)
    assert listed["items"] == []
