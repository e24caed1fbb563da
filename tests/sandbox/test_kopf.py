"""A minimal kopf operator runs against the sandbox: its create, update and delete handlers fire,
its progress is stored in annotations and status, and its Events are posted."""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import kopf
from kubernetes import client
from kubernetes.client.rest import ApiException

from sandbox.server import SandboxServer
from tests.sandbox.conftest import WIDGET_CRD

GADGET_CRD: dict[str, Any] = copy.deepcopy(WIDGET_CRD)
GADGET_CRD["metadata"]["name"] = "gadgets.example.com"
GADGET_CRD["spec"]["names"] = {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"}


def _wait(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _run_operator(registry: kopf.OperatorRegistry, ready: threading.Event, stop: threading.Event) -> None:
    asyncio.run(kopf.operator(registry=registry, standalone=True, clusterwide=True, ready_flag=ready,
                              stop_flag=stop))


def test_kopf_handlers_fire_and_post_events(sandbox: SandboxServer, api: client.ApiClient) -> None:
    """kopf's create/update/delete handlers run against the sandbox and its Events appear."""
    client.ApiextensionsV1Api(api).create_custom_resource_definition(GADGET_CRD)
    registry = kopf.OperatorRegistry()
    calls: list[tuple[str, Any]] = []

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=sandbox.url, token=sandbox.admin_token, scheme="Bearer",
                                   ca_path=str(sandbox.ca_path))

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.enabled = True
        settings.posting.level = logging.INFO
        settings.posting.loggers = True  # kopf >= 1.45 posts handler log lines as Events only when asked
        settings.watching.server_timeout = 30

    @kopf.on.create("example.com", "v1", "gadgets", registry=registry)
    def on_create(spec: Any, body: Any, logger: logging.Logger, **_: Any) -> dict[str, Any]:
        calls.append(("create", spec["size"]))
        logger.info("gadget created with size %s", spec["size"])
        kopf.info(body, reason="Provisioned", message="the gadget is ready")
        return {"seen": spec["size"]}

    @kopf.on.update("example.com", "v1", "gadgets", registry=registry)
    def on_update(spec: Any, **_: Any) -> None:
        calls.append(("update", spec["size"]))

    @kopf.on.delete("example.com", "v1", "gadgets", registry=registry)
    def on_delete(name: str, **_: Any) -> None:
        calls.append(("delete", name))

    kopf_logger = logging.getLogger("kopf")
    previous_level = kopf_logger.level
    kopf_logger.setLevel(logging.INFO)  # log lines below the logger's level never reach kopf's poster
    ready, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=_run_operator, args=(registry, ready, stop), daemon=True)
    thread.start()
    try:
        assert ready.wait(20)
        custom = client.CustomObjectsApi(api)
        custom.create_namespaced_custom_object("example.com", "v1", "default", "gadgets", {
            "apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g1"},
            "spec": {"size": 2, "color": "blue"}})
        _wait(lambda: ("create", 2) in calls)

        def handled() -> bool:
            obj = custom.get_namespaced_custom_object("example.com", "v1", "default", "gadgets", "g1")
            annotations = obj["metadata"].get("annotations") or {}
            return "kopf.zalando.org/last-handled-configuration" in annotations and \
                {"seen": 2} in (obj.get("status") or {}).values()  # keyed by the handler id

        _wait(handled)
        obj = custom.get_namespaced_custom_object("example.com", "v1", "default", "gadgets", "g1")
        assert "kopf.zalando.org/KopfFinalizerMarker" in obj["metadata"]["finalizers"]

        custom.patch_namespaced_custom_object("example.com", "v1", "default", "gadgets", "g1",
                                              {"spec": {"size": 5}})
        _wait(lambda: ("update", 5) in calls)

        def event_posted() -> bool:
            events = client.CoreV1Api(api).list_namespaced_event(
                "default", field_selector="involvedObject.name=g1").items
            messages = {(e.reason, e.message) for e in events}
            return ("Provisioned", "the gadget is ready") in messages and \
                any("gadget created with size 2" in (m or "") for _, m in messages)

        _wait(event_posted)

        custom.delete_namespaced_custom_object("example.com", "v1", "default", "gadgets", "g1")
        _wait(lambda: ("delete", "g1") in calls)

        def gone() -> bool:
            try:
                custom.get_namespaced_custom_object("example.com", "v1", "default", "gadgets", "g1")
            except ApiException as exc:
                return exc.status == 404
            return False

        _wait(gone)
    finally:
        stop.set()
        thread.join(timeout=20)
        kopf_logger.setLevel(previous_level)
    assert not thread.is_alive()
