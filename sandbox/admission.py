"""Validating admission: hooks that may deny a write before it is stored.

Why a generic hook list: every server runs one hook that enforces the ValidatingAdmissionPolicies
and bindings stored in it (evaluated in CEL by `sandbox.vap`, from the first request and across
restarts); tests may add Python hooks of their own, whose denials come back worded like a
ValidatingAdmissionPolicy denial.

A hook returns None to allow, or a message to deny. A message that already starts with
"ValidatingAdmissionPolicy '" (or "admission webhook ") is used as is; any other message is wrapped
as `ValidatingAdmissionPolicy '<hook name>' with binding '<hook name>' denied request: <message>`.
A hook may also raise `sandbox.errors.ApiError` for full control over code and reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.errors import ApiError
from sandbox.resources import ResourceType


@dataclass(frozen=True)
class AdmissionRequest:
    """What a hook sees; mirrors admission.k8s.io/v1 AdmissionRequest.

    `object` and `old_object` are the request's own objects, not copies: hooks validate (as the
    ValidatingAdmissionPolicies and webhooks they stand for) and must not change them. Copying both for
    every write was 9% of the sandbox's CPU with 250 KiB conversations (bench.long_thread, py-spy)."""

    operation: str  # CREATE | UPDATE
    group: str
    version: str
    kind: str
    resource: str
    subresource: str
    namespace: str
    name: str
    object: dict[str, Any]
    old_object: dict[str, Any] | None
    user: str
    groups: tuple[str, ...]
    dry_run: bool = False


AdmissionHook = Callable[[AdmissionRequest], "str | None"]


def _hook_name(hook: AdmissionHook) -> str:
    return str(getattr(hook, "policy_name", None) or getattr(hook, "__name__", "sandbox-admission"))


def run_admission(hooks: list[AdmissionHook], rt: ResourceType, request: AdmissionRequest) -> None:
    """Call every hook in order; the first denial raises a 422 Invalid ApiError like a VAP denial."""
    for hook in list(hooks):
        verdict = hook(request)
        if verdict is None:
            continue
        message = str(verdict)
        if not (
            message.startswith("ValidatingAdmissionPolicy '") or message.startswith("admission webhook ")
        ):
            name = _hook_name(hook)
            message = f"ValidatingAdmissionPolicy '{name}' with binding '{name}' denied request: {message}"
        subject = f'{rt.qualified} "{request.name}"' if request.name else rt.qualified
        details: dict[str, Any] = {"kind": rt.plural}
        if request.name:
            details["name"] = request.name
        if rt.group:
            details["group"] = rt.group
        raise ApiError(422, "Invalid", f"{subject} is forbidden: {message}", details)
