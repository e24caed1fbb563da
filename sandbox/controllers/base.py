"""What every simulated controller shares: its reconcile signature and safe access to the cluster.

Why one base: the kubelet, the scheduler and the controllers all read the store, write through the
API server's own verbs (so admission, resourceVersions, watches and garbage collection apply to
them as to any client) as `system:kube-controller-manager`, and record Events. A reconcile takes
the key of its primary object and returns the clock time at which it wants to look again (None:
only when something it watches changes), like a controller-runtime `RequeueAfter`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sandbox.errors import ApiError
from sandbox.jsoncopy import copy_json
from sandbox.operations import SYSTEM_USER
from sandbox.resources import ResourceType
from sandbox.store import ObjectKey, StoreEvent
from sandbox.writes import MERGE_PATCH

if TYPE_CHECKING:
    from sandbox.simulator import Simulator

Obj = dict[str, Any]


def owner_uids(obj: Obj | None) -> list[str]:
    if obj is None:
        return []
    return [r.get("uid", "") for r in (obj.get("metadata") or {}).get("ownerReferences") or []]


def controller_ref(obj: Obj) -> dict[str, Any] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def owner_reference(owner: Obj, api_version: str, kind: str) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def condition(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def set_condition(conditions: list[dict[str, Any]], type_: str, status: str, reason: str, message: str,
                  stamp: str, update_time: bool = False) -> list[dict[str, Any]]:
    """Conditions with one set; transition time kept unless the status changes (as controllers do)."""
    out = [dict(c) for c in conditions]
    current = condition(out, type_)
    if current is None:
        entry = {"type": type_, "status": status, "reason": reason, "message": message,
                 "lastTransitionTime": stamp}
        if update_time:
            entry["lastUpdateTime"] = stamp
        out.append(entry)
        return out
    if current.get("status") != status:
        current["lastTransitionTime"] = stamp
    if update_time and (current.get("status") != status or current.get("reason") != reason
                        or current.get("message") != message):
        current["lastUpdateTime"] = stamp
    current.update({"status": status, "reason": reason, "message": message})
    return out


class Controller:
    """A reconcile loop over one kind. Subclasses set `watches` and implement `keys_for`/`reconcile`."""

    name = "controller"
    watches: tuple[tuple[str, str], ...] = ()  # the first is the primary kind
    owner_kind = ""  # events of other watched kinds map to their controlling owner of this kind

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.ops = sim.ops
        self.store = sim.ops.store
        self.clock = sim.clock
        self.behaviour = sim.behaviour
        self.recorder = sim.recorder

    def keys_for(self, event: StoreEvent) -> Iterable[ObjectKey]:
        """The primary object itself, or (for a dependent) the owner of kind `owner_kind` controlling it."""
        primary = self.watches[0] if self.watches else (event.group, event.plural)
        if (event.group, event.plural) == primary or not self.owner_kind:
            meta = event.obj.get("metadata") or {}
            return [(event.group, event.plural, meta.get("namespace", "") or "", meta.get("name", ""))]
        keys = []
        for obj in (event.obj, event.old):
            ref = controller_ref(obj) if obj else None
            if ref and ref.get("kind") == self.owner_kind:
                keys.append((primary[0], primary[1], event.namespace, str(ref["name"])))
        return keys

    def reconcile(self, key: ObjectKey) -> float | None:
        raise NotImplementedError

    def resync_keys(self) -> Iterable[ObjectKey]:
        """What to reconcile once at start (after a restart with --state)."""
        for group, plural in self.watches[:1]:
            for obj in self.store.objects(group, plural):
                meta = obj["metadata"]
                yield (group, plural, meta.get("namespace", "") or "", meta["name"])

    # -- access --------------------------------------------------------------------------------

    def rt(self, group: str, version: str, plural: str) -> ResourceType:
        rt = self.ops.registry.lookup(group, version, plural)
        if rt is None:
            raise LookupError(f"{group}/{version} {plural} is not served")
        return rt

    def get(self, group: str, plural: str, namespace: str, name: str) -> Obj | None:
        return self.store.get((group, plural, namespace, name))

    def owned(self, group: str, plural: str, owner: Obj) -> list[Obj]:
        """The objects of one kind that `owner` controls (copies: safe to change and keep)."""
        return [copy_json(o) for o in self.owned_views(group, plural, owner)]

    def owned_views(self, group: str, plural: str, owner: Obj) -> list[Obj]:
        """Like `owned`, but the stored objects themselves: read-only, and only until the next write."""
        uid = owner["metadata"]["uid"]
        namespace = owner["metadata"].get("namespace", "") or ""
        return [o for o in self.store.objects(group, plural, namespace, read_only=True)
                if any(r.get("uid") == uid and r.get("controller")
                       for r in (o.get("metadata") or {}).get("ownerReferences") or [])]

    def create(self, rt: ResourceType, namespace: str, body: Obj) -> Obj | None:
        with self.sim.own_writes():
            try:
                return self.ops.create(rt, namespace, body, SYSTEM_USER)
            except ApiError as exc:
                self.sim.log_refusal(self.name, "create", rt, body, exc)
                return None

    def patch(self, rt: ResourceType, obj: Obj, patch: Obj, subresource: str = "") -> Obj | None:
        meta = obj["metadata"]
        with self.sim.own_writes():
            try:
                result, _ = self.ops.patch(rt, meta.get("namespace", "") or "", meta["name"], MERGE_PATCH,
                                           json.dumps(patch).encode(), SYSTEM_USER, subresource=subresource)
                return result
            except ApiError as exc:
                self.sim.log_refusal(self.name, "patch", rt, obj, exc)
                return None

    def write_status(self, rt: ResourceType, obj: Obj, status: Obj) -> Obj:
        """Replace the status if it differs (a no-op write changes nothing, as on the API server)."""
        if obj.get("status") == status:
            return obj
        meta = obj["metadata"]
        with self.sim.own_writes():
            try:
                return self.ops.replace(rt, meta.get("namespace", "") or "", meta["name"],
                                        {**obj, "status": status}, SYSTEM_USER, subresource="status")  # replace copies it
            except ApiError as exc:
                self.sim.log_refusal(self.name, "update status", rt, obj, exc)
                return obj

    def delete(self, rt: ResourceType, obj: Obj, options: Obj | None = None) -> None:
        meta = obj["metadata"]
        with self.sim.own_writes():
            try:
                self.ops.delete(rt, meta.get("namespace", "") or "", meta["name"], options or {}, SYSTEM_USER)
            except ApiError as exc:
                if exc.code != 404:
                    self.sim.log_refusal(self.name, "delete", rt, obj, exc)

    def staged(self, obj: Obj) -> bool:
        return self.sim.is_staged(obj)
