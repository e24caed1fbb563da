"""`aiop doctor` against the sandbox: all green on a good install, and each check made to fail once.

The Kubernetes API is the sandbox (a faithful fake speaking the real REST protocol, with real RBAC,
SubjectAccessReviews and the chart's objects applied); the thread repo is a real bare git repo;
the knowledge DB is a real PostgreSQL (started by the test, with TLS from a certificate the test
makes); the AI backend is a local server speaking the OpenAI chat-completions wire
(tests/backends/fakes.py). Each red case breaks one thing, checks that exactly that line turns red
with its fix, and repairs it.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import git
import pytest
import yaml

from controller.adapters.kube import Kube
from controller.api.crds import all_crds
from controller.settings import Settings, load_settings
from controller.tools import bootstrap
from controller.tools.doctor import Result, run_checks
from tests.backends.fakes import OpenAIServer, error, text
from tests.charts.paths import ROOT
from tests.install.pods import render

pytestmark = [pytest.mark.timeout(300), pytest.mark.xdist_group("doctor")]
NS = "aiop-system"
SA = f"system:serviceaccount:{NS}:aiop-ai-operator-controller"
SHARED = ROOT.parent / "shared" / "schemas"


@pytest.fixture(scope="module")
def installed(admin: Kube) -> Kube:
    """CRDs (ours, Argo CD's, ACK's S3), the chart's RBAC, ServiceAccounts and admission policy."""
    for name in (NS, "argocd"):
        bootstrap.create_object(admin, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    argo = [yaml.safe_load(p.read_text()) for p in sorted((SHARED / "argocd").glob("*-crd.yaml"))]
    ack = [c for c in bootstrap.third_party_crds() if c["spec"]["group"] == "s3.services.k8s.aws"]
    for crd in [*all_crds(), *argo, *ack]:
        bootstrap.create_object(admin, crd)
    for obj in render():
        if obj["kind"] in {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
                           "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}:
            bootstrap.create_object(admin, obj)
    return admin


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("repos") / "threads.git"
    git.Repo.init(path, bare=True)
    return path


@pytest.fixture(scope="module")
def tls_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real PostgreSQL, reached through TLS (tests/install/pgtls.py) and in the clear: (tls URL, plain URL)."""
    from sandbox.certs import ensure_certs
    from tests.install.pgtls import TlsRelay
    from tests.knowledge.pgserver import PgServer

    pg = PgServer().init()
    certs = ensure_certs(tmp_path_factory.mktemp("pg-pki"))
    relay = TlsRelay(pg.port, certs.server_cert, certs.server_key)
    tls = f"postgresql://postgres@127.0.0.1:{relay.port}/postgres?sslmode=require"
    yield tls, pg.url
    relay.stop()
    pg.destroy()


@pytest.fixture(scope="module")
def openai() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server  # type: ignore[misc]


def good_env(sandbox: Any, repo: Path, pg: Any, backends: Path) -> dict[str, str]:
    return {"AIOP_KUBECONFIG": str(sandbox.kubeconfig_path), "AIOP_CONTROLLER_SERVICE_ACCOUNT": SA,
            "AIOP_OPERATOR_NAMESPACE": NS, "AIOP_SYNC_ENGINE": "argocd", "AIOP_REPO_URL": str(repo),
            "AIOP_CLOUD_PROVIDER": "eks", "AIOP_BACKENDS": str(backends), "OPENAI_TEST_KEY": "sk-test",
            "AIOP_KNOWLEDGE_URL": pg[0]}


@pytest.fixture(scope="module")
def backends_file(tmp_path_factory: pytest.TempPathFactory, openai: OpenAIServer) -> Path:
    path = tmp_path_factory.mktemp("backends") / "backends.yaml"
    path.write_text(yaml.safe_dump({"backends": [{"name": "gpt", "type": "openai", "model": "gpt-fake-1",
                                                  "base_url": openai.url + "/v1", "api_key_env": "OPENAI_TEST_KEY",
                                                  "max_retries": 0}]}))
    return path


@pytest.fixture
def env(sandbox: Any, installed: Kube, repo: Path, tls_postgres: Any, backends_file: Path,
        monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = good_env(sandbox, repo, tls_postgres, backends_file)
    monkeypatch.setenv("OPENAI_TEST_KEY", "sk-test")  # backend keys are read from the process environment
    return values


def checks(kube: Kube, env: dict[str, str], openai: OpenAIServer | None = None, **changes: str) -> dict[str, Result]:
    if openai is not None:
        openai.enqueue(text("pong"))
    settings: Settings = load_settings({**env, **changes})
    return {r.name: r for r in run_checks(kube, settings)}


def only_red(results: dict[str, Result]) -> Result:
    red = [r for r in results.values() if not r.ok]
    assert len(red) == 1, [r.line() for r in red]
    return red[0]


def test_a_good_install_is_all_green_from_the_command_line(env: dict[str, str], openai: OpenAIServer) -> None:
    openai.enqueue(text("pong"))
    done = subprocess.run([sys.executable, "-m", "controller.cli", "doctor"], env={**env, "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 12 and all(line.startswith("✓") for line in lines[:-1]), done.stdout
    assert lines[-1] == "11 passed, 0 failed"
    assert "✓ cloud snapshot rights: cloud snapshots are off" in done.stdout  # AWS and Azure: tests/cloud
    assert "reachable over TLS" in done.stdout and "gpt answering" in done.stdout


def test_an_old_api_server_is_red(installed: Kube, env: dict[str, str], openai: OpenAIServer,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox import discovery

    monkeypatch.setitem(discovery.SERVER_VERSION, "minor", "29")
    monkeypatch.setitem(discovery.SERVER_VERSION, "gitVersion", "v1.29.4")
    red = only_red(checks(installed, env, openai))
    assert red.name == "API server" and "v1.29.4 is older than 1.30" in red.detail and "upgrade" in red.fix


def test_stale_crds_are_red(installed: Kube, env: dict[str, str], openai: OpenAIServer) -> None:
    name = f"aiconversations.{all_crds()[0]['spec']['group']}"
    live = installed.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
    assert live is not None
    stale = copy.deepcopy(live)
    schema = stale["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["spec"]["properties"].pop(next(iter(schema["properties"]["spec"]["properties"])))
    installed.replace(stale)
    try:
        red = only_red(checks(installed, env, openai))
        assert red.name == "CRDs" and name in red.detail and "kubectl apply" in red.fix
    finally:
        current = installed.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
        installed.replace({**current, "spec": live["spec"]})  # type: ignore[dict-item]


def test_an_unenforced_admission_policy_is_red(installed: Kube, env: dict[str, str], openai: OpenAIServer) -> None:
    group = "admissionregistration.k8s.io/v1"
    (binding,) = installed.list(group, "ValidatingAdmissionPolicyBinding")
    installed.replace({**binding, "spec": {**binding["spec"], "validationActions": ["Warn", "Audit"]}})
    try:
        red = only_red(checks(installed, env, openai))
        assert red.name == "admission policy" and "without Deny" in red.detail
    finally:
        current = installed.get(group, "ValidatingAdmissionPolicyBinding", binding["metadata"]["name"])
        installed.replace({**current, "spec": binding["spec"]})  # type: ignore[dict-item]


def test_a_missing_right_is_red(installed: Kube, env: dict[str, str], openai: OpenAIServer) -> None:
    (binding,) = [o for o in render() if o["kind"] == "RoleBinding" and o["metadata"]["namespace"] == NS]
    installed.delete("rbac.authorization.k8s.io/v1", "RoleBinding", "aiop-ai-operator-controller", NS)
    try:
        red = only_red(checks(installed, env, openai))
        assert red.name == "controller rights" and SA in red.detail
        assert "create secrets in aiop-system" in red.detail and "update leases.coordination.k8s.io" in red.detail
    finally:
        bootstrap.create_object(installed, binding)


def test_snapshot_rights_come_with_the_chart_and_are_red_without_it(installed: Kube, env: dict[str, str],
                                                                    openai: OpenAIServer) -> None:
    """With the CSI snapshot and Velero CRDs installed, the chart's ClusterRole lets the controller take,
    read and delete snapshots (asked by SubjectAccessReview); without its VolumeSnapshot rule it may not."""
    from tests.snapshots import objects as o

    for crd in [*o.snapshot_crds(), *o.velero_crds()]:
        bootstrap.create_object(installed, crd)
    green = checks(installed, env, openai)
    assert all(r.ok for r in green.values()), [r.line() for r in green.values() if not r.ok]
    assert green["snapshot rights"].detail == "CSI VolumeSnapshots and Velero (namespace velero): 9 rights held"
    name = "aiop-ai-operator-controller"
    role = installed.get("rbac.authorization.k8s.io/v1", "ClusterRole", name)
    assert role is not None
    rules = [r for r in role["rules"] if "volumesnapshots" not in r["resources"]]
    assert len(rules) == len(role["rules"]) - 1
    installed.replace({**role, "rules": rules})
    try:
        red = only_red(checks(installed, env, openai))
        assert red.name == "snapshot rights" and SA in red.detail
        assert red.detail.endswith("may not create volumesnapshots.snapshot.storage.k8s.io; "
                                   "get volumesnapshots.snapshot.storage.k8s.io; "
                                   "delete volumesnapshots.snapshot.storage.k8s.io"), red.detail
        assert "fail before any change" in red.fix
    finally:
        current = installed.get("rbac.authorization.k8s.io/v1", "ClusterRole", name)
        installed.replace({**current, "rules": role["rules"]})  # type: ignore[dict-item]


def test_an_unreachable_repo_is_red(installed: Kube, env: dict[str, str], openai: OpenAIServer, tmp_path: Path) -> None:
    red = only_red(checks(installed, env, openai, AIOP_REPO_URL=str(tmp_path / "nowhere.git")))
    assert red.name == "thread repo" and "not reachable" in red.detail


def test_a_missing_sync_engine_is_red(installed: Kube, env: dict[str, str], openai: OpenAIServer) -> None:
    results = checks(installed, env, openai, AIOP_SYNC_ENGINE="flux")
    red = {r.name: r for r in results.values() if not r.ok}
    assert set(red) == {"sync engine", "controller rights"}  # the chart was rendered for Argo CD
    assert "gitrepositories.source.toolkit.fluxcd.io" in red["sync engine"].detail
    assert "create kustomizations.kustomize.toolkit.fluxcd.io in flux-system" in red["controller rights"].detail


def test_missing_cloud_controllers_are_red(installed: Kube, env: dict[str, str], openai: OpenAIServer) -> None:
    red = only_red(checks(installed, env, openai, AIOP_CLOUD_PROVIDER="aks"))
    assert red.name == "cloud controllers" and "resourcegroups.resources.azure.com" in red.detail
    assert "Azure Service Operator" in red.fix


def test_a_knowledge_db_without_tls_is_red(installed: Kube, env: dict[str, str], openai: OpenAIServer,
                                           tls_postgres: Any) -> None:
    red = only_red(checks(installed, env, openai, AIOP_KNOWLEDGE_URL=tls_postgres[1]))  # sslmode=disable
    assert red.name == "knowledge DB" and red.detail == "connected without TLS"


def test_a_backend_that_refuses_is_red(installed: Kube, env: dict[str, str], openai: OpenAIServer) -> None:
    openai.enqueue(error(401, "Incorrect API key provided"))
    red = only_red(checks(installed, env))
    assert red.name == "AI backends" and red.detail.startswith("gpt:") and "API key" in red.detail
