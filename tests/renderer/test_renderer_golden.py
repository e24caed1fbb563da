"""Golden thread folders: what a reviewer finds in git for four representative plans.

The folders are built end to end from catalog calls (validate → render → diff) into
`render_thread_folder`, and compared byte for byte with `golden/<case>/`. After an intended change,
regenerate with `AIOP_UPDATE_GOLDEN=1 pytest tests/renderer` and review the diff like any other.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from controller.catalog.preview import planned_action
from controller.catalog.registry import validate_call
from controller.planning.memory_cluster import MemoryCluster
from controller.planning.types import ActionCall
from renderer.thread_folder import ThreadRender, manifest_stem, render_thread_folder

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("AIOP_UPDATE_GOLDEN") == "1"

SHOP: list[dict[str, Any]] = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "uid": "u-ns"}},
    {"apiVersion": "apps/v1", "kind": "Deployment",
     "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}, "uid": "u-web",
                  "resourceVersion": "981", "generation": 4, "creationTimestamp": "2025-01-01T00:00:00Z",
                  "managedFields": [{"manager": "kubectl"}]},
     "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}},
                           "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                                                    "ports": [{"containerPort": 8080}]}]}}},
     "status": {"replicas": 2}},
]

CASES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "scale": ("Please scale the web deployment in shop to 5 replicas",
              [{"action": "scale", "params": {"name": "web", "namespace": "shop", "replicas": 5}}]),
    "namespace-quota": ("Create a namespace called analytics with label team=data and a quota of 10 pods",
                        [{"action": "create-namespace", "params": {"name": "analytics", "labels": {"team": "data"},
                                                                   "quota": {"pods": 10}}}]),
    "s3-bucket": ("Create an S3 bucket named 'backup-storage' in us-west-1 with versioning enabled",
                  [{"action": "create-s3-bucket", "params": {"name": "backup-storage", "namespace": "shop",
                                                             "region": "us-west-1", "versioning": True}}]),
    "netpol": ("Deny all ingress in shop, but let the ingress namespace reach web on 8080",
               [{"action": "netpol-deny-ingress", "params": {"namespace": "shop"}},
                {"action": "netpol-allow-ingress", "params": {"namespace": "shop", "to_app": "web",
                                                              "from_namespace": "ingress", "port": 8080}}]),
}


def build(case: str) -> ThreadRender:
    request, calls = CASES[case]
    cluster = MemoryCluster(SHOP)
    actions, manifests, backups, created = [], [], [], []
    for n, call in enumerate(calls, start=1):
        spec, params = validate_call(ActionCall(**call))
        step, rendered = planned_action(str(n), spec, params, cluster, now="2025-06-01T12:00:00Z")
        actions.append({
            "id": step.id, "action": step.action, "title": step.title, "params": step.params, "risk": step.risk,
            "mutating": step.mutating, "permissions": [p.describe() for p in step.permissions],
            "backup": step.backup, "restore": step.restore, "verify": step.verify, "diff": step.diff,
            "notes": rendered.notes,
        })
        for m in rendered.manifests:
            manifests.append((manifest_stem(len(manifests) + 1, m), m))
        for r in spec.backup_targets(params, cluster):
            live = cluster.get(r.api_version, r.kind, r.name, r.namespace or None)
            assert live is not None
            backups.append(live)
        created += [r.wire() for r in spec.creates(params, cluster)]
    return ThreadRender(
        thread_id=f"t-{case}", revision=1, digest="sha256:" + "ab" * 32, request=[request],
        summary=f"{len(actions)} step(s): " + "; ".join(a["title"] for a in actions),
        actions=actions, manifests=manifests, backups=backups, created=created,
        requester="alice@example.com", approver="alice@example.com", created_at="2025-06-01T12:00:00Z",
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_thread_folder_matches_golden(case: str) -> None:
    """The files committed for this plan are exactly the reviewed ones (same input, same bytes)."""
    files = render_thread_folder(build(case))
    root = GOLDEN / case
    if UPDATE:
        for path in sorted(root.rglob("*"), reverse=True) if root.exists() else []:
            path.unlink() if path.is_file() else path.rmdir()
        for rel, content in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(content, encoding="utf-8")
    expected = {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in root.rglob("*") if p.is_file()}
    assert sorted(files) == sorted(expected)
    for rel, content in files.items():
        assert content == expected[rel], f"{case}: {rel} differs from the golden file"


def test_thread_folder_is_deterministic() -> None:
    """Rendering twice gives identical bytes: a commit for a plan digest is made once."""
    for case in CASES:
        assert render_thread_folder(build(case)) == render_thread_folder(build(case))
