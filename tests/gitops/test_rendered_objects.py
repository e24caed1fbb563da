"""What the controller creates at runtime for Argo CD and Flux validates against the real CRD schemas.

The same strict check as the committed manifests (`problems`: schema errors plus unknown keys), on
objects rendered by `renderer.gitops` for a plan touching two namespaces, a cluster-scoped kind and
two repos; and the AppProject is cut to the plan.
"""

from __future__ import annotations

from typing import Any

import pytest

from renderer.gitops import GitopsThread, GitSource, object_name, render_argocd, render_flux
from tests.gitops.test_manifests import problems

DIGEST = "sha256:" + "b" * 64
MANIFESTS: list[dict[str, Any]] = [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "team-a"}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "team-b"}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-b"}},
]
THREAD = GitopsThread(
    thread_id="3f9c2a", digest=DIGEST, revision=2, summary="scale web; add cfg",
    sources=[GitSource("", "https://git.example.com/ops.git", "thread/3f9c2a", "threads/3f9c2a/manifests"),
             GitSource("addons", "https://git.example.com/addons.git", "thread/3f9c2a", "addons/3f9c2a/manifests")],
    manifests=MANIFESTS, service_account="aiop-applier", secret_ref="aiop-threads-repo")
RENDERED = render_argocd(THREAD) + render_flux(THREAD)


@pytest.mark.parametrize("obj", RENDERED, ids=[f"{o['kind']}/{o['metadata']['name']}" for o in RENDERED])
def test_rendered_object_matches_real_crd_schema(obj: dict[str, Any]) -> None:
    assert problems(obj) == []


def test_appproject_allows_only_what_the_plan_needs() -> None:
    project = RENDERED[0]
    assert project["kind"] == "AppProject" and project["metadata"]["name"] == "aiop-thread-3f9c2a"
    assert [d["namespace"] for d in project["spec"]["destinations"]] == ["team-a", "team-b"]
    assert project["spec"]["namespaceResourceWhitelist"] == [{"group": "", "kind": "ConfigMap"},
                                                             {"group": "apps", "kind": "Deployment"}]
    assert project["spec"]["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]
    assert project["spec"]["sourceRepos"] == ["https://git.example.com/addons.git", "https://git.example.com/ops.git"]


def test_one_application_and_one_flux_pair_per_repo() -> None:
    apps = [o for o in RENDERED if o["kind"] == "Application"]
    assert [a["metadata"]["name"] for a in apps] == ["aiop-thread-3f9c2a", "aiop-thread-3f9c2a-addons"]
    assert all("ServerSideApply=true" in a["spec"]["syncPolicy"]["syncOptions"] for a in apps)
    assert all("finalizers" not in a["metadata"] for a in apps)  # deleting never cascades to the objects
    assert "namespace" not in apps[0]["spec"]["destination"]  # two namespaces: per-object namespaces
    kustomizations = [o for o in RENDERED if o["kind"] == "Kustomization"]
    assert [k["spec"]["path"] for k in kustomizations] == ["./threads/3f9c2a/manifests", "./addons/3f9c2a/manifests"]
    assert all(k["spec"]["serviceAccountName"] == "aiop-applier" and k["spec"]["prune"] for k in kustomizations)


def test_names_fit_kubernetes_limits() -> None:
    assert len(object_name("x" * 40, "a-very-long-repository-name-indeed")) <= 63
