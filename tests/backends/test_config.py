"""The backends file: a discriminated union with errors that name the field; keys never in the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from controller.backends.config import BedrockConfig, OpenAIConfig, load_config, parse_config, resolve_secret
from controller.backends.cooperative import CooperativeBackend
from controller.backends.errors import ConfigError
from controller.backends.factory import backend_from_settings
from controller.settings import load_settings

pytestmark = pytest.mark.timeout(30)

GOOD = """
backends:
  - {name: gpt, type: openai, base_url: https://api.openai.com/v1, model: gpt-4.1, api_key_env: OPENAI_API_KEY}
  - {name: claude, type: bedrock, region: us-east-1, model: anthropic.claude-3-5-sonnet-20240620-v1:0}
  - {name: az, type: azure-openai, endpoint: https://x.openai.azure.com, deployment: gpt4o, api_key_env: AZ_KEY}
  - {name: llama, type: openai, base_url: http://localhost:11434/v1, model: llama3.1}
  - {name: local, type: offline}
roles:
  router: local
  planner: {default: [gpt, claude], cloud-aws: claude}
  reviewer: claude
  summarizer: llama
budget: {max_tokens: 50000, max_tool_iterations: 4}
"""


def test_the_issue_example_parses(tmp_path: Path) -> None:
    path = tmp_path / "backends.yaml"
    path.write_text(GOOD)
    config = load_config(path)
    assert isinstance(config.by_name("gpt"), OpenAIConfig) and isinstance(config.by_name("claude"), BedrockConfig)
    assert config.planner_chain("k8s") == ["gpt", "claude"]
    assert config.planner_chain("cloud-aws") == ["claude"]
    assert config.budget.max_tool_iterations == 4


@pytest.mark.parametrize(("change", "message"), [
    ({"api_key": "sk-live"}, "backends.0.api_key: keys are never read from the backends file"),
    ({"model": "sk-abcdefghijklmnopqrstuvwxyz123456"}, "backends.0.model: the value looks like a credential"),
    ({"base_urll": "https://x"}, "backends.0.base_urll: Extra inputs are not permitted"),
    ({"type": "gemini"}, "backends.0: Input tag 'gemini' found using 'type' does not match"),
    ({"api_key_env": "not a var"}, "backends.0.api_key_env: String should match pattern"),
    ({"max_retries": 50}, "backends.0.max_retries: Input should be less than or equal to 5"),
])
def test_errors_name_the_field(change: dict[str, object], message: str) -> None:
    data = yaml.safe_load(GOOD)
    data["backends"][0].update(change)
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "backends.yaml")
    assert message in str(caught.value) and str(caught.value).startswith("backends.yaml: ")


def test_roles_must_name_configured_backends_and_names_are_unique() -> None:
    data = yaml.safe_load(GOOD)
    data["roles"]["reviewer"] = "gemini"
    with pytest.raises(ConfigError, match=r"roles.reviewer: no backend is named 'gemini'"):
        parse_config(data)
    data = yaml.safe_load(GOOD)
    data["backends"].append({"name": "gpt", "type": "offline"})
    with pytest.raises(ConfigError, match="backend names must be unique: gpt"):
        parse_config(data)
    with pytest.raises(ConfigError, match="access_key_id_env and secret_access_key_env go together"):
        parse_config({"backends": [{"name": "b", "type": "bedrock", "region": "us-east-1", "model": "m",
                                    "access_key_id_env": "AWS_KEY"}]})


def test_keys_come_from_the_environment_or_the_mounted_secret(tmp_path: Path) -> None:
    assert resolve_secret("OPENAI_API_KEY", {"OPENAI_API_KEY": "from-env"}) == "from-env"
    (tmp_path / "OPENAI_API_KEY").write_text("from-secret\n")
    assert resolve_secret("OPENAI_API_KEY", {}, tmp_path) == "from-secret"
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set"):
        resolve_secret("OPENAI_API_KEY", {}, tmp_path / "nowhere")


def test_factory_offline_without_a_file_and_cooperative_with_one(tmp_path: Path) -> None:
    settings = load_settings({"AIOP_HOME": str(tmp_path)})
    assert backend_from_settings(settings).name == "offline"
    with pytest.raises(ConfigError, match="no backends file is configured"):
        backend_from_settings(settings, "gpt")
    path = tmp_path / "b.yaml"
    path.write_text(GOOD)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "AZ_KEY").write_text("k")
    settings = load_settings({"AIOP_HOME": str(tmp_path), "AIOP_BACKENDS": str(path),
                              "AIOP_BACKEND_SECRETS": str(secrets)})
    backend = backend_from_settings(settings, env={"OPENAI_API_KEY": "k"})
    assert isinstance(backend, CooperativeBackend)
    assert backend.name == "planner=gpt>claude,router=local,reviewer=claude,summarizer=llama"
    named = backend_from_settings(settings, "llama", env={"OPENAI_API_KEY": "k"})
    assert isinstance(named, CooperativeBackend) and named.config.planner_chain("cloud-aws") == ["llama"]
    with pytest.raises(ConfigError, match="--backend nope: no backend of that name"):
        backend_from_settings(settings, "nope", env={"OPENAI_API_KEY": "k"})
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set"):
        backend_from_settings(settings, env={})
