"""The OpenAPI documents kubectl insists on downloading.

Why: `kubectl apply` (default `--validate=strict`) downloads `/openapi/v3`, then `/openapi/v2` as
gnostic protobuf, and refuses to apply when both fail ("failed to download openapi"). The sandbox
serves an empty but well-formed v2 document: kubectl then finds no schema for any kind, skips
client-side validation, and computes strategic merge patches from its compiled-in types (custom
resources get JSON merge patches) - which is how it behaves against a real cluster too. `/openapi/v3`
answers 404 so kubectl takes that path.
"""

from __future__ import annotations

V2_PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2); payloads here are < 128 bytes."""
    assert len(payload) < 128
    return bytes([(number << 3) | 2, len(payload)]) + payload


def openapi_v2_protobuf(version: str) -> bytes:
    """gnostic openapi_v2.Document{swagger: "2.0", info: {title: "Kubernetes", version}}."""
    info = _field(1, b"Kubernetes") + _field(2, version.encode())
    return _field(1, b"2.0") + _field(2, info)


def openapi_v2_json(version: str) -> dict[str, object]:
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": version}, "paths": {},
            "definitions": {}}
