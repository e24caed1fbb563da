"""A small Kubernetes REST client over the official `kubernetes` package, with impersonation.

Why not the generated typed APIs: the operator works on arbitrary kinds (built-in and custom),
needs server-side apply with dry-run for previews, and must send every request that acts for a
person *as that person* (`Impersonate-User` / `Impersonate-Group`), so the API server's RBAC and
admission decide, not us. The official client still does the transport: kubeconfig or in-cluster
auth, TLS, token refresh. Errors come back as `KubeError` carrying the API server's own Status.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from urllib3._collections import HTTPHeaderDict

from controller.api.types import Identity

CORE_KINDS: dict[str, tuple[str, bool]] = {
    # kind -> (plural, namespaced) for the kinds the operator uses most; others come from discovery
    "Namespace": ("namespaces", False), "Pod": ("pods", True), "Service": ("services", True),
    "ConfigMap": ("configmaps", True), "Secret": ("secrets", True), "Event": ("events", True),
    "ResourceQuota": ("resourcequotas", True), "ServiceAccount": ("serviceaccounts", True),
    "Deployment": ("deployments", True), "StatefulSet": ("statefulsets", True),
    "DaemonSet": ("daemonsets", True), "ReplicaSet": ("replicasets", True),
    "HorizontalPodAutoscaler": ("horizontalpodautoscalers", True),
    "PodDisruptionBudget": ("poddisruptionbudgets", True), "NetworkPolicy": ("networkpolicies", True),
    "Role": ("roles", True), "RoleBinding": ("rolebindings", True),
    "ClusterRole": ("clusterroles", False), "ClusterRoleBinding": ("clusterrolebindings", False),
    "CustomResourceDefinition": ("customresourcedefinitions", False),
}


RETRIES = 4  # attempts of an idempotent request before a transient error is raised
TRANSIENT_CODES = frozenset({0, 408, 425, 429, 500, 502, 503, 504})
TRANSIENT_REASONS = frozenset({"Timeout", "ServerTimeout", "TooManyRequests", "ServiceUnavailable",
                               "InternalError", "Unreachable"})


# What a write asks for when its caller needs only the new metadata: `PartialObjectMetadata` (client-go's
# metadata client asks the same), else, from a server that cannot send that, the whole object.
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json;q=0.9"


class KubeError(Exception):
    """An API server error, with its HTTP code, Status reason and message.

    `transient` says whether trying again later may work (5xx, 429, timeouts, an unreachable server, a
    lost optimistic-concurrency race); a transient error is never a refusal (principle 7).
    """

    def __init__(self, code: int, reason: str, message: str, status: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.status = status or {}

    @property
    def causes(self) -> list[dict[str, Any]]:
        return list((self.status.get("details") or {}).get("causes") or [])

    @property
    def transient(self) -> bool:
        if self.code in TRANSIENT_CODES or self.reason in TRANSIENT_REASONS:
            return True
        if self.code == 409:  # "the object has been modified": read again and retry
            return self.reason != "AlreadyExists" and not self.field_conflicts
        return False

    @property
    def field_conflicts(self) -> list[str]:
        """Server-side apply conflicts: 'field (manager)' per conflicting field, else []."""
        return [f"{c.get('field', '')} ({c.get('message', '')})".strip() for c in self.causes
                if c.get("type") == "FieldManagerConflict"]

    @property
    def retry_after(self) -> float:
        seconds = (self.status.get("details") or {}).get("retryAfterSeconds")
        return float(seconds) if isinstance(seconds, int | float) else 0.0


class NotFound(KubeError):
    pass


class Forbidden(KubeError):
    pass


class Conflict(KubeError):
    pass


class Invalid(KubeError):
    pass


class Unreachable(KubeError):
    pass


_BY_CODE: dict[int, type[KubeError]] = {404: NotFound, 403: Forbidden, 409: Conflict, 422: Invalid}


@dataclass(frozen=True)
class ResourceInfo:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        parts = [base]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{quote(namespace)}")
        parts.append(self.plural)
        if name:
            parts.append(quote(name))
        if subresource:
            parts.append(subresource)
        return "/".join(parts)


def load_api_client(kubeconfig: str | None, context: str | None = None) -> k8s_client.ApiClient:
    """An ApiClient for a kubeconfig file, or the in-cluster service account when none is given."""
    configuration = k8s_client.Configuration()
    configuration.connection_pool_maxsize = 32  # kopf's workers, timers and the UI share one client
    if kubeconfig:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context, client_configuration=configuration)
    else:
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    return k8s_client.ApiClient(configuration)


class Kube:
    """REST verbs on any kind. `as_user` returns a view whose requests impersonate a person."""

    def __init__(self, api_client: k8s_client.ApiClient, identity: Identity | None = None,
                 _mapper: dict[tuple[str, str], ResourceInfo] | None = None,
                 _lock: threading.Lock | None = None) -> None:
        self.api_client = api_client
        self.identity = identity
        self._mapper = _mapper if _mapper is not None else {}
        self._lock = _lock or threading.Lock()

    def as_user(self, identity: Identity) -> Kube:
        return Kube(self.api_client, identity, self._mapper, self._lock)

    # ------------------------------------------------------------------------------- transport

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None,
                content_type: str = "application/json", accept: str = "application/json",
                timeout: float = 30.0, idempotent: bool | None = None) -> Any:
        """One request; a transient failure of an idempotent one (every verb but create, and reviews,
        which change nothing) is retried a few times with jittered backoff and the server's Retry-After,
        as client-go's callers do, before it is raised for the caller to retry later. A 409 is raised at
        once: sending the same body again cannot cure "the object has been modified" — the caller must read
        again (and a write guarded by a resourceVersion must not be repeated blindly)."""
        safe = method != "POST" if idempotent is None else idempotent
        for attempt in range(RETRIES if safe else 1):
            try:
                return self._once(method, path, query, body, content_type, accept, timeout)
            except KubeError as exc:
                if not exc.transient or exc.code == 409 or attempt == RETRIES - 1 or not safe:
                    raise
                time.sleep(min(2.0, exc.retry_after or random.uniform(0.05, 0.2) * 2 ** attempt))
        raise AssertionError("unreachable")  # the loop returns or raises

    def _once(self, method: str, path: str, query: dict[str, Any] | None, body: Any, content_type: str,
              accept: str, timeout: float) -> Any:
        headers: dict[str, Any] = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type
        if self.identity is not None:
            headers["Impersonate-User"] = self.identity.user
            if self.identity.groups:
                headers["Impersonate-Group"] = list(self.identity.groups)
        url_path = path + ("?" + urlencode(query, doseq=True) if query else "")
        payload = body  # the transport serializes dicts and lists as JSON (valid YAML for apply)
        _method, url, all_headers, _body, _post = self.api_client.param_serialize(
            method=method, resource_path=url_path, header_params=headers, auth_settings=["BearerToken"])
        # Each impersonated group is its own header line, as the API server expects.
        groups: Any = all_headers.pop("Impersonate-Group", None) or []
        wire_headers = HTTPHeaderDict(all_headers)
        for group in groups if isinstance(groups, list) else [groups]:
            wire_headers.add("Impersonate-Group", group)
        try:
            response = self.api_client.rest_client.request(  # type: ignore[no-untyped-call]
                method, url, headers=wire_headers, body=payload, _request_timeout=timeout)
        except Exception as exc:  # urllib3 connection errors, TLS errors
            raise Unreachable(0, "Unreachable", f"cannot reach the Kubernetes API: {exc}") from exc
        raw = response.read()
        text = raw.decode() if isinstance(raw, bytes) else (raw or "")
        if response.status >= 400:
            error = self._error(response.status, text)
            retry_after = (response.headers or {}).get("Retry-After")
            if retry_after and str(retry_after).isdigit() and "details" not in error.status:
                error.status["details"] = {"retryAfterSeconds": int(retry_after)}
            raise error
        if accept.startswith("text/"):
            return text
        return json.loads(text) if text else {}

    @staticmethod
    def _error(code: int, text: str) -> KubeError:
        try:
            status = json.loads(text)
        except ValueError:
            status = {"message": text}
        message = status.get("message") or text or f"HTTP {code}"
        cls = _BY_CODE.get(code, KubeError)
        return cls(code, status.get("reason", ""), message, status)

    # -------------------------------------------------------------------------------- mapping

    def resource(self, api_version: str, kind: str) -> ResourceInfo:
        """The REST resource of a kind, from discovery (cached; refreshed on a miss)."""
        key = (api_version, kind)
        with self._lock:
            if key in self._mapper:
                return self._mapper[key]
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            listing = Kube(self.api_client).request("GET", base)
        except NotFound:
            listing = {"resources": []}
        found: ResourceInfo | None = None
        with self._lock:
            for res in listing.get("resources", []):
                if "/" in res["name"]:
                    continue
                info = ResourceInfo(api_version, res["kind"], res["name"], bool(res.get("namespaced")))
                self._mapper[(api_version, res["kind"])] = info
                if res["kind"] == kind:
                    found = info
        if found is None:
            if kind in CORE_KINDS:
                plural, namespaced = CORE_KINDS[kind]
                return ResourceInfo(api_version, kind, plural, namespaced)
            raise NotFound(404, "NotFound", f'the server has no resource for kind "{kind}" in {api_version}')
        return found

    # ---------------------------------------------------------------------------------- verbs

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        info = self.resource(api_version, kind)
        try:
            result: dict[str, Any] = self.request("GET", info.path(namespace, name))
            return result
        except NotFound:
            return None

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             label_selector: str | None = None, field_selector: str | None = None) -> list[dict[str, Any]]:
        info = self.resource(api_version, kind)
        query = {k: v for k, v in {"labelSelector": label_selector, "fieldSelector": field_selector}.items() if v}
        listing = self.request("GET", info.path(namespace), query=query)
        items: list[dict[str, Any]] = listing.get("items", [])
        for item in items:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    def apply(self, obj: dict[str, Any], field_manager: str, *, dry_run: bool = False,
              force: bool = True) -> dict[str, Any]:
        """Server-side apply (create or update the fields this manager owns)."""
        info = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata", {})
        query: dict[str, Any] = {"fieldManager": field_manager, "force": "true" if force else "false"}
        if dry_run:
            query["dryRun"] = "All"
        result: dict[str, Any] = self.request(
            "PATCH", info.path(meta.get("namespace"), meta["name"]), query=query, body=obj,
            content_type="application/apply-patch+yaml")
        return result

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        info = self.resource(obj["apiVersion"], obj["kind"])
        result: dict[str, Any] = self.request("POST", info.path(obj.get("metadata", {}).get("namespace")), body=obj)
        return result

    def replace(self, obj: dict[str, Any], subresource: str | None = None) -> dict[str, Any]:
        info = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        result: dict[str, Any] = self.request("PUT", info.path(meta.get("namespace"), meta["name"], subresource),
                                              body=obj)
        return result

    def merge_patch(self, api_version: str, kind: str, name: str, namespace: str | None, patch: dict[str, Any],
                    subresource: str | None = None, *, metadata_only: bool = False) -> dict[str, Any]:
        """`metadata_only`: the caller needs only the written object's metadata (its resourceVersion), so
        the API server is asked for that alone (a thread's status write got 190 KiB back at turn 500)."""
        info = self.resource(api_version, kind)
        result: dict[str, Any] = self.request("PATCH", info.path(namespace, name, subresource), body=patch,
                                              content_type="application/merge-patch+json",
                                              accept=METADATA_ONLY if metadata_only else "application/json")
        return result

    def json_patch(self, api_version: str, kind: str, name: str, namespace: str | None, ops: Sequence[dict[str, Any]],
                   *, idempotent: bool) -> dict[str, Any]:
        """An RFC 6902 patch. `idempotent=False` for one that must not be sent twice (an append to a list:
        a retry after a lost response would append again), so a transient failure is raised at once."""
        info = self.resource(api_version, kind)
        result: dict[str, Any] = self.request("PATCH", info.path(namespace, name), body=ops,
                                              content_type="application/json-patch+json", idempotent=idempotent)
        return result

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        info = self.resource(api_version, kind)
        try:
            self.request("DELETE", info.path(namespace, name), body={"propagationPolicy": "Background"})
            return True
        except NotFound:
            return False

    def logs(self, namespace: str, pod: str, container: str | None = None, previous: bool = False,
             tail_lines: int = 50) -> str:
        query: dict[str, Any] = {"tailLines": tail_lines}
        if container:
            query["container"] = container
        if previous:
            query["previous"] = "true"
        try:
            text: str = self.request("GET", f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}/log",
                                     query=query, accept="text/plain")
            return text
        except (NotFound, KubeError):
            return ""

    def can_i(self, who: Identity, verb: str, group: str, resource: str, namespace: str = "", name: str = "",
              subresource: str = "") -> tuple[bool, str]:
        """A SubjectAccessReview for `who` (sent with the operator's own identity)."""
        attrs = {k: v for k, v in {"verb": verb, "group": group, "resource": resource, "namespace": namespace,
                                   "name": name, "subresource": subresource}.items() if v or k == "group"}
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                  "spec": {"user": who.user, "groups": list(who.groups), "resourceAttributes": attrs}}
        result = Kube(self.api_client).request(
            "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body=review, idempotent=True)
        status = result.get("status", {})
        return bool(status.get("allowed")), str(status.get("reason", ""))
