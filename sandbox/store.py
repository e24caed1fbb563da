"""The object store: every object, one global resourceVersion counter, a bounded event history.

Why one counter and a history: watches resume "from resourceVersion N" by replaying the events after
N, and must get `410 Expired` once N has fallen out of the retained window - exactly the contract
the real apiserver's watch cache gives. Persistence is write-through, one file per object written
atomically (temp file + rename), so a crash never leaves a half-written object.

The history keeps each version as marshal bytes, not as a tree of dicts, and each version once (an
event's `old` is the previous event's bytes): a 500-turn thread's 1000 retained versions as dicts were
millions of objects the cyclic garbage collector walked on every full collection (39% of the sandbox's
CPU in bench.long_thread); bytes are not tracked by it. Only a replay (a watch resuming, a list at an
old resourceVersion) turns them back into objects.

Each current object's JSON is encoded once per version (`Store.text`): etcd's size check, the write's
response, later GETs and every watcher's line of that version send the same text, as the API server's
watch cache serializes an object once per version. Stored objects are never changed in place (each
write stores a new object), which is what keeps that text true.
"""

from __future__ import annotations

import json
import marshal
import os
import tempfile
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.errors import expired
from sandbox.jsoncopy import compact, copy_json
from sandbox.limits import check_stored_size

ObjectKey = tuple[str, str, str, str]  # group, plural, namespace ("" if cluster-scoped), name

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"


@dataclass(frozen=True)
class StoreEvent:
    """One change, as watchers see it. `old` is the object before the change (None for ADDED)."""

    rv: int
    type: str
    group: str
    plural: str
    namespace: str
    obj: dict[str, Any]
    old: dict[str, Any] | None
    # `obj` as JSON (`jsoncopy.compact`) when the store encoded it already (a write; not a replay or DELETED).
    text: str | None = field(default=None, compare=False, repr=False)
    # Its watch lines as encoded once for every watcher of one shape (sandbox.watch), as the API server's
    # watch cache serializes an event once per version and encoding, not once per watcher.
    lines: dict[tuple[str, str, str], bytes] = field(default_factory=dict, compare=False, repr=False)


Listener = Callable[[StoreEvent], None]


@dataclass(frozen=True)
class _Past:
    """A retained event: its versions as marshal bytes (see the module docstring)."""

    rv: int
    type: str
    group: str
    plural: str
    key: ObjectKey
    obj: bytes
    old: bytes | None

    def thaw(self) -> StoreEvent:
        return StoreEvent(self.rv, self.type, self.group, self.plural, self.key[2], marshal.loads(self.obj),
                          marshal.loads(self.old) if self.old is not None else None)


def key_of(group: str, plural: str, obj: dict[str, Any]) -> ObjectKey:
    meta = obj.get("metadata") or {}
    return (group, plural, meta.get("namespace", "") or "", meta.get("name", ""))


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class Store:
    """Objects by key, plus the counter, history and listeners. Mutate only from the server's loop."""

    def __init__(self, state_dir: Path | None = None, history_limit: int = 1000) -> None:
        self._objects: dict[ObjectKey, dict[str, Any]] = {}
        self._texts: dict[ObjectKey, str] = {}  # the JSON of current objects, once encoded (see `text`)
        self._by_uid: dict[str, ObjectKey] = {}
        self._rv = 0
        self._history: deque[_Past] = deque()
        self._latest: dict[ObjectKey, bytes] = {}  # each key's newest retained version (the next event's old)
        self._history_limit = max(1, history_limit)
        self._listeners: list[Listener] = []
        self._state_dir = state_dir
        if state_dir is not None:
            self._load(state_dir)
        # Watches may resume from any version at or after this one.
        self._floor = self._rv

    # -- reads ------------------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    def get(self, key: ObjectKey) -> dict[str, Any] | None:
        obj = self._objects.get(key)
        return copy_json(obj) if obj is not None else None

    def peek(self, key: ObjectKey) -> dict[str, Any] | None:
        """The stored object itself, not a copy: for read-only use on the server loop (the simulated
        cluster counts pods this way); the caller must not mutate it or keep it across writes."""
        return self._objects.get(key)

    def text(self, key: ObjectKey) -> str | None:
        """The stored object's JSON (`jsoncopy.compact`), encoded once per version and kept until the next."""
        text = self._texts.get(key)
        if text is None and key in self._objects:
            text = self._texts[key] = compact(self._objects[key])
        return text

    def exists(self, key: ObjectKey) -> bool:
        return key in self._objects

    def key_for_uid(self, uid: str) -> ObjectKey | None:
        return self._by_uid.get(uid)

    def objects(self, group: str, plural: str, namespace: str | None = None, *,
                read_only: bool = False) -> list[dict[str, Any]]:
        """Objects of one resource (in one namespace, or all when None), in etcd key order.

        `read_only=True` hands out the stored objects themselves (no copies): for hot read paths such
        as authorization, which must never mutate them."""
        keys = sorted(
            k
            for k in self._objects
            if k[0] == group and k[1] == plural and (namespace is None or k[2] == namespace)
        )
        if read_only:
            return [self._objects[k] for k in keys]
        return [copy_json(self._objects[k]) for k in keys]

    def objects_at(self, group: str, plural: str, namespace: str | None, rv: int) -> list[dict[str, Any]] | None:
        """Objects of one resource as they were at resourceVersion `rv` (a consistent snapshot, rebuilt
        by undoing the later events), or None once `rv` has left the history window."""
        if rv < self._floor or rv > self._rv:
            return None
        state = {k: v for k, v in self._objects.items()
                 if k[0] == group and k[1] == plural and (namespace is None or k[2] == namespace)}
        undone: dict[ObjectKey, bytes | None] = {}
        for event in reversed(self._history):
            if event.rv <= rv:
                break
            if event.group != group or event.plural != plural or (namespace is not None
                                                                  and event.key[2] != namespace):
                continue
            undone[event.key] = None if event.type == ADDED else event.old
        out = []
        for key in sorted(set(state) | set(undone)):
            if key not in undone:
                out.append(copy_json(state[key]))
            elif (before := undone[key]) is not None:
                out.append(marshal.loads(before))
        return out

    def all_keys(self) -> list[ObjectKey]:
        return sorted(self._objects)

    def keys_where(self, predicate: Callable[[dict[str, Any]], bool]) -> list[ObjectKey]:
        """Keys of objects matching a read-only predicate (no copies: the predicate must not mutate)."""
        return sorted(k for k, obj in self._objects.items() if predicate(obj))

    def in_namespace(self, namespace: str) -> list[ObjectKey]:
        return sorted(k for k in self._objects if k[2] == namespace)

    def events_since(self, rv: int) -> list[StoreEvent]:
        """Events with resourceVersion > rv; raises 410 Expired if rv is older than the history window."""
        if rv < self._floor:
            raise expired(rv, self._floor + 1 if self._history else self._rv)
        return [e.thaw() for e in self._history if e.rv > rv]

    # -- writes -----------------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def put(self, group: str, plural: str, obj: dict[str, Any], *, owned: bool = False) -> dict[str, Any]:
        """Store a new or changed object: stamps a fresh resourceVersion, records and fans out the event.

        `owned=True`: the caller built `obj` for this write and hands it over (it is stored as it is, not
        copied; the caller must not touch it again) and gets back the stored object itself, to read only.
        Otherwise it gets a copy of what was stored. Raises
        `limits.ObjectTooLarge` (and stores nothing) when etcd would refuse the write."""
        key = key_of(group, plural, obj)
        old = self._objects.get(key)
        stored = obj if owned else copy_json(obj)
        stored.setdefault("metadata", {})["resourceVersion"] = str(self._rv + 1)
        text = compact(stored)
        check_stored_size(key, text)  # etcd refuses before anything changes
        self._rv += 1
        self._objects[key] = stored
        self._texts[key] = text
        uid = stored["metadata"].get("uid")
        if uid:
            self._by_uid[uid] = key
        self._persist(key, text)
        event_type = MODIFIED if old else ADDED
        self._record(StoreEvent(self._rv, event_type, group, plural, key[2], stored, old, text))
        return stored if owned else copy_json(stored)

    def remove(self, group: str, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Delete an object; the DELETED event carries a fresh resourceVersion, like the real server."""
        key = key_of(group, plural, obj)
        old = self._objects.pop(key)
        self._texts.pop(key, None)
        self._rv += 1
        gone = copy_json(old)
        gone["metadata"]["resourceVersion"] = str(self._rv)
        self._by_uid.pop(gone["metadata"].get("uid", ""), None)
        self._persist(key, None)
        self._record(StoreEvent(self._rv, DELETED, group, plural, key[2], gone, old))
        return copy_json(gone)

    def _record(self, event: StoreEvent) -> None:
        key = key_of(event.group, event.plural, event.obj)
        old = self._latest.get(key)
        if old is None and event.old is not None:  # its previous version left the window (or none was kept)
            old = _frozen(event.old)
        now = _frozen(event.obj)
        self._history.append(_Past(event.rv, event.type, event.group, event.plural, key, now, old))
        if event.type == DELETED:
            self._latest.pop(key, None)
        else:
            self._latest[key] = now
        while len(self._history) > self._history_limit:
            dropped = self._history.popleft()
            self._floor = dropped.rv
            if self._latest.get(dropped.key) is dropped.obj:
                del self._latest[dropped.key]
        for listener in list(self._listeners):
            listener(event)

    # -- persistence ------------------------------------------------------------------------------

    def _object_path(self, key: ObjectKey) -> Path:
        assert self._state_dir is not None
        parts = [urllib.parse.quote(p or "_", safe="") for p in key]
        return self._state_dir / "objects" / parts[0] / parts[1] / parts[2] / f"{parts[3]}.json"

    def _persist(self, key: ObjectKey, text: str | None) -> None:
        """Write the object's file (`text`: its JSON), or remove it (None)."""
        if self._state_dir is None:
            return
        write_atomic(self._state_dir / "resource-version", str(self._rv))
        path = self._object_path(key)
        if text is None:
            if path.exists():
                path.unlink()
            return
        write_atomic(path, f'{{"key":{compact(list(key))},"object":{text}}}')

    def _load(self, state_dir: Path) -> None:
        counter = state_dir / "resource-version"
        if counter.exists():
            self._rv = int(counter.read_text().strip() or "0")
        root = state_dir / "objects"
        if not root.exists():
            return
        for path in root.rglob("*.json"):
            record = json.loads(path.read_text(encoding="utf-8"))
            key = tuple(record["key"])
            obj = record["object"]
            self._objects[key] = obj
            uid = obj.get("metadata", {}).get("uid")
            if uid:
                self._by_uid[uid] = key
            self._rv = max(self._rv, int(obj["metadata"].get("resourceVersion", "0")))


def _frozen(obj: dict[str, Any]) -> bytes:
    """A stored version as bytes; one marshal cannot write (never a JSON value) is written as JSON."""
    try:
        return marshal.dumps(obj)
    except ValueError:
        return marshal.dumps(json.loads(json.dumps(obj, default=str)))
