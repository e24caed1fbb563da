"""HTTP: one aiohttp handler that authenticates, authorizes and dispatches every request.

Why thin: the rules live in `operations`, `deletion`, `watch`, `reviews`, `discovery` and `tables`;
this module only turns HTTP (path, query, headers, body) into calls on them and their results (or
`ApiError`s) back into JSON, Table, text or a watch stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import yaml
from aiohttp import web

from sandbox import discovery, errors, openapi, pagination, podexec, protobuf
from sandbox.admission import AdmissionHook
from sandbox.authz import Authorizer, forbidden_detail
from sandbox.bootstrap import aggregation_controller
from sandbox.faults import ERROR_STATUS, THROTTLE_MESSAGE, Fault, FaultInjector
from sandbox.identity import AUTHENTICATED_GROUP, Identities, UserInfo
from sandbox.jsoncopy import compact, strict_loads
from sandbox.limits import MAX_REQUEST_BODY_BYTES, body_too_large
from sandbox.logs import pod_log
from sandbox.operations import Operations
from sandbox.paths import RequestInfo, parse_request
from sandbox.rbac import RequestAttributes
from sandbox.registry import Registry
from sandbox.resources import EXEC, TOKEN, ResourceType
from sandbox.reviews import review
from sandbox.selectors import Matcher, make_matcher
from sandbox.serviceaccounts import default_service_account, request_token, uid_lookup, user_of
from sandbox.store import Store
from sandbox.tables import (
    METADATA,
    OBJECTS,
    TABLE,
    partial_metadata,
    partial_metadata_list,
    response_shape,
    to_table,
)
from sandbox.tokens import TokenSigner
from sandbox.watch import WatchRequest, serve_watch
from sandbox.writes import WriteOptions, present

log = logging.getLogger(__name__)

HEALTH_PATHS = frozenset({"/healthz", "/livez", "/readyz"})


@dataclass
class Cluster:
    """Everything one sandbox serves; built by SandboxServer, used only on its event loop."""

    store: Store
    identities: Identities
    registry: Registry = field(default_factory=Registry)
    admission_hooks: list[AdmissionHook] = field(default_factory=list)
    bookmark_interval: float = 5.0
    server_address: str = "127.0.0.1"
    shutdown: asyncio.Event | None = None
    signer: TokenSigner = field(default_factory=lambda: TokenSigner(None))
    faults: FaultInjector = field(default_factory=FaultInjector)
    # `GET pods/<name>/log`: staged annotations only, unless the simulated cluster (sandbox/simulator.py)
    # answers from its containers' output.
    pod_logs: Callable[..., str] = pod_log
    # `kubectl exec`: what runs a command in a container (sandbox/podexec.py); the simulated cluster
    # sets it to its kubelets' exec (SandboxServer), else every binary is missing.
    exec_command: podexec.ExecHook = podexec.no_binaries

    def __post_init__(self) -> None:
        self.ops = Operations(self.store, self.registry, self.admission_hooks)
        self.ops.controllers.append(default_service_account)
        self.ops.controllers.append(aggregation_controller)
        self.authorizer = Authorizer(self.store)

    def authenticate(self, authorization_header: str | None) -> UserInfo | None:
        """Static user tokens first, then service account JWTs this server issued and still accepts."""
        user = self.identities.authenticate(authorization_header)
        if user is not None or not authorization_header:
            return user
        scheme, _, token = authorization_header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        claims = self.signer.verify(token.strip(), uid_lookup(self.store))
        return user_of(claims) if claims is not None else None


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=compact(body), status=status, content_type="application/json")


def object_response(request: web.Request, ops: Operations, rt: ResourceType, obj: dict[str, Any],
                    status: int = 200, dry_run: bool = False) -> web.Response:
    """A create's, update's or patch's result: its metadata alone when the client asks for that, else the
    store's own JSON of the version it stored when that is what `rt` serves (never for a dry run, whose
    result was not stored), else `obj` encoded."""
    if response_shape(request.headers.get("Accept", "")) == METADATA:
        return json_response(partial_metadata(obj), status)
    meta = obj.get("metadata") or {}
    text = None if dry_run else ops.served_text(rt, meta.get("namespace") or "", meta.get("name") or "",
                                                meta.get("resourceVersion") or "")
    return web.Response(text=compact(obj) if text is None else text, status=status,
                        content_type="application/json")


def _qualified(info: RequestInfo) -> str:
    return f"{info.resource}.{info.group}" if info.group else info.resource


def _forbidden(info: RequestInfo, attrs: RequestAttributes) -> errors.ApiError:
    detail = forbidden_detail(attrs)
    if not info.is_resource:
        return errors.ApiError(403, "Forbidden", f"forbidden: {detail}", {})
    subject = f'{_qualified(info)} "{info.name}"' if info.name else _qualified(info)
    details: dict[str, Any] = {"kind": info.resource}
    if info.name:
        details["name"] = info.name
    if info.group:
        details["group"] = info.group
    return errors.ApiError(403, "Forbidden", f"{subject} is forbidden: {detail}", details)


def _impersonate(cluster: Cluster, request: web.Request, caller: UserInfo) -> UserInfo:
    """Apply Impersonate-User/-Group after checking the caller may impersonate them."""
    user = request.headers.get("Impersonate-User")
    groups = request.headers.getall("Impersonate-Group", [])
    uid = request.headers.get("Impersonate-Uid", "")
    if not user and not groups and not uid:
        return caller
    if not user:
        raise errors.internal(f"requested {groups} without impersonating a user")
    checks: list[tuple[str, str, str, str]] = []  # (api group, resource, namespace, name)
    sa_groups: list[str] = []
    if user.startswith("system:serviceaccount:") and user.count(":") == 3:
        _, _, ns, sa = user.split(":")
        checks.append(("", "serviceaccounts", ns, sa))
        sa_groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
    else:
        checks.append(("", "users", "", user))
    checks += [("", "groups", "", g) for g in groups]
    if uid:
        checks.append(("authentication.k8s.io", "uids", "", uid))
    for group, resource, ns, name in checks:
        attrs = RequestAttributes(
            user=caller.name,
            groups=caller.groups,
            verb="impersonate",
            api_group=group,
            resource=resource,
            namespace=ns,
            name=name,
        )
        if not cluster.authorizer.decide(attrs).allowed:
            subject = f"{resource}.{group}" if group else resource
            raise errors.ApiError(
                403,
                "Forbidden",
                f'{subject} "{name}" is forbidden: {forbidden_detail(attrs)}',
                {"name": name, "kind": resource, **({"group": group} if group else {})},
            )
    all_groups = [*groups, *sa_groups]
    if user != "system:anonymous" and AUTHENTICATED_GROUP not in all_groups:
        all_groups.append(AUTHENTICATED_GROUP)
    return UserInfo(user, tuple(all_groups), uid)


async def _raw_body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise body_too_large() from exc


async def _read_body(request: web.Request) -> Any:
    raw = await _raw_body(request)
    if not raw:
        return None
    ctype = request.content_type or ""
    if ctype == protobuf.PROTOBUF_CONTENT_TYPE:
        return protobuf.decode_body(raw)
    try:
        if "yaml" in ctype:
            return yaml.safe_load(raw.decode("utf-8"))
        return strict_loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise errors.bad_request(f"error decoding body: {exc}") from exc


def _write_options(request: web.Request) -> WriteOptions:
    q = request.query
    dry = q.getall("dryRun", [])
    if any(d != "All" for d in dry):
        raise errors.bad_request(f'dryRun: Unsupported value: "{dry[0]}": supported values: "All"')
    return WriteOptions(
        dry_run=bool(dry),
        field_manager=q.get("fieldManager", ""),
        field_validation=q.get("fieldValidation", ""),
        force=q.get("force") in ("true", "1"),
        user_agent=request.headers.get("User-Agent", ""),
    )


def _int_param(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise errors.bad_request(f"{name}: invalid integer {value!r}") from exc


def _matcher(rt: ResourceType, label_selector: str | None, field_selector: str | None) -> Matcher:
    """Selectors evaluate against the shape the request speaks (events.k8s.io `regarding.name`)."""
    match = make_matcher(label_selector, field_selector)
    if (rt.store_group, rt.store_plural) == (rt.group, rt.plural):
        return match
    return lambda obj: match(present(rt, obj))


@dataclass(frozen=True)
class _Listed:
    resource_version: int
    page: pagination.Page


class Handler:
    """The single request handler bound to one Cluster."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._dispatch(request)
        except errors.ApiError as exc:
            return json_response(exc.status(), exc.code)
        except Exception as exc:  # a bug in the sandbox: answer like an apiserver would, and log it
            log.exception("sandbox request failed: %s %s", request.method, request.path_qs)
            err = errors.internal(str(exc))
            return json_response(err.status(), err.code)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path in HEALTH_PATHS:
            return web.Response(text="ok", content_type="text/plain")
        caller = self.cluster.authenticate(request.headers.get("Authorization"))
        if caller is None:
            raise errors.unauthorized()
        user = _impersonate(self.cluster, request, caller)
        info = parse_request(request.method, path, request.query.get("watch") in ("true", "1"))
        if (info.resource, info.subresource) == ("pods", EXEC):
            info = replace(info, verb="create")  # a WebSocket GET needs `create pods/exec`, as since 1.30
        attrs = RequestAttributes(
            user=user.name,
            groups=user.groups,
            verb=info.verb,
            api_group=info.group,
            resource=info.resource if info.is_resource else "",
            subresource=info.subresource,
            namespace=info.namespace,
            name=info.name,
            path=path,
        )
        if not self.cluster.authorizer.decide(attrs).allowed:
            raise _forbidden(info, attrs)
        if not info.is_resource:
            return self._non_resource(request, info)
        fault = self.cluster.faults.draw(info.verb, _qualified(info), info.subresource, user.name)
        if fault is not None:
            return await self._faulted(request, info, user, fault)
        return await self._resource(request, info, user)

    async def _faulted(self, request: web.Request, info: RequestInfo, user: UserInfo,
                       fault: Fault) -> web.StreamResponse:
        """Serve a request that drew a fault (see sandbox.faults for what each kind does to a write)."""
        await _raw_body(request)  # received in full before the server is slow: a client leaving changes nothing
        if fault.kind == "error":
            reason, message = ERROR_STATUS[fault.code]
            details: dict[str, Any] = {"causes": [{"message": message.split(": ", 1)[-1]}]} \
                if fault.code == 500 else {}
            raise errors.ApiError(fault.code, reason, message, details or None)
        if fault.kind == "throttle":
            return web.Response(status=429, text=THROTTLE_MESSAGE + "\n", content_type="text/plain",
                                headers={"Retry-After": str(fault.retry_after_seconds)})
        if fault.kind == "drop-watch":
            return await self._resource(request, info, user, drop_watch_after=fault.seconds)
        if fault.kind == "latency":
            await asyncio.sleep(fault.seconds)
            return await self._resource(request, info, user)
        if fault.kind == "timeout-after-write":
            try:
                await self._resource(request, info, user)
            except errors.ApiError:
                pass  # the answer is lost either way
        await asyncio.sleep(fault.seconds)
        if request.transport is not None:
            request.transport.abort()  # the connection drops: the client gets no answer
        return web.Response(status=504)

    # -- discovery and friends --------------------------------------------------------------------

    def _non_resource(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        reg = self.cluster.registry
        parts = [p for p in info.path.strip("/").split("/") if p]
        if request.method not in ("GET", "HEAD"):
            raise errors.method_not_allowed()
        body: Any = None
        if parts == ["version"]:
            body = discovery.version()
        elif parts == ["api"]:
            body = discovery.api_versions(self.cluster.server_address)
        elif parts == ["api", "v1"]:
            body = discovery.api_resource_list(reg, "", "v1")
        elif parts == ["apis"]:
            body = discovery.api_group_list(reg)
        elif len(parts) == 2 and parts[0] == "apis":
            body = discovery.api_group(reg, parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            body = discovery.api_resource_list(reg, parts[1], parts[2])
        elif parts == ["openapi", "v2"]:
            version = discovery.SERVER_VERSION["gitVersion"]
            if "protobuf" in request.headers.get("Accept", ""):
                return web.Response(
                    body=openapi.openapi_v2_protobuf(version), content_type=openapi.V2_PROTOBUF_CONTENT_TYPE
                )
            body = openapi.openapi_v2_json(version)
        if body is None:
            raise errors.unknown_resource()
        return json_response(body)

    # -- resources --------------------------------------------------------------------------------

    async def _resource(self, request: web.Request, info: RequestInfo, user: UserInfo,
                        drop_watch_after: float | None = None) -> web.StreamResponse:
        cluster = self.cluster
        rt = cluster.registry.lookup(info.group, info.version, info.resource)
        if rt is None or info.extra_parts:
            raise errors.unknown_resource()
        if rt.namespaced and info.name and not info.namespace:
            raise errors.unknown_resource()
        if not rt.namespaced and info.namespace and rt.plural != "namespaces":
            raise errors.unknown_resource()
        if info.subresource and info.subresource not in rt.subresources:
            raise errors.unknown_resource()
        ns = info.namespace if rt.namespaced else ""
        verb = info.verb
        if verb not in rt.verbs and not (info.subresource and verb in ("get", "update", "patch")):
            raise errors.method_not_allowed()
        if rt.only_create:
            body = await _read_body(request)
            return json_response(review(rt, ns, body, user, cluster.authorizer), 201)
        if info.subresource == EXEC:
            return await self._exec(request, info, rt, ns)
        if info.subresource == TOKEN:
            if verb != "create":
                raise errors.method_not_allowed()
            body = await _read_body(request)
            token = request_token(cluster.store, cluster.signer, rt, ns, info.name, body,
                                  _write_options(request).dry_run)
            return json_response(token, 201)
        if verb in ("list", "watch"):
            return await self._list_or_watch(request, info, rt, ns, drop_watch_after)
        if verb == "get":
            return self._get(request, info, rt, ns)
        if verb == "create":
            if info.name:
                raise errors.method_not_allowed()
            body = await _read_body(request)
            opts = _write_options(request)
            new = cluster.ops.create(rt, ns, body, user, opts)
            return object_response(request, cluster.ops, rt, new, 201, opts.dry_run)
        if verb == "update":
            body = await _read_body(request)
            opts = _write_options(request)
            if info.subresource == "scale":
                return json_response(cluster.ops.replace_scale(rt, ns, info.name, body, user, opts))
            replaced = cluster.ops.replace(rt, ns, info.name, body, user, opts, info.subresource)
            return object_response(request, cluster.ops, rt, replaced, 200, opts.dry_run)
        if verb == "patch":
            raw = await _raw_body(request)
            opts = _write_options(request)
            ctype = request.headers.get("Content-Type", "")
            if info.subresource == "scale":
                return json_response(cluster.ops.patch_scale(rt, ns, info.name, ctype, raw, user, opts))
            obj, created = cluster.ops.patch(rt, ns, info.name, ctype, raw, user, opts, info.subresource)
            return object_response(request, cluster.ops, rt, obj, 201 if created else 200, opts.dry_run)
        if verb in ("delete", "deletecollection"):
            body = await _read_body(request) or {}
            options = dict(body) if isinstance(body, dict) else {}
            for key in ("propagationPolicy", "orphanDependents"):
                if key in request.query:
                    value: Any = request.query[key]
                    options[key] = value == "true" if key == "orphanDependents" else value
            dry_run = _write_options(request).dry_run or "All" in (options.get("dryRun") or [])
            if verb == "delete":
                return json_response(cluster.ops.delete(rt, ns, info.name, options, user, dry_run))
            match = _matcher(rt, request.query.get("labelSelector"), request.query.get("fieldSelector"))
            return json_response(cluster.ops.delete_collection(rt, ns or None, match, options, user, dry_run))
        raise errors.method_not_allowed()

    async def _exec(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                    ns: str) -> web.StreamResponse:
        exec_request = podexec.parse_request(request.query)
        container = podexec.check_target(self.cluster.ops.get(rt, ns, info.name), exec_request)
        if request.method != "GET" or request.headers.get("Upgrade", "").lower() != "websocket":
            raise errors.bad_request("the sandbox serves pods/exec over WebSocket (v5.channel.k8s.io), not SPDY")
        return await podexec.serve(request, ns, info.name, exec_request, container, self.cluster.exec_command)

    def _get(self, request: web.Request, info: RequestInfo, rt: ResourceType, ns: str) -> web.StreamResponse:
        ops = self.cluster.ops
        if info.subresource == "scale":
            return json_response(ops.get_scale(rt, ns, info.name))
        shape = response_shape(request.headers.get("Accept", ""))
        if info.subresource in ("", "status") and shape == METADATA:
            return json_response(partial_metadata(ops.get(rt, ns, info.name)))
        if info.subresource in ("", "status") and shape == OBJECTS:
            text = ops.served_text(rt, ns, info.name)
            if text is not None:
                return web.Response(text=text, content_type="application/json")
        obj = ops.get(rt, ns, info.name)
        if info.subresource == "log":
            q = request.query
            text = self.cluster.pod_logs(
                obj,
                q.get("container", ""),
                q.get("previous") in ("true", "1"),
                _int_param(request, "tailLines"),
            )
            return web.Response(text=text, content_type="text/plain")
        if shape == TABLE:
            table = to_table(
                rt,
                [obj],
                obj["metadata"].get("resourceVersion", ""),
                request.query.get("includeObject", "Metadata"),
            )
            return json_response(table)
        return json_response(obj)

    async def _list_or_watch(
        self, request: web.Request, info: RequestInfo, rt: ResourceType, ns: str,
        drop_after: float | None = None,
    ) -> web.StreamResponse:
        q = request.query
        field_selector = q.get("fieldSelector", "")
        if info.name:  # legacy /watch/.../<name>
            field_selector = ",".join(p for p in (field_selector, f"metadata.name={info.name}") if p)
        match = _matcher(rt, q.get("labelSelector"), field_selector)
        namespace = ns if rt.namespaced and ns else None
        shape = response_shape(request.headers.get("Accept", ""))
        include = q.get("includeObject", "Metadata")
        cluster = self.cluster
        if info.verb == "watch":
            timeout = _int_param(request, "timeoutSeconds")
            req = WatchRequest(
                rt=rt,
                namespace=namespace,
                match=match,
                resource_version=q.get("resourceVersion", ""),
                timeout_seconds=float(timeout) if timeout else None,
                bookmarks=q.get("allowWatchBookmarks") in ("true", "1"),
                bookmark_interval=cluster.bookmark_interval,
                send_initial_events=q.get("sendInitialEvents") in ("true", "1"),
                drop_after=drop_after,
                shape=shape,
            )
            first = [True]

            def encode(event_type: str, obj: dict[str, Any]) -> dict[str, Any]:

                shown = present(rt, obj)
                if shape == METADATA:
                    return partial_metadata(shown)
                if shape == OBJECTS:
                    return shown
                table = to_table(
                    rt, [shown], shown["metadata"].get("resourceVersion", ""), include, with_headers=first[0]
                )
                first[0] = False
                return table

            assert cluster.shutdown is not None
            return await serve_watch(request, cluster.store, req, encode, cluster.shutdown)
        listed = self._list_page(request, rt, namespace, match)
        meta: dict[str, Any] = {"resourceVersion": str(listed.resource_version)}
        if listed.page.continue_token:
            meta["continue"] = listed.page.continue_token
        if listed.page.remaining is not None:
            meta["remainingItemCount"] = listed.page.remaining
        if shape == TABLE:
            table = to_table(rt, listed.page.items, meta["resourceVersion"], include)
            table["metadata"] = meta
            return json_response(table)
        if shape == METADATA:
            return json_response(partial_metadata_list(listed.page.items, meta))
        return json_response({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta,
                              "items": listed.page.items})

    def _list_page(self, request: web.Request, rt: ResourceType, namespace: str | None,
                   match: Matcher) -> _Listed:
        """One page of a list: everything, or `limit` items from the snapshot a `continue` token names."""
        store, q = self.cluster.store, request.query
        filtered = bool(q.get("labelSelector") or q.get("fieldSelector"))
        token = q.get("continue", "")
        if not token:
            items = self.cluster.ops.list_objects(rt, namespace, match)
            version = store.resource_version
            return _Listed(version, pagination.page(items, version, "", _int_param(request, "limit"), filtered))
        cont = pagination.decode(token)
        snapshot = store.objects_at(rt.store_group, rt.store_plural, namespace, cont.resource_version)
        if snapshot is None:
            raise pagination.expired(store.resource_version, cont.start)
        items = [present(rt, obj) for obj in snapshot if match(obj)]
        return _Listed(cont.resource_version,
                       pagination.page(items, cont.resource_version, cont.start, _int_param(request, "limit"),
                                       filtered))


def build_app(cluster: Cluster) -> web.Application:
    app = web.Application(client_max_size=MAX_REQUEST_BODY_BYTES)
    app.router.add_route("*", "/{tail:.*}", Handler(cluster))
    return app
