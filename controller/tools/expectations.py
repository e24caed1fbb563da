"""Checking an eval's `expect` against the end state: pure comparisons, Kubernetes-style.

Values compare as Kubernetes serializes them: quantities by value (`1Gi` == `1024Mi`, `10` ==
`"10"`, `250m` == `0.25`); a list in `expect` matches a list of the same length item by item
(subset inside each item), except `containers`, `ports` and `env`, which match by name or port.
Server-set metadata and status are ignored when deciding whether the cluster is unchanged, as are
the operator's own records (its conversations, Events, its namespace) and objects that controllers
derive from others (anything with an ownerReference, a Service's Endpoints and EndpointSlices, a
PersistentVolume a provisioner made for a claim, a VolumeSnapshotContent the snapshot controller made
for a VolumeSnapshot).
"""

from __future__ import annotations

from typing import Any

from controller.kubevalues import subset_mismatch

SERVER_METADATA = ("uid", "resourceVersion", "generation", "managedFields", "creationTimestamp",
                   "deletionTimestamp", "selfLink")
CONTROLLER_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision")
IGNORED_KINDS = {("v1", "Event"), ("events.k8s.io/v1", "Event"), ("coordination.k8s.io/v1", "Lease"),
                 # kept by controllers from other objects: a Service's endpoints follow its pods
                 ("v1", "Endpoints"), ("discovery.k8s.io/v1", "EndpointSlice")}

def object_key(obj: dict[str, Any]) -> str:
    """`apps/v1/Deployment/shop/web`; cluster-scoped objects have no namespace part."""
    meta = obj.get("metadata") or {}
    parts = [obj.get("apiVersion", ""), obj.get("kind", ""), meta.get("namespace") or "", meta.get("name", "")]
    return "/".join(p for p in parts if p)


def normalized(obj: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_METADATA}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in CONTROLLER_ANNOTATIONS}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    if not meta.get("labels"):
        meta.pop("labels", None)
    out["metadata"] = meta
    return out


def counts_for_unchanged(obj: dict[str, Any], operator_namespace: str) -> bool:
    """Whether an object is part of the user's cluster state (not the operator's own records)."""
    meta = obj.get("metadata") or {}
    if (obj.get("apiVersion"), obj.get("kind")) in IGNORED_KINDS:
        return False
    if str(obj.get("apiVersion", "")).startswith("aiop.dev/"):
        return False
    if meta.get("namespace") == operator_namespace or (obj.get("kind") == "Namespace"
                                                        and meta.get("name") == operator_namespace):
        return False
    if obj.get("kind") == "PersistentVolume" and (obj.get("spec") or {}).get("claimRef") and \
            "pv.kubernetes.io/provisioned-by" in (meta.get("annotations") or {}):
        return False  # provisioned for a claim: it follows the claim, which is compared itself
    if obj.get("kind") == "VolumeSnapshotContent" and _dynamic_content(obj):
        return False  # cut for a VolumeSnapshot (named after its uid): it follows the snapshot, compared itself
    return not meta.get("ownerReferences")


def _dynamic_content(obj: dict[str, Any]) -> bool:
    """A content the snapshot controller made for a VolumeSnapshot of a volume; a pre-provisioned one
    (`source.snapshotHandle`, written by a person) is part of the cluster's state."""
    spec = obj.get("spec") or {}
    return bool((spec.get("volumeSnapshotRef") or {}).get("name") and (spec.get("source") or {}).get("volumeHandle"))


def differences(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]],
                allowed: set[str]) -> list[str]:
    """Keys of objects added, removed or changed, outside `allowed`."""
    problems = []
    for key in sorted(set(before) | set(after)):
        if key in allowed:
            continue
        if key not in after:
            problems.append(f"{key} was deleted")
        elif key not in before:
            problems.append(f"{key} was created")
        elif normalized(before[key]) != normalized(after[key]):
            problems.append(f"{key} changed")
    return problems


def alerts_ok(expected: int | str, actual: int) -> bool:
    if isinstance(expected, int):
        return actual == expected
    text = expected.replace(" ", "")
    for op in (">=", "<=", "==", ">", "<"):
        if text.startswith(op):
            n = int(text[len(op):])
            return {">=": actual >= n, "<=": actual <= n, "==": actual == n, ">": actual > n, "<": actual < n}[op]
    return actual == int(text)


def lacks_problem(unwanted: dict[str, Any], candidates: list[dict[str, Any]]) -> str:
    """'' when an object exists and none of `candidates` contains the given fields, else what is wrong.

    The same subset match as `objects`, negated: `{spec: {template: {spec: {containers: [{name: web,
    env: [{name: DEBUG}]}]}}}}` holds once the env var DEBUG is gone from container web.
    """
    key = object_key(unwanted) or str(unwanted.get("kind", "object"))
    if not candidates:
        return f"no {key} exists"
    expected = {k: v for k, v in unwanted.items() if k not in ("apiVersion", "kind", "status")}
    meta = {k: v for k, v in (expected.get("metadata") or {}).items() if k not in ("name", "namespace")}
    if meta:
        expected["metadata"] = meta
    else:
        expected.pop("metadata", None)
    for candidate in candidates:
        if not subset_mismatch(expected, candidate):
            return f"{object_key(candidate) or key} still has the given fields"
    return ""
