"""The vocabulary shared by every write path: patch media types, write options, timestamps and how
an object is presented in the version a request names.

Why a module of its own: operations, the scale subresource, the simulator and the HTTP layer all use
these, and keeping them apart avoids import cycles between the verb implementations.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sandbox import errors
from sandbox.conversion import from_storage, to_storage
from sandbox.jsoncopy import strict_loads
from sandbox.resources import ResourceType

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
CR_PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH]
ALL_PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH]


@dataclass(frozen=True)
class WriteOptions:
    """Query parameters of a write."""

    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = ""
    force: bool = False
    user_agent: str = ""  # names the field manager when fieldManager is not given


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def present(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """The object as the requested group/version serves it (CRD versions: conversion strategy None)."""
    out = {"apiVersion": rt.api_version, "kind": rt.kind}
    shaped = from_storage(rt.group, rt.plural, obj)
    out.update({k: v for k, v in shaped.items() if k not in ("apiVersion", "kind")})
    return out


def served_as_stored(rt: ResourceType, obj: dict[str, Any]) -> bool:
    """Whether `present(rt, obj)` is `obj` key for key in the same order, so the store's JSON of that
    version (`Store.text`) is what `rt` serves, sent without a copy or another encoding."""
    keys = iter(obj)
    return (next(keys, None) == "apiVersion" and next(keys, None) == "kind"
            and obj["apiVersion"] == rt.api_version and obj["kind"] == rt.kind
            and from_storage(rt.group, rt.plural, obj) is obj)


def stored_form(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """The object as it is kept in the store (the inverse of `present` for aliased resources)."""
    return to_storage(rt.group, rt.plural, obj)


def parse_json(raw: bytes) -> Any:
    try:
        return strict_loads(raw or b"null")
    except ValueError as exc:
        raise errors.bad_request(f"error decoding patch: {exc}") from exc
