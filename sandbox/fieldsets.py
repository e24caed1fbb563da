"""Field ownership for server-side apply: FieldsV1 sets, and removing what a manager stopped applying.

Why: the operator's "direct" sync mode and its restore step re-apply manifests with server-side
apply. The property that matters is that a field a manager applied before and no longer applies
disappears (a label dropped from a manifest is removed from the object), while fields other
appliers own stay. This module computes the FieldsV1 set of an applied configuration
(`f:<field>`, `k:{"name":"web"}` for keyed list items, `v:"x"` for set items, lists without a
merge key are atomic) and removes the difference of two sets from an object, and (below) works with
the leaf paths that ownership and conflicts are counted in (`sandbox.ownership`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sandbox.patching import PRIMITIVE_SET

FieldSet = dict[str, Any]
ListKey = Callable[[str], "str | None"]  # dotted path -> merge key, PRIMITIVE_SET, or None (atomic)

IDENTITY_METADATA = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    }
)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _item_key(key_field: str, item: dict[str, Any]) -> str:
    return "k:" + json.dumps({key_field: item.get(key_field)}, separators=(",", ":"))


def fieldset(obj: Any, list_key: ListKey, path: str = "") -> FieldSet:
    """The FieldsV1 set of everything an applied configuration sets."""
    out: FieldSet = {}
    if not isinstance(obj, dict):
        return out
    for key, value in obj.items():
        if not path and key in ("apiVersion", "kind"):
            continue
        if path == "metadata" and key in IDENTITY_METADATA:
            continue
        sub_path = _join(path, key)
        if isinstance(value, dict):
            fields = fieldset(value, list_key, sub_path)
            if not fields and sub_path == "metadata":
                continue  # name and namespace only: identity, owned by no one
            out[f"f:{key}"] = fields
        elif isinstance(value, list):
            out[f"f:{key}"] = _list_fields(value, list_key, sub_path)
        else:
            out[f"f:{key}"] = {}
    return out


def _list_fields(items: list[Any], list_key: ListKey, path: str) -> FieldSet:
    key_field = list_key(path)
    if key_field is None:
        return {}
    out: FieldSet = {}
    for item in items:
        if key_field == PRIMITIVE_SET or not isinstance(item, dict):
            out["v:" + json.dumps(item, separators=(",", ":"))] = {}
        else:
            entry = fieldset(item, list_key, path)
            entry["."] = {}
            out[_item_key(key_field, item)] = entry
    return out


WHOLE = "whole"


def subtract(previous: FieldSet, current: FieldSet) -> FieldSet:
    """What `previous` owns that `current` does not: WHOLE where a whole subtree was dropped."""
    out: FieldSet = {}
    for key, sub in previous.items():
        if key == ".":
            continue
        if key not in current:
            out[key] = WHOLE
        elif isinstance(sub, dict) and sub:
            nested = subtract(sub, current[key])
            if nested:
                out[key] = nested
    return out


def without(removal: FieldSet, kept: FieldSet) -> FieldSet:
    """Drop from a removal set the fields another manager still owns."""
    out: FieldSet = {}
    for key, sub in removal.items():
        if key not in kept:
            out[key] = sub
        elif sub != WHOLE and isinstance(kept[key], dict):
            nested = without(sub, kept[key])
            if nested:
                out[key] = nested
    return out


def union(sets: list[FieldSet]) -> FieldSet:
    out: FieldSet = {}
    for fs in sets:
        for key, sub in fs.items():
            out[key] = union([out.get(key, {}), sub]) if isinstance(sub, dict) else sub
    return out


def remove_fields(obj: Any, removal: FieldSet) -> None:
    """Remove the fields of a removal set from an object (mutates it)."""
    if isinstance(obj, dict):
        for key, sub in removal.items():
            if not key.startswith("f:"):
                continue
            name = key[2:]
            if name not in obj:
                continue
            if sub == WHOLE:
                del obj[name]
            else:
                remove_fields(obj[name], sub)
    elif isinstance(obj, list):
        for key, sub in removal.items():
            if key.startswith("v:"):
                value = json.loads(key[2:])
                while value in obj:
                    obj.remove(value)
            elif key.startswith("k:"):
                wanted = json.loads(key[2:])
                for item in list(obj):
                    if isinstance(item, dict) and all(item.get(k) == v for k, v in wanted.items()):
                        if sub == WHOLE:
                            obj.remove(item)
                        else:
                            remove_fields(item, sub)


# -- leaf paths: the unit of ownership and of conflicts ----------------------------------------------

Path = tuple[str, ...]  # FieldsV1 keys from the root: ("f:spec", "f:replicas"), (..., 'k:{"name":"web"}', ".")
MISSING = object()


def leaves(fs: FieldSet, prefix: Path = ()) -> set[Path]:
    """Every leaf of a field set: scalar fields, atomic lists and maps, set items, keyed items' `.`."""
    out: set[Path] = set()
    for key, sub in fs.items():
        if isinstance(sub, dict) and sub:
            out |= leaves(sub, (*prefix, key))
        else:
            out.add((*prefix, key))
    return out


def from_leaves(paths: set[Path] | list[Path]) -> FieldSet:
    """The nested FieldsV1 form of a set of leaf paths."""
    out: FieldSet = {}
    for path in paths:
        node = out
        for key in path:
            node = node.setdefault(key, {})
    return out


def value_at(obj: Any, path: Path) -> Any:
    """The value a leaf path names in an object (`.` names the keyed item itself), or MISSING."""
    node = obj
    for key in path:
        if key == ".":
            return node
        if key.startswith("f:"):
            node = node.get(key[2:], MISSING) if isinstance(node, dict) else MISSING
        elif key.startswith("k:") and isinstance(node, list):
            wanted = json.loads(key[2:])
            node = next((item for item in node if isinstance(item, dict)
                         and all(item.get(k) == v for k, v in wanted.items())), MISSING)
        elif key.startswith("v:") and isinstance(node, list):
            value = json.loads(key[2:])
            node = value if value in node else MISSING
        else:
            return MISSING
        if node is MISSING:
            return MISSING
    return node


def path_string(path: Path) -> str:
    """A leaf path as structured-merge-diff prints it: `.spec.template.spec.containers[name="web"].image`."""
    out = ""
    for key in path:
        if key == ".":
            continue
        if key.startswith("f:"):
            out += "." + key[2:]
        elif key.startswith("k:"):
            fields = json.loads(key[2:])
            out += "[" + ",".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in sorted(fields.items())) + "]"
        elif key.startswith("v:"):
            out += f"[={key[2:]}]"
    return out
