"""The CustomResourceDefinitions, generated from the pydantic models in types.py.

A CRD's openAPIV3Schema must be structural: no `$ref`, no `anyOf` with null, `nullable` instead,
free-form maps marked `x-kubernetes-preserve-unknown-fields`. This module converts pydantic's JSON
schema into that form, so the models stay the single source of truth and the chart's CRDs are a
generated file that a test keeps in step.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from controller.api.constants import (
    GROUP,
    KIND_CONVERSATION,
    KIND_REQUEST,
    PLURAL_CONVERSATION,
    PLURAL_REQUEST,
    VERSION,
)
from controller.api.types import ConversationSpec, ConversationStatus, RequestSpec

_DROP = {"title", "discriminator"}


def _structural(node: Any, defs: dict[str, Any]) -> Any:
    """Inline $refs and rewrite pydantic-isms into the structural subset Kubernetes accepts."""
    if isinstance(node, list):
        return [_structural(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _structural(merged, defs)
    variants = node.get("anyOf")
    if variants is not None:
        non_null = [v for v in variants if v.get("type") != "null"]
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        if len(non_null) == 1:
            single: dict[str, Any] = _structural({**non_null[0], **rest}, defs)
            if len(non_null) < len(variants):
                single["nullable"] = True
            return single
        return {"x-kubernetes-preserve-unknown-fields": True, **{k: v for k, v in rest.items() if k == "description"}}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or key == "$defs":
            continue
        if key == "default" and value is None:
            continue
        if key == "const":
            out["enum"] = [value]
            continue
        out[key] = _structural(value, defs) if key in {"properties", "items", "additionalProperties"} else value
        if key == "properties":
            out[key] = {name: _structural(sub, defs) for name, sub in value.items()}
    if out.get("type") == "object" and "properties" not in out:
        extra = out.pop("additionalProperties", True)
        if extra is True or extra == {}:
            out["x-kubernetes-preserve-unknown-fields"] = True
        else:
            out["additionalProperties"] = extra
    if "properties" in out:
        out.pop("additionalProperties", None)  # structural schemas allow only one of the two
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    return out


def openapi_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The structural schema of one model, with camelCase field names."""
    raw = model.model_json_schema(by_alias=True, mode="serialization")
    result: dict[str, Any] = _structural(raw, raw.get("$defs", {}))
    return result


_PRINTER_COLUMNS = [
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Requester", "type": "string", "jsonPath": ".spec.requester.user"},
    {"name": "Revision", "type": "integer", "jsonPath": ".status.currentRevision"},
    {"name": "Branch", "type": "string", "jsonPath": ".status.links.branch", "priority": 1},
    {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].reason", "priority": 1},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def _crd(kind: str, plural: str, short_names: list[str], spec_model: type[BaseModel]) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": openapi_schema(spec_model),
            "status": openapi_schema(ConversationStatus),
        },
        "required": ["spec"],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}", "labels": {"app.kubernetes.io/part-of": "ai-operator"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "plural": plural,
                "singular": kind.lower(),
                "listKind": f"{kind}List",
                "shortNames": short_names,
                "categories": ["aiop", "all-aiop"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": _PRINTER_COLUMNS,
                }
            ],
        },
    }


def all_crds() -> list[dict[str, Any]]:
    """Both CRDs, ready to apply (the chart ships the same content in charts/ai-operator/crds/)."""
    return [
        _crd(KIND_CONVERSATION, PLURAL_CONVERSATION, ["aic", "aiconv"], ConversationSpec),
        _crd(KIND_REQUEST, PLURAL_REQUEST, ["air", "aireq"], RequestSpec),
    ]
