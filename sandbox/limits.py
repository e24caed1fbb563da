"""The size limits of a real API server and its etcd, and the errors they produce.

Why: issue 10 found threads of 1.5 MB and annotations of 1.6 MB that a cluster would refuse while
the sandbox stored them, so no test could see the failure. A kube-apiserver reads at most 3 MiB of
request body (its `MaxRequestBodyBytes`, answered with 413
`Request entity too large: limit is 3145728`), refuses JSON patches of more than 10000 operations,
and etcd refuses a write over its `--max-request-bytes` (1.5 MiB by default); the apiserver passes
that refusal on as a 500 whose message is etcd's own, `etcdserver: request is too large`, after one
retry of creates and updates (not server-side applies) without `managedFields`.

Measured here as the compact JSON of the object plus its key. A real server stores built-in kinds
as protobuf, which is smaller than JSON, so for built-ins the sandbox is a little stricter; custom
resources (the operator's threads) are stored as JSON by a real server too.
"""

from __future__ import annotations

from sandbox.errors import ApiError

MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024
MAX_STORED_OBJECT_BYTES = 1536 * 1024  # etcd --max-request-bytes default
MAX_JSON_PATCH_OPERATIONS = 10000


class ObjectTooLarge(ApiError):
    """etcd refused the write; nothing was stored."""

    def __init__(self) -> None:
        super().__init__(500, "", "etcdserver: request is too large")


def body_too_large() -> ApiError:
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {MAX_REQUEST_BODY_BYTES}")


def too_many_patch_operations(count: int) -> ApiError:
    return ApiError(
        413, "RequestEntityTooLarge",
        f"Request entity too large: The allowed maximum operations in a JSON patch is "
        f"{MAX_JSON_PATCH_OPERATIONS}, got {count}",
    )


def stored_size(key: tuple[str, ...], text: str) -> int:
    """Bytes of one etcd write of an object: its key plus its serialized value (`jsoncopy.compact`)."""
    return len("/".join(key).encode()) + len(text.encode())


def check_stored_size(key: tuple[str, ...], text: str) -> None:
    if stored_size(key, text) > MAX_STORED_OBJECT_BYTES:
        raise ObjectTooLarge()
