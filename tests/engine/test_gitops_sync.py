"""Argo CD and Flux sync through the real controller, with the tools' status transitions played.

No Argo CD or Flux runs in the sandbox, so the test plays them: once the controller has created the
thread's objects, the test writes the status those tools would write (Synced/Healthy, Degraded,
Ready=False) and asserts that the thread follows. The Argo CD run also routes the Deployment to a
second target repo (AIOP_REPOS), so one thread touches two repos, and a rating of 100 opens the
runbook pull request on the instructions repo.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import git
import pytest
import yaml

from controller.adapters.forge import LocalForge
from controller.adapters.gitrepo import ensure_bare_repo
from controller.adapters.kube import Kube
from controller.adapters.sync.select import detect
from controller.api.constants import Phase
from tests.engine.conftest import ALICE, Loop, reconcile_now, start_loop
from tests.engine.test_loop import scale

pytestmark = pytest.mark.timeout(180)
SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "schemas"
ARGO = "argoproj.io/v1alpha1"
KUSTOMIZE = "kustomize.toolkit.fluxcd.io/v1"


def gitops_crds() -> list[dict[str, Any]]:
    out = []
    for path in [*SCHEMAS.glob("argocd/*.yaml"), *SCHEMAS.glob("flux/*.yaml")]:
        out += [d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == "CustomResourceDefinition"]
    return out


def start_gitops_loop(home: Path, env: dict[str, str]) -> Iterator[Loop]:
    namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in ("argocd", "flux-system")]
    yield from start_loop(home, {"AIOP_VERIFY_TIMEOUT": "20", "AIOP_SYNC_POLL_INTERVAL": "0.1", **env},
                          gitops_crds(), namespaces)


@pytest.fixture(scope="module")
def argo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    home = tmp_path_factory.mktemp("aiop-argo")
    addons = ensure_bare_repo(home / "remote" / "addons.git", None, ("t", "t@x"))
    routes = f'{{"Deployment": {{"url": "{addons}", "folder": "addons", "name": "addons"}}}}'
    yield from start_gitops_loop(home, {"AIOP_SYNC_ENGINE": "auto", "AIOP_REPOS": routes})


@pytest.fixture(scope="module")
def flux(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    yield from start_gitops_loop(tmp_path_factory.mktemp("aiop-flux"), {
        "AIOP_SYNC_ENGINE": "flux", "AIOP_FLUX_SERVICE_ACCOUNT": "aiop-applier",
        "AIOP_SYNC_REPO_URL": "https://git.example.com/platform/threads.git"})


def wait_for(kube: Kube, api_version: str, kind: str, name: str, namespace: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        obj = kube.get(api_version, kind, name, namespace)
        if obj is not None:
            return obj
        time.sleep(0.1)
    raise TimeoutError(f"{kind} {namespace}/{name} was not created")


def play_status(kube: Kube, api_version: str, kind: str, name: str, namespace: str, status: dict[str, Any]) -> None:
    """Write the status the tool would write (status subresource when the CRD has one)."""
    try:
        kube.merge_patch(api_version, kind, name, namespace, {"status": status}, subresource="status")
    except Exception:
        kube.merge_patch(api_version, kind, name, namespace, {"status": status})


def approve_and_wait_for_sync(loop: Loop, name: str, replicas: int) -> tuple[str, dict[str, Any]]:
    loop.backend.enqueue(scale("web", replicas))
    loop.client.say("shop", name, f"scale web to {replicas}", ALICE)
    assert loop.client.wait_settled("shop", name)["status"]["phase"] == Phase.AWAITING_APPROVAL
    loop.client.approve("shop", name, ALICE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        obj = loop.client.get("shop", name) or {}
        if (obj.get("status") or {}).get("phase") == Phase.SYNCING and obj["status"]["links"].get("commits"):
            return f"shop-{name}", obj
        time.sleep(0.1)
    raise TimeoutError("never reached Syncing")


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == kind)


def test_auto_detects_argocd_when_its_crds_are_served(argo: Loop) -> None:
    assert detect(argo.kube) == "argocd"
    assert argo.services.executor.sync_engine.name == "argocd"


def test_argocd_synced_and_healthy_then_pr_merge_closes_the_thread(argo: Loop) -> None:
    thread, obj = approve_and_wait_for_sync(argo, "argo-ok", 4)
    app = wait_for(argo.kube, ARGO, "Application", f"aiop-thread-{thread}-addons", "argocd")
    project = argo.kube.get(ARGO, "AppProject", f"aiop-thread-{thread}", "argocd")
    assert project is not None
    assert app["spec"]["source"]["targetRevision"] == f"thread/{thread}"
    assert app["spec"]["source"]["path"] == f"addons/{thread}/manifests"
    assert "ServerSideApply=true" in app["spec"]["syncPolicy"]["syncOptions"]
    assert project["spec"]["destinations"] == [{"server": "https://kubernetes.default.svc", "namespace": "shop"}]
    assert project["spec"]["namespaceResourceWhitelist"] == [{"group": "apps", "kind": "Deployment"}]
    assert project["spec"]["clusterResourceWhitelist"] == []
    assert argo.deployment("web")["spec"]["replicas"] == 2  # Argo CD applies, not the operator

    # The Deployment was routed to the addons repo, under its own folder, on the thread branch.
    addons = git.Repo(app["spec"]["source"]["repoURL"])
    tree = {b.path for b in addons.commit(f"thread/{thread}").tree.traverse() if b.type == "blob"}
    assert any(p.startswith(f"addons/{thread}/manifests/") for p in tree)

    play_status(argo.kube, ARGO, "Application", app["metadata"]["name"], "argocd",
                {"sync": {"status": "Synced", "revision": obj["status"]["links"]["commits"][-1]},
                 "health": {"status": "Healthy"}})
    obj = argo.client.wait_settled("shop", "argo-ok")
    assert obj["status"]["phase"] == Phase.AWAITING_RATING
    assert obj["status"]["links"]["argoApplication"] == f"argocd/Application/aiop-thread-{thread}-addons"
    assert "Synced, Healthy" in condition(obj, "Synced")["message"]

    argo.client.rate("shop", "argo-ok", ALICE, 100)
    obj = argo.client.wait_settled("shop", "argo-ok")
    assert obj["status"]["phase"] == Phase.COMPLETED
    prs = obj["status"]["links"]["pullRequests"]
    assert sorted(p["repo"] for p in prs) == ["addons", "instructions", "ops"]
    runbook_repo = git.Repo(argo.settings.local_instructions_repo)
    runbook = runbook_repo.git.show(f"thread/{thread}:instructions/{thread}/runbook.md")
    assert "## What was asked" in runbook and "rated 100/100" in runbook
    ops_pr = next(p for p in LocalForge(argo.settings.local_repo).list() if p.head == f"thread/{thread}")
    assert "rated **100/100**" in ops_pr.body and obj["status"]["revisions"][-1]["digest"] in ops_pr.body

    # Reviewers merge every pull request; the thread follows and removes its Argo CD objects.
    forges = {"ops": argo.settings.local_repo, "addons": Path(app["spec"]["source"]["repoURL"]),
              "instructions": argo.settings.local_instructions_repo}
    for pr in prs:
        LocalForge(forges[pr["repo"]]).merge(pr["number"])
    reconcile_now(argo.services, argo.client.get("shop", "argo-ok") or {})
    obj = argo.client.get("shop", "argo-ok") or {}
    assert {p["state"] for p in obj["status"]["links"]["pullRequests"]} == {"merged"}
    assert argo.kube.get(ARGO, "Application", app["metadata"]["name"], "argocd") is None
    assert argo.kube.get(ARGO, "AppProject", f"aiop-thread-{thread}", "argocd") is None


def test_argocd_degraded_fails_the_thread_and_restore_removes_the_application(argo: Loop) -> None:
    thread, _ = approve_and_wait_for_sync(argo, "argo-bad", 6)
    name = f"aiop-thread-{thread}-addons"
    wait_for(argo.kube, ARGO, "Application", name, "argocd")
    play_status(argo.kube, ARGO, "Application", name, "argocd",
                {"sync": {"status": "Synced"},
                 "health": {"status": "Degraded", "message": "Deployment web exceeded its progress deadline"}})
    obj = argo.client.wait_settled("shop", "argo-bad")
    assert obj["status"]["phase"] == Phase.FAILED
    assert "progress deadline" in condition(obj, "Synced")["message"]
    argo.client.restore("shop", "argo-bad", ALICE)
    obj = argo.client.wait_settled("shop", "argo-bad")
    assert obj["status"]["phase"] == Phase.RESTORED
    assert argo.kube.get(ARGO, "Application", name, "argocd") is None
    assert argo.kube.get(ARGO, "AppProject", f"aiop-thread-{thread}", "argocd") is None


def test_flux_ready_then_failed(flux: Loop) -> None:
    thread, obj = approve_and_wait_for_sync(flux, "flux-ok", 3)
    name = f"aiop-thread-{thread}"
    kustomization = wait_for(flux.kube, KUSTOMIZE, "Kustomization", name, "flux-system")
    source = flux.kube.get("source.toolkit.fluxcd.io/v1", "GitRepository", name, "flux-system")
    assert source is not None and source["spec"]["ref"]["branch"] == f"thread/{thread}"
    assert source["spec"]["url"] == "https://git.example.com/platform/threads.git"  # Flux needs http(s)/ssh
    assert kustomization["spec"]["path"] == f"./threads/{thread}/manifests"
    assert kustomization["spec"]["serviceAccountName"] == "aiop-applier"
    sha = obj["status"]["links"]["commits"][-1]
    play_status(flux.kube, KUSTOMIZE, "Kustomization", name, "flux-system",
                {"lastAppliedRevision": f"thread/{thread}@sha1:{sha}",
                 "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                                 "message": f"Applied revision: thread/{thread}@sha1:{sha}",
                                 "lastTransitionTime": "2026-01-01T00:00:00Z"}]})
    obj = flux.client.wait_settled("shop", "flux-ok")
    assert obj["status"]["phase"] == Phase.AWAITING_RATING
    assert obj["status"]["links"]["argoApplication"] == f"flux-system/Kustomization/{name}"
    # The thread holds web until it is rated or restored: its completion lets the next thread run.
    flux.client.rate("shop", "flux-ok", ALICE, 100)
    assert flux.client.wait_settled("shop", "flux-ok")["status"]["phase"] == Phase.COMPLETED

    thread, _ = approve_and_wait_for_sync(flux, "flux-bad", 7)
    name = f"aiop-thread-{thread}"
    wait_for(flux.kube, KUSTOMIZE, "Kustomization", name, "flux-system")
    play_status(flux.kube, KUSTOMIZE, "Kustomization", name, "flux-system",
                {"conditions": [{"type": "Ready", "status": "False", "reason": "HealthCheckFailed",
                                 "message": "timeout waiting for: [Deployment/shop/web status: 'InProgress']",
                                 "lastTransitionTime": "2026-01-01T00:00:00Z"}]})
    obj = flux.client.wait_settled("shop", "flux-bad")
    assert obj["status"]["phase"] == Phase.FAILED
    assert "HealthCheckFailed" in condition(obj, "Synced")["message"]
    flux.client.restore("shop", "flux-bad", ALICE)
    assert flux.client.wait_settled("shop", "flux-bad")["status"]["phase"] == Phase.RESTORED
    assert flux.kube.get(KUSTOMIZE, "Kustomization", name, "flux-system") is None
