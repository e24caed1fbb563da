"""Create/update validation: object names, CRD definitions, and custom objects against their schema.

Why: a client learns about bad input only through a 422 `Invalid` Status whose `details.causes`
name the field; the operator's tests assert on those field paths, so the checks that produce them
live in one place and build the causes the apiserver builds.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.errors import ApiError, invalid
from sandbox.objectmeta import dns_label_help, metadata_causes, subdomain_help
from sandbox.patching import POD_TEMPLATE_PATHS
from sandbox.resources import ResourceType
from sandbox.schema import prune_unknown_fields, validate_custom_object

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
SUBDOMAIN_HELP = subdomain_help()
LABEL_HELP = dns_label_help()
DNS_LABEL_KINDS = frozenset({"/Namespace", "/Service"})


def cause(field: str, reason: str, message: str) -> dict[str, str]:
    return {"reason": reason, "message": message, "field": field}


def _name_causes(rt: ResourceType, name: str) -> list[dict[str, str]]:
    if not name:
        return [
            cause("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")
        ]
    if rt.group == "rbac.authorization.k8s.io":
        if name in (".", "..") or "/" in name or "%" in name:
            return [
                cause(
                    "metadata.name",
                    "FieldValueInvalid",
                    f"Invalid value: \"{name}\": may not contain '/' or '%'",
                )
            ]
        return []
    if f"{rt.group}/{rt.kind}" in DNS_LABEL_KINDS:
        if len(name) > 63 or not _LABEL.match(name):
            return [cause("metadata.name", "FieldValueInvalid", f'Invalid value: "{name}": {LABEL_HELP}')]
        return []
    if len(name) > 253 or not _SUBDOMAIN.match(name):
        return [cause("metadata.name", "FieldValueInvalid", f'Invalid value: "{name}": {SUBDOMAIN_HELP}')]
    return []


def _crd_causes(crd: dict[str, Any]) -> list[dict[str, str]]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    causes: list[dict[str, str]] = []
    expected = f"{names.get('plural', '')}.{spec.get('group', '')}"
    name = crd.get("metadata", {}).get("name", "")
    if name != expected:
        causes.append(
            cause(
                "metadata.name",
                "FieldValueInvalid",
                f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
            )
        )
    if not names.get("plural"):
        causes.append(cause("spec.names.plural", "FieldValueRequired", "Required value"))
    if not names.get("kind"):
        causes.append(cause("spec.names.kind", "FieldValueRequired", "Required value"))
    versions = spec.get("versions") or []
    if not versions:
        causes.append(
            cause(
                "spec.versions",
                "FieldValueRequired",
                "Required value: must have exactly one version marked as storage version",
            )
        )
    elif sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(
            cause(
                "spec.versions",
                "FieldValueInvalid",
                "Invalid value: must have exactly one version marked as storage version",
            )
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            cause(
                "spec.scope",
                "FieldValueNotSupported",
                f'Unsupported value: "{spec.get("scope", "")}": supported values: "Cluster", "Namespaced"',
            )
        )
    return causes


def _template_metadata(rt: ResourceType, obj: dict[str, Any]) -> list[tuple[str, Any]]:
    """(field path, metadata) of a built-in workload's pod template, validated like any ObjectMeta."""
    path = POD_TEMPLATE_PATHS.get(rt.kind) if not rt.custom else None
    if not path:
        return []
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return [(f"{path}.metadata", node.get("metadata"))] if isinstance(node, dict) else []


def validate(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None = None) -> None:
    """Raise a 422 Invalid ApiError when the object would be rejected by the real apiserver. `old`: the
    object an update replaces, only when it passed this same schema (its unchanged parts are not walked)."""
    name = obj.get("metadata", {}).get("name", "")
    causes = _name_causes(rt, name)
    causes += metadata_causes(obj.get("metadata"))
    for path, meta in _template_metadata(rt, obj):
        causes += metadata_causes(meta, path)
    if rt.group == "apiextensions.k8s.io" and rt.kind == "CustomResourceDefinition":
        causes += _crd_causes(obj)
    if rt.custom and rt.schema:
        for err in validate_custom_object(obj, rt.schema, old):
            causes.append(cause(err.field, err.reason, err.message))
    if causes:
        raise invalid(rt, name, causes)


def prune(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, Any]:
    """Drop fields a CRD's structural schema does not declare; apiVersion/kind/metadata always stay.
    `old`: the stored object an update replaces, when it was pruned by this same schema."""
    if not (rt.custom and rt.schema):
        return obj
    kept: dict[str, Any] = {k: obj[k] for k in ("apiVersion", "kind", "metadata") if k in obj}
    pruned = prune_unknown_fields(obj, rt.schema, old)
    pruned.update(kept)
    return pruned


def check_field_validation(
    rt: ResourceType, original: dict[str, Any], pruned: dict[str, Any], directive: str
) -> None:
    """With `fieldValidation=Strict`, unknown fields of a custom object are a 400, not silently pruned."""
    if directive != "Strict" or not rt.custom:
        return
    unknown = _dropped_paths(original, pruned, "")
    if unknown:
        listed = ", ".join(f'unknown field "{p}"' for p in unknown)
        raise ApiError(400, "BadRequest", f"strict decoding error: {listed}")


def _dropped_paths(before: Any, after: Any, prefix: str) -> list[str]:
    if not isinstance(before, dict) or not isinstance(after, dict):
        if isinstance(before, list) and isinstance(after, list):
            out: list[str] = []
            for i, (b, a) in enumerate(zip(before, after, strict=False)):
                out += _dropped_paths(b, a, f"{prefix}[{i}]")
            return out
        return []
    out = []
    for key, value in before.items():
        path = f"{prefix}.{key}" if prefix else key
        if key not in after:
            out.append(path)
        else:
            out += _dropped_paths(value, after[key], path)
    return out
