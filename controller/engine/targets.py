"""The objects a plan touches, and the state it was made against (pure).

Why: "approve what will run, run what was approved" needs two facts recorded with every plan — which
objects it changes (for locks) and what those objects looked like in the fields it changes (for
staleness). A plan made against `replicas: 2` must not silently apply over `replicas: 5`: at
execution the fingerprints are taken again and any difference re-proposes the plan.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from controller.api.constants import LABEL_THREAD
from controller.api.types import ObjectRef, PlanRevision, TargetState
from controller.catalog.base import expectation, manifest_ref
from controller.kubevalues import KEYED_LISTS, fingerprint, scalar_equal

Reader = Callable[[ObjectRef], dict[str, Any] | None]


def change_shape(manifest: dict[str, Any]) -> dict[str, Any]:
    """The fields a manifest changes, without the thread label every plan stamps on its objects."""
    shape = expectation(manifest)
    labels = (shape.get("metadata") or {}).get("labels")
    if isinstance(labels, dict) and LABEL_THREAD in labels:
        labels = {k: v for k, v in labels.items() if k != LABEL_THREAD}
        shape["metadata"] = {**shape["metadata"], "labels": labels}
        if not labels:
            del shape["metadata"]["labels"]
        if not shape["metadata"]:
            del shape["metadata"]
    return shape


def target_refs(revision: PlanRevision) -> list[ObjectRef]:
    """Every object the revision writes, deletes or (for deferred steps) will render at execution."""
    seen: dict[str, ObjectRef] = {}
    for manifest in revision.manifests:
        ref = manifest_ref(manifest)
        seen.setdefault(ref.key(), ref)
    for ref in revision.deletes:
        seen.setdefault(ref.key(), ref)
    for action in revision.actions:
        if action.mutating and action.target.name:
            seen.setdefault(action.target.key(), action.target)
    return list(seen.values())


def observe(manifests: list[dict[str, Any]], refs: list[ObjectRef], read: Reader,
            takes_over: dict[str, list[str]] | None = None) -> list[TargetState]:
    """The state of each target now: its fields the manifests change, or its whole spec otherwise."""
    shapes: dict[str, dict[str, Any]] = {}
    for manifest in manifests:
        key = manifest_ref(manifest).key()
        shapes[key] = merge_objects(shapes[key], change_shape(manifest)) if key in shapes else change_shape(manifest)
    out = []
    for ref in refs:
        live = read(ref)
        out.append(TargetState(ref=ref, fingerprint=fingerprint(live, shapes.get(ref.key())),
                               takes_over=(takes_over or {}).get(ref.key(), [])))
    return out


def changed_since(recorded: list[TargetState], now: list[TargetState]) -> list[str]:
    """A sentence per target whose state differs from when the plan was made."""
    before = {t.ref.key(): t for t in recorded}
    problems = []
    for state in now:
        old = before.get(state.ref.key())
        if old is None or old.fingerprint == state.fingerprint:
            continue
        what = f"{state.ref.kind} {state.ref.namespace + '/' if state.ref.namespace else ''}{state.ref.name}"
        if old.fingerprint == "absent":
            problems.append(f"{what} was created by someone else since the plan was made")
        elif state.fingerprint == "absent":
            problems.append(f"{what} was deleted since the plan was made")
        else:
            problems.append(f"{what} was changed since the plan was made")
    return problems


def lock_keys(revision: PlanRevision) -> list[str]:
    return sorted({t.ref.key() for t in revision.targets} | {r.key() for r in target_refs(revision)})


def merge_objects(base: Any, over: Any, field: str = "") -> Any:
    """`over` merged into `base`: maps deeply, named lists (containers, env, ports...) by key.

    Why: two steps of one plan may change one object (scale web, then raise its memory limit). Under
    server-side apply one manager's second apply would drop the fields of its first, so the
    executor applies one merged manifest per object, in the order of the plan.
    """
    if isinstance(base, dict) and isinstance(over, dict):
        out = copy.deepcopy(base)
        for key, value in over.items():
            out[key] = merge_objects(out[key], value, key) if key in out else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(over, list) and field in KEYED_LISTS:
        keys = KEYED_LISTS[field]
        merged = copy.deepcopy(base)
        for item in over:
            key = next((k for k in keys if isinstance(item, dict) and k in item), None)
            index = next((i for i, b in enumerate(merged) if key and isinstance(b, dict)
                          and scalar_equal(b.get(key), item[key])), None)
            if index is None:
                merged.append(copy.deepcopy(item))
            else:
                merged[index] = merge_objects(merged[index], item)
        return merged
    return copy.deepcopy(over)


def merge_by_object(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One manifest per object, in the order each object first appears, later steps merged in."""
    order: list[str] = []
    merged: dict[str, dict[str, Any]] = {}
    for manifest in manifests:
        key = manifest_ref(manifest).key()
        if key in merged:
            merged[key] = merge_objects(merged[key], manifest)
        else:
            order.append(key)
            merged[key] = copy.deepcopy(manifest)
    return [merged[k] for k in order]
