"""The Argo CD and Flux objects that sync one thread: pure data in, manifests out.

Why a dedicated AppProject per thread: Argo CD applies with its own (broad) service account, so the
project is what keeps a thread branch inside its approved plan. It is cut from the plan's manifests:
the destinations are the namespaces they live in, the whitelists are exactly their kinds, and a
cluster-scoped kind appears only if the plan creates one. A later commit on the branch that strays
outside the plan is refused by Argo CD, not applied.

Why one Application (or GitRepository + Kustomization) per repo: a thread may touch several target
repos (addons, scripts...), each with its own thread branch and folder; each is synced and reported
on its own, and the thread is synced when all of them are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from renderer.manifests import render_manifest

LABEL_THREAD = "aiop.dev/thread"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
ANNOTATION_DIGEST = "aiop.dev/plan-digest"


@dataclass(frozen=True)
class GitSource:
    """One repo's thread branch and folder."""

    name: str  # the repo's short name ("" or the primary's name: no suffix on object names)
    repo_url: str
    branch: str
    path: str  # <folder>/<thread-id>/manifests


@dataclass(frozen=True)
class GitopsThread:
    thread_id: str
    digest: str
    revision: int
    summary: str
    sources: Sequence[GitSource]
    manifests: Sequence[Mapping[str, Any]] = ()
    namespace: str = "argocd"  # where the Argo CD / Flux objects live
    server: str = "https://kubernetes.default.svc"
    service_account: str = ""
    secret_ref: str = ""


def object_name(thread_id: str, source: str = "") -> str:
    """`aiop-thread-<id>` for the primary repo, `aiop-thread-<id>-<repo>` for the others (<= 63)."""
    base = f"aiop-thread-{thread_id}" + (f"-{source}" if source else "")
    return base[:63].rstrip("-").lower()


def _meta(thread: GitopsThread) -> dict[str, Any]:
    return {"namespace": thread.namespace,
            "labels": {LABEL_THREAD: thread.thread_id, LABEL_MANAGED_BY: "ai-operator"},
            "annotations": {ANNOTATION_DIGEST: thread.digest}}


def plan_scope(manifests: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[dict[str, str]], list[dict[str, str]]]:
    """(namespaces, namespaced kinds, cluster-scoped kinds) that the manifests need, sorted."""
    namespaces: set[str] = set()
    namespaced: set[tuple[str, str]] = set()
    cluster: set[tuple[str, str]] = set()
    for mf in manifests:
        group = str(mf.get("apiVersion", "")).rpartition("/")[0]
        kind = str(mf.get("kind", ""))
        ns = str((mf.get("metadata") or {}).get("namespace") or "")
        if ns:
            namespaces.add(ns)
            namespaced.add((group, kind))
        else:
            cluster.add((group, kind))
            if kind == "Namespace":
                namespaces.add(str((mf.get("metadata") or {}).get("name", "")))
    as_list = [{"group": g, "kind": k} for g, k in sorted(namespaced)]
    return sorted(namespaces), as_list, [{"group": g, "kind": k} for g, k in sorted(cluster)]


def render_argocd(thread: GitopsThread) -> list[dict[str, Any]]:
    """The thread's AppProject, then one Application per source."""
    namespaces, namespaced, cluster = plan_scope(thread.manifests)
    project = object_name(thread.thread_id)
    out = [render_manifest(
        "argocd-appproject", name=project, **_meta(thread),
        description=f"Thread {thread.thread_id}, plan revision {thread.revision}: {thread.summary}"[:250],
        source_repos=sorted({s.repo_url for s in thread.sources}),
        destinations=[{"server": thread.server, "namespace": ns} for ns in namespaces],
        cluster_kinds=cluster, namespaced_kinds=namespaced)]
    for source in thread.sources:
        out.append(render_manifest(
            "argocd-application", name=object_name(thread.thread_id, source.name), **_meta(thread),
            project=project, repo_url=source.repo_url, branch=source.branch, path=source.path,
            server=thread.server, destination_namespace=namespaces[0] if len(namespaces) == 1 else ""))
    return out


def render_flux(thread: GitopsThread) -> list[dict[str, Any]]:
    """One GitRepository + Kustomization pair per source."""
    out = []
    for source in thread.sources:
        name = object_name(thread.thread_id, source.name)
        out.append(render_manifest("flux-gitrepository", name=name, **_meta(thread), repo_url=source.repo_url,
                                   branch=source.branch, secret_ref=thread.secret_ref))
        out.append(render_manifest("flux-kustomization", name=name, **_meta(thread), source_name=name,
                                   path="./" + source.path.lstrip("./"), service_account=thread.service_account))
    return out
