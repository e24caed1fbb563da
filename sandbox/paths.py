"""URL → request attributes, the way the apiserver's RequestInfoFactory parses paths.

Why pure: authorization, routing and error wording all start from the same parse
(`/apis/apps/v1/namespaces/shop/deployments/web/scale` → group apps, verb patch, ...), and the
corner cases (`/api/v1/namespaces/x/status`, legacy `/watch/` prefixes) are easiest to get right
and test in isolation.
"""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(frozen=True)
class RequestInfo:
    """What a request is about. `is_resource` is False for discovery and other non-resource paths."""

    path: str
    verb: str
    is_resource: bool = False
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    name: str = ""
    subresource: str = ""
    extra_parts: tuple[str, ...] = ()


_METHOD_VERBS = {
    "POST": "create",
    "PUT": "update",
    "PATCH": "patch",
    "GET": "get",
    "HEAD": "get",
    "DELETE": "delete",
}


def parse_request(method: str, path: str, watch_param: bool) -> RequestInfo:
    """Parse one request; `watch_param` is whether `?watch=true|1` was given."""
    parts = [p for p in path.strip("/").split("/") if p]
    plain_verb = method.lower() if method != "HEAD" else "get"
    if not parts or parts[0] not in ("api", "apis"):
        return RequestInfo(path=path, verb=plain_verb)
    if parts[0] == "api":
        if len(parts) < 3:
            return RequestInfo(path=path, verb=plain_verb)
        group, version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 4:
            return RequestInfo(path=path, verb=plain_verb)
        group, version, rest = parts[1], parts[2], parts[3:]
    verb = _METHOD_VERBS.get(method, method.lower())
    legacy_watch = False
    if rest and rest[0] in ("watch", "proxy") and rest[0] == "watch":
        legacy_watch = True
        rest = rest[1:]
    namespace = ""
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        # `/namespaces/<ns>/<resource>...`, or the namespace object itself (`/namespaces/<name>[/status]`),
        # whose namespace attribute is its own name.
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    if not rest:
        return RequestInfo(path=path, verb=plain_verb)
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    extra = tuple(rest[3:])
    if not name:
        if verb == "get":
            verb = "watch" if (watch_param or legacy_watch) else "list"
        elif verb == "delete":
            verb = "deletecollection"
    elif verb == "get" and (watch_param or legacy_watch):
        verb = "watch"
    return RequestInfo(
        path=path,
        verb=verb,
        is_resource=True,
        group=group,
        version=version,
        namespace=namespace,
        resource=resource,
        name=name,
        subresource=subresource,
        extra_parts=extra,
    )
