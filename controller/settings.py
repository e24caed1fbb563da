"""All configuration of the operator, read once: the only module that reads the environment.

One pydantic-settings model of grouped sub-settings (as kopf does), built from `AIOP_*` environment
variables with embedded defaults, so `make up` works with nothing configured. Each field names the
variable it comes from (`env(...)` below), so the chart's ConfigMap, the README and the code are
checked against one list (`env_names()`, tested against the rendered chart). A wrong value fails at
start-up with the variable's name (`SettingsError`). Everything the operator keeps on disk lives
under `home` ($AIOP_HOME, default ~/.aiop; /var/lib/aiop in the chart): the knowledge DB, the
local repos and forge, and the sandbox's state.
"""

from __future__ import annotations

import contextvars
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

_FROZEN = ConfigDict(frozen=True, extra="forbid")


def env(names: str | tuple[str, ...], default: Any = None, doc: str = "", **kwargs: Any) -> Any:
    """A settings field read from the first set (non-empty) variable of `names`."""
    names = (names,) if isinstance(names, str) else names
    if "default_factory" not in kwargs:
        kwargs["default"] = default
    return Field(description=doc, json_schema_extra={"env": list(names)}, **kwargs)


def _env_of(info: FieldInfo) -> list[str]:
    extra = info.json_schema_extra
    return list(extra.get("env", [])) if isinstance(extra, dict) else []  # type: ignore[arg-type]


class SettingsError(ValueError):
    """A setting's value is wrong; the message names the variable and what it should be."""


class KubeSettings(BaseModel):
    model_config = _FROZEN

    kubeconfig: str | None = env(("AIOP_KUBECONFIG", "KUBECONFIG"), None, "None: the in-cluster service account")
    context: str | None = env("AIOP_KUBE_CONTEXT", None, "kubeconfig context")
    namespaces: tuple[str, ...] = env("AIOP_NAMESPACES", (), "watched namespaces (comma list); () = cluster-wide")
    operator_namespace: str = env("AIOP_OPERATOR_NAMESPACE", "aiop-system",
                                  "where backups and the leader Lease live (the chart: the release namespace)")
    field_manager: str = env("AIOP_FIELD_MANAGER", "ai-operator", "server-side apply field manager")
    service_account: str = env("AIOP_CONTROLLER_SERVICE_ACCOUNT", "",
                               "the controller's user name (system:serviceaccount:NS:NAME); `aiop doctor` "
                               "checks its rights")


class RepoRoute(BaseModel):
    """One dedicated target repo: which manifests go there (by kind or plan context) and where."""

    model_config = _FROZEN

    name: str
    url: str
    folder: str = "threads"  # the thread folder is <folder>/<thread-id>
    kinds: tuple[str, ...] = ()  # manifests of these kinds are committed here
    contexts: tuple[str, ...] = ()  # ... or every manifest of a plan routed to these contexts
    project: str = ""  # forge project ("owner/name" / GitLab path); "" = derived from the URL


class ForgeSettings(BaseModel):
    """Pull requests on GitHub or GitLab. The token is a Secret: never printed (repr=False)."""

    model_config = _FROZEN

    api_url: str = env("AIOP_FORGE_URL", "", "'' = https://api.github.com / https://gitlab.com")
    token: str = env("AIOP_FORGE_TOKEN", "", "from the chart's Secret (key AIOP_FORGE_TOKEN)", repr=False)
    token_file: str = env("AIOP_FORGE_TOKEN_FILE", "", "a mounted Secret file holding the token")
    github_app_id: str = env("AIOP_GITHUB_APP_ID", "")
    github_app_key_file: str = env("AIOP_GITHUB_APP_KEY_FILE", "", "PEM of the GitHub App, mounted from a Secret")
    github_installation_id: str = env("AIOP_GITHUB_INSTALLATION_ID", "")
    reviewers: tuple[str, ...] = env("AIOP_FORGE_REVIEWERS", (), "users asked to review")
    team_reviewers: tuple[str, ...] = env("AIOP_FORGE_TEAM_REVIEWERS", (),
                                          "GitHub team slugs / GitLab group paths ('merged by a group')")
    project: str = env("AIOP_FORGE_PROJECT", "", "the operator repo's forge project; '' = from the repo URL")


class GitSettings(BaseModel):
    model_config = _FROZEN

    repo_url: str = env("AIOP_REPO_URL", "", "the dedicated thread repo; '' = the local bare repo under home")
    author_name: str = env("AIOP_GIT_AUTHOR_NAME", "ai-operator")
    author_email: str = env("AIOP_GIT_AUTHOR_EMAIL", "ai-operator@localhost")
    forge: Literal["local", "github", "gitlab"] = env("AIOP_FORGE", "local")
    forge_settings: ForgeSettings = Field(default_factory=ForgeSettings)
    routes: tuple[RepoRoute, ...] = env("AIOP_REPOS", (), "target repos (JSON/YAML, see `parse_routes`)")
    routes_file: str = env("AIOP_REPOS_FILE", "", "the same as a YAML/JSON file")
    instructions_repo_url: str = env("AIOP_INSTRUCTIONS_REPO_URL", "",
                                     "'' = the local instructions repo under home; '-' = none")
    signing_key_file: str = env("AIOP_GIT_SIGNING_KEY_FILE", "",
                                "an SSH private key (mounted Secret): commits signed with gpg.format=ssh")

    @model_validator(mode="before")
    @classmethod
    def _read_routes(cls, data: Any) -> Any:
        if isinstance(data, dict):
            inline, path = data.get("routes"), data.get("routes_file")
            if isinstance(inline, str) or (path and not inline):
                text = inline if isinstance(inline, str) else Path(str(path)).read_text()
                data = {**data, "routes": parse_routes(text)}
        return data


class SyncSettings(BaseModel):
    model_config = _FROZEN

    engine: Literal["direct", "argocd", "flux", "auto"] = env("AIOP_SYNC_ENGINE", "direct")
    verify_timeout_s: float = env("AIOP_VERIFY_TIMEOUT", 60.0, "seconds to wait for sync + health")
    argocd_namespace: str = env("AIOP_ARGOCD_NAMESPACE", "argocd")
    flux_namespace: str = env("AIOP_FLUX_NAMESPACE", "flux-system")
    destination_server: str = env("AIOP_SYNC_DESTINATION", "https://kubernetes.default.svc")
    flux_service_account: str = env("AIOP_FLUX_SERVICE_ACCOUNT", "",
                                    "Kustomization.spec.serviceAccountName (impersonation); '' = Flux's own")
    flux_secret_ref: str = env("AIOP_FLUX_SECRET_REF", "", "GitRepository.spec.secretRef.name")
    poll_interval_s: float = env("AIOP_SYNC_POLL_INTERVAL", 0.5)
    repo_url: str = env("AIOP_SYNC_REPO_URL", "",
                        "the URL Argo CD / Flux fetch the primary repo from; '' = the git repo URL (or path)")


class AlertSettings(BaseModel):
    model_config = _FROZEN

    webhook_url: str = env("AIOP_ALERT_WEBHOOK", "", "Slack-compatible webhook")
    events: bool = env("AIOP_ALERT_EVENTS", True, "Warning Events on the conversation")


class PlanningSettings(BaseModel):
    model_config = _FROZEN

    backends_file: str = env("AIOP_BACKENDS", "", "AI backends file; '' = the offline planner")
    backend_secrets_dir: str = env("AIOP_BACKEND_SECRETS", "",
                                   "a mounted Secret: one file per key variable named in the backends file")
    protected_namespaces: tuple[str, ...] = env("AIOP_PROTECTED_NAMESPACES",
                                                ("kube-system", "kube-public", "kube-node-lease"))
    cluster_id: str = env("AIOP_CLUSTER_ID", "local", "names this cluster in the shared knowledge")
    allow_collaborators: bool = env("AIOP_ALLOW_COLLABORATORS", False,
                                    "whether turns by users other than the requester may shape a plan")
    embedder: Literal["auto", "onnx", "sentence-transformers"] = env(
        "AIOP_EMBEDDER", "auto", "all-MiniLM-L6-v2 through ONNX Runtime or torch; auto = ONNX when exported")
    onnx_model_dir: str = env("AIOP_ONNX_MODEL_DIR", "", "the exported ONNX model; '' = the image's default")


class ServeSettings(BaseModel):
    model_config = _FROZEN

    metrics_port: int = env("AIOP_METRICS_PORT", 9090, "Prometheus /metrics (0: off)", ge=0, le=65535)
    health_port: int = env("AIOP_HEALTH_PORT", 8080, "/healthz and /readyz (0: off)", ge=0, le=65535)
    bind_address: str = env("AIOP_BIND_ADDRESS", "127.0.0.1",
                            "metrics, health and UI servers bind here; the chart sets 0.0.0.0")
    ui_port: int = env("AIOP_UI_PORT", 8501, "the chat UI's port", ge=0, le=65535)
    log_format: Literal["json", "text"] = env("AIOP_LOG_FORMAT", "json")
    log_level: str = env("AIOP_LOG_LEVEL", "INFO")

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"}:
            raise ValueError("expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level


class LeaderSettings(BaseModel):
    """Leader election through a coordination.k8s.io/v1 Lease, so two replicas never both reconcile."""

    model_config = _FROZEN

    enabled: bool = env("AIOP_LEADER_ELECTION", False, "on with controller.replicas > 1 (the chart sets it)")
    lease_name: str = env("AIOP_LEASE_NAME", "ai-operator-leader")
    namespace: str = env("AIOP_POD_NAMESPACE", "", "the Lease's namespace; '' = the operator namespace")
    identity: str = env("AIOP_POD_NAME", "", "this replica's name in the Lease; '' = host name and pid")
    lease_duration_s: float = env("AIOP_LEASE_DURATION", 8.0, "a leader silent this long is replaced", gt=0)
    renew_interval_s: float = env("AIOP_LEASE_RENEW", 2.0, "how often the leader renews / a standby retries",
                                  gt=0)

    @model_validator(mode="after")
    def _renew_before_expiry(self) -> LeaderSettings:
        if self.renew_interval_s >= self.lease_duration_s:
            raise ValueError("AIOP_LEASE_RENEW must be shorter than AIOP_LEASE_DURATION")
        return self


class CloudSettings(BaseModel):
    """Reading AWS and Azure (the cloud half, controller/cloud/): the pod's own IRSA / Workload Identity.

    Nothing here is a key: credentials come from the default chains. The explicit identity fields
    (role + token file, tenant + client + token file) are for clusters without the identity webhooks
    and for tests; the endpoint fields point the SDKs at other endpoints (the tests' local servers).
    """

    model_config = _FROZEN

    aws: bool = env("AIOP_AWS", False, "read AWS (S3, IAM, EKS, RDS, EC2, CloudWatch, Security Hub)")
    aws_region: str = env("AIOP_AWS_REGION", "", "'' = the SDK's default region")
    aws_endpoint_url: str = env("AIOP_AWS_ENDPOINT_URL", "", "one endpoint for every AWS service ('' = AWS)")
    aws_role_arn: str = env("AIOP_AWS_ROLE_ARN", "", "with the token file: exchange it explicitly ('' = SDK chain)")
    aws_web_identity_token_file: str = env("AIOP_AWS_WEB_IDENTITY_TOKEN_FILE", "")
    ack_role_arn: str = env("AIOP_ACK_ROLE_ARN", "", "the ACK controllers' IAM role: plans are simulated as it")
    azure_subscription_id: str = env("AIOP_AZURE_SUBSCRIPTION_ID", "", "read this subscription ('' = no Azure)")
    azure_tenant_id: str = env("AIOP_AZURE_TENANT_ID", "")
    azure_client_id: str = env("AIOP_AZURE_CLIENT_ID", "", "with tenant and token file: WorkloadIdentityCredential")
    azure_federated_token_file: str = env("AIOP_AZURE_FEDERATED_TOKEN_FILE", "")
    azure_authority_host: str = env("AIOP_AZURE_AUTHORITY_HOST", "", "'' = login.microsoftonline.com")
    azure_arm_url: str = env("AIOP_AZURE_ARM_URL", "", "'' = https://management.azure.com")
    azure_ca_bundle: str = env("AIOP_AZURE_CA_BUNDLE", "", "a CA file for the Azure endpoints ('' = system CAs)")
    aso_client_id: str = env("AIOP_ASO_CLIENT_ID", "", "Azure Service Operator's identity, federated to the "
                                                      "operator's ServiceAccount: plans are checked as it")
    graph_group_names: bool = env("AIOP_GRAPH_GROUP_NAMES", False, "show Entra ID group names (Microsoft Graph)")
    graph_url: str = env("AIOP_GRAPH_URL", "", "'' = https://graph.microsoft.com")


class SnapshotSettings(BaseModel):
    """Snapshots of the data a plan puts at risk, taken after approval and before the first change (issue 14).

    Volumes: `auto` takes a CSI VolumeSnapshot when a VolumeSnapshotClass serves the claim's driver, else
    a Velero Backup when Velero has an Available storage location, else an EBS / Azure disk snapshot
    through the cloud SDK when that cloud is configured (`cloud` above). RDS instances: an RDS DB snapshot
    when AWS is configured.
    """

    model_config = _FROZEN

    volumes: Literal["auto", "csi", "velero", "cloud", "none"] = env(
        "AIOP_SNAPSHOT_VOLUMES", "auto", "how volumes are snapshotted (auto = csi, then velero, then cloud)")
    timeout_s: float = env("AIOP_SNAPSHOT_TIMEOUT", 900.0, "a snapshot not ready by then fails the thread before "
                                                         "anything changed", gt=0)
    grace_hours: float = env("AIOP_SNAPSHOT_GRACE_HOURS", 168.0, "kept this long after the thread is closed "
                                                               "(pull requests merged or closed, or restored)", ge=0)
    velero_namespace: str = env("AIOP_VELERO_NAMESPACE", "velero")
    azure_resource_groups: tuple[str, ...] = env(
        "AIOP_SNAPSHOT_AZURE_RESOURCE_GROUPS", (), "resource groups `aiop doctor` checks the Azure snapshot role at "
                                                   "(comma list); () = the groups of the managed disks it can see")


_ENV: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar("aiop_env", default=None)


class NamedEnvSettings(BaseSettings):
    """A settings model whose fields say which variables they come from (`env(...)`)."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, NamedEnvSource(settings_cls, _ENV.get())


class Settings(NamedEnvSettings):
    """The operator's settings: `load_settings()`."""

    home: Path = env("AIOP_HOME", default_factory=lambda: Path.home() / ".aiop",
                     doc="state folder (default ~/.aiop; the chart: /var/lib/aiop)")
    kube: KubeSettings = Field(default_factory=KubeSettings)
    git: GitSettings = Field(default_factory=GitSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    planning: PlanningSettings = Field(default_factory=PlanningSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    leader: LeaderSettings = Field(default_factory=LeaderSettings)
    cloud: CloudSettings = Field(default_factory=CloudSettings)
    snapshots: SnapshotSettings = Field(default_factory=SnapshotSettings)
    knowledge_url: str = env("AIOP_KNOWLEDGE_URL", "", "central PostgreSQL + pgvector; '' = DuckDB under home")
    pg_maintenance_work_mem: str = env(
        "AIOP_PG_MAINTENANCE_WORK_MEM", "1GB",
        "PostgreSQL memory for building the search indexes after a bulk import (1M threads need ~2GB)",
        pattern=r"^[0-9]+ ?(kB|MB|GB|TB)?$")
    cloud_provider: Literal["none", "eks", "aks"] = env("AIOP_CLOUD_PROVIDER", "none",
                                                        "which cloud's CRDs `aiop doctor` looks for")

    @field_validator("home")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

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
        return self.model_copy(update={"home": home})

    def with_kubeconfig(self, path: str | None) -> Settings:
        return self.model_copy(update={"kube": self.kube.model_copy(update={"kubeconfig": path})})

    def with_backends_file(self, path: str | None) -> Settings:
        return self.model_copy(update={"planning": self.planning.model_copy(update={"backends_file": path or ""})})

    def with_serve(self, **changes: Any) -> Settings:
        return self.model_copy(update={"serve": self.serve.model_copy(update=changes)})


class NamedEnvSource(PydanticBaseSettingsSource):
    """Reads each field from the variables its `env(...)` names, into the nested groups.

    Empty values count as unset (the chart renders unset values as ""). Comma lists become tuples
    (a JSON list is accepted too); everything else is validated by the field's type.
    """

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None) -> None:
        super().__init__(settings_cls)
        self.environ = os.environ if environ is None else environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ builds the whole tree

    def __call__(self) -> dict[str, Any]:
        return _values(self.settings_cls, self.environ)


def _is_group(info: FieldInfo) -> bool:
    return isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel) and not _env_of(info)


def _values(model: type[BaseModel], environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if _is_group(info):
            nested = _values(info.annotation, environ)  # type: ignore[arg-type]
            if nested:
                out[name] = nested
            continue
        for var in _env_of(info):
            raw = environ.get(var, "")
            if raw.strip():
                out[name] = _split(raw) if _is_tuple_of_str(info) else raw
                break
    return out


def _is_tuple_of_str(info: FieldInfo) -> bool:
    return str(info.annotation) in {"tuple[str, ...]", "typing.Tuple[str, ...]"}


def _split(raw: str) -> tuple[str, ...]:
    text = raw.strip()
    if text.startswith("["):
        return tuple(str(item) for item in json.loads(text))
    return tuple(item.strip() for item in text.split(",") if item.strip())


def parse_routes(text: str) -> tuple[RepoRoute, ...]:
    """Target repos from JSON (`AIOP_REPOS`) or a YAML/JSON file (`AIOP_REPOS_FILE`).

    Either a list of routes, or a mapping {context or kind: url or {url, folder, name, project}}:
    `{"cloud-aws": {"url": "https://git/scripts.git", "folder": "threads"}, "Bucket": "https://git/addons.git"}`.
    """
    import yaml  # YAML is a superset of JSON, so one loader reads both

    raw = yaml.safe_load(text) or {}
    items: list[tuple[str, object]] = (list(raw.items()) if isinstance(raw, dict)
                                       else [(str(r.get("name", "")), r) for r in raw])
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for key, value in items:
        spec = {"url": value} if isinstance(value, str) else dict(value)  # type: ignore[call-overload]
        folder = str(spec.get("folder", "threads")).strip("/") or "threads"
        route = merged.setdefault((str(spec["url"]), folder), {
            "name": str(spec.get("name") or ""), "url": str(spec["url"]), "folder": folder,
            "kinds": [], "contexts": [], "project": str(spec.get("project") or "")})
        route["kinds"].extend(str(kind) for kind in spec.get("kinds", []) or [])
        route["contexts"].extend(str(ctx) for ctx in spec.get("contexts", []) or [])
        if key and "kinds" not in spec and "contexts" not in spec:
            target = "contexts" if key.islower() else "kinds"  # contexts are lower-case, kinds CamelCase
            route[target].append(key)
    return tuple(RepoRoute(**{**spec, "name": spec["name"] or Path(spec["url"].rstrip("/")).name.removesuffix(".git"),
                              "kinds": tuple(spec["kinds"]), "contexts": tuple(spec["contexts"])})
                 for spec in merged.values())


def env_names(model: type[BaseModel] = Settings) -> dict[str, str]:
    """Every variable the model reads → the dotted attribute it sets (e.g. AIOP_REPO_URL → git.repo_url)."""
    out: dict[str, str] = {}
    for name, info in model.model_fields.items():
        if _is_group(info):
            out.update({var: f"{name}.{path}" for var, path in env_names(info.annotation).items()})  # type: ignore[arg-type]
        for var in _env_of(info):
            out[var] = name
    return out


def _explain(error: ValidationError, model: type[BaseModel]) -> str:
    names = {path: var for var, path in reversed(list(env_names(model).items()))}
    lines = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"])
        where = names.get(path) or next((v for p, v in names.items() if path.startswith(p + ".")), path)
        given = item.get("input")
        value = "" if "token" in path or isinstance(given, dict) else f" (got {given!r})"
        lines.append(f"{where}: {item['msg']}{value}")
    return "; ".join(lines)


def read_settings(model: type[NamedEnvSettings], env: Mapping[str, str] | None = None) -> Any:
    """An instance of a settings model from the environment (or the given mapping, for tests)."""
    token = _ENV.set(os.environ if env is None else env)
    try:
        return model()
    except ValidationError as exc:
        raise SettingsError(f"invalid settings: {_explain(exc, model)}") from None
    finally:
        _ENV.reset(token)


def environment() -> Mapping[str, str]:
    """The process environment, for the values a config file names by variable (AI backend keys)."""
    return os.environ


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment (or the given mapping, for tests)."""
    settings: Settings = read_settings(Settings, env)
    return settings
