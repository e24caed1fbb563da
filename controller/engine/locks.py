"""Named locks as Leases: one per target object a thread holds, one per thread id a thread claims.

Why Leases: they are the Kubernetes object meant for this (coordination.k8s.io/v1), creating one is
atomic (a second create answers 409 AlreadyExists), they live in the operator's namespace where
only the operator writes, and `kubectl get leases -n aiop-system -l aiop.dev/lease=lock` shows who
holds what. Several controller replicas (one leader at a time) and restarts see the same locks.

A thread holds the locks of its plan's targets from approval until it is Completed or Restored, so
no other thread changes an object while this thread executes, verifies or can still restore it; a
second thread waits and says who holds the object. A lock whose holder no longer exists (the
conversation was deleted, or finished without releasing) is taken over. Locks are taken in sorted
order and all-or-nothing, so two threads never deadlock holding half of each other's objects.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from controller.adapters.kube import Conflict, Kube, NotFound
from controller.api.constants import (
    ANNOTATION_HOLDER,
    ANNOTATION_LOCKED_OBJECT,
    API_VERSION,
    LABEL_LEASE_KIND,
    LABEL_MANAGED_BY,
    LABEL_THREAD,
    MANAGED_BY_VALUE,
    TERMINAL_PHASES,
    Phase,
)

log = logging.getLogger("aiop.locks")
LEASE_API = "coordination.k8s.io/v1"


@dataclass(frozen=True)
class Holder:
    """The conversation object that holds a lease, by uid (a re-created object is another holder)."""

    thread_id: str
    kind: str
    namespace: str
    name: str
    uid: str

    def wire(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}/{self.uid}"

    @staticmethod
    def parse(thread_id: str, text: str) -> Holder | None:
        parts = text.split("/")
        if len(parts) != 4:
            return None
        return Holder(thread_id, *parts)

    def describe(self) -> str:
        return f"thread {self.thread_id} ({self.kind} {self.namespace}/{self.name})"


def _micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Leases:
    """Create-to-acquire leases in one namespace, with takeover of leases whose holder is gone."""

    def __init__(self, kube: Kube, namespace: str, purpose: str) -> None:
        self.kube = kube
        self.namespace = namespace
        self.purpose = purpose  # "lock" | "thread-id": the label value, part of the name

    def name(self, key: str) -> str:
        return f"aiop-{self.purpose}-{hashlib.sha256(key.encode()).hexdigest()[:24]}"

    def _body(self, key: str, holder: Holder) -> dict[str, object]:
        return {"apiVersion": LEASE_API, "kind": "Lease",
                "metadata": {"name": self.name(key), "namespace": self.namespace,
                             "labels": {LABEL_LEASE_KIND: self.purpose, LABEL_THREAD: holder.thread_id[:63],
                                        LABEL_MANAGED_BY: MANAGED_BY_VALUE},
                             "annotations": {ANNOTATION_LOCKED_OBJECT: key, ANNOTATION_HOLDER: holder.wire()}},
                "spec": {"holderIdentity": holder.thread_id, "acquireTime": _micro_time()}}

    def holder(self, key: str) -> tuple[Holder | None, dict[str, object] | None]:
        lease = self.kube.get(LEASE_API, "Lease", self.name(key), self.namespace)
        if lease is None:
            return None, None
        meta = lease.get("metadata") or {}
        text = (meta.get("annotations") or {}).get(ANNOTATION_HOLDER, "")
        thread_id = str((lease.get("spec") or {}).get("holderIdentity") or "")
        return Holder.parse(thread_id, text), lease

    def try_acquire(self, key: str, holder: Holder, alive: AliveCheck) -> Holder | None:
        """None when `holder` now holds the lease; else the other, living holder."""
        try:
            self.kube.create(self._body(key, holder))
            return None
        except Conflict:
            pass
        except NotFound:  # the operator's namespace does not exist yet
            ensure_namespace(self.kube, self.namespace)
            return self.try_acquire(key, holder, alive)
        current, lease = self.holder(key)
        if lease is None:  # released between our create and get: try once more
            return self.try_acquire(key, holder, alive)
        if current is not None and current.uid == holder.uid:
            return None
        if current is not None and alive(current):
            return current
        # The holder is gone: take the lease over, guarded by its resourceVersion.
        body = self._body(key, holder)
        body["metadata"]["resourceVersion"] = lease["metadata"]["resourceVersion"]  # type: ignore[index]
        try:
            self.kube.replace(body)
        except (Conflict, NotFound):
            return self.try_acquire(key, holder, alive)
        log.info("lease taken over", extra={"key": key, "thread_id": holder.thread_id,
                                            "from": current.describe() if current else "(unknown)"})
        return None

    def release(self, key: str, holder: Holder) -> None:
        current, _lease = self.holder(key)
        if current is not None and current.uid == holder.uid:
            self.kube.delete(LEASE_API, "Lease", self.name(key), self.namespace)


def ensure_namespace(kube: Kube, namespace: str) -> None:
    """Create the namespace unless it exists; safe when several threads race to create it."""
    try:
        kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    except Conflict:
        pass


class AliveCheck:
    """Whether a lease's holder still counts: its conversation exists (same uid), not finished."""

    def __init__(self, kube: Kube, finished_counts_as_gone: bool) -> None:
        self.kube = kube
        self.finished_counts_as_gone = finished_counts_as_gone

    def __call__(self, holder: Holder) -> bool:
        obj = self.kube.get(API_VERSION, holder.kind, holder.name, holder.namespace)
        if obj is None or obj.get("metadata", {}).get("uid") != holder.uid:
            return False
        if not self.finished_counts_as_gone:
            return True
        phase = (obj.get("status") or {}).get("phase") or Phase.PLANNING
        return phase not in TERMINAL_PHASES


class TargetLocks:
    """The objects a thread holds while it executes, verifies and can still restore them."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.leases = Leases(kube, namespace, "lock")
        self.alive = AliveCheck(kube, finished_counts_as_gone=True)

    def acquire(self, holder: Holder, keys: list[str]) -> str:
        """Take every lock (sorted, all or nothing); '' when held, else who holds what."""
        taken: list[str] = []
        for key in sorted(set(keys)):
            before, _ = self.leases.holder(key)
            other = self.leases.try_acquire(key, holder, self.alive)
            if other is not None:
                for mine in taken:
                    self.leases.release(mine, holder)
                return f"{key} is held by {other.describe()}"
            if before is None or before.uid != holder.uid:
                taken.append(key)
        return ""

    def release(self, holder: Holder, keys: list[str]) -> None:
        for key in keys:
            self.leases.release(key, holder)


class ThreadIds:
    """A thread id is claimed by exactly one conversation, so two threads never share a branch."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.leases = Leases(kube, namespace, "thread-id")
        self.alive = AliveCheck(kube, finished_counts_as_gone=False)

    def claim(self, holder: Holder) -> str:
        """'' when the id is (now) this conversation's; else a sentence naming the other owner."""
        other = self.leases.try_acquire(holder.thread_id, holder, self.alive)
        if other is None:
            return ""
        return (f"threadId {holder.thread_id} is already used by {other.kind} {other.namespace}/{other.name}; "
                "two threads cannot share a branch: choose another threadId")
