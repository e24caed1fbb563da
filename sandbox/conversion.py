"""One stored object, two API shapes: core/v1 Events and events.k8s.io/v1 Events.

Why: on a real cluster both resources are views of the same objects - an Event posted through
events.k8s.io (as newer controllers do) shows up in `kubectl get events` (core/v1), and the other
way round. The sandbox stores every Event in the core/v1 shape and renames fields when a request
speaks events.k8s.io/v1. The renames are the documented field correspondences of the two APIs.
"""

from __future__ import annotations

from typing import Any

# (group, plural) of an API resource -> (group, plural) under which its objects are stored.
STORAGE_ALIASES: dict[tuple[str, str], tuple[str, str]] = {
    ("events.k8s.io", "events"): ("", "events"),
}

# events.k8s.io/v1 field -> core/v1 field
_EVENTS_V1_TO_CORE: dict[str, str] = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
_CORE_TO_EVENTS_V1 = {core: new for new, core in _EVENTS_V1_TO_CORE.items()}


def storage_of(group: str, plural: str) -> tuple[str, str]:
    return STORAGE_ALIASES.get((group, plural), (group, plural))


def _rename(obj: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {names.get(k, k): v for k, v in obj.items()}


def to_storage(group: str, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The stored shape of an object written through (group, plural)."""
    if (group, plural) == ("events.k8s.io", "events"):
        out = _rename(obj, _EVENTS_V1_TO_CORE)
        out["apiVersion"], out["kind"] = "v1", "Event"
        return out
    return obj


def from_storage(group: str, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The shape (group, plural) serves a stored object in (fields only; apiVersion/kind set by the caller)."""
    if (group, plural) == ("events.k8s.io", "events"):
        out = _rename(obj, _CORE_TO_EVENTS_V1)
        if not out.get("eventTime"):
            # events.k8s.io requires eventTime; core events often lack it. A real server would send null,
            # which strict clients (the Python client's models) reject, so borrow the first timestamp.
            stamp = out.get("deprecatedFirstTimestamp") or (out.get("metadata") or {}).get(
                "creationTimestamp"
            )
            if stamp:
                out["eventTime"] = (
                    stamp.replace("Z", ".000000Z") if stamp.endswith("Z") and "." not in stamp else stamp
                )
        return out
    return obj
