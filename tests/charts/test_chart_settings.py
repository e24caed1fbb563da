"""The chart and the settings model agree: what a user sets in values is what the controller runs with.

Why: issue 11 found the chart setting five variables the operator never read, so an EKS install got
an empty repo URL and its home under a read-only `~`. Here every `AIOP_*` name the rendered chart
gives a container must be a field of the model that container's command loads, and values a user
sets (repo URL, central DB URL, watched namespaces, forge, the forge token from the Secret, the
backends file, sync engine, cluster id) must arrive in `load_settings()` as given, for the default,
EKS and AKS values, with the environment resolved as the kubelet does (tests/install/pods.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from controller.backends.config import load_config
from controller.settings import Settings, env_names, load_settings
from tests.charts.paths import CHART
from tests.install.pods import container, find, render, secret
from ui.config import UiConfig
from ui.config import load_config as load_ui_config

pytestmark = pytest.mark.timeout(120)
NAMESPACE = "aiop-system"
FLAVOURS = ("default", "eks", "aks")
SECRET = "ai-operator-credentials"
TOKEN = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"
BACKENDS = {"backends": [{"name": "gpt", "type": "openai", "model": "gpt-4o-mini", "api_key_env": "OPENAI_API_KEY"}],
            "roles": {"planner": "gpt"}}


def flavour(name: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {} if name == "default" else yaml.safe_load((CHART / f"values-{name}.yaml").read_text())
    for key, value in overrides.items():
        values[key] = {**values.get(key, {}), **value} if isinstance(value, dict) else value
    return values


def user_secret() -> dict[str, Any]:
    return secret(SECRET, NAMESPACE, {"AIOP_FORGE_TOKEN": TOKEN, "OPENAI_API_KEY": "sk-test",
                                      "knowledge-db-password": "pw"})


@pytest.mark.parametrize("name", FLAVOURS)
def test_every_variable_the_chart_sets_is_a_setting(name: str) -> None:
    objects = [*render(flavour(name, secrets={"existingSecret": SECRET}, backends=BACKENDS)), user_secret()]
    controller_names = set(env_names(Settings))
    ui_names = controller_names | set(env_names(UiConfig))  # `aiop ui` loads both models
    for deployment, known in (("controller", controller_names), ("ui", ui_names)):
        unknown = unread(objects, deployment, known)
        assert not unknown, f"{name}: the {deployment} gets {sorted(unknown)}, which no setting reads"
    extra = [*render(flavour(name, settings={"extra": {"AIOP_NOT_A_SETTING": "1"}})), user_secret()]
    assert unread(extra, "controller", controller_names) == {"AIOP_NOT_A_SETTING"}  # the check can fail


def unread(objects: list[dict[str, Any]], deployment: str, known: set[str]) -> set[str]:
    env = container(find(objects, "Deployment", f"aiop-ai-operator-{deployment}"), objects).env
    return {k for k in env if k.startswith("AIOP_")} - known


@pytest.mark.parametrize("name", FLAVOURS)
def test_values_arrive_in_load_settings_as_given(name: str, tmp_path: Path) -> None:
    url = "postgresql://aiop@knowledge.example.internal:5432/aiop?sslmode=verify-full"
    values = flavour(name, settings={"threadsRepoUrl": "https://git.example.com/acme/threads.git",
                                     "watchNamespaces": ["shop", "payments"], "forge": "gitlab",
                                     "syncEngine": "flux", "gitopsNamespace": "gitops", "clusterId": f"{name}-1"},
                     knowledge={"centralUrl": url}, secrets={"existingSecret": SECRET}, backends=BACKENDS)
    objects = [*render(values), user_secret()]
    env = container(find(objects, "Deployment", "aiop-ai-operator-controller"), objects).env
    settings = load_settings(env)
    assert settings.git.repo_url == "https://git.example.com/acme/threads.git"
    assert settings.knowledge_url == url and env["PGPASSWORD"] == "pw"
    assert settings.kube.namespaces == ("shop", "payments")
    assert settings.git.forge == "gitlab" and settings.git.forge_settings.token == TOKEN
    assert settings.sync.engine == "flux" and settings.sync.flux_namespace == "gitops"
    assert settings.planning.cluster_id == f"{name}-1"
    assert settings.home == Path("/var/lib/aiop") and settings.kube.operator_namespace == NAMESPACE
    assert settings.kube.kubeconfig is None  # in the pod: the ServiceAccount's in-cluster credentials
    assert settings.serve.bind_address == "0.0.0.0" and settings.leader.enabled
    # The backends file is the rendered ConfigMap at the mounted path, and it is a valid backends file.
    assert settings.planning.backends_file == "/etc/aiop/backends/backends.yaml"
    pod = container(find(objects, "Deployment", "aiop-ai-operator-controller"), objects)
    assert pod.mounts["/etc/aiop/backends"] == "backends" and pod.mounts["/var/lib/aiop"] == "home"
    mounted = tmp_path / "backends.yaml"
    mounted.write_text(find(objects, "ConfigMap", "aiop-ai-operator-backends")["data"]["backends.yaml"])
    assert [b.name for b in load_config(str(mounted)).backends] == ["gpt"]
    ui = container(find(objects, "Deployment", "aiop-ai-operator-ui"), objects).env
    assert load_ui_config(ui).knowledge_url == url and ui["PGPASSWORD"] == "pw"
    assert load_ui_config(ui).user_header == "X-Auth-Request-Email" and load_settings(ui).serve.ui_port == 8501
    assert "AIOP_FORGE_TOKEN" not in ui, "the UI never gets the forge token"


def test_probes_point_at_served_endpoints_and_two_replicas_are_safe() -> None:
    objects = render()
    controller = find(objects, "Deployment", "aiop-ai-operator-controller")
    pod = container(controller, objects)
    assert pod.probes["liveness"]["path"] == "/healthz" and pod.probes["readiness"]["path"] == "/readyz"
    assert pod.probe_port("liveness") == int(pod.env["AIOP_HEALTH_PORT"])
    assert pod.ports["metrics"] == int(pod.env["AIOP_METRICS_PORT"])
    assert controller["spec"]["replicas"] == 2 and pod.env["AIOP_LEADER_ELECTION"] == "true"
    assert controller["spec"]["strategy"]["type"] == "RollingUpdate"
    pdb = find(objects, "PodDisruptionBudget", "aiop-ai-operator-controller")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == controller["spec"]["selector"]["matchLabels"]
    single = render({"controller": {"replicas": 1}})
    assert not [o for o in single if o["kind"] == "PodDisruptionBudget"], "a PDB on one replica blocks every drain"
    ui = container(find(objects, "Deployment", "aiop-ai-operator-ui"), objects)
    assert ui.probes["readiness"]["path"] == "/_stcore/health" and ui.probe_port("readiness") == 8501


def test_persistence_is_one_replica_with_a_claim() -> None:
    objects = render({"persistence": {"enabled": True}, "controller": {"replicas": 1}})
    claim = find(objects, "PersistentVolumeClaim", "aiop-ai-operator-home")
    volumes = find(objects, "Deployment", "aiop-ai-operator-controller")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "home", "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}} in volumes
    with pytest.raises(helm_python.HelmError, match="replicas: 1"):
        render({"persistence": {"enabled": True}})
    with pytest.raises(helm_python.HelmError, match="leaderElection"):
        render({"controller": {"leaderElection": {"enabled": False}}})
    with pytest.raises(helm_python.HelmError, match="syncEngine"):
        render({"settings": {"syncEngine": "argo"}})
