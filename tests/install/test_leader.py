"""Leader election over a real coordination.k8s.io/v1 Lease in the sandbox.

Why: with `controller.replicas: 2` only one replica may reconcile, and a standby must take over
within 15 s of the leader's death (issue 11 §4). The rules are a pure table (`decide`); the
hand-overs run two electors against the sandbox API server, which serialises Lease writes by
resourceVersion as a real one does.
"""

from __future__ import annotations

import threading
import time

import pytest

from controller.adapters.kube import Kube
from controller.serve.leader import Action, LeaseElector, Observation, decide

pytestmark = pytest.mark.timeout(120)
NS = "kube-node-lease"


def lease(holder: str, renew: str = "t1", rv: str = "5", duration: int | None = None) -> dict[str, object]:
    spec = {"holderIdentity": holder, "renewTime": renew, "leaseDurationSeconds": duration}
    return {"metadata": {"resourceVersion": rv}, "spec": {k: v for k, v in spec.items() if v is not None}}


@pytest.mark.parametrize(("current", "seen", "now", "expected"), [
    (None, None, 0.0, Action.CREATE),
    (lease("me"), None, 0.0, Action.RENEW),
    (lease(""), None, 0.0, Action.TAKE),  # released on a clean stop: no need to wait for expiry
    (lease("other"), None, 100.0, Action.WAIT),  # first sight starts our own clock, whatever renewTime says
    (lease("other"), Observation(("other", "t1", "5"), 90.0), 100.0, Action.TAKE),  # unchanged for 10 s >= 8
    (lease("other"), Observation(("other", "t1", "5"), 95.0), 100.0, Action.WAIT),  # unchanged for 5 s only
    (lease("other", "t2", "6"), Observation(("other", "t1", "5"), 0.0), 100.0, Action.WAIT),  # renewed: fresh
    (lease("other", duration=60), Observation(("other", "t1", "5"), 50.0), 100.0, Action.WAIT),  # holder's 60 s
])
def test_decide(current: dict[str, object] | None, seen: Observation | None, now: float, expected: Action) -> None:
    action, observed = decide(current, "me", now, seen, 8.0)
    assert action is expected
    if current is not None and seen is not None and seen.record != observed.record:  # type: ignore[union-attr]
        assert observed.since == now  # type: ignore[union-attr]


def electors(admin: Kube, name: str, duration: float = 3.0, renew: float = 0.5) -> tuple[LeaseElector, LeaseElector]:
    return (LeaseElector(admin, name, NS, "replica-a", duration, renew),
            LeaseElector(admin, name, NS, "replica-b", duration, renew))


def test_only_one_of_two_leads_and_a_dead_leader_is_replaced_after_expiry(admin: Kube) -> None:
    a, b = electors(admin, "dead-leader")
    assert a.wait_until_leader(threading.Event())
    stop_a = threading.Event()
    a.keep_renewing(stop_a, on_lost=lambda: None)
    b_stop, elected = threading.Event(), threading.Event()
    threading.Thread(target=lambda: b.wait_until_leader(b_stop) and elected.set(), daemon=True).start()
    assert not elected.wait(5.0), "the standby took a Lease its holder kept renewing"
    stop_a.set()  # the leader dies without releasing: its Lease must expire first
    died = time.monotonic()
    assert elected.wait(15.0)
    waited = time.monotonic() - died
    assert waited >= 3.0 - 0.6, f"taken after {waited:.1f}s, before the 3 s lease could expire"
    spec = admin.get("coordination.k8s.io/v1", "Lease", "dead-leader", NS)["spec"]  # type: ignore[index]
    assert spec["holderIdentity"] == "replica-b" and spec["leaseTransitions"] == 1
    b_stop.set()


def test_a_released_lease_is_taken_at_the_next_try(admin: Kube) -> None:
    a, b = electors(admin, "released", duration=30.0, renew=0.5)
    assert a.try_once() and not b.try_once()
    a.release()
    start = time.monotonic()
    assert b.wait_until_leader(threading.Event())
    assert time.monotonic() - start < 5.0, "a released Lease waited for its 30 s expiry"


def test_a_leader_that_loses_the_lease_is_told_to_stop(admin: Kube) -> None:
    a, _ = electors(admin, "stolen", duration=2.0, renew=0.3)
    assert a.try_once()
    lost = threading.Event()
    stop = threading.Event()
    a.keep_renewing(stop, on_lost=lost.set)
    current = admin.get("coordination.k8s.io/v1", "Lease", "stolen", NS)
    assert current is not None
    admin.replace({**current, "spec": {**current["spec"], "holderIdentity": "intruder",
                                       "leaseDurationSeconds": 3600}})  # a live holder: a must not take it back
    assert lost.wait(10.0), "the deposed leader kept acting"
    stop.set()
