"""Kubernetes Events as the kubelet, scheduler and controllers record them, repeats folded into a count.

Why: `kubectl describe` and every diagnosis read Events ("Back-off restarting failed container",
"0/3 nodes are available: ..."). The real event recorder folds a repeat of the same reason and
message on the same object into one Event whose `count` and `lastTimestamp` grow ("x12 over 3m");
the same is done here, so a crash-looping pod does not flood the store.
"""

from __future__ import annotations

import secrets
from typing import Any

from sandbox.clock import SimClock
from sandbox.errors import ApiError
from sandbox.operations import SYSTEM_USER, Operations

WARNING = "Warning"
NORMAL = "Normal"
CLUSTER_SCOPED_EVENTS_NAMESPACE = "default"


class Recorder:
    def __init__(self, ops: Operations, clock: SimClock) -> None:
        self.ops = ops
        self.clock = clock
        self._seen: dict[tuple[str, str, str, str, str], str] = {}

    def record(self, involved: dict[str, Any], reason: str, message: str, type_: str = NORMAL,
               component: str = "kubelet", host: str = "", field_path: str = "",
               at: float | None = None) -> None:
        """Create the Event, or count one more of an identical one."""
        meta = involved.get("metadata") or {}
        namespace = meta.get("namespace") or CLUSTER_SCOPED_EVENTS_NAMESPACE
        uid = meta.get("uid", "")
        stamp = self.clock.timestamp() if at is None else _stamp(at)
        key = (uid, reason, message, component, field_path)
        rt = self.ops.registry.lookup("", "v1", "events")
        assert rt is not None
        name = self._seen.get(key)
        if name is not None:
            existing = self.ops.store.get(("", "events", namespace, name))
            if existing is not None:
                existing["count"] = int(existing.get("count") or 1) + 1
                existing["lastTimestamp"] = stamp
                try:
                    self.ops.replace(rt, namespace, name, existing, SYSTEM_USER)
                    return
                except ApiError:
                    pass
        if self.ops.store.get(("", "namespaces", "", namespace)) is None:
            return
        name = f"{meta.get('name', 'object')}.{secrets.token_hex(8)}"
        involved_ref = {"kind": involved.get("kind", ""), "name": meta.get("name", ""), "uid": uid,
                        "apiVersion": involved.get("apiVersion", ""),
                        "resourceVersion": meta.get("resourceVersion", "")}
        if meta.get("namespace"):
            involved_ref["namespace"] = meta["namespace"]
        if field_path:
            involved_ref["fieldPath"] = field_path
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved_ref,
            "reason": reason, "message": message, "type": type_,
            "source": {"component": component, **({"host": host} if host else {})},
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
            "reportingComponent": component, "reportingInstance": host or "",
        }
        try:
            self.ops.create(rt, namespace, body, SYSTEM_USER)
        except ApiError:
            return
        self._seen[key] = name


def _stamp(at: float) -> str:
    from sandbox.clock import rfc3339

    return rfc3339(at)
