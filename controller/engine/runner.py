"""Run the kopf operator with our handlers, in the foreground or on a background thread."""

from __future__ import annotations

import asyncio
import threading

import kopf

from controller.engine import handlers
from controller.engine.reconcile import Services
from controller.settings import Settings


def warm_up(services: Services) -> None:
    """Load the planner's model in the background, so the first message is answered quickly."""
    warm = getattr(services.planner.backend, "warm_up", None)
    if callable(warm):
        threading.Thread(target=warm, name="aiop-warm-up", daemon=True).start()


def run_operator(settings: Settings, services: Services, stop: threading.Event | None = None,
                 ready: threading.Event | None = None) -> None:
    """Blocks until `stop` is set (or forever). Cluster-wide unless namespaces are configured."""
    warm_up(services)
    namespaces = list(settings.kube.namespaces)
    asyncio.run(kopf.operator(
        standalone=True,
        clusterwide=not namespaces,
        namespaces=namespaces,
        stop_flag=stop,
        ready_flag=ready,
        memo=handlers.make_memo(settings, services),
    ))


def start_operator_thread(settings: Settings, services: Services) -> tuple[threading.Thread, threading.Event]:
    """The operator on a daemon thread; returns the thread and the event that stops it."""
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(target=run_operator, args=(settings, services, stop, ready),
                              name="aiop-controller", daemon=True)
    thread.start()
    ready.wait(timeout=60)
    return thread, stop
