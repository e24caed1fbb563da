"""Wiring: build the engine's services from the settings (the one place that knows every adapter)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from controller.adapters.backups import BackupStore
from controller.adapters.forge import LocalForge
from controller.adapters.gitrepo import ThreadRepo, ensure_bare_repo
from controller.adapters.kube import Kube, load_api_client
from controller.adapters.telemetry import Alerts
from controller.engine.execution import Executor
from controller.engine.planning import Planner
from controller.engine.reconcile import Services
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
        cache = factory.open_cache(settings.home, settings.knowledge_url, PlannerEmbedder(), origin=origin)
        if start_sync:
            cache.agent.start()
        return cache
    return factory.open_local(settings.home, PlannerEmbedder(), origin=origin)


def build_services(settings: Settings, backend: Backend | None = None,
                   knowledge: KnowledgeStore | None = None) -> Services:
    kube = Kube(load_api_client(settings.kube.kubeconfig, settings.kube.context))
    author = (settings.git.author_name, settings.git.author_email)
    url = settings.git.repo_url or ensure_bare_repo(settings.local_repo, REPOS_TEMPLATE, author)
    repo = ThreadRepo(url, settings.repos_dir / "work", author)
    forge = LocalForge(Path(url))
    store = knowledge if knowledge is not None else open_knowledge(settings)
    policy = PolicySettings(protected_namespaces=frozenset(settings.planning.protected_namespaces),
                            operator_namespace=settings.kube.operator_namespace)
    planner = Planner(backend or default_backend(settings), kube, store, policy, settings.kube.field_manager)
    executor = Executor(kube, repo, forge, BackupStore(kube, settings.kube.operator_namespace), store,
                        settings.planning.cluster_id, settings.kube.field_manager, settings.sync.verify_timeout_s)
    alerts = Alerts(kube, settings.alerts.webhook_url, settings.alerts.events)
    return Services(kube=kube, planner=planner, executor=executor, alerts=alerts)
