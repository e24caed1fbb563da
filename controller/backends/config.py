"""The backends file: named AI backends, the roles they play, and the thread budget.

Why a discriminated union keyed by `type` (as kagent does): each kind of service needs different
fields (a base URL, an Azure deployment, a Bedrock region), and a typo or a field meant for another
type must be an error that names the field, not a silently ignored setting. `extra="forbid"` on
every model does that.

Why keys are never in the file: the file is meant to live in git or a ConfigMap. A backend names
the *environment variable* that holds its key (`api_key_env`); the value is read from the
environment or, in a cluster, from a file of that name in the mounted Secret folder
(`AIOP_BACKEND_SECRETS`). A field called `api_key`, or any value that looks like a credential, is
refused with a message saying where keys go.

    backends:
      - {name: gpt, type: openai, base_url: https://api.openai.com/v1, model: gpt-4.1, api_key_env: OPENAI_API_KEY}
      - {name: claude, type: bedrock, region: us-east-1, model: anthropic.claude-3-5-sonnet-20240620-v1:0}
      - {name: gemma, type: local, model_path: /models/gemma.gguf}
      - {name: local, type: offline}
    roles: {router: local, planner: {default: gpt, cloud-aws: claude}, reviewer: claude, summarizer: gpt}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from controller.backends.errors import ConfigError
from controller.redact import redact_text

Domain = Literal["k8s", "cloud-aws", "cloud-azure", "sre", "security"]
DOMAINS: tuple[Domain, ...] = ("k8s", "cloud-aws", "cloud-azure", "sre", "security")
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_KEY_FIELDS = ("api_key", "apikey", "key", "secret", "token", "password", "aws_secret_access_key")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Common(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$", description="How roles and the audit name it.")
    timeout_s: float = Field(default=60.0, gt=0, le=600, description="Per call.")
    max_retries: int = Field(default=2, ge=0, le=5, description="Retries after a timeout, 429 or 5xx.")
    backoff_s: float = Field(default=1.0, ge=0, le=30, description="First pause; doubles, capped at 8x.")
    max_output_tokens: int = Field(default=1024, ge=16, le=32768)
    temperature: float = Field(default=0.0, ge=0, le=2)
    price_input_per_1k: float = Field(default=0.0, ge=0, description="USD per 1000 input tokens (estimate).")
    price_output_per_1k: float = Field(default=0.0, ge=0, description="USD per 1000 output tokens (estimate).")

    @model_validator(mode="before")
    @classmethod
    def _no_keys_in_text(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for field in _KEY_FIELDS:
                if field in data:
                    raise ValueError(f"{field}: keys are never read from the backends file; put the key in an "
                                     "environment variable (or the mounted Secret) and name it in api_key_env")
            for field, value in data.items():
                if isinstance(value, str) and redact_text(value) != value:
                    raise ValueError(f"{field}: the value looks like a credential; keys belong in an environment "
                                     "variable named by api_key_env, never in the file")
        return data


class OfflineConfig(_Common):
    """The built-in planner: no network, no key."""

    type: Literal["offline"]


class OpenAIConfig(_Common):
    """OpenAI, or any server speaking its chat-completions API (Ollama, vLLM, LiteLLM, LocalAI)."""

    type: Literal["openai"]
    model: str = Field(min_length=1)
    base_url: str | None = Field(default=None, pattern=r"^https?://", description="Default: api.openai.com.")
    api_key_env: str | None = Field(default=None, pattern=ENV_NAME,
                                    description="Unset: no key is sent (a local Ollama needs none).")
    stream: bool = Field(default=False, description="Use server-sent events (some proxies only stream).")


class AzureOpenAIConfig(_Common):
    """An Azure OpenAI deployment."""

    type: Literal["azure-openai"]
    endpoint: str = Field(pattern=r"^https?://")
    deployment: str = Field(min_length=1)
    api_version: str = Field(default="2024-10-21", min_length=1)
    api_key_env: str = Field(pattern=ENV_NAME)
    model: str = Field(default="", description="For the audit only; default: the deployment name.")
    stream: bool = False


class BedrockConfig(_Common):
    """Amazon Bedrock through the Converse API. Credentials: boto3's chain (IRSA on EKS) unless named."""

    type: Literal["bedrock"]
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")
    model: str = Field(min_length=1, description="A model id or inference profile id.")
    endpoint_url: str | None = Field(default=None, pattern=r"^https?://", description="A VPC endpoint, or a test server.")
    access_key_id_env: str | None = Field(default=None, pattern=ENV_NAME)
    secret_access_key_env: str | None = Field(default=None, pattern=ENV_NAME)
    session_token_env: str | None = Field(default=None, pattern=ENV_NAME)

    @model_validator(mode="after")
    def _pair(self) -> BedrockConfig:
        if bool(self.access_key_id_env) != bool(self.secret_access_key_env):
            raise ValueError("access_key_id_env and secret_access_key_env go together (or neither: boto3's chain)")
        return self


class LocalConfig(_Common):
    """llama.cpp embedded in the controller (llama-cpp-python) with a GGUF file the user mounts."""

    type: Literal["local"]
    model_path: str = Field(min_length=1, description="The GGUF file (a mounted PVC or image layer).")
    model: str = Field(default="", description="For the audit only; default: the file's name.")
    context_tokens: int = Field(default=8192, ge=512, le=131072, description="The context window (KV cache).")
    threads: int | None = Field(default=None, ge=1, le=256, description="CPU threads; default: llama.cpp's.")
    chat_format: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_.-]*$",
                                    description="A llama-cpp-python chat format; default: the GGUF's own template.")


BackendConfig = Annotated[OfflineConfig | OpenAIConfig | AzureOpenAIConfig | BedrockConfig | LocalConfig,
                          Field(discriminator="type")]
Chain = str | list[str]


def chain_of(value: Chain | None) -> list[str]:
    """A role's backends in the order they are tried."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


class PlannerRoles(Strict):
    """A planner per domain; `default` plans every domain not named."""

    default: Chain
    k8s: Chain | None = None
    cloud_aws: Chain | None = Field(default=None, alias="cloud-aws")
    cloud_azure: Chain | None = Field(default=None, alias="cloud-azure")
    sre: Chain | None = None
    security: Chain | None = None

    def for_domain(self, domain: str) -> list[str]:
        value = getattr(self, domain.replace("-", "_"), None) if domain in DOMAINS else None
        return chain_of(value if value is not None else self.default)


class Roles(Strict):
    """Which backend (or chain of backends, tried in order) plays each role. Unset roles are skipped."""

    router: Chain | None = None
    planner: Chain | PlannerRoles | None = None
    reviewer: Chain | None = None
    summarizer: Chain | None = None

    def planners(self, domain: str) -> list[str]:
        if isinstance(self.planner, PlannerRoles):
            return self.planner.for_domain(domain)
        return chain_of(self.planner)

    def every_name(self) -> list[tuple[str, str]]:
        out = [(f"roles.{role}", n) for role in ("router", "reviewer", "summarizer")
               for n in chain_of(getattr(self, role))]
        if isinstance(self.planner, PlannerRoles):
            for field in PlannerRoles.model_fields:
                out += [(f"roles.planner.{field}", n) for n in chain_of(getattr(self.planner, field))]
        else:
            out += [("roles.planner", n) for n in chain_of(self.planner)]
        return out


class Budget(Strict):
    """Per thread and planning round: what the AIs may spend before the offline planner takes over."""

    max_tokens: int = Field(default=120_000, ge=100)
    max_cost_usd: float = Field(default=2.0, ge=0)
    max_calls: int = Field(default=24, ge=1)
    max_tool_iterations: int = Field(default=6, ge=1, le=50, description="Read-tool rounds per planner call.")
    max_revisions: int = Field(default=1, ge=0, le=3, description="Times the reviewer may send a plan back.")


class BackendsConfig(Strict):
    backends: list[BackendConfig] = Field(min_length=1)
    roles: Roles = Field(default_factory=Roles)
    budget: Budget = Field(default_factory=Budget)
    offline_fallback: bool = Field(default=True, description="When every AI failed, the offline planner answers.")

    @field_validator("backends")
    @classmethod
    def _unique(cls, value: list[Any]) -> list[Any]:
        names = [b.name for b in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"backend names must be unique: {', '.join(twice)}")
        return value

    @model_validator(mode="after")
    def _known_roles(self) -> BackendsConfig:
        known = {b.name for b in self.backends}
        for where, name in self.roles.every_name():
            if name not in known:
                raise ValueError(f"{where}: no backend is named {name!r} (known: {', '.join(sorted(known))})")
        return self

    def by_name(self, name: str) -> Any:
        return next(b for b in self.backends if b.name == name)

    def planner_chain(self, domain: str) -> list[str]:
        """The planners for a domain; without roles, every configured backend in file order."""
        chain = self.roles.planners(domain)
        return chain or [b.name for b in self.backends]


def _describe(source: str, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        # the union adds the tag ("openai") to the path: drop it, the person did not write it
        loc = [p for p in loc if p not in {"offline", "openai", "azure-openai", "bedrock", "local",
                                           "function-after[_pair()]"}]
        path = ".".join(loc) or "(top)"
        msg = error["msg"].removeprefix("Value error, ")
        field, sep, rest = msg.partition(": ")
        if error["type"] == "value_error" and sep and re.fullmatch(r"[a-z_]+", field):
            path, msg = f"{path}.{field}" if path != "(top)" else field, rest  # the validator named the field
        problems.append(f"{path}: {msg}")
    return f"{source}: " + "; ".join(problems)


def parse_config(data: Any, source: str = "backends") -> BackendsConfig:
    """The validated configuration, or a `ConfigError` naming each bad field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with `backends:` (and optionally `roles:`, `budget:`)")
    try:
        return BackendsConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(source, exc)) from None


def load_config(path: str | Path) -> BackendsConfig:
    """Read a backends YAML file (from `--backends`, `AIOP_BACKENDS` or a mounted Secret)."""
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the backends file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from None
    return parse_config(data, str(file))


def resolve_secret(env_name: str, env: Mapping[str, str], secrets_dir: str | Path | None = None) -> str:
    """The value of a key: the environment variable, else the file of that name in the Secret folder."""
    value = env.get(env_name, "")
    if value:
        return value
    if secrets_dir:
        candidate = Path(secrets_dir) / env_name
        if candidate.is_file():
            return candidate.read_text().strip()
    raise ConfigError(f"the key variable {env_name} is not set (neither in the environment nor as a file "
                      f"in the backend Secret folder {secrets_dir or '(none configured)'})")
