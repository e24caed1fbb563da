"""`aiop up` (what `make up` runs), as a user meets it: one command, then kubectl just works.

Starts the real product in a subprocess (sandbox API server, demo shop, the controller with the
offline planner) and uses the real kubectl with the kubeconfigs it prints. `--behaviour FILE` gives the
sandbox a behaviour file of one's own (here: the default plus one node, which kubectl then lists).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from sandbox.behaviour import DEFAULT_FILE

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kubectl(kubeconfig: str, *args: str, timeout: float = 60) -> str:
    env = {**os.environ, "KUBECONFIG": kubeconfig, "HOME": str(Path(kubeconfig).parent)}
    done = subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=env, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_up_serves_a_cluster_that_kubectl_can_use(tmp_path: Path) -> None:
    """kubectl with the printed kubeconfig gets, creates and watches airequests; Ctrl-C stops cleanly."""
    api, metrics = free_port(), free_port()
    behaviour = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
    behaviour["nodes"].append({"name": "from-behaviour-file", "capacity": {"cpu": "2", "memory": "4Gi", "pods": "20"}})
    (tmp_path / "cluster.yaml").write_text(yaml.safe_dump(behaviour))
    proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "up", "--home", str(tmp_path / "home"),
                             "--api-port", str(api), "--metrics-port", str(metrics), "--no-ui",
                             "--behaviour", str(tmp_path / "cluster.yaml")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        text = "".join(lines)
        admin = re.search(r"admin kubeconfig\s+(\S+)", text).group(1)  # type: ignore[union-attr]
        demo = re.search(r"\(kubeconfig (\S+)\)", text).group(1)  # type: ignore[union-attr]
        assert f"https://127.0.0.1:{api}" in text

        assert "web" in kubectl(admin, "get", "deployments", "-n", "shop")
        assert "node/from-behaviour-file" in kubectl(admin, "get", "nodes", "-o", "name").split()
        kubectl(admin, "get", "airequests", "-A")
        watcher = subprocess.Popen([KUBECTL, "get", "airequests", "-n", "shop", "-w", "-o", "name"],
                                   stdout=subprocess.PIPE, text=True,
                                   env={**os.environ, "KUBECONFIG": admin, "HOME": str(tmp_path)})
        request = {"apiVersion": "aiop.dev/v1alpha1", "kind": "AIRequest",
                   "metadata": {"name": "from-kubectl", "namespace": "shop"},
                   "spec": {"requester": {"user": "demo@example.com"}, "text": "scale web in shop to 3 replicas"}}
        manifest = tmp_path / "request.json"
        manifest.write_text(json.dumps(request))
        kubectl(demo, "create", "-f", str(manifest))
        kubectl(demo, "wait", "airequest/from-kubectl", "-n", "shop",
                "--for=jsonpath={.status.phase}=AwaitingApproval", "--timeout=120s", timeout=130)
        watcher.terminate()
        seen, _ = watcher.communicate(timeout=10)
        assert "airequest.aiop.dev/from-kubectl" in seen
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=10) as response:
            assert b"aiop_thread_transitions_total" in response.read()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "stopped." in out


def test_up_refuses_a_bad_behaviour_file_before_starting(tmp_path: Path) -> None:
    """Exit 2 naming the file and the field; nothing listens, nothing is left running."""
    bad = tmp_path / "cluster.yaml"
    bad.write_text("nodes: [{name: n, capacity: {cpu: 4}, zone: a}]\n")
    done = subprocess.run([sys.executable, "-m", "controller.cli", "up", "--home", str(tmp_path / "home"),
                           "--api-port", str(free_port()), "--no-ui", "--behaviour", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert str(bad) in done.stderr and "nodes[n].zone" in done.stderr and "ai-operator is up" not in done.stdout
