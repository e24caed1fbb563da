"""Decoding the Kubernetes protobuf request bodies that kubectl's typed clients send.

Why: client-go's typed clientset (used by `kubectl auth can-i`, `kubectl create role|rolebinding|
configmap|secret|namespace ...`) encodes request bodies as `application/vnd.kubernetes.protobuf`,
and unlike CBOR there is no fallback to JSON. The sandbox answers in JSON (clients decode by the
response Content-Type), so only request decoding is needed, and only for the kinds those commands
create. Field numbers below are facts of the Kubernetes API (k8s.io/api generated.proto files).
Other kinds answer 415 with a clear message.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from sandbox.errors import ApiError

MAGIC = b"k8s\x00"
PROTOBUF_CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# message -> field number -> (json name, type, repeated). Types: string, bytes, int, bool, time,
# map<string>, map<bytes>, or another message name.
Field = tuple[str, str, bool]
SCHEMAS: dict[str, dict[int, Field]] = {
    "Unknown": {1: ("typeMeta", "TypeMeta", False), 2: ("raw", "bytes", False),
                3: ("contentEncoding", "string", False), 4: ("contentType", "string", False)},
    "TypeMeta": {1: ("apiVersion", "string", False), 2: ("kind", "string", False)},
    "ObjectMeta": {
        1: ("name", "string", False), 2: ("generateName", "string", False), 3: ("namespace", "string", False),
        5: ("uid", "string", False), 6: ("resourceVersion", "string", False), 7: ("generation", "int", False),
        8: ("creationTimestamp", "time", False), 11: ("labels", "map<string>", False),
        12: ("annotations", "map<string>", False), 13: ("ownerReferences", "OwnerReference", True),
        14: ("finalizers", "string", True),
    },
    "OwnerReference": {1: ("kind", "string", False), 3: ("name", "string", False), 4: ("uid", "string", False),
                       5: ("apiVersion", "string", False), 6: ("controller", "bool", False),
                       7: ("blockOwnerDeletion", "bool", False)},
    # authorization.k8s.io/v1
    "SubjectAccessReview": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "SubjectAccessReviewSpec", False)},
    "SelfSubjectAccessReview": {1: ("metadata", "ObjectMeta", False),
                                2: ("spec", "SelfSubjectAccessReviewSpec", False)},
    "SubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes", False),
                                2: ("nonResourceAttributes", "NonResourceAttributes", False),
                                3: ("user", "string", False), 4: ("groups", "string", True),
                                6: ("uid", "string", False)},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes", False),
                                    2: ("nonResourceAttributes", "NonResourceAttributes", False)},
    "ResourceAttributes": {1: ("namespace", "string", False), 2: ("verb", "string", False),
                           3: ("group", "string", False), 4: ("version", "string", False),
                           5: ("resource", "string", False), 6: ("subresource", "string", False),
                           7: ("name", "string", False)},
    "NonResourceAttributes": {1: ("path", "string", False), 2: ("verb", "string", False)},
    # authentication.k8s.io/v1
    "SelfSubjectReview": {1: ("metadata", "ObjectMeta", False)},
    "TokenRequest": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "TokenRequestSpec", False)},
    "TokenRequestSpec": {1: ("audiences", "string", True), 3: ("boundObjectRef", "BoundObjectReference", False),
                         4: ("expirationSeconds", "int", False)},
    "BoundObjectReference": {1: ("kind", "string", False), 2: ("apiVersion", "string", False),
                             3: ("name", "string", False), 4: ("uid", "string", False)},
    # rbac.authorization.k8s.io/v1
    "Role": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "PolicyRule", True)},
    "ClusterRole": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "PolicyRule", True)},
    "PolicyRule": {1: ("verbs", "string", True), 2: ("apiGroups", "string", True), 3: ("resources", "string", True),
                   4: ("resourceNames", "string", True), 5: ("nonResourceURLs", "string", True)},
    "RoleBinding": {1: ("metadata", "ObjectMeta", False), 2: ("subjects", "Subject", True),
                    3: ("roleRef", "RoleRef", False)},
    "Subject": {1: ("kind", "string", False), 2: ("apiGroup", "string", False), 3: ("name", "string", False),
                4: ("namespace", "string", False)},
    "RoleRef": {1: ("apiGroup", "string", False), 2: ("kind", "string", False), 3: ("name", "string", False)},
    # core/v1
    "Namespace": {1: ("metadata", "ObjectMeta", False)},
    "ConfigMap": {1: ("metadata", "ObjectMeta", False), 2: ("data", "map<string>", False),
                  3: ("binaryData", "map<bytes>", False), 4: ("immutable", "bool", False)},
    "Secret": {1: ("metadata", "ObjectMeta", False), 2: ("data", "map<bytes>", False), 3: ("type", "string", False),
               4: ("stringData", "map<string>", False), 5: ("immutable", "bool", False)},
    "ServiceAccount": {1: ("metadata", "ObjectMeta", False), 4: ("automountServiceAccountToken", "bool", False)},
}
SCHEMAS["ClusterRoleBinding"] = SCHEMAS["RoleBinding"]
SCHEMAS["LocalSubjectAccessReview"] = SCHEMAS["SubjectAccessReview"]

# (apiVersion, kind) -> message
KINDS: dict[tuple[str, str], str] = {
    ("authorization.k8s.io/v1", "SubjectAccessReview"): "SubjectAccessReview",
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview"): "LocalSubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "SelfSubjectAccessReview",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "SelfSubjectReview",
    ("authentication.k8s.io/v1", "TokenRequest"): "TokenRequest",
    ("rbac.authorization.k8s.io/v1", "Role"): "Role",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "ClusterRole",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "ClusterRoleBinding",
    ("v1", "Namespace"): "Namespace",
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "Secret"): "Secret",
    ("v1", "ServiceAccount"): "ServiceAccount",
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """Raw (field number, value) pairs; value is an int (varint/fixed) or bytes (length-delimited)."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            out.append((number, data[pos:pos + length]))
            pos += length
        elif wire == 1:
            out.append((number, int.from_bytes(data[pos:pos + 8], "little")))
            pos += 8
        elif wire == 5:
            out.append((number, int.from_bytes(data[pos:pos + 4], "little")))
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return out


def _scalar(kind: str, value: int | bytes) -> Any:
    if kind == "string":
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)
    if kind == "bytes":
        return base64.b64encode(value).decode() if isinstance(value, bytes) else value
    if kind == "int":
        return value if isinstance(value, int) else 0
    if kind == "bool":
        return bool(value)
    if kind == "time":
        seconds = dict(_fields(value if isinstance(value, bytes) else b"")).get(1, 0)
        stamp = dt.datetime.fromtimestamp(int(seconds), dt.UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    raise ValueError(kind)


def decode_message(message: str, data: bytes) -> dict[str, Any]:
    schema = SCHEMAS[message]
    out: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in schema:
            continue
        name, kind, repeated = schema[number]
        if kind.startswith("map<"):
            entry = dict(_fields(value if isinstance(value, bytes) else b""))
            key = _scalar("string", entry.get(1, b""))
            out.setdefault(name, {})[key] = _scalar(kind[4:-1], entry.get(2, b""))
            continue
        decoded = decode_message(kind, value) if kind in SCHEMAS and isinstance(value, bytes) \
            else _scalar(kind, value)
        if decoded == "" and not repeated:
            continue  # Go always encodes empty strings; their JSON form is `omitempty`
        if repeated:
            out.setdefault(name, []).append(decoded)
        else:
            out[name] = decoded
    return out


def decode_body(raw: bytes) -> dict[str, Any]:
    """A `k8s\\0`-prefixed protobuf body as the JSON object it stands for; 415 for unknown kinds."""
    if not raw.startswith(MAGIC):
        raise ApiError(400, "BadRequest", "protobuf body does not start with the Kubernetes magic prefix")
    try:
        envelope = decode_message("Unknown", raw[len(MAGIC):])
        type_meta = envelope.get("typeMeta") or {}
        api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
        message = KINDS.get((api_version, kind))
        if message is None:
            raise ApiError(415, "UnsupportedMediaType",
                           f"the sandbox API server cannot decode protobuf bodies for {api_version} {kind}; "
                           f"send JSON (for example with kubectl apply)")
        inner = base64.b64decode(envelope.get("raw", ""))
        obj = decode_message(message, inner)
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        raise ApiError(400, "BadRequest", f"error decoding protobuf body: {exc}") from exc
    return {"apiVersion": api_version, "kind": kind, **obj}
