"""Building events from records and records from events; learning preferences from past plans.

Pure apart from the clock and uuid in `new_event`. Why one choke point: every text a store keeps
arrives inside an event payload, so redacting the payload here (and again when a store ingests
events from elsewhere) is enough to keep secrets out of every table, the event log included.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.knowledge.base import Event, ThreadRecord
from controller.redact import redact_text, redact_value

KINDS = ("thread", "rating", "message", "plan", "preference", "forget-user")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def cutoff_iso(days: int, now: str | None = None) -> str:
    """The timestamp `days` before `now` (ISO 8601, UTC), as stored timestamps compare as text."""
    base = parse_ts(now) if now else datetime.now(UTC)
    return (base - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(ts: str) -> datetime:
    value = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def normalize_ts(ts: str) -> str:
    """Any ISO timestamp -> the canonical sortable form; "" -> now."""
    if not ts:
        return now_iso()
    try:
        return parse_ts(ts).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return now_iso()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def redact_event(event: Event) -> Event:
    """The event with every string of its payload redacted (one pass over the joined text first:
    most payloads hold no secret, and one long regex pass is much cheaper than one per field)."""
    joined = "\n".join(_strings(event.payload))
    if redact_text(joined) == joined:
        return event
    payload: dict[str, Any] = redact_value(event.payload)
    return Event(event.event_id, event.kind, payload, event.origin, event.ts, event.seq)


def new_event(kind: str, payload: dict[str, Any], origin: str, ts: str = "") -> Event:
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    return redact_event(Event(event_id=uuid.uuid4().hex, kind=kind, payload=payload, origin=origin,
                              ts=normalize_ts(ts)))


def thread_payload(record: ThreadRecord) -> dict[str, Any]:
    return {
        "thread_id": record.thread_id, "request": record.request, "resolution": record.resolution,
        "cluster_id": record.cluster_id, "user_id": record.user_id, "response": record.response,
        "resolution_status": record.resolution_status, "rating": record.rating,
        "timestamp": normalize_ts(record.timestamp), "context": record.context,
        "keywords": [k.lower() for k in record.keywords], "tags": sorted({t.lower() for t in record.tags}),
        "steps": [dict(s) for s in record.steps],
    }


def record_from_payload(p: dict[str, Any]) -> ThreadRecord:
    return ThreadRecord(
        thread_id=p["thread_id"], request=p.get("request", ""), resolution=p.get("resolution", ""),
        cluster_id=p.get("cluster_id") or "local", user_id=p.get("user_id") or "", response=p.get("response") or "",
        resolution_status=p.get("resolution_status") or "resolved", rating=p.get("rating"),
        timestamp=p.get("timestamp") or "", context=p.get("context") or "", keywords=tuple(p.get("keywords") or ()),
        tags=tuple(p.get("tags") or ()), steps=tuple(p.get("steps") or ()))


def embed_text(request: str, resolution: str) -> str:
    """What is embedded for a thread: people search with words like the request's."""
    return f"{request}\n{resolution}".strip()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def event_user(event: Event) -> str:
    p = event.payload
    return str(p.get("user_id") or p.get("user") or "")


def event_thread(event: Event) -> str:
    return str(event.payload.get("thread_id") or "")


# ------------------------------------------------------------------------------ preferences

SYNC_ENGINE_ACTIONS = {"argocd": "argocd", "flux": "flux"}


def learn_preferences(plans: list[tuple[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """Defaults a user keeps choosing, from their past plans (oldest first: newer choices win).

    Keys follow what planners read (`controller/planning/offline/context.py`): namespace, replicas,
    requests, limits, sync_engine. Each learned value also says where it came from.
    """
    learned: dict[str, Any] = {}
    namespaces: dict[str, int] = {}
    source: dict[str, str] = {}
    for thread_id, steps in plans:
        for step in steps:
            params = step.get("params") or {}
            ns = params.get("namespace")
            if isinstance(ns, str) and ns:
                namespaces[ns] = namespaces.get(ns, 0) + 1
            if step.get("action") == "scale" and isinstance(params.get("replicas"), int):
                learned["replicas"] = params["replicas"]
                source["replicas"] = thread_id
            if step.get("action") == "set-resources":
                for key in ("requests", "limits"):
                    if params.get(key):
                        learned[key] = params[key]
                        source[key] = thread_id
            engine = params.get("sync_engine") or params.get("engine")
            if isinstance(engine, str) and engine:
                learned["sync_engine"] = engine
                source["sync_engine"] = thread_id
    if namespaces:
        learned["namespace"] = max(namespaces.items(), key=lambda kv: kv[1])[0]
        source["namespace"] = "most used"
    if learned:
        learned["learned_from"] = source
    return learned
