"""Apply the three PATCH content types a kube-apiserver accepts, without an apiserver.

Why this exists: the sandbox API server must answer ``kubectl apply``, ``kubectl patch``,
the official client and kopf exactly as a real cluster would, and all three lean on PATCH:
``application/merge-patch+json`` (RFC 7386), ``application/json-patch+json`` (RFC 6902) and
``application/strategic-merge-patch+json`` (the Kubernetes dialect that merges lists by a key).
The functions here are pure: they take plain JSON-like dicts, return a new dict, and never
mutate their arguments.

What it deliberately does not do:

* It does not know every built-in type. Strategic merge needs each field's ``patchStrategy`` and
  ``patchMergeKey`` from the Go structs; only the fields in ``MERGE_KEYS`` below are merged, every
  other list is replaced (which is what the real code does for lists without the tags).
* Custom resources (any group not in ``BUILTIN_GROUPS``) get JSON merge patch semantics. A real
  apiserver answers 415 to a strategic merge patch on a custom resource; the caller may reject
  such requests itself before calling this module.
* It does not do server-side apply (managed fields) and does not validate the result.
* ``$patch: merge`` is accepted as an explicit no-op marker; the real code rejects it
  ("unknown patch type" in a map, "merging lists cannot yet be specified" in a list).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.jsoncopy import copy_json, identical

JsonMap = dict[str, Any]
Identity = Callable[[Any], str]

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder/"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"

#: Marker in MERGE_KEYS for a list of primitives merged as a set (``patchStrategy:"merge"``
#: without a ``patchMergeKey``), e.g. ``metadata.finalizers``.
PRIMITIVE_SET = ""

# --- The merge-key table -------------------------------------------------------------------
# Copied by hand from the ``patchStrategy:"merge" patchMergeKey:"..."`` struct tags of
# k8s.io/api. Kinds covered: Pod, PodTemplate, Deployment, StatefulSet, DaemonSet, ReplicaSet,
# ReplicationController, Job, CronJob (pod template specs get the Pod spec keys), Service,
# Node, Namespace, PersistentVolumeClaim, ServiceAccount, and ObjectMeta of every kind.
# Paths are dotted field names; list items add no segment ("containers.env").

_POD_SPEC_KEYS: dict[str, str] = {
    "volumes": "name",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "schedulingGates": "name",
}
_CONTAINER_KEYS: dict[str, str] = {
    "ports": "containerPort",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
}
for _containers in ("containers", "initContainers", "ephemeralContainers"):
    _POD_SPEC_KEYS[_containers] = "name"
    for _field, _key in _CONTAINER_KEYS.items():
        _POD_SPEC_KEYS[f"{_containers}.{_field}"] = _key

_OBJECT_META_KEYS: dict[str, str] = {"ownerReferences": "uid", "finalizers": PRIMITIVE_SET}

#: Where each workload kind keeps its pod template (its ``spec`` and ``metadata``).
POD_TEMPLATE_PATHS: dict[str, str] = {
    "Pod": "",
    "PodTemplate": "template",
    "Deployment": "spec.template",
    "StatefulSet": "spec.template",
    "DaemonSet": "spec.template",
    "ReplicaSet": "spec.template",
    "ReplicationController": "spec.template",
    "Job": "spec.template",
    "CronJob": "spec.jobTemplate.spec.template",
}

_CONDITIONS_BY_TYPE_KINDS = (
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "Node",
    "Namespace",
    "PersistentVolumeClaim",
)

_KIND_SPECIFIC_KEYS: dict[tuple[str, str], str] = {
    ("Service", "spec.ports"): "port",
    ("Pod", "status.podIPs"): "ip",
    ("Pod", "status.hostIPs"): "ip",
    ("Node", "status.addresses"): "type",
    ("Node", "spec.podCIDRs"): PRIMITIVE_SET,
    ("ServiceAccount", "secrets"): "name",
    ("CronJob", "spec.jobTemplate.metadata.finalizers"): PRIMITIVE_SET,
    ("CronJob", "spec.jobTemplate.metadata.ownerReferences"): "uid",
}


def _join(*parts: str) -> str:
    return ".".join(part for part in parts if part)


def _build_merge_keys() -> dict[tuple[str, str], str]:
    table = dict(_KIND_SPECIFIC_KEYS)
    for kind in _CONDITIONS_BY_TYPE_KINDS:
        table[(kind, "status.conditions")] = "type"
    for kind, template in POD_TEMPLATE_PATHS.items():
        for field, key in _POD_SPEC_KEYS.items():
            table[(kind, _join(template, "spec", field))] = key
        if template:
            for field, key in _OBJECT_META_KEYS.items():
                table[(kind, _join(template, "metadata", field))] = key
    return table


#: (kind, dotted field path) -> patchMergeKey, or PRIMITIVE_SET. Absent means "replace".
#: The object's own ``metadata`` lists apply to every kind and live in _OBJECT_META_KEYS.
MERGE_KEYS: dict[tuple[str, str], str] = _build_merge_keys()


def merge_key_for(kind: str, path: str) -> str | None:
    """The patchMergeKey of the list at ``path`` in ``kind`` (PRIMITIVE_SET for sets of
    primitives), or None when the list is atomic and a patch replaces it."""
    if path.startswith("metadata.") and path[len("metadata.") :] in _OBJECT_META_KEYS:
        return _OBJECT_META_KEYS[path[len("metadata.") :]]
    return MERGE_KEYS.get((kind, path))


#: API groups whose kinds are compiled into the apiserver (strategic merge applies).
BUILTIN_GROUPS = frozenset(
    {
        "",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "apiextensions.k8s.io",
        "admissionregistration.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "scheduling.k8s.io",
        "node.k8s.io",
        "certificates.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "apiregistration.k8s.io",
        "resource.k8s.io",
        "authentication.k8s.io",
        "authorization.k8s.io",
    }
)


class PatchError(ValueError):
    """A patch that cannot be applied; the message names the op index or JSON path."""


# --- RFC 7386 JSON merge patch -------------------------------------------------------------


def apply_json_merge_patch(target: JsonMap, patch: JsonMap) -> JsonMap:
    """Apply an RFC 7386 merge patch: maps merge, null deletes, anything else replaces. The result shares
    nothing with `target` or `patch`."""
    return merge_patch_sharing(copy_json(target), copy_json(patch))


def merge_patch_sharing(target: JsonMap, patch: JsonMap) -> JsonMap:
    """The merge patch applied without changing or copying `target` or `patch`: a new map at each level the
    patch reaches, every other value the very one of `target` or `patch`.

    For a caller that changes neither afterwards: a status write builds its object from the stored one,
    which is never changed in place, and from a patch parsed for this write alone (a status patch carries
    a whole status of up to 250 KiB; copying the stored object first cost more than the rest of the write)."""
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            base = target.get(key)
            out[key] = merge_patch_sharing(base if isinstance(base, dict) else {}, value)
        else:
            out[key] = value
    return out


# --- RFC 6902 JSON patch -------------------------------------------------------------------


# The containers one patch made (by id, kept alive here): a patch that shares its target copies any other
# container before changing it.
_Fresh = dict[int, Any]


def apply_json_patch(target: JsonMap, ops: list[dict[str, Any]], *, share_target: bool = False) -> JsonMap:
    """Apply an RFC 6902 patch atomically: either every op applies or PatchError is raised.

    The result shares nothing with `target`, unless `share_target`: then `target` is not copied but left
    unchanged, and the result is a new container only along the paths the operations change (the rest is
    `target`'s own), for a caller that changes neither afterwards (the stored object an append to a
    500-turn thread patches is never changed in place; copying it cost more than the append)."""
    if not isinstance(ops, list):
        raise PatchError("json patch must be a list of operations")
    fresh: _Fresh | None = None
    document: Any
    if share_target:
        document = dict(target)
        fresh = {id(document): document}
    else:
        document = copy_json(target)
    for index, op in enumerate(ops):
        document = _apply_json_patch_op(document, op, index, fresh)
    if not isinstance(document, dict):
        raise PatchError("json patch result must be an object")
    return document


def _apply_json_patch_op(document: Any, op: Any, index: int, fresh: _Fresh | None) -> Any:
    if not isinstance(op, dict):
        raise PatchError(f"op {index}: operation must be an object")
    name = op.get("op")
    path = _required_string(op, "path", index)
    where = f"op {index} ({name} {path})"
    if name == "add":
        return _pointer_add(document, _parse_pointer(path, where), _value(op, index), where, fresh)
    if name == "remove":
        return _pointer_remove(document, _parse_pointer(path, where), where, fresh)
    if name == "replace":
        tokens = _parse_pointer(path, where)
        _pointer_get(document, tokens, where)
        document = _pointer_remove(document, tokens, where, fresh) if tokens else document
        return _pointer_add(document, tokens, _value(op, index), where, fresh)
    if name in ("move", "copy"):
        source = _parse_pointer(_required_string(op, "from", index), where)
        destination = _parse_pointer(path, where)
        value = copy_json(_pointer_get(document, source, where))
        if name == "move":
            if _is_proper_prefix(source, destination):
                raise PatchError(f"{where}: cannot move a value into one of its own children")
            document = _pointer_remove(document, source, where, fresh)
        return _pointer_add(document, destination, value, where, fresh)
    if name == "test":
        actual = _pointer_get(document, _parse_pointer(path, where), where)
        if not json_equal(actual, _value(op, index)):
            raise PatchError(f"{where}: test failed: value is {json.dumps(actual)}")
        return document
    raise PatchError(f"op {index}: unknown op {name!r}")


def _is_proper_prefix(prefix: list[str], tokens: list[str]) -> bool:
    return len(prefix) < len(tokens) and tokens[: len(prefix)] == prefix


def _required_string(op: dict[str, Any], field: str, index: int) -> str:
    value = op.get(field)
    if not isinstance(value, str):
        raise PatchError(f"op {index}: missing or non-string {field!r}")
    return value


def _value(op: dict[str, Any], index: int) -> Any:
    if "value" not in op:
        raise PatchError(f"op {index}: missing 'value'")
    return copy_json(op["value"])


def _parse_pointer(pointer: str, where: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"{where}: JSON pointer must start with '/'")
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _list_index(container: list[Any], token: str, where: str, *, for_add: bool) -> int:
    if for_add and token == "-":
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise PatchError(f"{where}: invalid array index {token!r}")
    position = int(token)
    limit = len(container) if for_add else len(container) - 1
    if position > limit:
        raise PatchError(f"{where}: array index {position} out of range")
    return position


def _pointer_get(document: Any, tokens: list[str], where: str, fresh: _Fresh | None = None) -> Any:
    """The value at `tokens`. With `fresh`, for a change: each container on the way that this patch did
    not make is first replaced by a shallow copy of its own, so what is returned may be changed."""
    current = document
    for token in tokens:
        key: str | int
        if isinstance(current, dict):
            if token not in current:
                raise PatchError(f"{where}: path not found at {token!r}")
            key = token
        elif isinstance(current, list):
            key = _list_index(current, token, where, for_add=False)
        else:
            raise PatchError(f"{where}: cannot descend into a scalar at {token!r}")
        child = current[key]
        if fresh is not None and isinstance(child, (dict, list)) and id(child) not in fresh:
            child = dict(child) if isinstance(child, dict) else list(child)
            fresh[id(child)] = current[key] = child
        current = child
    return current


def _pointer_add(document: Any, tokens: list[str], value: Any, where: str, fresh: _Fresh | None) -> Any:
    if not tokens:
        if fresh is not None and isinstance(value, (dict, list)):
            fresh[id(value)] = value  # the new whole document: a copy of the op's value
        return value
    parent = _pointer_get(document, tokens[:-1], where, fresh)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_list_index(parent, last, where, for_add=True), value)
    else:
        raise PatchError(f"{where}: parent is not a container")
    return document


def _pointer_remove(document: Any, tokens: list[str], where: str, fresh: _Fresh | None) -> Any:
    if not tokens:
        raise PatchError(f"{where}: cannot remove the whole document")
    parent = _pointer_get(document, tokens[:-1], where, fresh)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"{where}: path not found at {last!r}")
        del parent[last]
    elif isinstance(parent, list):
        del parent[_list_index(parent, last, where, for_add=False)]
    else:
        raise PatchError(f"{where}: parent is not a container")
    return document


def json_equal(left: Any, right: Any) -> bool:
    """Equality as JSON sees it: 1 == 1.0, but True != 1 and key order does not matter."""
    if isinstance(left, (dict, list)) and identical(left, right):  # without walking it in Python
        return True
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    return type(left) is type(right) and bool(left == right)


# --- Strategic merge patch -----------------------------------------------------------------


def apply_strategic_merge_patch(target: JsonMap, patch: JsonMap, api_version: str, kind: str) -> JsonMap:
    """Apply a Kubernetes strategic merge patch as the apiserver does for built-in kinds."""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    if group not in BUILTIN_GROUPS:
        return apply_json_merge_patch(target, patch)
    return _merge_map(copy_json(target), copy_json(patch), _Field(kind, ""))


@dataclass(frozen=True)
class _Field:
    """Where in which kind the merge currently is; decides the list merge strategy."""

    kind: str
    path: str

    def child(self, name: str) -> _Field:
        return _Field(self.kind, _join(self.path, name))

    def merge_key(self) -> str | None:
        return merge_key_for(self.kind, self.path)

    def describe(self) -> str:
        return self.path or "<root>"


def _merge_map(original: JsonMap, patch: JsonMap, at: _Field) -> JsonMap:
    """Merge ``patch`` into ``original`` (both private copies, mutated freely)."""
    directive = patch.pop(DIRECTIVE, None)
    if directive == "replace":
        return _merge_map({}, patch, at)
    if directive == "delete":
        return {}
    if directive not in (None, "merge"):
        raise PatchError(f"{at.describe()}: unknown $patch directive {directive!r}")
    _apply_retain_keys(original, patch, at)
    for key in [key for key in patch if key.startswith(SET_ELEMENT_ORDER)]:
        _apply_set_element_order(original, patch, key, at)
    for key, value in patch.items():
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            _delete_from_primitive_list(original, key, value, at)
        else:
            _merge_field(original, key, value, at.child(key))
    return original


def _merge_field(original: JsonMap, key: str, value: Any, at: _Field) -> None:
    current = original.get(key)
    if value is None:
        original.pop(key, None)
    elif isinstance(current, dict) and isinstance(value, dict):
        original[key] = _merge_map(current, value, at)
    elif isinstance(current, list) and isinstance(value, list):
        original[key] = _merge_list(current, value, at)
    else:
        original[key] = _fresh(value, at)


def _fresh(value: Any, at: _Field) -> Any:
    """A patch value with nothing to merge into: drop its directives and nulls."""
    if isinstance(value, dict):
        return _merge_map({}, value, at)
    if isinstance(value, list):
        return _merge_list([], value, at)
    return value


def _merge_list(original: list[Any], patch: list[Any], at: _Field) -> list[Any]:
    key = at.merge_key()
    if key is None:
        return [_fresh(item, at) if isinstance(item, dict) else item for item in patch]
    if key == PRIMITIVE_SET:
        merged = _dedupe(original + patch)
        return _enforce_order(merged, patch, original, _scalar_identity)
    return _merge_keyed_list(original, patch, key, at)


def _merge_keyed_list(original: list[Any], patch: list[Any], key: str, at: _Field) -> list[Any]:
    _require_maps(original + patch, at)
    identity = _key_identity(key, at)
    plain: list[JsonMap] = []
    replace = False
    for item in patch:
        directive = item.pop(DIRECTIVE, None)
        if directive == "delete":
            doomed = identity(item)
            original = [kept for kept in original if identity(kept) != doomed]
        elif directive == "replace":
            replace = True
        elif directive in (None, "merge"):
            plain.append(item)
        else:
            raise PatchError(f"{at.describe()}: unknown $patch directive {directive!r}")
    if replace:
        return [_fresh(item, at) for item in plain]
    merged = list(original)
    for item in plain:
        wanted = identity(item)
        position = next((i for i, old in enumerate(merged) if identity(old) == wanted), None)
        if position is None:
            merged.append(_fresh(item, at))
        else:
            merged[position] = _merge_map(merged[position], item, at)
    return _enforce_order(merged, plain, original, identity)


def _require_maps(items: list[Any], at: _Field) -> None:
    if not all(isinstance(item, dict) for item in items):
        raise PatchError(f"{at.describe()}: every item of a merging list must be an object")


def _key_identity(key: str, at: _Field) -> Identity:
    def identity(item: Any) -> str:
        if not isinstance(item, dict) or key not in item:
            raise PatchError(f"{at.describe()}: item {item!r} has no merge key {key!r}")
        return _scalar_identity(item[key])

    return identity


def _scalar_identity(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, sort_keys=True)


def _dedupe(items: list[Any]) -> list[Any]:
    seen: set[str] = set()
    unique = []
    for item in items:
        identity = _scalar_identity(item)
        if identity not in seen:
            seen.add(identity)
            unique.append(item)
    return unique


def _enforce_order(merged: list[Any], order: list[Any], server: list[Any], identity: Identity) -> list[Any]:
    """Order as the apiserver does: patch items by ``order``, server-only items by ``server``,
    then interleave them, keeping a server-only item before a patch item only when the live
    list already had it there."""
    wanted = {identity(item) for item in order}
    from_patch = _sorted_by([item for item in merged if identity(item) in wanted], order, identity)
    server_only = _sorted_by([item for item in merged if identity(item) not in wanted], server, identity)
    return _interleave(server_only, from_patch, _positions(server, identity), identity)


def _positions(order: list[Any], identity: Identity) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, item in enumerate(order):
        positions.setdefault(identity(item), index)
    return positions


def _sorted_by(items: list[Any], order: list[Any], identity: Identity) -> list[Any]:
    positions = _positions(order, identity)
    return sorted(items, key=lambda item: positions.get(identity(item), len(order)))


def _interleave(
    server_only: list[Any], from_patch: list[Any], server_positions: dict[str, int], identity: Identity
) -> list[Any]:
    result: list[Any] = []
    left, right = 0, 0
    while left < len(server_only) or right < len(from_patch):
        if right >= len(from_patch):
            take_left = True
        elif left >= len(server_only):
            take_left = False
        else:
            left_at = server_positions.get(identity(server_only[left]))
            right_at = server_positions.get(identity(from_patch[right]))
            take_left = left_at is not None and right_at is not None and left_at < right_at
        if take_left:
            result.append(server_only[left])
            left += 1
        else:
            result.append(from_patch[right])
            right += 1
    return result


def _apply_retain_keys(original: JsonMap, patch: JsonMap, at: _Field) -> None:
    if RETAIN_KEYS not in patch:
        return
    keep = patch.pop(RETAIN_KEYS)
    if not isinstance(keep, list) or not all(isinstance(name, str) for name in keep):
        raise PatchError(f"{at.describe()}: $retainKeys must be a list of field names")
    for key, value in patch.items():
        is_directive = key.startswith((SET_ELEMENT_ORDER, DELETE_FROM_PRIMITIVE_LIST))
        if value is not None and not is_directive and key not in keep:
            raise PatchError(f"{at.describe()}: field {key!r} is patched but not in $retainKeys")
    for key in [key for key in original if key not in keep]:
        del original[key]


def _apply_set_element_order(original: JsonMap, patch: JsonMap, directive: str, at: _Field) -> None:
    order = patch.pop(directive)
    field = directive[len(SET_ELEMENT_ORDER) :]
    child = at.child(field)
    if not isinstance(order, list):
        raise PatchError(f"{child.describe()}: {directive} must be a list")
    current = original.get(field)
    incoming = patch.get(field)
    if not isinstance(incoming, list):
        incoming = None
    else:
        del patch[field]
    if not isinstance(current, list):
        if incoming is None:
            return
        current = None
    merged = _merge_ordered_list(current, incoming, child)
    key = child.merge_key()
    if key is None:
        original[field] = merged
        return
    identity = _scalar_identity if key == PRIMITIVE_SET else _key_identity(key, child)
    original[field] = _enforce_order(merged, order, current or [], identity)


def _merge_ordered_list(current: list[Any] | None, incoming: list[Any] | None, at: _Field) -> list[Any]:
    if incoming is None:
        return list(current or [])
    if current is None:
        return _merge_list([], incoming, at)
    return _merge_list(current, incoming, at)


def _delete_from_primitive_list(original: JsonMap, directive: str, doomed: Any, at: _Field) -> None:
    field = directive[len(DELETE_FROM_PRIMITIVE_LIST) :]
    if not isinstance(doomed, list):
        raise PatchError(f"{at.child(field).describe()}: {directive} must be a list")
    current = original.get(field)
    if isinstance(current, list):
        original[field] = [item for item in current if not any(json_equal(item, gone) for gone in doomed)]
