"""Leader election through a `coordination.k8s.io/v1` Lease, so two replicas never both reconcile.

Why a Lease and not kopf's peering: peering needs its own CRD and only pauses operators that see each
other, while a Lease is the API server's own primitive (what kube-controller-manager and client-go's
leaderelection use), served everywhere, and guarded by optimistic concurrency: two replicas that
race to take it are serialised by `resourceVersion`, so at most one wins.

The rules follow client-go's: a holder renews every `renew_interval_s`; a candidate takes the Lease
only when its record has not changed for the holder's `leaseDurationSeconds` *as observed by the
candidate's own clock* (no trust in other clocks), or when it is empty (the holder released it on a clean stop). A
leader that cannot renew for a whole lease duration must stop acting: the runner then stops kopf
and the process exits, and its pod restarts as a standby. Effects stay safe across a hand-over
because they are idempotent by plan digest (the engine's guarantee, not this module's).

`decide` is the pure part (tested as a table); `LeaseElector` does the I/O.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from controller.adapters.kube import Conflict, Kube, KubeError

log = logging.getLogger("aiop.leader")
API_VERSION = "coordination.k8s.io/v1"


class Action(Enum):
    CREATE = "create"  # no Lease yet: create it holding it
    RENEW = "renew"  # we hold it: bump renewTime
    TAKE = "take"  # empty or expired: take it over (leaseTransitions + 1)
    WAIT = "wait"  # someone else holds a live Lease


@dataclass(frozen=True)
class Observation:
    """The Lease record as last seen, and when (by our monotonic clock) it last changed."""

    record: tuple[str, str, str]  # holder, renewTime, resourceVersion
    since: float


def decide(lease: dict[str, Any] | None, me: str, now: float, seen: Observation | None,
           duration_s: float) -> tuple[Action, Observation | None]:
    """What to do with the Lease as it is now; returns the action and the updated observation.

    `duration_s` is used only when the record declares no duration of its own.
    """
    if lease is None:
        return Action.CREATE, None
    spec = lease.get("spec") or {}
    holder = str(spec.get("holderIdentity") or "")
    record = (holder, str(spec.get("renewTime") or ""), str(lease.get("metadata", {}).get("resourceVersion", "")))
    observed = seen if seen is not None and seen.record == record else Observation(record, now)
    if holder == me:
        return Action.RENEW, observed
    declared = float(spec.get("leaseDurationSeconds") or duration_s)  # the holder's promise, as client-go reads it
    if not holder or now - observed.since >= declared:
        return Action.TAKE, observed
    return Action.WAIT, observed


def micro_time(at: float | None = None) -> str:
    """A Kubernetes MicroTime (RFC 3339 with microseconds)."""
    return datetime.fromtimestamp(time.time() if at is None else at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class LeaseElector:
    """Campaigns for one Lease; `run_as_leader` blocks until elected, then keeps renewing on a thread."""

    def __init__(self, kube: Kube, name: str, namespace: str, identity: str, duration_s: float,
                 renew_s: float, beat: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kube, self.name, self.namespace, self.identity = kube, name, namespace, identity
        self.duration_s, self.renew_s, self.beat, self.clock = duration_s, renew_s, beat, clock
        self._seen: Observation | None = None
        self._last_renewal = 0.0

    def try_once(self) -> bool:
        """One round of the campaign; True when we hold the Lease afterwards."""
        try:
            lease = self.kube.get(API_VERSION, "Lease", self.name, self.namespace)
        except KubeError as exc:
            log.warning("cannot read the leader lease", extra={"lease": self.name, "error": exc.message})
            return False
        action, self._seen = decide(lease, self.identity, self.clock(), self._seen, self.duration_s)
        if action is Action.WAIT:
            return False
        try:
            if action is Action.CREATE:
                self.kube.create(self._lease({}, transitions=0, acquired=True))
            else:
                transitions = int((lease or {}).get("spec", {}).get("leaseTransitions") or 0)
                taking = action is Action.TAKE
                self.kube.replace(self._lease(lease or {}, transitions + int(taking), acquired=taking))
                if taking:
                    holder = (self._seen.record[0] if self._seen else "") or "nobody (released)"
                    log.warning("took over the leader lease", extra={"lease": self.name, "from": holder})
        except (Conflict, KubeError) as exc:  # another replica won the race, or the API refused
            if not isinstance(exc, Conflict) and exc.code != 409:
                log.warning("cannot write the leader lease", extra={"lease": self.name, "error": exc.message})
            return False
        self._last_renewal = self.clock()
        return True

    def _lease(self, current: dict[str, Any], transitions: int, acquired: bool) -> dict[str, Any]:
        meta = {"name": self.name, "namespace": self.namespace}
        if current:
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        spec = dict(current.get("spec") or {})
        now = micro_time()
        spec.update({"holderIdentity": self.identity, "leaseDurationSeconds": max(1, round(self.duration_s)),
                     "renewTime": now, "leaseTransitions": transitions})
        if acquired:
            spec["acquireTime"] = now
        return {"apiVersion": API_VERSION, "kind": "Lease", "metadata": meta, "spec": spec}

    def wait_until_leader(self, stop: threading.Event) -> bool:
        """Campaign until elected (True) or until `stop` is set (False). Beats while it waits."""
        while not stop.is_set():
            self.beat()
            if self.try_once():
                log.warning("elected leader", extra={"lease": self.name, "identity": self.identity})
                return True
            stop.wait(self.renew_s)
        return False

    def keep_renewing(self, stop: threading.Event, on_lost: Callable[[], None]) -> threading.Thread:
        """Renew on a daemon thread; call `on_lost` once renewal failed until the renew deadline.

        The deadline (one renew interval before the lease would expire) makes the old leader stop
        before any candidate can see the Lease as expired, as client-go's renewDeadline does.
        """

        def loop() -> None:
            while not stop.wait(self.renew_s):
                if self.try_once():
                    continue
                if self.clock() - self._last_renewal >= self.duration_s - self.renew_s:
                    log.error("lost the leader lease; stopping", extra={"lease": self.name})
                    on_lost()
                    return

        thread = threading.Thread(target=loop, name="aiop-lease", daemon=True)
        thread.start()
        return thread

    def release(self) -> None:
        """On a clean stop: empty the holder, so a standby takes over at its next try, not after expiry."""
        try:
            lease = self.kube.get(API_VERSION, "Lease", self.name, self.namespace)
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            spec = {**lease["spec"], "holderIdentity": None, "leaseDurationSeconds": 1, "renewTime": micro_time()}
            self.kube.replace({**lease, "spec": spec})
            log.warning("released the leader lease", extra={"lease": self.name})
        except KubeError as exc:
            log.warning("cannot release the leader lease", extra={"lease": self.name, "error": exc.message})
