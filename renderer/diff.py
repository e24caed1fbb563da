"""The preview a person approves: a unified diff of an object before and after the change.

Why strip server-set fields: uid, resourceVersion, managedFields and status change on every read and
say nothing about the change; leaving them in would make every plan look different from the last and
bury the one line that matters (e.g. `replicas: 2` -> `replicas: 5`).

Why `apply_preview`: the catalog renders *partial* manifests for server-side apply. To show what
the object will look like, the partial manifest is merged onto the live object the way the API
server merges it for the common cases: mappings merge, lists of containers/ports/env merge by their
key (an item `{name: X, $patch: delete}` removes X), other lists are replaced, and a `None` value
removes a key. It is a preview, not the server's algorithm; the sync step is the authority.
"""

from __future__ import annotations

import copy
import difflib
from typing import Any

from renderer.yaml_out import dump_yaml

SERVER_SET_METADATA: tuple[str, ...] = (
    "uid", "resourceVersion", "generation", "managedFields", "creationTimestamp", "selfLink",
)
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# Lists that the API server merges by a key (strategic merge / server-side apply list-map keys).
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
}


def strip_server_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy without server-set metadata, the last-applied annotation and status."""
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for key in SERVER_SET_METADATA:
            meta.pop(key, None)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            annotations.pop(LAST_APPLIED, None)
            if not annotations:
                meta.pop("annotations")
    return out


def _merge_list(key: str, live: list[Any], patch: list[Any]) -> list[Any]:
    merge_key = MERGE_KEYS.get(key)
    if key == "ports" and patch and isinstance(patch[0], dict) and "port" in patch[0]:
        merge_key = "port"  # Service ports
    if merge_key is None or not all(isinstance(i, dict) and merge_key in i for i in [*live, *patch]):
        return copy.deepcopy(patch)
    out = [copy.deepcopy(i) for i in live]
    for item in patch:
        if item.get("$patch") == "delete":  # the strategic-merge directive: remove the item with this key
            out = [i for i in out if i[merge_key] != item[merge_key]]
            continue
        for n, existing in enumerate(out):
            if existing[merge_key] == item[merge_key]:
                out[n] = _merge(existing, item)
                break
        else:
            out.append(copy.deepcopy(item))
    return out


def _merge(live: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(live)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        elif isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = _merge_list(key, out[key], value)
        else:
            out[key] = _drop_nones(value)
    return out


def _drop_nones(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nones(v) for v in value]
    return value


def apply_preview(live: dict[str, Any] | None, partial: dict[str, Any]) -> dict[str, Any]:
    """What `live` looks like once `partial` is applied (`live` None: the new object itself)."""
    if live is None:
        return _drop_nones(copy.deepcopy(partial))  # type: ignore[no-any-return]
    return _merge(strip_server_fields(live), partial)


def unified_diff(before: dict[str, Any] | None, after: dict[str, Any], name: str) -> str:
    """A unified diff of the YAML forms; `before` None means the object is new. Empty: no change."""
    old = dump_yaml(strip_server_fields(before)).splitlines(keepends=True) if before is not None else []
    new = dump_yaml(strip_server_fields(after)).splitlines(keepends=True)
    lines = difflib.unified_diff(
        old, new,
        fromfile="/dev/null" if before is None else f"a/{name}",
        tofile=f"b/{name}",
    )
    return "".join(lines)


def deletion_diff(before: dict[str, Any], name: str) -> str:
    """The diff of deleting `before`."""
    old = dump_yaml(strip_server_fields(before)).splitlines(keepends=True)
    return "".join(difflib.unified_diff(old, [], fromfile=f"a/{name}", tofile="/dev/null"))
