"""`apply-manifest`: the one door for a free-form manifest, and the checks it must pass.

Why it exists: an AI backend will sometimes need an object the curated actions do not cover (a
CronJob, a custom resource). Rather than letting it write YAML into a plan, it calls this action
with one manifest as data, and the manifest is held to the same rules as any action: the target is
the manifest's own object (so policy sees its real kind and namespace: system namespaces and RBAC
kinds are refused there), RBAC is checked as the requester for exactly that object, and the
server-side dry-run previews it. On top of that, here:

- never a Secret (its data would be committed to git), never cluster plumbing (CRDs, webhooks,
  admission policies, nodes, persistent volumes), never server-owned metadata;
- built-in kinds are validated against the real Kubernetes schema (`kubernetes_validate`, strict:
  an unknown field is an error), custom kinds against the `openAPIV3Schema` of their CRD, read from
  the cluster through the `ClusterReader` (as the requester), with jsonschema.

Pure: the cluster is read only through `ClusterReader`.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import jsonschema
import kubernetes_validate
from pydantic import Field, field_validator

from controller.api.types import ObjectRef, Permission
from controller.catalog.base import (
    NOW_PLACEHOLDER,
    RESOURCES,
    ActionSpec,
    CatalogError,
    Rendered,
    describe_ref,
    group_of,
    live_object,
    permission,
    unique_permissions,
)
from controller.catalog.params import DNS1123_SUBDOMAIN, Params
from controller.planning.types import ClusterReader
from controller.policy import CLUSTER_SCOPED_SENSITIVE

K8S_VERSION = "1.30"
NEVER_KINDS = frozenset({"Secret", "CustomResourceDefinition", "APIService", "CertificateSigningRequest",
                         "TokenRequest", "TokenReview", "SubjectAccessReview"}) | (CLUSTER_SCOPED_SENSITIVE - {"Namespace"})
SERVER_OWNED_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
                         "managedFields", "selfLink", "ownerReferences", "finalizers", "generateName")
CRD_API = "apiextensions.k8s.io/v1"
_NAME = re.compile(DNS1123_SUBDOMAIN)


class ApplyManifestParams(Params):
    """One Kubernetes object, exactly as it should be applied."""

    manifest: dict[str, Any] = Field(description="One complete Kubernetes object: apiVersion, kind, metadata "
                                                 "(name, and namespace for namespaced kinds), and its fields.")

    @field_validator("manifest")
    @classmethod
    def _shape(cls, value: dict[str, Any]) -> dict[str, Any]:
        api_version, kind = value.get("apiVersion"), value.get("kind")
        if not isinstance(api_version, str) or not api_version:
            raise ValueError("manifest.apiVersion is required")
        if not isinstance(kind, str) or not kind:
            raise ValueError("manifest.kind is required")
        if kind in NEVER_KINDS:
            raise ValueError(f"apply-manifest never writes a {kind}"
                             + (": secrets are never committed to git" if kind == "Secret" else ""))
        meta = value.get("metadata")
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not _NAME.match(meta["name"]):
            raise ValueError("manifest.metadata.name must be a DNS-1123 name")
        ns = meta.get("namespace")
        if ns is not None and (not isinstance(ns, str) or not _NAME.match(ns)):
            raise ValueError("manifest.metadata.namespace must be a DNS-1123 label")
        owned = [k for k in SERVER_OWNED_METADATA if k in meta]
        if owned:
            raise ValueError(f"manifest.metadata.{owned[0]} is set by the server, not by a plan")
        if "status" in value:
            raise ValueError("manifest.status is written by controllers, not by a plan")
        return value


def _crd(cluster: ClusterReader, api_version: str, kind: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The CRD serving this kind, and the schema of this version (None: no CRD the requester can read)."""
    group, _, version = api_version.rpartition("/")
    for crd in cluster.list(CRD_API, "CustomResourceDefinition"):
        spec = crd.get("spec") or {}
        if spec.get("group") == group and (spec.get("names") or {}).get("kind") == kind:
            for v in spec.get("versions") or []:
                if v.get("name") == version and v.get("served", True):
                    return crd, ((v.get("schema") or {}).get("openAPIV3Schema") or {})
            raise CatalogError(f"apply-manifest: the CRD {crd.get('metadata', {}).get('name')} does not serve "
                               f"version {version}")
    return None


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """Unknown fields are pruned silently by the API server; for AI output they are errors."""
    out = dict(schema)
    if "properties" in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["properties"] = {k: _closed(v) for k, v in out["properties"].items()}
        out.setdefault("additionalProperties", False)
    if isinstance(out.get("items"), dict):
        out["items"] = _closed(out["items"])
    return out


def _path(parts: Any) -> str:
    return "manifest" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def validate_manifest(manifest: dict[str, Any], cluster: ClusterReader) -> None:
    """Schema-check one manifest: the Kubernetes schema for built-in kinds, the CRD's for custom ones."""
    api_version, kind = manifest["apiVersion"], manifest["kind"]
    try:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
        return
    except kubernetes_validate.ValidationError as exc:
        raise CatalogError(f"apply-manifest: {_path(exc.absolute_path)}: {exc.message}") from None
    except kubernetes_validate.SchemaNotFoundError:
        pass  # not a built-in kind: look for its CRD
    found = _crd(cluster, api_version, kind)
    if found is None:
        raise CatalogError(f"apply-manifest: {kind} ({api_version}) is neither a built-in kind nor served by a "
                           "CustomResourceDefinition you can read")
    _crd_obj, schema = found
    body = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind", "metadata")}
    closed = _closed(schema)
    for key in ("apiVersion", "kind", "metadata"):
        closed.get("properties", {}).pop(key, None)
    closed["required"] = [r for r in closed.get("required", []) if r not in ("apiVersion", "kind", "metadata")]
    if not closed["required"]:
        closed.pop("required")
    try:
        jsonschema.validate(body, closed)
    except jsonschema.ValidationError as exc:
        raise CatalogError(f"apply-manifest: {_path(exc.absolute_path)}: {exc.message}") from None
    except jsonschema.SchemaError as exc:
        raise CatalogError(f"apply-manifest: the CRD schema of {kind} is not usable: {exc.message}") from None


def _scope(manifest: dict[str, Any], cluster: ClusterReader) -> tuple[str, bool]:
    """(resource plural, namespaced) from the built-in table or the CRD."""
    api_version, kind = manifest["apiVersion"], manifest["kind"]
    known = RESOURCES.get((api_version, kind))
    if known:
        return known
    try:
        found = _crd(cluster, api_version, kind)
    except CatalogError:
        found = None
    if found is not None:
        spec = found[0].get("spec") or {}
        return str((spec.get("names") or {}).get("plural") or kind.lower() + "s"), spec.get("scope") != "Cluster"
    return kind.lower() + "s", True


class ApplyManifest(ActionSpec[ApplyManifestParams]):
    def _ref(self, params: ApplyManifestParams, cluster: ClusterReader | None) -> ObjectRef:
        m = params.manifest
        namespaced = _scope(m, cluster)[1] if cluster is not None else True
        ns = str(m["metadata"].get("namespace") or "") if namespaced else ""
        return ObjectRef(api_version=m["apiVersion"], kind=m["kind"], name=m["metadata"]["name"], namespace=ns)

    def title(self, params: ApplyManifestParams, cluster: ClusterReader | None = None) -> str:
        return f"Apply {describe_ref(self._ref(params, cluster))} (free-form manifest)"

    def targets(self, params: ApplyManifestParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [self._ref(params, cluster)]

    def permissions(self, params: ApplyManifestParams, cluster: ClusterReader) -> list[Permission]:
        r = self._ref(params, cluster)
        plural = _scope(params.manifest, cluster)[0]
        perms = [permission("get", r)]
        if live_object(cluster, r) is None:
            perms.append(permission("create", r))
        perms.append(permission("patch", r))
        return unique_permissions(p.model_copy(update={"resource": plural, "group": group_of(r.api_version)})
                                  for p in perms)

    def render(self, params: ApplyManifestParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        r = self._ref(params, cluster)
        if r.namespace == "" and _scope(params.manifest, cluster)[1]:
            raise CatalogError(f"apply-manifest: {r.kind} {r.name} is namespaced: set manifest.metadata.namespace")
        manifest = copy.deepcopy(params.manifest)
        validate_manifest(manifest, cluster)
        return Rendered(manifests=[manifest], notes=[
            f"{describe_ref(r)} is a free-form manifest: it was schema-checked, but it is not a curated action."])


APPLY_MANIFEST = ApplyManifest(
    name="apply-manifest", context="k8s", params=ApplyManifestParams, risk="medium",
    description=("Apply one complete Kubernetes manifest (server-side apply), for objects no other action covers, "
                 "including custom resources. Schema-checked; never Secrets, RBAC, CRDs or system namespaces."),
)
ACTIONS: tuple[ActionSpec[Any], ...] = (APPLY_MANIFEST,)
