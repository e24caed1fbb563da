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
class RepoRoute:
    """One dedicated target repo: which manifests go there (by kind or plan context) and where."""

    name: str
    url: str
    folder: str = "threads"  # the thread folder is <folder>/<thread-id>
    kinds: tuple[str, ...] = ()  # manifests of these kinds are committed here
    contexts: tuple[str, ...] = ()  # ... or every manifest of a plan routed to these contexts
    project: str = ""  # forge project ("owner/name" / GitLab path); "" = derived from the URL


@dataclass(frozen=True)
class ForgeSettings:
    """Pull requests on GitHub or GitLab. The token is a Secret: never printed (repr=False)."""

    api_url: str = ""  # "" = https://api.github.com / https://gitlab.com
    token: str = field(default="", repr=False)  # AIOP_FORGE_TOKEN (env from a Secret) or ..._FILE
    token_file: str = ""
    github_app_id: str = ""
    github_app_key_file: str = ""  # PEM of the GitHub App, mounted from a Secret
    github_installation_id: str = ""
    reviewers: tuple[str, ...] = ()  # users asked to review
    team_reviewers: tuple[str, ...] = ()  # GitHub team slugs / GitLab group paths ("merged by a group")
    project: str = ""  # the operator repo's forge project; "" = derived from the repo URL


@dataclass(frozen=True)
class GitSettings:
    repo_url: str = ""  # "" = the local bare repo under home
    author_name: str = "ai-operator"
    author_email: str = "ai-operator@localhost"
    forge: str = "local"  # local | github | gitlab
    forge_settings: ForgeSettings = field(default_factory=ForgeSettings)
    routes: tuple[RepoRoute, ...] = ()  # AIOP_REPOS (JSON) or AIOP_REPOS_FILE (YAML/JSON)
    instructions_repo_url: str = ""  # "" = the local instructions repo under home; "-" = none
    signing_key_file: str = ""  # an SSH private key (mounted Secret): commits signed with gpg.format=ssh


@dataclass(frozen=True)
class SyncSettings:
    engine: str = "direct"  # direct | argocd | flux | auto
    verify_timeout_s: float = 60.0
    argocd_namespace: str = "argocd"
    flux_namespace: str = "flux-system"
    destination_server: str = "https://kubernetes.default.svc"
    flux_service_account: str = ""  # Kustomization.spec.serviceAccountName (impersonation); "" = Flux's own
    flux_secret_ref: str = ""  # GitRepository.spec.secretRef.name: the repo credentials Secret
    poll_interval_s: float = 0.5
    repo_url: str = ""  # the URL Argo CD / Flux fetch the primary repo from; "" = the git repo URL (or path)


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
    def local_instructions_repo(self) -> Path:
        return self.repos_dir / "instructions.git"

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


def _routes(inline: str, path: str) -> tuple[RepoRoute, ...]:
    """Target repos from JSON (`AIOP_REPOS`) or a YAML/JSON file (`AIOP_REPOS_FILE`).

    Either a list of routes, or a mapping {context or kind: url or {url, folder, name, project}}:
    `{"cloud-aws": {"url": "https://git/scripts.git", "folder": "threads"}, "Bucket": "https://git/addons.git"}`.
    """
    if not inline and not path:
        return ()
    import yaml  # YAML is a superset of JSON, so one loader reads both

    raw = yaml.safe_load(Path(path).read_text() if path else inline) or {}
    items: list[tuple[str, object]] = (list(raw.items()) if isinstance(raw, dict)
                                       else [(str(r.get("name", "")), r) for r in raw])
    merged: dict[tuple[str, str], dict[str, object]] = {}
    for key, value in items:
        spec = {"url": value} if isinstance(value, str) else dict(value)  # type: ignore[call-overload]
        folder = str(spec.get("folder", "threads")).strip("/") or "threads"
        route = merged.setdefault((str(spec["url"]), folder), {
            "name": str(spec.get("name") or ""), "url": str(spec["url"]), "folder": folder,
            "kinds": [], "contexts": [], "project": str(spec.get("project") or "")})
        for kind in spec.get("kinds", []) or []:
            route["kinds"].append(str(kind))  # type: ignore[attr-defined]
        for ctx in spec.get("contexts", []) or []:
            route["contexts"].append(str(ctx))  # type: ignore[attr-defined]
        if key and "kinds" not in spec and "contexts" not in spec:
            target = "contexts" if key.islower() else "kinds"  # contexts are lower-case, kinds CamelCase
            route[target].append(key)  # type: ignore[attr-defined]
    out = []
    for spec in merged.values():
        name = str(spec["name"]) or Path(str(spec["url"]).rstrip("/")).name.removesuffix(".git")
        out.append(RepoRoute(name=name, url=str(spec["url"]), folder=str(spec["folder"]),
                             kinds=tuple(spec["kinds"]), contexts=tuple(spec["contexts"]),  # type: ignore[arg-type]
                             project=str(spec["project"])))
    return tuple(out)


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
            forge_settings=ForgeSettings(
                api_url=e.get("AIOP_FORGE_URL", ""),
                token=e.get("AIOP_FORGE_TOKEN", ""),
                token_file=e.get("AIOP_FORGE_TOKEN_FILE", ""),
                github_app_id=e.get("AIOP_GITHUB_APP_ID", ""),
                github_app_key_file=e.get("AIOP_GITHUB_APP_KEY_FILE", ""),
                github_installation_id=e.get("AIOP_GITHUB_INSTALLATION_ID", ""),
                reviewers=_list(e.get("AIOP_FORGE_REVIEWERS"), ()),
                team_reviewers=_list(e.get("AIOP_FORGE_TEAM_REVIEWERS"), ()),
                project=e.get("AIOP_FORGE_PROJECT", ""),
            ),
            routes=_routes(e.get("AIOP_REPOS", ""), e.get("AIOP_REPOS_FILE", "")),
            instructions_repo_url=e.get("AIOP_INSTRUCTIONS_REPO_URL", ""),
            signing_key_file=e.get("AIOP_GIT_SIGNING_KEY_FILE", ""),
        ),
        sync=SyncSettings(engine=e.get("AIOP_SYNC_ENGINE", "direct"),
                          verify_timeout_s=float(e.get("AIOP_VERIFY_TIMEOUT", "60")),
                          argocd_namespace=e.get("AIOP_ARGOCD_NAMESPACE", "argocd"),
                          flux_namespace=e.get("AIOP_FLUX_NAMESPACE", "flux-system"),
                          destination_server=e.get("AIOP_SYNC_DESTINATION", "https://kubernetes.default.svc"),
                          flux_service_account=e.get("AIOP_FLUX_SERVICE_ACCOUNT", ""),
                          flux_secret_ref=e.get("AIOP_FLUX_SECRET_REF", ""),
                          poll_interval_s=float(e.get("AIOP_SYNC_POLL_INTERVAL", "0.5")),
                          repo_url=e.get("AIOP_SYNC_REPO_URL", "")),
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
