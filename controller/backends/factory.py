"""From the settings to the `Backend` the planner talks to: the one place that builds adapters.

Why offline when nothing is configured: the operator must work air-gapped and in CI; AI backends
are an opt-in, through `--backends FILE`, `AIOP_BACKENDS` or a Secret mounted as that file. With a
file, the result is always a `CooperativeBackend`, even for a single backend, because the
fallbacks, budgets, loop breaker and audit live there.

Keys are resolved here, once, from the environment variable each backend names (or the file of
that name in `AIOP_BACKEND_SECRETS`), and handed to the adapter; they are never logged or stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from controller.backends.agent import ChatBackend
from controller.backends.config import (
    AzureOpenAIConfig,
    BackendsConfig,
    BedrockConfig,
    LocalConfig,
    OfflineConfig,
    OpenAIConfig,
    Roles,
    load_config,
    resolve_secret,
)
from controller.backends.cooperative import CooperativeBackend
from controller.backends.errors import ConfigError
from controller.backends.ledger import ThreadUsage
from controller.backends.wire import ChatClient
from controller.planning.types import Backend
from controller.settings import Settings, environment


def offline_backend() -> Backend:
    from controller.planning.offline.planner import OfflineBackend

    return OfflineBackend()


def make_client(cfg: Any, env: Mapping[str, str], secrets_dir: str | Path | None = None) -> ChatClient:
    """The wire adapter for one configured backend (not for `offline`)."""
    if isinstance(cfg, OpenAIConfig):
        from controller.backends.openai_chat import OpenAIChat

        key = resolve_secret(cfg.api_key_env, env, secrets_dir) if cfg.api_key_env else None
        return OpenAIChat(cfg, key)
    if isinstance(cfg, AzureOpenAIConfig):
        from controller.backends.openai_chat import OpenAIChat

        return OpenAIChat(cfg, resolve_secret(cfg.api_key_env, env, secrets_dir))
    if isinstance(cfg, BedrockConfig):
        from controller.backends.bedrock_chat import BedrockChat

        creds: dict[str, str] = {}
        if cfg.access_key_id_env and cfg.secret_access_key_env:
            creds["aws_access_key_id"] = resolve_secret(cfg.access_key_id_env, env, secrets_dir)
            creds["aws_secret_access_key"] = resolve_secret(cfg.secret_access_key_env, env, secrets_dir)
            if cfg.session_token_env:
                creds["aws_session_token"] = resolve_secret(cfg.session_token_env, env, secrets_dir)
        return BedrockChat(cfg, creds or None)
    if isinstance(cfg, LocalConfig):
        from controller.backends.local_chat import LocalChat

        return LocalChat(cfg)
    raise ConfigError(f"backend {cfg.name}: type {cfg.type} has no wire adapter")


def build_backend(config: BackendsConfig, env: Mapping[str, str] | None = None,
                  secrets_dir: str | Path | None = None, *,
                  offline: Callable[[], Backend] = offline_backend,
                  sleep: Callable[[float], None] | None = None,
                  clients: Mapping[str, ChatClient] | None = None) -> Backend:
    """A `CooperativeBackend` over every configured backend. `clients` replaces adapters in tests."""
    env = environment() if env is None else env
    usage = ThreadUsage()
    members: dict[str, Backend] = {}
    for cfg in config.backends:
        if isinstance(cfg, OfflineConfig):
            continue  # the cooperative backend creates the offline planner once, when a role needs it
        client = (clients or {}).get(cfg.name) or make_client(cfg, env, secrets_dir)
        extra: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        members[cfg.name] = ChatBackend(
            cfg.name, client, max_retries=cfg.max_retries, backoff_s=cfg.backoff_s,
            price_input_per_1k=cfg.price_input_per_1k, price_output_per_1k=cfg.price_output_per_1k,
            budget=config.budget, usage=usage, **extra)
    return CooperativeBackend(config, members, offline, usage)


def with_planner(config: BackendsConfig, name: str) -> BackendsConfig:
    """The same configuration with `name` planning every domain (for `aiop eval --backend NAME`)."""
    if name not in {b.name for b in config.backends}:
        known = ", ".join(b.name for b in config.backends)
        raise ConfigError(f"--backend {name}: no backend of that name in the backends file (known: {known})")
    roles = config.roles.model_dump(by_alias=True, exclude_none=True)
    roles["planner"] = name
    return config.model_copy(update={"roles": Roles.model_validate(roles)})


def backend_from_settings(settings: Settings, name: str | None = None,
                          env: Mapping[str, str] | None = None) -> Backend:
    """The configured backend; the offline planner when no backends file is configured."""
    path = settings.planning.backends_file
    if not path:
        if name not in (None, "", "offline", "local"):
            raise ConfigError(f"--backend {name}: no backends file is configured (--backends FILE or AIOP_BACKENDS)")
        return offline_backend()
    config = load_config(path)
    if name and name != "cooperative":
        config = with_planner(config, name)
        if isinstance(config.by_name(name), OfflineConfig) and not any(
                (config.roles.router, config.roles.reviewer, config.roles.summarizer)):
            return offline_backend()
    return build_backend(config, env, settings.planning.backend_secrets_dir or None)
