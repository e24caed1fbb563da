"""Decoding the Kubernetes protobuf request bodies that kubectl's typed clients send.

Why: client-go's typed clientset - behind `kubectl create deployment|service|job|cronjob|quota|
poddisruptionbudget|priorityclass|ingress|role|rolebinding|configmap|secret|token ...`, `kubectl run`,
`kubectl expose` and `kubectl auth can-i` - encodes request bodies as
`application/vnd.kubernetes.protobuf` with no fallback to JSON. The sandbox answers in JSON (clients
decode by the response Content-Type), so only request decoding is needed.

The wire facts of every message (field numbers, JSON names, pointer/repeated/map/omitempty/inline)
are data in `protobuf_schema.json`, generated from the Go struct tags of k8s.io/api and
k8s.io/apimachinery by `sandbox/protobuf_gen.py`. The decoder turns a message into the JSON the API
server would have decoded it to: pointers keep zero values, `omitempty` fields drop them, inlined
structs merge into their parent, and the well-known wrappers (Time, MicroTime, Duration, Quantity,
IntOrString, RawExtension, FieldsV1) become their JSON forms. A field number the table does not know
is a 400 naming the message and the number (nothing is silently dropped); a kind it does not know
is a 415.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import struct
from pathlib import Path
from typing import Any

from sandbox.errors import ApiError

MAGIC = b"k8s\x00"
PROTOBUF_CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
SCHEMA_FILE = Path(__file__).with_name("protobuf_schema.json")

Value = int | bytes


@functools.cache
def _schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return data


def known_kinds() -> dict[str, str]:
    """`"apps/v1 Deployment"` -> message name, for every kind a protobuf body may carry."""
    kinds: dict[str, str] = _schema()["kinds"]
    return kinds


class DecodeError(ValueError):
    """A body that does not follow the wire format or the schema."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise DecodeError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Value]]:
    """Raw (field number, wire type, value) triples; value is an int or bytes (length-delimited)."""
    out: list[tuple[int, int, Value]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, wire, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise DecodeError("truncated length-delimited field")
            out.append((number, wire, data[pos:pos + length]))
            pos += length
        elif wire == 1:
            out.append((number, wire, data[pos:pos + 8]))
            pos += 8
        elif wire == 5:
            out.append((number, wire, data[pos:pos + 4]))
            pos += 4
        else:
            raise DecodeError(f"unsupported wire type {wire}")
    return out


def _as_bytes(value: Value) -> bytes:
    if not isinstance(value, bytes):
        raise DecodeError("expected a length-delimited field")
    return value


def _int(value: Value) -> int:
    if isinstance(value, bytes):
        raise DecodeError("expected a varint")
    return value - (1 << 64) if value >= 1 << 63 else value


def _by_number(data: bytes) -> dict[int, Value]:
    return {number: value for number, _, value in _fields(data)}


def _time(data: bytes, micro: bool) -> str | None:
    parts = _by_number(data)
    seconds, nanos = _int(parts.get(1, 0)), _int(parts.get(2, 0))
    if not seconds and not nanos:
        return None  # Go's zero Time marshals as null
    stamp = dt.datetime.fromtimestamp(seconds, dt.UTC) + dt.timedelta(microseconds=nanos // 1000)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def go_duration(nanoseconds: int) -> str:
    """Go's time.Duration.String: 1h2m3s, 1.5s, 250ms, 0s."""
    if nanoseconds == 0:
        return "0s"
    sign, n = ("-", -nanoseconds) if nanoseconds < 0 else ("", nanoseconds)
    if n < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if n >= size:
                return f"{sign}{_trim(n / size)}{unit}"
    hours, rest = divmod(n, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = _trim(rest / 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    return f"{sign}{minutes}m{seconds}" if minutes else f"{sign}{seconds}"


def _trim(number: float) -> str:
    return f"{number:.9f}".rstrip("0").rstrip(".")


def _well_known(kind: str, data: bytes) -> Any:
    if kind in ("Time", "MicroTime"):
        return _time(data, kind == "MicroTime")
    parts = _by_number(data)
    if kind == "Duration":
        return go_duration(_int(parts.get(1, 0)))
    if kind == "Quantity":
        return _as_bytes(parts.get(1, b"")).decode()
    if kind == "IntOrString":
        if _int(parts.get(1, 0)) == 1:
            return _as_bytes(parts.get(3, b"")).decode()
        return _int(parts.get(2, 0))
    if kind in ("RawExtension", "FieldsV1"):
        raw = _as_bytes(parts.get(1, b""))
        return json.loads(raw) if raw else None
    raise DecodeError(f"unknown type {kind}")


WELL_KNOWN = frozenset({"Time", "MicroTime", "Duration", "Quantity", "IntOrString", "RawExtension", "FieldsV1"})


def _scalar(kind: str, wire: int, value: Value) -> Any:
    if kind == "string":
        return _as_bytes(value).decode("utf-8")
    if kind == "bytes":
        return base64.b64encode(_as_bytes(value)).decode()
    if kind == "int":
        return _int(value)
    if kind == "bool":
        return bool(_int(value))
    if kind == "double":
        return struct.unpack("<d", _as_bytes(value))[0] if wire == 1 else float(_int(value))
    if kind in WELL_KNOWN:
        return _well_known(kind, _as_bytes(value))
    return decode_message(kind, _as_bytes(value))


def _repeated(kind: str, wire: int, value: Value) -> list[Any]:
    """One occurrence of a repeated field (a packed run of scalars yields several)."""
    if wire == 2 and kind in ("int", "bool"):
        data, pos, out = _as_bytes(value), 0, []
        while pos < len(data):
            item, pos = _varint(data, pos)
            out.append(_scalar(kind, 0, item))
        return out
    return [_scalar(kind, wire, value)]


def _is_zero(value: Any) -> bool:
    return value is None or value == "" or value is False or (value == 0 and not isinstance(value, dict))


def decode_message(message: str, data: bytes) -> dict[str, Any]:
    """One message as the JSON object the API server would have seen."""
    schema = _schema()["messages"].get(message)
    if schema is None:
        raise DecodeError(f"no schema for message {message}")
    out: dict[str, Any] = {}
    inlined: list[dict[str, Any]] = []
    for number, wire, value in _fields(data):
        spec = schema.get(str(number))
        if spec is None:
            raise DecodeError(f"{message} has no field {number}")
        name, kind, flags = spec
        if "m" in flags:
            entry = {n: (w, v) for n, w, v in _fields(_as_bytes(value))}
            key = _as_bytes(entry.get(1, (2, b""))[1]).decode()
            item_wire, item = entry.get(2, (2, b""))
            out.setdefault(name, {})[key] = _scalar(kind, item_wire, item)
        elif "r" in flags:
            out.setdefault(name, []).extend(_repeated(kind, wire, value))
        elif "i" in flags:
            inlined.append(_scalar(kind, wire, value))
        else:
            decoded = _scalar(kind, wire, value)
            keep_zero = "p" in flags or ("o" not in flags and kind not in WELL_KNOWN)
            if decoded is None or (not keep_zero and _is_zero(decoded)):
                out.pop(name, None)
                continue
            out[name] = decoded
    for part in inlined:
        out.update(part)
    return out


def decode_body(raw: bytes) -> dict[str, Any]:
    """A `k8s\\0`-prefixed protobuf body as the JSON object it stands for; 415 for unknown kinds."""
    if not raw.startswith(MAGIC):
        raise ApiError(400, "BadRequest", "protobuf body does not start with the Kubernetes magic prefix")
    try:
        envelope = _by_number(raw[len(MAGIC):])
        type_meta = _by_number(_as_bytes(envelope.get(1, b"")))
        api_version = _as_bytes(type_meta.get(1, b"")).decode()
        kind = _as_bytes(type_meta.get(2, b"")).decode()
        message = known_kinds().get(f"{api_version} {kind}")
        if message is None:
            raise ApiError(415, "UnsupportedMediaType",
                           f"the sandbox API server cannot decode protobuf bodies for {api_version} {kind}; "
                           f"send JSON (for example with kubectl apply)")
        obj = decode_message(message, _as_bytes(envelope.get(2, b"")))
    except (DecodeError, UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "BadRequest", f"error decoding protobuf body: {exc}") from exc
    return {"apiVersion": api_version, "kind": kind, **obj}
