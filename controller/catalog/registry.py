"""The catalog as one table, and the one door through which an AI's action call enters.

Why validation lives here: an `ActionCall` comes from an untrusted backend. `validate_call` is the
only way from a call to typed parameters, so an unknown action, an invented field or an out-of-range
value is refused here with a message that names the action and the field, which is what the
backend (or the person) needs to correct it.

`json_schemas()` gives each action's parameter schema, for backends that support tool calling.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from controller.catalog import (
    availability,
    batch,
    cloud,
    cloud_grants,
    cloud_hardening,
    config,
    databases,
    guarded,
    identity,
    manifest,
    namespaces,
    networking,
    podspec,
    storage,
    traffic,
    workloads,
)
from controller.catalog.base import ActionSpec, CatalogError
from controller.catalog.params import Params
from controller.planning.types import ActionCall

CATALOG: dict[str, ActionSpec[Any]] = {
    spec.name: spec
    for module in (workloads, podspec, namespaces, config, availability, networking, traffic, storage, batch,
                   identity, cloud, cloud_hardening, cloud_grants, databases, guarded, manifest)
    for spec in module.ACTIONS
}


def names() -> list[str]:
    """Every action name, in catalog order."""
    return list(CATALOG)


def get_action(name: str) -> ActionSpec[Any]:
    """The action called `name`; an unknown name is a `CatalogError` listing the valid ones."""
    try:
        return CATALOG[name]
    except KeyError:
        raise CatalogError(f"unknown action {name!r}; valid actions: {', '.join(CATALOG)}") from None


def _describe(name: str, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        path = ".".join(str(p) for p in ("params", *error["loc"]))
        problems.append(f"{name}: {path}: {error['msg']}")
    return "; ".join(problems)


def validate_params(spec: ActionSpec[Any], params: dict[str, Any]) -> Params:
    """`params` validated against the action's model, or a `CatalogError` naming each bad field."""
    try:
        validated: Params = spec.params.model_validate(params)
    except ValidationError as exc:
        raise CatalogError(_describe(spec.name, exc)) from None
    return validated


def validate_call(call: ActionCall) -> tuple[ActionSpec[Any], Params]:
    """The action and its typed parameters, e.g. `scale: params.replicas: Input should be ...` on error."""
    spec = get_action(call.action)
    return spec, validate_params(spec, call.params)


def json_schemas() -> dict[str, dict[str, Any]]:
    """Each action's parameter JSON schema, with its description, for tool-calling backends."""
    out: dict[str, dict[str, Any]] = {}
    for name, spec in CATALOG.items():
        schema = spec.params.model_json_schema()
        schema["description"] = spec.description
        out[name] = schema
    return out
