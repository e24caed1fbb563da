"""The chart installed the way a cluster runs it, then one whole thread through it (issue 11 §6).

Real Helm renders the chart with the EKS and AKS values; every rendered object and the chart's
CRDs are applied to the sandbox API server (a faithful fake speaking the real REST protocol, with
real RBAC, the admission policy in CEL, TokenRequest and Leases). Then two controller replicas and
the UI start as separate processes *as the rendered Deployments say*: their command, their env and
envFrom resolved from the rendered ConfigMap and the user's Secret (tests/install/pods.py), their
ServiceAccount's identity (a token minted by `kubectl create token`, as the kubelet's projected
token is), and their probe ports and paths.

What the test replaces, because no kubelet runs here, and nothing else: the in-cluster config
becomes a kubeconfig holding the minted token; each container port is mapped to a free port on
127.0.0.1 (so AIOP_BIND_ADDRESS is 127.0.0.1, not the chart's 0.0.0.0); the emptyDir volumes are
temporary folders (AIOP_HOME). Values a test cannot reach are overridden in the values, as a user
would: the thread repo is a local bare repo, the forge is the local one (no GitHub here), the sync
engine is `direct` (no Argo CD or Flux controllers run in the sandbox) and there is no central DB.

Through that install a person (impersonated by the admin, as `aiop chat` does) runs an AIRequest:
plan → approve → commit to the repo named in values → sync → rate 100 → pull request. Then the
leader is killed (SIGKILL) and the standby must take over within 15 s, and the restore the person
asks for afterwards is done by the new leader.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git
import httpx
import pytest
import yaml

from controller.adapters.forge import LocalForge
from controller.adapters.kube import Kube, KubeError, load_api_client
from controller.api.constants import API_VERSION, KIND_REQUEST
from controller.api.types import Identity
from controller.client import ConversationClient
from controller.tools import bootstrap
from tests.charts.paths import CHART
from tests.install.conftest import free_port
from tests.install.pods import Container, container, find, render, secret

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow, pytest.mark.xdist_group("install")]
NS = "aiop-system"
SECRET = "ai-operator-credentials"
PERSON = Identity(user=bootstrap.DEMO_USER, groups=["shop-team"])
BIN = Path(sys.executable).parent
HANDOVER_LIMIT_S = 15.0


@dataclass
class Pod:
    """One started container: its process, its mapped ports and its log."""

    name: str
    spec: Container
    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    log: Path

    def get(self, port_name: str, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.ports[port_name]}{path}", timeout=5)

    def probe(self, kind: str) -> int:
        probe = self.spec.probes[kind]
        port = probe["port"] if isinstance(probe["port"], str) else next(
            n for n, p in self.spec.ports.items() if p == probe["port"])
        try:
            return self.get(port, probe["path"]).status_code
        except httpx.HTTPError:
            return 0


@dataclass
class Install:
    flavour: str
    sandbox: Any
    admin: Kube
    objects: list[dict[str, Any]]
    repo: Path
    home: Path
    pods: list[Pod] = field(default_factory=list)

    def token_kubeconfig(self, service_account: str) -> Path:
        """A kubeconfig with a token minted for the ServiceAccount (TokenRequest through real kubectl)."""
        token = subprocess.run([str(BIN / "kubectl"), "--kubeconfig", str(self.sandbox.kubeconfig_path), "create",
                                "token", service_account, "-n", NS, "--duration", "2h"],
                               capture_output=True, text=True, check=True, timeout=60).stdout.strip()
        from sandbox import kubeconfig

        path = self.home / f"kubeconfig-{service_account}"
        return kubeconfig.write(path, self.sandbox.url, f"system:serviceaccount:{NS}:{service_account}", token,
                                ca_pem=self.sandbox.ca_pem)

    def start(self, deployment: str, pod_name: str) -> Pod:
        spec = container(find(self.objects, "Deployment", f"aiop-ai-operator-{deployment}"), self.objects, pod_name)
        ports = {name: free_port() for name in spec.ports}
        env = dict(spec.env)
        for name, value in list(env.items()):  # a port variable that names a container port: the mapped port
            if name.endswith("_PORT") and value.isdigit() and int(value) in spec.ports.values():
                env[name] = str(ports[next(n for n, p in spec.ports.items() if p == int(value))])
        folder = self.home / pod_name
        for mount in spec.mounts:  # emptyDir volumes: fresh folders
            (folder / mount.strip("/")).mkdir(parents=True, exist_ok=True)
        env.update({
            "AIOP_KUBECONFIG": str(self.token_kubeconfig(spec.service_account)),
            "AIOP_BIND_ADDRESS": "127.0.0.1",
            "AIOP_HOME": str(folder / env["AIOP_HOME"].strip("/")),
            "HOME": str(folder / env.get("HOME", "/home/aiop").strip("/")),
            "PATH": f"{BIN}:/usr/bin:/bin", "AIOP_LOG_FORMAT": "json", "AIOP_LOG_LEVEL": "INFO",
        })
        log = self.home / f"{pod_name}.log"
        command = [str(BIN / spec.command[0]), *spec.command[1:]]
        with open(log, "wb") as out:
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        pod = Pod(pod_name, spec, process, ports, log)
        self.pods.append(pod)
        return pod

    def stop(self) -> None:
        for pod in self.pods:
            if pod.process.poll() is None:
                os.killpg(pod.process.pid, signal.SIGKILL)
                pod.process.wait(timeout=30)

    def lease_holder(self) -> str:
        lease = self.admin.get("coordination.k8s.io/v1", "Lease", "aiop-ai-operator-leader", NS)
        return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")


def wait_for(what: str, check: Any, timeout: float = 180.0, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def values_for(flavour: str, repo: Path) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / f"values-{flavour}.yaml").read_text())
    values["settings"] = {**values["settings"], "threadsRepoUrl": str(repo), "instructionsRepoUrl": "-",
                          "forge": "local", "syncEngine": "direct", "watchNamespaces": ["shop"]}
    values["knowledge"] = {"centralUrl": ""}
    return values


def apply_all(admin: Kube, objects: list[dict[str, Any]]) -> None:
    crds = [yaml.safe_load(p.read_text()) for p in sorted((CHART / "crds").glob("*.yaml"))]
    for crd in crds:
        bootstrap.create_object(admin, crd)
    for crd in crds:
        wait_for(f"CRD {crd['metadata']['name']}", lambda crd=crd: _served(admin, crd), timeout=30)
    for kind in ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
                 "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ConfigMap", "Secret",
                 "Service", "NetworkPolicy", "PodDisruptionBudget", "Deployment", "ServiceMonitor"):
        for obj in objects:
            if obj["kind"] == kind and kind != "ServiceMonitor":  # no prometheus-operator CRD in the sandbox
                bootstrap.create_object(admin, obj)


def _served(admin: Kube, crd: dict[str, Any]) -> bool:
    try:
        admin.resource(f"{crd['spec']['group']}/{crd['spec']['versions'][0]['name']}", crd["spec"]["names"]["kind"])
        return True
    except KubeError:
        return False


@pytest.fixture(scope="module", params=["eks", "aks"])
def install(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    from sandbox.server import SandboxServer

    flavour = request.param
    home = tmp_path_factory.mktemp(f"install-{flavour}")
    repo = home / "platform-threads.git"
    bootstrap_repo(repo)
    with SandboxServer(port=0, home=home / "sandbox-home") as server:
        admin = Kube(load_api_client(str(server.kubeconfig_path)))
        admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        for obj in bootstrap.demo_objects("shop"):
            bootstrap.create_object(admin, obj)
        user_secret = secret(SECRET, NS, {"AIOP_FORGE_TOKEN": "ghp_installtesttoken0123456789abcdefABCD"})
        objects = [*render(values_for(flavour, repo)), user_secret]
        apply_all(admin, objects)
        installed = Install(flavour, server, admin, objects, repo, home)
        try:
            yield installed
        finally:
            installed.stop()


def bootstrap_repo(path: Path) -> None:
    """The dedicated repo a platform team creates from repos-template/ (main branch, one commit)."""
    from controller.adapters.gitrepo import ensure_bare_repo
    from controller.engine.services import REPOS_TEMPLATE

    ensure_bare_repo(path, REPOS_TEMPLATE, ("platform", "platform@example.com"))


def test_a_thread_through_the_installed_chart_and_a_leader_handover(install: Install) -> None:
    leader_pod = install.start("controller", "aiop-ai-operator-controller-a")
    wait_for("the first replica to lead", lambda: install.lease_holder() == leader_pod.name, timeout=240)
    standby_pod = install.start("controller", "aiop-ai-operator-controller-b")
    ui = install.start("ui", "aiop-ai-operator-ui-a")
    for pod in (leader_pod, standby_pod):
        wait_for(f"{pod.name} ready", lambda pod=pod: pod.probe("readiness") == 200, timeout=240)
        assert pod.probe("liveness") == 200 and pod.probe("startup") == 200
    assert standby_pod.get("health", "/readyz").json()["role"] == "standby"
    assert install.lease_holder() == leader_pod.name
    wait_for("the UI's health", lambda: ui.probe("readiness") == 200, timeout=240)
    assert ui.probe("liveness") == 200

    # A person's thread, through the custom resources only.
    client = ConversationClient(install.admin, kind=KIND_REQUEST)
    web = install.admin.get("apps/v1", "Deployment", "web", "shop")
    assert web is not None and web["spec"]["replicas"] == 2
    install.admin.as_user(PERSON).create({"apiVersion": API_VERSION, "kind": KIND_REQUEST,
                                          "metadata": {"name": "scale-web", "namespace": "shop"},
                                          "spec": {"requester": PERSON.wire(), "text": "scale web in shop to 3 replicas"}})
    thread = client.wait_settled("shop", "scale-web", timeout=240)
    assert thread["status"]["phase"] == "AwaitingApproval", thread["status"]
    client.approve("shop", "scale-web", PERSON)
    thread = client.wait_settled("shop", "scale-web", timeout=240)
    assert thread["status"]["phase"] == "AwaitingRating", thread["status"]
    assert install.admin.get("apps/v1", "Deployment", "web", "shop")["spec"]["replicas"] == 3  # type: ignore[index]
    thread_id = thread["status"]["threadId"]
    commits = list(git.Repo(install.repo).iter_commits(f"thread/{thread_id}", max_count=20))  # the repo in values
    ours = [c for c in commits if f"Aiop-Thread: {thread_id}" in str(c.message)]
    assert ours and any(path.startswith(f"threads/{thread_id}/") for c in ours for path in c.stats.files)
    client.rate("shop", "scale-web", PERSON, 100, "as asked")
    thread = client.wait_settled("shop", "scale-web", timeout=240)
    assert thread["status"]["phase"] == "Completed", thread["status"]
    (pull,) = [p for p in LocalForge(install.repo).list() if p.head == f"thread/{thread_id}"]
    assert pull.state == "open"

    # Kill the leader without warning; the standby takes the Lease and finishes the person's restore.
    os.killpg(leader_pod.process.pid, signal.SIGKILL)
    killed = time.monotonic()
    wait_for("the standby to lead", lambda: standby_pod.get("health", "/readyz").json().get("role") == "leader"
             and standby_pod.probe("readiness") == 200, timeout=60, interval=0.1)
    handover = time.monotonic() - killed
    assert install.lease_holder() == standby_pod.name
    assert handover <= HANDOVER_LIMIT_S, f"hand-over took {handover:.1f}s"
    client.restore("shop", "scale-web", PERSON, "back to before")
    thread = client.wait_settled("shop", "scale-web", timeout=240)
    assert thread["status"]["phase"] == "Restored", thread["status"]
    assert install.admin.get("apps/v1", "Deployment", "web", "shop")["spec"]["replicas"] == 2  # type: ignore[index]

    # Nothing the controllers did as themselves was refused, and their logs say what happened, briefly.
    for pod in (leader_pod, standby_pod):
        lines = [line for line in pod.log.read_text().splitlines() if line.startswith("{")]
        refused = [line for line in lines if "forbidden" in line.lower() or '"code": 403' in line]
        assert not refused, f"{pod.name}: {refused[:3]}"
        assert lines and not [line for line in lines if '"settings":' in line], "log lines carry the settings"
    print(f"\n{install.flavour}: hand-over after SIGKILL took {handover:.1f}s")
