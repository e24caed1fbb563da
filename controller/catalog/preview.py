"""From a validated action call to what the person approves: a `PlannedAction` with its diff.

Why here and not in the planner: every backend's calls go through the same path, so the title,
risk, permissions, backup/restore/verify texts and the diff shown for one action are the same
whichever AI chose it. The diff merges the partial manifest onto the live object
(`renderer.diff.apply_preview`) so the person sees the whole object change, not only the patch.
"""

from __future__ import annotations

from typing import Any

from controller.api.types import PlannedAction
from controller.catalog.base import (
    NOW_PLACEHOLDER,
    ActionSpec,
    Rendered,
    describe_ref,
    live_object,
    manifest_ref,
)
from controller.catalog.params import Params
from controller.planning.types import ClusterReader
from renderer.diff import apply_preview, deletion_diff, unified_diff


def _path(kind: str, namespace: str, name: str) -> str:
    return "/".join(p for p in (kind.lower(), namespace, name) if p) + ".yaml"


def preview_diff(rendered: Rendered, cluster: ClusterReader) -> str:
    """The unified diff of every object the rendered step applies or deletes."""
    parts = []
    for manifest in rendered.manifests:
        r = manifest_ref(manifest)
        live = live_object(cluster, r)
        parts.append(unified_diff(live, apply_preview(live, manifest), _path(r.kind, r.namespace, r.name)))
    for r in rendered.deletes:
        live = live_object(cluster, r)
        if live is not None:
            parts.append(deletion_diff(live, _path(r.kind, r.namespace, r.name)))
    return "".join(parts)


def planned_action(action_id: str, spec: ActionSpec[Any], params: Params, cluster: ClusterReader,
                   now: str = NOW_PLACEHOLDER) -> tuple[PlannedAction, Rendered]:
    """The plan step shown for approval, and its rendering (empty when there is nothing to do)."""
    rendered = spec.render(params, cluster, now=now) if spec.executable else Rendered(
        notes=[f"{spec.name} is never executed."])
    targets = spec.targets(params, cluster)
    step = PlannedAction(
        id=action_id,
        action=spec.name,
        title=spec.title(params, cluster),
        params=params.model_dump(mode="json", exclude_defaults=False),
        target=targets[0],
        risk=spec.risk_of(params, cluster),
        mutating=spec.mutating,
        permissions=spec.permissions(params, cluster),
        backup=spec.backup(params, cluster),
        restore=spec.restore(params, cluster),
        verify=spec.verify(params, cluster),
        diff=preview_diff(rendered, cluster),
    )
    return step, rendered


def step_summary(step: PlannedAction) -> str:
    """One line: `1. Scale Deployment shop/web from 2 to 5 replicas (risk low)`."""
    return f"{step.id}. {step.title} (risk {step.risk}; target {describe_ref(step.target)})"
