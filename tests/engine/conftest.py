"""A sandbox API server with the real controller (kopf) and a scripted backend, for loop tests.

The Kubernetes API is the sandbox (a faithful fake speaking the real REST protocol, see
sandbox/); the AI backend is scripted at the `Backend` seam. Git, the local forge, kopf and the
kubernetes client are real.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from controller.adapters.kube import Kube, load_api_client
from controller.api.types import Identity
from controller.client import ConversationClient
from controller.engine.errors import Transient
from controller.engine.reconcile import Services, reconcile
from controller.engine.runner import start_operator_thread
from controller.engine.services import build_services
from controller.knowledge.base import KnowledgeStore
from controller.knowledge.memory import MemoryKnowledgeStore
from controller.planning.scripted import ScriptedBackend
from controller.settings import Settings, load_settings
from controller.tools import bootstrap
from sandbox.server import SandboxServer

ALICE = Identity(user="alice@example.com", groups=["devs"])
CAROL = Identity(user="carol@example.com", groups=["devs"])
DAVE = Identity(user="dave@example.com", groups=["devs"])  # may edit conversations, may not approve


@dataclass
class Loop:
    server: SandboxServer
    kube: Kube
    settings: Settings
    backend: ScriptedBackend
    knowledge: KnowledgeStore
    services: Services
    client: ConversationClient
    operator: tuple[threading.Thread, threading.Event] | None = None

    def restart_controller(self) -> Services:
        """Stop the controller and start a new one (new services, as a new process would build them)."""
        if self.operator is not None:
            thread, stop = self.operator
            stop.set()
            thread.join(timeout=20)
        self.services = build_services(self.settings, backend=self.backend, knowledge=self.knowledge)
        self.operator = start_operator_thread(self.settings, self.services)
        return self.services

    def deployment(self, name: str, namespace: str = "shop") -> dict[str, Any]:
        obj = self.kube.get("apps/v1", "Deployment", name, namespace)
        assert obj is not None
        return obj


def reconcile_now(services: Services, body: dict[str, Any], timeout: float = 30.0) -> None:
    """Reconcile a thread now, as its timer would; while the operator's own reconcile of it runs (it
    answers "busy"), or when its status write lost a race (kopf's own patch of the object landed between
    the read and the write: a 409, transient), try again shortly, as the timer's next tick would."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reconcile(services, body)
            return
        except Transient:  # ThreadBusy included
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def shop_objects() -> list[dict[str, Any]]:
    editor_rules = [{"apiGroups": ["", "apps", "autoscaling", "policy", "networking.k8s.io"],
                     "resources": ["*"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}]
    viewer_rules = [{"apiGroups": ["", "apps"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]

    def role(name: str, rules: list[dict[str, Any]], user: str) -> list[dict[str, Any]]:
        return [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                 "metadata": {"name": name, "namespace": "shop"}, "rules": rules},
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                 "metadata": {"name": name, "namespace": "shop"},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                 "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}]}]

    demo = [o for o in bootstrap.demo_objects("shop") if o["kind"] in {"Namespace", "Deployment"}]
    return [*demo, *role("editor", editor_rules, ALICE.user), *role("viewer", viewer_rules, CAROL.user),
            *bootstrap.conversation_rights(ALICE.user, "shop"), *bootstrap.conversation_rights(CAROL.user, "shop"),
            *_without_approve(bootstrap.conversation_rights(DAVE.user, "shop"))]


def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    """A plain Deployment in shop, for tests that need one object per thread."""
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "shop", "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": "nginx:1.27"}]}}}}


def _without_approve(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for obj in objects:
        for rule in obj.get("rules", []):
            rule["verbs"] = [v for v in rule["verbs"] if v != "approve"]
    return objects


def start_loop(home: Path, env: dict[str, str] | None = None, extra_crds: list[dict[str, Any]] | None = None,
               extra_objects: list[dict[str, Any]] | None = None,
               knowledge: KnowledgeStore | None = None) -> Iterator[Loop]:
    """The sandbox with the shop, the chart's admission policy and the real controller (scripted backend).

    The knowledge store is an in-memory one unless the test passes a real one."""
    with SandboxServer(port=0, home=home) as server:
        kube = Kube(load_api_client(str(server.kubeconfig_path)))
        bootstrap.install_crds(kube, extra_crds)
        bootstrap.install_admission(kube, server)
        for obj in [*shop_objects(), *(extra_objects or [])]:
            bootstrap.create_object(kube, obj)
        settings = load_settings({"AIOP_HOME": str(home), "AIOP_VERIFY_TIMEOUT": "10", **(env or {})}).with_kubeconfig(
            str(server.kubeconfig_path))
        backend = ScriptedBackend()
        knowledge = knowledge if knowledge is not None else MemoryKnowledgeStore()
        services = build_services(settings, backend=backend, knowledge=knowledge)
        loop = Loop(server, kube, settings, backend, knowledge, services, ConversationClient(kube),
                    start_operator_thread(settings, services))
        try:
            yield loop
        finally:
            if loop.operator is not None:
                loop.operator[1].set()
                loop.operator[0].join(timeout=10)


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    yield from start_loop(tmp_path_factory.mktemp("aiop-home"))
