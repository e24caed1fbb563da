"""The settings model: every variable it reads, how values are parsed, and errors that name the variable.

Why: the chart, `aiop up`, the eval runner and people all configure the operator through `AIOP_*`
variables; a wrong one must stop the start with its own name, not a traceback or a silent default.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.settings import Settings, SettingsError, env_names, load_settings
from ui.config import UiConfig, load_config

pytestmark = pytest.mark.timeout(30)


def test_values_are_parsed_by_type_and_empty_means_unset(tmp_path: Path) -> None:
    routes = tmp_path / "repos.yaml"
    routes.write_text("cloud-aws: {url: https://git.example.com/scripts.git, folder: ops}\n"
                      "Bucket: https://git.example.com/scripts.git\n")
    settings = load_settings({
        "AIOP_HOME": str(tmp_path / "home"), "AIOP_NAMESPACES": "shop, web,", "AIOP_ALERT_EVENTS": "false",
        "AIOP_VERIFY_TIMEOUT": "12.5", "AIOP_OPERATOR_NAMESPACE": "", "AIOP_REPOS_FILE": str(routes),
        "AIOP_ALLOW_COLLABORATORS": "yes", "AIOP_BIND_ADDRESS": "0.0.0.0", "KUBECONFIG": "/k/config",
        "AIOP_FORGE_TOKEN": "ghp_secret"})
    assert settings.home == tmp_path / "home" and settings.kube.namespaces == ("shop", "web")
    assert settings.alerts.events is False and settings.sync.verify_timeout_s == 12.5
    assert settings.kube.operator_namespace == "aiop-system"  # "" is unset, as the chart renders unset values
    assert settings.planning.allow_collaborators is True and settings.serve.bind_address == "0.0.0.0"
    assert settings.kube.kubeconfig == "/k/config"
    assert [(r.name, r.folder, r.kinds, r.contexts) for r in settings.git.routes] == [
        ("scripts", "ops", (), ("cloud-aws",)), ("scripts", "threads", ("Bucket",), ())]
    assert "ghp_secret" not in repr(settings)
    defaults = load_settings({})
    assert defaults.serve.bind_address == "127.0.0.1" and defaults.planning.allow_collaborators is False
    assert defaults.home == Path.home() / ".aiop"


@pytest.mark.parametrize(("env", "message"), [
    ({"AIOP_METRICS_PORT": "ninety"}, "AIOP_METRICS_PORT: Input should be a valid integer"),
    ({"AIOP_HEALTH_PORT": "70000"}, "AIOP_HEALTH_PORT: Input should be less than or equal to 65535"),
    ({"AIOP_SYNC_ENGINE": "argo"}, "AIOP_SYNC_ENGINE: Input should be 'direct', 'argocd', 'flux' or 'auto' (got 'argo')"),
    ({"AIOP_FORGE": "bitbucket"}, "AIOP_FORGE: Input should be 'local', 'github' or 'gitlab'"),
    ({"AIOP_LOG_LEVEL": "loud"}, "AIOP_LOG_LEVEL: Value error, expected one of DEBUG"),
    ({"AIOP_LEASE_RENEW": "30"}, "AIOP_LEASE_RENEW must be shorter than AIOP_LEASE_DURATION"),
    ({"AIOP_ALERT_EVENTS": "perhaps"}, "AIOP_ALERT_EVENTS: Input should be a valid boolean"),
])
def test_a_wrong_value_names_its_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match="invalid settings") as error:
        load_settings(env)
    assert message in str(error.value)


def test_a_secret_is_never_echoed_in_an_error() -> None:
    with pytest.raises(SettingsError) as error:
        load_settings({"AIOP_FORGE_TOKEN": "ghp_secret", "AIOP_METRICS_PORT": "x"})
    assert "ghp_secret" not in str(error.value)


def test_every_field_names_a_variable_and_no_variable_is_claimed_twice() -> None:
    names = env_names(Settings)
    assert names["AIOP_REPO_URL"] == "git.repo_url" and names["AIOP_FORGE_TOKEN"] == "git.forge_settings.token"
    assert names["AIOP_BIND_ADDRESS"] == "serve.bind_address"
    assert names["AIOP_ALLOW_COLLABORATORS"] == "planning.allow_collaborators"
    assert all(name.startswith("AIOP_") or name == "KUBECONFIG" for name in names)
    ui = env_names(UiConfig)
    assert ui["AIOP_UI_IDENTITY_HEADER"] == "user_header" and ui["AIOP_KNOWLEDGE_URL"] == "knowledge_url"
    assert load_config({"AIOP_UI_SANDBOX": "1"}).namespaces == ("shop",)
