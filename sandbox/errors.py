"""Kubernetes `Status` error bodies, worded as the real apiserver words them.

Why: clients branch on `reason` and `code` (kubectl prints `message`, the Python client raises
`ApiException(status=...)`, kopf retries on 409), so every failure must be a `Status` with the
exact shape and wording of k8s.io/apimachinery's `errors` package.
"""

from __future__ import annotations

from typing import Any

from sandbox.resources import ResourceType


class ApiError(Exception):
    """A failed request; `status()` is the body to send."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.list_meta: dict[str, Any] = {}  # a Status's ListMeta (a 410's fresh `continue` token)

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": dict(self.list_meta),
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if not self.reason:
            del body["reason"]  # StatusReasonUnknown is "" and omitted, as for errors that are not a Status
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(rt: ResourceType | None, name: str, kind: str | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if rt is not None:
        if rt.group:
            details["group"] = rt.group
        details["kind"] = kind if kind is not None else rt.plural
    return details


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rt.qualified} "{name}" not found', _details(rt, name))


def namespace_not_found(name: str) -> ApiError:
    return ApiError(404, "NotFound", f'namespaces "{name}" not found', {"name": name, "kind": "namespaces"})


def unknown_resource() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(rt: ResourceType, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{rt.qualified} "{name}" already exists', _details(rt, name))


def conflict(rt: ResourceType, name: str, detail: str | None = None) -> ApiError:
    detail = (
        detail
        or "the object has been modified; please apply your changes to the latest version and try again"
    )
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.qualified} "{name}": {detail}',
        _details(rt, name),
    )


def invalid(rt: ResourceType, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 Invalid; each cause is {reason, message, field}, message being the part after `field: `."""
    parts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details = _details(rt, name, kind=rt.kind)
    details["causes"] = causes
    return ApiError(422, "Invalid", f'{rt.qualified_kind} "{name}" is invalid: {summary}', details)


def forbidden(rt: ResourceType | None, name: str, detail: str, qualified: str | None = None) -> ApiError:
    if rt is None and qualified is None:
        return ApiError(403, "Forbidden", f"forbidden: {detail}", {})
    what = qualified if qualified is not None else (rt.qualified if rt else "")
    subject = f'{what} "{name}"' if name else what
    details = _details(rt, name)
    if rt is None and qualified is not None:
        details = {"name": name, "kind": qualified.split(".", 1)[0]} if name else {"kind": qualified}
    return ApiError(403, "Forbidden", f"{subject} is forbidden: {detail}", details)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed() -> ApiError:
    return ApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {}
    )


def unsupported_media_type(content_type: str, accepted: list[str]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: {', '.join(accepted)}",
    )


def expired(requested: int, oldest: int) -> ApiError:
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")


def internal(message: str) -> ApiError:
    return ApiError(
        500, "InternalError", f"Internal error occurred: {message}", {"causes": [{"message": message}]}
    )
