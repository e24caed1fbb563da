"""Paginated lists: `limit` and `continue`, as `kubectl get --chunk-size` and informers use them.

Why: a real API server answers a `limit=N` list with at most N items and an opaque `continue` token;
following the token returns the rest *as of the first page's resourceVersion* (a consistent
snapshot served by etcd's MVCC), and once that version has been compacted it answers 410 Expired
with a fresh token that continues inconsistently. Clients (kubectl, client-go pagers, the operator)
must cope with both, so the sandbox keeps the same contract: pages are cut in etcd key order
(namespace, then name), the snapshot is rebuilt from the store's event history, and the token is
base64 of `{"v":"meta.k8s.io/v1","rv":<version>,"start":"<namespace>/<name>\\u0000"}` like the real one.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from sandbox.errors import ApiError

TOKEN_VERSION = "meta.k8s.io/v1"
TOO_OLD = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
    "that were created, modified, or deleted between the time the first chunk was returned and now may show "
    "up in the list."
)


@dataclass(frozen=True)
class Continue:
    """A decoded continue token: the snapshot version and the key to start after."""

    resource_version: int
    start: str


def sort_key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") or ""
    return f"{namespace}/{meta.get('name', '')}" if namespace else str(meta.get("name", ""))


def encode(resource_version: int, last_key: str) -> str:
    token = {"v": TOKEN_VERSION, "rv": resource_version, "start": last_key + "\x00"}
    return base64.urlsafe_b64encode(json.dumps(token, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(token: str) -> Continue:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(data, dict) or data.get("v") != TOKEN_VERSION:
            raise ValueError("unknown token version")
        version, start = int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(400, "BadRequest", f"continue key is not valid: {exc}") from exc
    if version <= 0:
        raise ApiError(400, "BadRequest", "continue key is not valid: incorrect encoded start resourceVersion")
    return Continue(version, start)


def expired(current_version: int, after_key: str) -> ApiError:
    """410 for a token whose snapshot is gone, carrying a token that continues from now."""
    error = ApiError(410, "Expired", TOO_OLD)
    error.list_meta = {"continue": encode(current_version, after_key.removesuffix("\x00"))}
    return error


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    continue_token: str
    remaining: int | None


def page(items: list[dict[str, Any]], resource_version: int, start: str, limit: int | None,
         filtered: bool) -> Page:
    """The page after `start` (items sorted by key); `remainingItemCount` only for unfiltered lists."""
    ordered = sorted(items, key=sort_key)
    if start:
        ordered = [obj for obj in ordered if sort_key(obj) + "\x00" > start]
    if limit is None or limit <= 0 or len(ordered) <= limit:
        return Page(ordered, "", None)
    chunk = ordered[:limit]
    rest = len(ordered) - limit
    return Page(chunk, encode(resource_version, sort_key(chunk[-1])), None if filtered else rest)
