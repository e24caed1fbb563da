"""Run the kopf operator with our handlers: as a pod (health, leader election) or on a test thread.

Why here and not in kopf's own flags: readiness means more than "kopf started" (our CRDs are
installed, the embedding model is loaded, this replica leads or stands by), and a standby must not
run kopf at all, so the Lease decides before kopf starts. The order at start: health server and
embedder warm-up in the background (by the caller, before it builds the services: the model loads
while the services are built and kopf starts) → wait for our CRDs → campaign for the Lease (if
enabled; the replica is a ready standby meanwhile) → kopf, with a heartbeat task on its loop.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from typing import Any, cast

import kopf

from controller.adapters.kube import KubeError
from controller.api.constants import (
    GROUP,
    KIND_CONVERSATION,
    KIND_REQUEST,
    PLURAL_CONVERSATION,
    PLURAL_REQUEST,
    VERSION,
)
from controller.engine import handlers
from controller.engine.reconcile import Services
from controller.serve.health import LEADER, STANDBY, Health
from controller.serve.leader import LeaseElector, default_identity
from controller.settings import Settings

log = logging.getLogger("aiop.runner")
BEAT_S = 1.0
STARTING_POLL_S = 0.1
CRD_RETRY_S = 2.0


class LeadershipLost(RuntimeError):
    """The Lease went to another replica (or could not be renewed): this process must stop acting."""


def warm_up(health: Health) -> None:
    """Load the embedding model in the background, so the first message is answered quickly; readiness
    waits for it (`health`'s "embedder" fact)."""

    def load() -> None:
        from controller.planning.offline.embedder import shared_embedder

        try:
            shared_embedder().encode(["warm up"])
            health.set("embedder")
        except Exception:
            log.exception("cannot load the embedding model")
        # What is loaded now (torch, the model, every module) lives as long as the process: kept out of the
        # garbage collector's full passes, which otherwise walked all of it (up to 0.3 s a pass, every ~15
        # turns of a long thread, bench.long_thread).
        gc.collect()
        gc.freeze()

    threading.Thread(target=load, name="aiop-warm-up", daemon=True).start()


def wait_for_crds(services: Services, health: Health, stop: threading.Event) -> bool:
    """Block until both CRDs are served (kopf would otherwise fail to watch); False when stopped first."""
    names = [f"{PLURAL_CONVERSATION}.{GROUP}", f"{PLURAL_REQUEST}.{GROUP}"]
    while not stop.is_set():
        health.beat()
        try:
            missing = [n for n in names
                       if services.kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", n) is None]
        except KubeError as exc:
            missing = [f"({exc.message})"]
        if not missing:
            health.set("crds")
            return True
        log.warning("waiting for CRDs", extra={"missing": missing})
        stop.wait(CRD_RETRY_S)
    return False


async def _heartbeat(settings: Settings, services: Services, health: Health, kopf_ready: threading.Event,
                     ready: threading.Event | None) -> None:
    """Beat for /healthz; once kopf runs, mark the watches established when our kinds list as us."""
    kinds = (KIND_CONVERSATION, KIND_REQUEST)
    namespaces: list[str | None] = [*settings.kube.namespaces] or [None]
    watching = False
    while True:
        health.beat()
        if kopf_ready.is_set() and not watching:
            try:
                for kind in kinds:
                    for namespace in namespaces:
                        await asyncio.to_thread(services.kube.list, f"{GROUP}/{VERSION}", kind, namespace)
                health.set("watching")
                watching = True
                if ready is not None:
                    ready.set()
            except KubeError as exc:
                log.warning("cannot list our resources yet", extra={"error": exc.message})
        # Until the watches are up, look often: readiness should not lag kopf by a whole beat.
        await asyncio.sleep(BEAT_S if watching else STARTING_POLL_S)


async def _operate(settings: Settings, services: Services, stop: threading.Event, ready: threading.Event,
                   health: Health, identity: str) -> None:
    namespaces = list(settings.kube.namespaces)
    kopf_ready = threading.Event()
    beat = asyncio.create_task(_heartbeat(settings, services, health, kopf_ready, ready))
    try:
        await kopf.operator(
            standalone=True,
            clusterwide=not namespaces,
            namespaces=namespaces,
            stop_flag=stop,
            ready_flag=kopf_ready,
            memo=handlers.make_memo(settings, services),
            # Our own identity (the Lease's): left to itself, kopf asks the passwd database for the user's
            # name, and a container's UID (65532 in the image) often has no entry there (KeyError at start).
            identity=cast(Any, identity),
        )
    finally:
        beat.cancel()
        stop.set()  # kopf may have stopped on a signal of its own: release whatever waits on the flag


def run_operator(settings: Settings, services: Services, stop: threading.Event | None = None,
                 ready: threading.Event | None = None, health: Health | None = None) -> None:
    """Blocks until `stop` is set (or forever). Cluster-wide unless namespaces are configured.

    With leader election on, waits as a standby until it holds the Lease; raises `LeadershipLost`
    after stopping kopf when the Lease is lost.
    """
    stop = stop or threading.Event()
    ready = ready or threading.Event()
    health = health or Health()
    if not wait_for_crds(services, health, stop):
        return
    elector, lost = None, threading.Event()
    identity = settings.leader.identity or default_identity()
    if settings.leader.enabled:
        health.role = STANDBY
        lead = settings.leader
        elector = LeaseElector(services.kube, lead.lease_name, lead.namespace or settings.kube.operator_namespace,
                               identity, lead.lease_duration_s, lead.renew_interval_s, beat=health.beat)
        if not elector.wait_until_leader(stop):
            return

        def on_lost() -> None:
            lost.set()
            stop.set()

        elector.keep_renewing(stop, on_lost)
    health.role = LEADER
    try:
        asyncio.run(_operate(settings, services, stop, ready, health, identity))
    finally:
        if elector is not None and not lost.is_set():
            elector.release()
    if lost.is_set():
        raise LeadershipLost("another replica holds the leader lease")


def start_operator_thread(settings: Settings, services: Services) -> tuple[threading.Thread, threading.Event]:
    """The operator on a daemon thread; returns the thread and the event that stops it."""
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(target=run_operator, args=(settings, services, stop, ready),
                              name="aiop-controller", daemon=True)
    thread.start()
    ready.wait(timeout=60)
    return thread, stop
