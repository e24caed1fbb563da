"""Kubernetes Events as the kubelet, scheduler and controllers record them, repeats folded into a count.

Why: `kubectl describe` and every diagnosis read Events ("Back-off restarting failed container",
"0/3 nodes are available: ..."). The real event recorder folds a repeat of the same reason and
message on the same object into one Event whose `count` and `lastTimestamp` grow ("x12 over 3m"),
and its spam filter lets a source write 25 events about one object, then one every 5 minutes; the
same is done here, so a crash-looping or unready pod does not flood the store.
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


SPAM_BURST = 25  # client-go's EventSourceObjectSpamFilter: a burst of 25 per source and object...
SPAM_REFILL_SECONDS = 300.0  # ...then one more every 5 minutes
_ROUNDING = 1e-9  # a refill summed from many small steps lands a hair under a whole token


class Recorder:
    def __init__(self, ops: Operations, clock: SimClock) -> None:
        self.ops = ops
        self.clock = clock
        self._seen: dict[tuple[str, str, str, str, str], str] = {}
        self._tokens: dict[tuple[str, str, str], tuple[float, float]] = {}  # (source, host, uid) -> (tokens, at)

    def _bucket(self, key: tuple[str, str, str], at: float) -> float:
        tokens, last = self._tokens.get(key, (float(SPAM_BURST), at))
        return min(float(SPAM_BURST), tokens + max(0.0, at - last) / SPAM_REFILL_SECONDS)

    def _allowed(self, component: str, host: str, uid: str, at: float) -> bool:
        """The spam filter: a token bucket per event source and object, refilled in cluster time."""
        key = (component, host, uid)
        tokens = self._bucket(key, at)
        if tokens < 1 - _ROUNDING:
            self._tokens[key] = (tokens, at)
            return False
        self._tokens[key] = (max(0.0, tokens - 1), at)
        return True

    def next_allowed(self, component: str, host: str, uid: str, now: float, spending: int = 0) -> float:
        """When the filter lets one more event from this source about this object through, once
        `spending` events not yet recorded are spent at `now` (the kubelet skips probes whose
        Unhealthy events it would drop)."""
        tokens = self._bucket((component, host, uid), now) - spending
        return now if tokens >= 1 - _ROUNDING else now + (1 - tokens) * SPAM_REFILL_SECONDS

    def record(self, involved: dict[str, Any], reason: str, message: str, type_: str = NORMAL,
               component: str = "kubelet", host: str = "", field_path: str = "",
               at: float | None = None) -> None:
        """Create the Event, or count one more of an identical one."""
        meta = involved.get("metadata") or {}
        namespace = meta.get("namespace") or CLUSTER_SCOPED_EVENTS_NAMESPACE
        uid = meta.get("uid", "")
        moment = self.clock.now() if at is None else at
        if not self._allowed(component, host, uid, moment):
            return
        stamp = _stamp(moment)
        key = (uid, reason, message, component, field_path)
        rt = self.ops.registry.lookup("", "v1", "events")
        assert rt is not None
        name = self._seen.get(key)
        if name is not None:
            existing = self.ops.store.get(("", "events", namespace, name))
            if existing is not None:
                # One more of the same: the count and last time grow, written as the recorder's own
                # record (no admission or field ownership to compute for it).
                existing["count"] = int(existing.get("count") or 1) + 1
                existing["lastTimestamp"] = stamp
                self.ops.store.put("", "events", existing)
                return
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
