"""Watch streams: newline-delimited JSON events over a chunked HTTP response.

Why these rules: clients resume a watch from the last resourceVersion they saw, so the sandbox
replays history after it, answers an ERROR event with a 410 `Expired` Status once that version
has left the retained window, starts from synthetic ADDED events when no version is given, turns a
selector match change into ADDED/DELETED as the watch cache does, and sends BOOKMARKs on request.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.errors import ApiError
from sandbox.jsoncopy import compact
from sandbox.resources import ResourceType
from sandbox.selectors import Matcher
from sandbox.store import ADDED, DELETED, MODIFIED, Store, StoreEvent
from sandbox.tables import OBJECTS, TABLE
from sandbox.writes import served_as_stored

Encoder = Callable[[str, dict[str, Any]], dict[str, Any]]  # (event type, object) -> wire object


@dataclass(frozen=True)
class WatchRequest:
    """The parameters of one watch."""

    rt: ResourceType
    namespace: str | None
    match: Matcher
    resource_version: str
    timeout_seconds: float | None
    bookmarks: bool
    bookmark_interval: float
    send_initial_events: bool
    drop_after: float | None = None  # an injected fault: end the stream early (sandbox.faults)
    # sandbox.tables' OBJECTS, METADATA or TABLE. Watchers of one resource version and shape are sent the same line, encoded
    # once per event for all of them; a table watcher's lines are its own (it gets the headers once).
    shape: str = OBJECTS


def translate(event: StoreEvent, req: WatchRequest) -> tuple[str, dict[str, Any]] | None:
    """The event this watcher sees, if any, applying the selector-transition rules."""
    if event.group != req.rt.store_group or event.plural != req.rt.store_plural:
        return None
    if req.namespace is not None and event.namespace != req.namespace:
        return None
    now_matches = req.match(event.obj)
    if event.type == ADDED:
        return (ADDED, event.obj) if now_matches else None
    was_matching = event.old is not None and req.match(event.old)
    if event.type == DELETED:
        return (DELETED, event.obj) if was_matching or now_matches else None
    if now_matches and was_matching:
        return (MODIFIED, event.obj)
    if now_matches:
        return (ADDED, event.obj)
    if was_matching:
        return (DELETED, event.obj)
    return None


def _line(event_type: str, obj: dict[str, Any]) -> bytes:
    return _text_line(event_type, compact(obj))


def _text_line(event_type: str, text: str) -> bytes:
    """A watch line around an object's JSON: what `_line` writes for that object, byte for byte."""
    return f'{{"type":{compact(event_type)},"object":{text}}}\n'.encode()


def _event_line(event: StoreEvent, event_type: str, req: WatchRequest, encode: Encoder) -> bytes:
    """The line for a live event (its object is `event.obj`), encoded once per shape for all watchers, from
    the store's own JSON of the object when this watcher is served the stored shape."""
    if req.shape == TABLE:
        return _line(event_type, encode(event_type, event.obj))
    key = (event_type, req.rt.api_version, req.shape)
    line = event.lines.get(key)
    if line is None:
        if req.shape == OBJECTS and event.text is not None and served_as_stored(req.rt, event.obj):
            line = _text_line(event_type, event.text)
        else:
            line = _line(event_type, encode(event_type, event.obj))
        event.lines[key] = line
    return line


def _bookmark(rt: ResourceType, rv: int, initial_end: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}


async def serve_watch(
    request: web.Request, store: Store, req: WatchRequest, encode: Encoder, shutdown: asyncio.Event
) -> web.StreamResponse:
    """Stream events until timeoutSeconds, client disconnect or server shutdown."""
    queue: asyncio.Queue[StoreEvent] = asyncio.Queue()
    store.subscribe(queue.put_nowait)
    try:
        # Compute the initial events synchronously right after subscribing: no write can slip between.
        initial: list[tuple[str, dict[str, Any]]] = []
        failure: ApiError | None = None
        rv = req.resource_version
        if rv in ("", "0") or req.send_initial_events:
            for obj in store.objects(req.rt.store_group, req.rt.store_plural, req.namespace):
                if req.match(obj):
                    initial.append((ADDED, obj))
        else:
            try:
                since = int(rv)
            except ValueError:
                since = -1
            try:
                if since < 0:
                    raise ApiError(400, "BadRequest", f'invalid resource version "{rv}"')
                for event in store.events_since(since):
                    seen = translate(event, req)
                    if seen is not None:
                        initial.append(seen)
            except ApiError as exc:
                failure = exc
        start_rv = store.resource_version

        response = web.StreamResponse(
            status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"}
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            if failure is not None:
                await response.write(_line("ERROR", failure.status()))
                return response
            for event_type, obj in initial:
                await response.write(_line(event_type, encode(event_type, obj)))
            if req.send_initial_events and req.bookmarks:
                await response.write(_line("BOOKMARK", _bookmark(req.rt, start_rv, initial_end=True)))
            await _pump(response, queue, req, encode, shutdown, store)
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            pass
        return response
    finally:
        store.unsubscribe(queue.put_nowait)


async def _pump(
    response: web.StreamResponse,
    queue: asyncio.Queue[StoreEvent],
    req: WatchRequest,
    encode: Encoder,
    shutdown: asyncio.Event,
    store: Store,
) -> None:
    ends = [s for s in (req.timeout_seconds or None, req.drop_after) if s is not None]
    deadline = time.monotonic() + min(ends) if ends else None
    next_bookmark = time.monotonic() + req.bookmark_interval if req.bookmarks else None
    stop_waiter = asyncio.ensure_future(shutdown.wait())
    try:
        while not shutdown.is_set():
            now = time.monotonic()
            waits = [t for t in (deadline, next_bookmark) if t is not None]
            wait = max(0.0, min(waits) - now) if waits else None
            if deadline is not None and now >= deadline:
                return
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait(
                {getter, stop_waiter}, timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
            if getter not in done:
                getter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await getter
                if stop_waiter in done:
                    return
                if next_bookmark is not None and time.monotonic() >= next_bookmark:
                    await response.write(_line("BOOKMARK", _bookmark(req.rt, store.resource_version)))
                    next_bookmark = time.monotonic() + req.bookmark_interval
                continue
            event = getter.result()
            seen = translate(event, req)
            if seen is not None:
                await response.write(_event_line(event, seen[0], req, encode))
    finally:
        stop_waiter.cancel()
