"""All configuration of the operator, read once: the only module that reads the environment.

One settings object of grouped sub-settings (as kopf does), built from `AIOP_*` environment
variables with embedded defaults, so `make up` works with nothing configured. Everything the
operator keeps on disk lives under `home` ($AIOP_HOME, default ~/.aiop): the knowledge DB, the
local repos and forge, and the sandbox's state.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        return default
    return tuple(item.strip() for item in value.split(",") if item.strip())


@dataclass(frozen=True)
class KubeSettings:
    kubeconfig: str | None = None  # None: in-cluster config, else this file
    context: str | None = None
    namespaces: tuple[str, ...] = ()  # () = cluster-wide
    operator_namespace: str = "aiop-system"
    field_manager: str = "ai-operator"


@dataclass(frozen=True)
class GitSettings:
    repo_url: str = ""  # "" = the local bare repo under home
    author_name: str = "ai-operator"
    author_email: str = "ai-operator@localhost"
    forge: str = "local"  # local | github | gitlab


@dataclass(frozen=True)
class SyncSettings:
    engine: str = "direct"  # direct | argocd | flux | auto
    verify_timeout_s: float = 60.0


@dataclass(frozen=True)
class AlertSettings:
    webhook_url: str = ""
    events: bool = True


@dataclass(frozen=True)
class PlanningSettings:
    backends_file: str = ""
    backend_secrets_dir: str = ""  # a mounted Secret: one file per key variable named in the backends file
    protected_namespaces: tuple[str, ...] = ("kube-system", "kube-public", "kube-node-lease")
    cluster_id: str = "local"


@dataclass(frozen=True)
class ServeSettings:
    metrics_port: int = 9090
    log_format: str = "json"  # json | text
    log_level: str = "INFO"


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path.home() / ".aiop")
    kube: KubeSettings = field(default_factory=KubeSettings)
    git: GitSettings = field(default_factory=GitSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    planning: PlanningSettings = field(default_factory=PlanningSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)
    knowledge_url: str = ""  # "" = DuckDB under home

    @property
    def repos_dir(self) -> Path:
        return self.home / "repos"

    @property
    def local_repo(self) -> Path:
        return self.repos_dir / "ops.git"

    @property
    def sandbox_dir(self) -> Path:
        return self.home / "sandbox"

    @property
    def sandbox_kubeconfig(self) -> Path:
        return self.sandbox_dir / "kubeconfig"

    def with_home(self, home: Path) -> Settings:
        return replace(self, home=home)

    def with_kubeconfig(self, path: str | None) -> Settings:
        return replace(self, kube=replace(self.kube, kubeconfig=path))

    def with_backends_file(self, path: str | None) -> Settings:
        return replace(self, planning=replace(self.planning, backends_file=path or ""))


def environment() -> Mapping[str, str]:
    """The process environment, for the values a config file names by variable (AI backend keys)."""
    return os.environ


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment (or the given mapping, for tests)."""
    e = dict(os.environ if env is None else env)
    home = Path(e.get("AIOP_HOME") or Path.home() / ".aiop").expanduser()
    return Settings(
        home=home,
        kube=KubeSettings(
            kubeconfig=e.get("AIOP_KUBECONFIG") or e.get("KUBECONFIG") or None,
            context=e.get("AIOP_KUBE_CONTEXT") or None,
            namespaces=_list(e.get("AIOP_NAMESPACES"), ()),
            operator_namespace=e.get("AIOP_OPERATOR_NAMESPACE", "aiop-system"),
        ),
        git=GitSettings(
            repo_url=e.get("AIOP_REPO_URL", ""),
            author_name=e.get("AIOP_GIT_AUTHOR_NAME", "ai-operator"),
            author_email=e.get("AIOP_GIT_AUTHOR_EMAIL", "ai-operator@localhost"),
            forge=e.get("AIOP_FORGE", "local"),
        ),
        sync=SyncSettings(engine=e.get("AIOP_SYNC_ENGINE", "direct"),
                          verify_timeout_s=float(e.get("AIOP_VERIFY_TIMEOUT", "60"))),
        alerts=AlertSettings(webhook_url=e.get("AIOP_ALERT_WEBHOOK", ""), events=_flag(e.get("AIOP_ALERT_EVENTS"), True)),
        planning=PlanningSettings(
            backends_file=e.get("AIOP_BACKENDS", ""),
            backend_secrets_dir=e.get("AIOP_BACKEND_SECRETS", ""),
            protected_namespaces=_list(e.get("AIOP_PROTECTED_NAMESPACES"),
                                       ("kube-system", "kube-public", "kube-node-lease")),
            cluster_id=e.get("AIOP_CLUSTER_ID", "local"),
        ),
        serve=ServeSettings(metrics_port=int(e.get("AIOP_METRICS_PORT", "9090")),
                            log_format=e.get("AIOP_LOG_FORMAT", "json"), log_level=e.get("AIOP_LOG_LEVEL", "INFO")),
        knowledge_url=e.get("AIOP_KNOWLEDGE_URL", ""),
    )
