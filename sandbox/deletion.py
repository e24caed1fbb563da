"""Deletion: finalizers, garbage collection by ownerReferences, namespace and CRD teardown.

Why one place: deleting is where the apiserver, the garbage collector, the namespace controller and
the CRD finalizer interlock. An object with finalizers only gets a deletionTimestamp; removing the
last finalizer makes it disappear; when an owner disappears its dependents follow (background), or
are released (Orphan); a terminating namespace or CRD goes once it is empty. The sandbox runs these
controllers synchronously, right after the write that triggers them, so tests see a settled state.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any

from sandbox import errors
from sandbox.identity import UserInfo
from sandbox.registry import Registry
from sandbox.resources import ResourceType
from sandbox.selectors import Matcher
from sandbox.store import ObjectKey, Store
from sandbox.writes import present

CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
CRD_GROUP = "apiextensions.k8s.io"
CRD_PLURAL = "customresourcedefinitions"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _with_kind(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    return present(rt, obj)


def propagation_policy(options: dict[str, Any]) -> str:
    policy = options.get("propagationPolicy")
    if policy:
        if policy not in ("Orphan", "Background", "Foreground"):
            raise errors.bad_request(f'propagationPolicy: Unsupported value: "{policy}"')
        return str(policy)
    if options.get("orphanDependents") is True:
        return "Orphan"
    return "Background"


class DeletionMixin:
    """Delete verbs and the controllers that finish deletions. Mixed into `Operations`."""

    store: Store
    registry: Registry
    _terminating: set[ObjectKey]
    # Graceful pod deletion, filled by the simulated cluster (sandbox/simulator.py `pod_grace`): the
    # seconds a DELETE of this pod waits for its kubelet, or None to remove it at once.
    pod_grace: Callable[[dict[str, Any], dict[str, Any]], float | None] | None = None

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        options: dict[str, Any],
        user: UserInfo,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """DELETE one object; answers the object while finalizers hold it, else a Success Status."""
        obj = self.store.get((rt.store_group, rt.store_plural, namespace, name))
        if obj is None:
            raise errors.not_found(rt, name)
        pre = options.get("preconditions") or {}
        meta = obj["metadata"]
        if pre.get("uid") and pre["uid"] != meta.get("uid"):
            raise errors.conflict(
                rt,
                name,
                f"Precondition failed: UID in precondition: {pre['uid']}, "
                f"UID in object meta: {meta.get('uid')}",
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
            raise errors.conflict(
                rt,
                name,
                f"Precondition failed: ResourceVersion in precondition: "
                f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                f"{meta.get('resourceVersion')}",
            )
        policy = propagation_policy(options)
        if dry_run:
            return _with_kind(rt, obj)
        if rt.group == "" and rt.plural == "pods" and self.pod_grace is not None:
            grace = self.pod_grace(obj, options)
            if grace is not None:
                return _with_kind(rt, self._terminate_pod(obj, grace))
        final = self._delete_object(rt.store_group, rt.store_plural, obj, policy)
        if final is not None and self.store.exists((rt.store_group, rt.store_plural, namespace, name)):
            return _with_kind(rt, final)
        if rt.group == "" and rt.plural in ("namespaces", "pods"):
            return _with_kind(rt, final or obj)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": meta.get("uid", "")},
        }

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        match: Matcher,
        options: dict[str, Any],
        user: UserInfo,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        policy = propagation_policy(options)
        items = []
        for obj in self.store.objects(rt.store_group, rt.store_plural, namespace):
            if not match(obj):
                continue
            final = obj if dry_run else self._delete_object(rt.store_group, rt.store_plural, obj, policy)
            items.append(_with_kind(rt, final or obj))
        return {
            "kind": rt.list_kind,
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(self.store.resource_version)},
            "items": items,
        }

    def _terminate_pod(self, pod: dict[str, Any], grace: float) -> dict[str, Any]:
        """The pod stays, Terminating, until its kubelet has stopped its containers and removes it."""
        meta = pod["metadata"]
        deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=grace)).strftime("%Y-%m-%dT%H:%M:%SZ")
        if meta.get("deletionTimestamp") and meta["deletionTimestamp"] <= deadline:
            return pod
        meta["deletionTimestamp"] = deadline
        meta["deletionGracePeriodSeconds"] = int(grace)
        return self.store.put("", "pods", pod)

    # -- the controllers --------------------------------------------------------------------------

    def _delete_object(
        self, group: str, plural: str, obj: dict[str, Any], policy: str = "Background"
    ) -> dict[str, Any] | None:
        """Start or finish deleting one object; returns its last state."""
        meta = obj["metadata"]
        uid = meta.get("uid", "")
        if group == "" and plural == "namespaces":
            return self._delete_namespace(obj)
        if policy == "Orphan":
            self._orphan_dependents(uid)
        elif policy == "Foreground":
            self._delete_dependents(uid)
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp"):
                return obj
            meta["deletionTimestamp"] = _now()
            meta["deletionGracePeriodSeconds"] = 0
            stored = self.store.put(group, plural, obj)
            if group == CRD_GROUP and plural == CRD_PLURAL:
                self._terminating.add((group, plural, "", meta["name"]))
                self._delete_custom_objects(stored)
                self._settle()
                return self.store.get((group, plural, "", meta["name"])) or stored
            return stored
        return self._remove(group, plural, obj)

    def _remove(
        self, group: str, plural: str, obj: dict[str, Any], final: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Take the object out of the store, then let the garbage collector and teardowns react."""
        gone = self.store.remove(group, plural, final if final is not None else obj)
        if group == CRD_GROUP and plural == CRD_PLURAL:
            self.registry.unregister_crd(gone["metadata"]["name"])
        self._collect_garbage(gone["metadata"].get("uid", ""))
        self._settle()
        return gone

    def _dependents_of(self, uid: str) -> list[tuple[ObjectKey, dict[str, Any]]]:
        def owned(obj: dict[str, Any]) -> bool:
            return any(r.get("uid") == uid for r in obj["metadata"].get("ownerReferences") or [])

        out = []
        for key in self.store.keys_where(owned):
            obj = self.store.get(key)
            if obj is not None:
                out.append((key, obj))
        return out

    def _collect_garbage(self, uid: str) -> None:
        """Background cascade: a dependent whose every owner is gone is deleted; dangling refs are dropped."""
        if not uid:
            return
        for key, obj in self._dependents_of(uid):
            refs = obj["metadata"].get("ownerReferences") or []
            alive = [r for r in refs if r.get("uid") != uid and self.store.key_for_uid(r.get("uid", ""))]
            if alive:
                obj["metadata"]["ownerReferences"] = alive
                self.store.put(key[0], key[1], obj)
            elif self.store.exists(key):
                self._delete_object(key[0], key[1], obj)

    def _orphan_dependents(self, uid: str) -> None:
        for key, obj in self._dependents_of(uid):
            refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
            if refs:
                obj["metadata"]["ownerReferences"] = refs
            else:
                obj["metadata"].pop("ownerReferences", None)
            self.store.put(key[0], key[1], obj)

    def _delete_dependents(self, uid: str) -> None:
        for key, obj in self._dependents_of(uid):
            if self.store.exists(key):
                self._delete_object(key[0], key[1], obj, "Foreground")

    def _delete_namespace(self, ns: dict[str, Any]) -> dict[str, Any] | None:
        name = ns["metadata"]["name"]
        key: ObjectKey = ("", "namespaces", "", name)
        if not ns["metadata"].get("deletionTimestamp"):
            ns["metadata"]["deletionTimestamp"] = _now()
            ns["metadata"]["deletionGracePeriodSeconds"] = 0
            ns.setdefault("status", {})["phase"] = "Terminating"
            ns = self.store.put("", "namespaces", ns)
        self._terminating.add(key)
        for obj_key in self.store.in_namespace(name):
            obj = self.store.get(obj_key)
            if obj is not None and not obj["metadata"].get("deletionTimestamp"):
                self._delete_object(obj_key[0], obj_key[1], obj)
        self._settle()
        return self.store.get(key) or ns

    def _delete_custom_objects(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec") or {}
        group, plural = spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
        for obj in self.store.objects(group, plural):
            if not obj["metadata"].get("deletionTimestamp"):
                self._delete_object(group, plural, obj)

    def _settle(self) -> None:
        """Finish terminating namespaces and CRDs that have become empty."""
        for key in sorted(self._terminating):
            if key not in self._terminating:
                continue
            obj = self.store.get(key)
            if obj is None:
                self._terminating.discard(key)
                continue
            if key[1] == "namespaces":
                if not self.store.in_namespace(key[3]):
                    self._terminating.discard(key)
                    if not obj["metadata"].get("finalizers"):
                        self._remove("", "namespaces", obj)
            else:
                spec = obj.get("spec") or {}
                group, plural = spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
                if not self.store.objects(group, plural):
                    self._terminating.discard(key)
                    finalizers = [
                        f for f in obj["metadata"].get("finalizers") or [] if f != CRD_CLEANUP_FINALIZER
                    ]
                    obj["metadata"]["finalizers"] = finalizers
                    if finalizers:
                        self.store.put(key[0], key[1], obj)
                    else:
                        self._remove(key[0], key[1], obj)

    def _copy(self, obj: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(obj)
