"""`kubectl exec` over the WebSocket channel protocol (v5.channel.k8s.io), as client-go speaks it.

What a real (kind) cluster shows: a command's stdout and stderr on their streams, kubectl exiting with
the command's exit code ("command terminated with exit code 3"), containerd's error for a binary
the image lacks, stdin passed through with `-i`, 404 for a missing pod, 400 for a pod that is not
scheduled, and RBAC requiring `create` on `pods/exec`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.stream import stream

from sandbox.server import SandboxServer
from tests.sandbox.conftest import KUBECTL, Kubectl, api_client


@pytest.fixture
def running(kubectl: Kubectl) -> str:
    kubectl("run", "web", "--image=nginx:1.25")
    kubectl("wait", "--for=condition=Ready", "pod/web", "--timeout=60s")
    return "web"


def test_exec_streams_output_and_exit_codes(kubectl: Kubectl, running: str) -> None:
    """stdout/stderr arrive on their streams; a non-zero exit becomes kubectl's exit code."""
    version = kubectl("exec", running, "--", "nginx", "-v")
    assert version.stderr.strip() == "nginx version: nginx/1.25"
    failed = kubectl("exec", running, "--", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert failed.returncode == 3
    assert failed.stdout == "out\n"
    assert failed.stderr == "err\ncommand terminated with exit code 3\n"
    piped = kubectl("exec", "-i", running, "--", "cat", stdin="line one\nline two\n")
    assert piped.stdout == "line one\nline two\n"


def test_exec_of_a_missing_binary_or_pod(kubectl: Kubectl, running: str) -> None:
    """containerd's words for a binary the image lacks; NotFound for a pod that does not exist."""
    missing = kubectl("exec", running, "--", "python3", "-V", check=False)
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: Internal error occurred: error executing command in container: "
                                     "failed to exec in container: failed to start exec ")
    assert ('OCI runtime exec failed: exec failed: unable to start container process: exec: "python3": '
            "executable file not found in $PATH: unknown") in missing.stderr
    ghost = kubectl("exec", "ghost", "--", "ls", check=False)
    assert 'Error from server (NotFound): pods "ghost" not found' in ghost.stderr


def test_exec_needs_create_on_pods_exec(sandbox: SandboxServer, kubectl: Kubectl, running: str) -> None:
    """`get pods/exec` is not enough for the WebSocket upgrade; `create pods/exec` is."""
    dev = sandbox.user_kubeconfig("dev")
    kubectl("create", "role", "peek", "--verb=get,list", "--resource=pods,pods/exec")
    kubectl("create", "rolebinding", "dev-peek", "--role=peek", "--user=dev")
    denied = kubectl("exec", running, "--", "nginx", "-v", kubeconfig=dev, check=False)
    assert denied.returncode == 1
    assert ('pods "web" is forbidden: User "dev" cannot create resource "pods/exec" in API group "" in the '
            'namespace "default"') in denied.stderr
    kubectl("create", "role", "shell", "--verb=create", "--resource=pods/exec")
    kubectl("create", "rolebinding", "dev-shell", "--role=shell", "--user=dev")
    assert kubectl("exec", running, "--", "nginx", "-v", kubeconfig=dev).returncode == 0


def test_the_official_client_streams_over_v4(api: client.ApiClient, running: str) -> None:
    """kubernetes.stream (v4.channel.k8s.io) gets the same output."""
    out = stream(client.CoreV1Api(api).connect_get_namespaced_pod_exec, running, "default",
                 command=["sh", "-c", "echo from-python"], stdout=True, stderr=True, stdin=False, tty=False)
    assert out == "from-python\n"


def test_exec_without_a_simulated_cluster(tmp_path: Path) -> None:
    """With no kubelet behind the API server every binary is missing; an unscheduled pod has no host."""
    import os
    import subprocess

    with SandboxServer(home=tmp_path, simulate_workloads=False) as server:
        core = client.CoreV1Api(api_client(server))
        pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        core.create_namespaced_pod("default", pod)
        env = {**os.environ, "KUBECONFIG": str(server.kubeconfig_path), "HOME": str(tmp_path)}

        def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=env, timeout=60)

        unscheduled = kubectl("exec", "p", "--", "ls")
        assert "pod p does not have a host assigned" in unscheduled.stderr
        core.patch_namespaced_pod("p", "default", json.loads('{"spec": {"nodeName": "node-1"}}'))
        missing = kubectl("exec", "p", "--", "ls")
        assert 'exec: "ls": executable file not found in $PATH' in missing.stderr
