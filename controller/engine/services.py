"""Wiring: build the engine's services from the settings (the one place that knows every adapter)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from controller.adapters.backups import BackupStore
from controller.adapters.forge import LocalForge
from controller.adapters.forge_auth import git_auth_env, load_credentials, project_of
from controller.adapters.gitrepo import ThreadRepo, ensure_bare_repo
from controller.adapters.kube import Kube, load_api_client
from controller.adapters.snapshots.select import make_providers
from controller.adapters.sync.select import make_engine
from controller.adapters.telemetry import Alerts
from controller.cloud.access import cloud_access
from controller.engine.data_restore import DataRestore
from controller.engine.execution import Executor, Forge, TargetRepo
from controller.engine.history import History
from controller.engine.locks import TargetLocks, ThreadIds
from controller.engine.planning import Planner
from controller.engine.reconcile import Services
from controller.engine.snapshots import Snapshots
from controller.knowledge.base import KnowledgeStore
from controller.planning.types import Backend
from controller.policy import PolicySettings
from controller.settings import Settings

REPOS_TEMPLATE = Path(__file__).resolve().parents[2] / "repos-template"


def default_backend(settings: Settings | None = None) -> Backend:
    """The backend the settings configure (`AIOP_BACKENDS` / `--backends`); offline when none is."""
    from controller.backends.factory import backend_from_settings

    if settings is None:
        from controller.planning.offline.planner import OfflineBackend

        return OfflineBackend()
    return backend_from_settings(settings)


class PlannerEmbedder:
    """The knowledge store's embedder backed by the offline planner's process-wide MiniLM (loaded once)."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def embed(self, texts: list[str]) -> Any:
        from controller.planning.offline.embedder import shared_embedder

        return shared_embedder().encode(texts)


def open_knowledge(settings: Settings, start_sync: bool = True) -> KnowledgeStore:
    """DuckDB under home; with AIOP_KNOWLEDGE_URL, the local cache synced with the central PostgreSQL."""
    from controller.knowledge import factory

    origin = settings.planning.cluster_id
    if settings.knowledge_url:
        cache = factory.open_cache(settings.home, settings.knowledge_url, PlannerEmbedder(), origin=origin,
                                   maintenance_work_mem=settings.pg_maintenance_work_mem)
        if start_sync:
            cache.agent.start()
        return cache
    return factory.open_local(settings.home, PlannerEmbedder(), origin=origin)


def make_forge(settings: Settings, url: str, project: str, name: str) -> Forge:
    """The configured forge for one repo: local (PR records in the bare repo), GitHub or GitLab."""
    kind, fs = settings.git.forge, settings.git.forge_settings
    if kind == "local":
        return LocalForge(Path(url), name=name, reviewers=fs.reviewers + fs.team_reviewers)
    credentials = load_credentials(fs)
    project = project or fs.project or project_of(url)
    if kind == "github":
        from controller.adapters.github_forge import GitHubForge

        return GitHubForge(project, credentials, fs.api_url, fs.reviewers, fs.team_reviewers)
    if kind == "gitlab":
        from controller.adapters.gitlab_forge import GitLabForge

        return GitLabForge(project, credentials, fs.api_url, fs.reviewers, fs.team_reviewers)
    raise ValueError(f"AIOP_FORGE={kind!r}: expected local, github or gitlab")


def _git_auth(settings: Settings) -> dict[str, str]:
    if settings.git.forge == "local":
        return {}
    token = load_credentials(settings.git.forge_settings).token
    return git_auth_env("oauth2" if settings.git.forge == "gitlab" else "x-access-token", token)


def build_targets(settings: Settings, author: tuple[str, str]) -> tuple[TargetRepo, ...]:
    """The dedicated target repos of this cluster (AIOP_REPOS / AIOP_REPOS_FILE), besides the primary."""
    out = []
    for route in settings.git.routes:
        repo = ThreadRepo(route.url, settings.repos_dir / "work", author, name=route.name,
                          signing_key=settings.git.signing_key_file, auth_env=_git_auth(settings))
        out.append(TargetRepo(route.name, repo, make_forge(settings, route.url, route.project, route.name),
                              route.folder, frozenset(route.kinds), frozenset(route.contexts)))
    return tuple(out)


def build_instructions(settings: Settings, author: tuple[str, str]) -> TargetRepo | None:
    """The operator's own instructions repo, where rated-100 runbooks go (local by default; '-' = none)."""
    url = settings.git.instructions_repo_url
    if url == "-":
        return None
    url = url or ensure_bare_repo(settings.local_instructions_repo, REPOS_TEMPLATE / "instructions-repo", author)
    repo = ThreadRepo(url, settings.repos_dir / "work", author, name="instructions",
                      signing_key=settings.git.signing_key_file, auth_env=_git_auth(settings))
    return TargetRepo("instructions", repo, make_forge(settings, url, "", "instructions"), "instructions")


def build_services(settings: Settings, backend: Backend | None = None,
                   knowledge: KnowledgeStore | None = None) -> Services:
    kube = Kube(load_api_client(settings.kube.kubeconfig, settings.kube.context))
    author = (settings.git.author_name, settings.git.author_email)
    url = settings.git.repo_url or ensure_bare_repo(settings.local_repo, REPOS_TEMPLATE, author)
    repo = ThreadRepo(url, settings.repos_dir / "work", author, signing_key=settings.git.signing_key_file,
                      auth_env=_git_auth(settings))
    forge = make_forge(settings, url, settings.git.forge_settings.project, repo.name)
    store = knowledge if knowledge is not None else open_knowledge(settings)
    policy = PolicySettings(protected_namespaces=frozenset(settings.planning.protected_namespaces),
                            operator_namespace=settings.kube.operator_namespace)
    providers = make_providers(kube, settings)  # issue 14: CSI, Velero, AWS, Azure snapshots
    snapshots = Snapshots(kube, providers, settings.snapshots.timeout_s, settings.snapshots.grace_hours)
    planner = Planner(backend or default_backend(settings), kube, store, policy, settings.kube.field_manager,
                      allow_collaborators=settings.planning.allow_collaborators, cloud=cloud_access(settings),
                      snapshots=snapshots)
    engine = make_engine(kube, settings.sync, settings.kube.field_manager)
    backups = BackupStore(kube, settings.kube.operator_namespace)
    executor = Executor(kube, repo, forge, backups, store,
                        settings.planning.cluster_id, settings.kube.field_manager, settings.sync.verify_timeout_s,
                        sync_engine=engine, targets=build_targets(settings, author),
                        instructions=build_instructions(settings, author), sync_repo_url=settings.sync.repo_url,
                        snapshots=snapshots, data_restore=DataRestore(kube, providers, backups))
    alerts = Alerts(kube, settings.alerts.webhook_url, settings.alerts.events)
    namespace = settings.kube.operator_namespace
    return Services(kube=kube, planner=planner, executor=executor, alerts=alerts, locks=TargetLocks(kube, namespace),
                    thread_ids=ThreadIds(kube, namespace), history=History(repo),
                    verify_timeout_s=settings.sync.verify_timeout_s)
