"""`/healthz` and `/readyz` over real HTTP, the JSON log lines, and where the servers bind.

Why: the chart's probes call these endpoints, so a wrong answer restarts healthy pods or sends
traffic to unready ones. Issue 10 found every log line carrying kopf's whole settings object and the
metrics server bound to 0.0.0.0; both are checked here on real sockets and real kopf loggers.
"""

from __future__ import annotations

import json
import logging
import socket

import httpx
import kopf
import pytest

from controller.adapters.telemetry import JsonFormatter, serve_metrics
from controller.serve.health import LEADER, STANDBY, Health, serve_health
from tests.install.conftest import free_port

pytestmark = pytest.mark.timeout(60)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_liveness_follows_the_heartbeat_and_readiness_names_what_is_missing() -> None:
    clock = Clock()
    health = Health(stale_after_s=30.0, clock=clock)
    server = serve_health(health, free_port())
    assert server is not None
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert httpx.get(f"{base}/healthz").status_code == 503  # never beaten: not alive yet
        health.beat()
        assert httpx.get(f"{base}/healthz").json() == {"ok": True, "loop": "alive", "lastBeatSecondsAgo": 0.0}
        clock.now += 31
        live = httpx.get(f"{base}/healthz")
        assert live.status_code == 503 and live.json()["loop"] == "stalled"

        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"crds": False, "embedder": False, "role": False, "watching": True}
        health.set("crds")
        health.set("embedder")
        health.role = STANDBY
        assert httpx.get(f"{base}/readyz").status_code == 200  # a ready standby: rolling updates go on
        health.role = LEADER
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["watching"] is False
        health.set("watching")
        assert httpx.get(f"{base}/readyz").json() == {
            "ok": True, "role": "leader", "checks": {"crds": True, "embedder": True, "role": True, "watching": True}}
        assert httpx.get(f"{base}/metrics").status_code == 404
    finally:
        server.shutdown()


def bound_addresses(port: int) -> set[str]:
    """Addresses with a listening TCP socket on `port` (from /proc/net/tcp, as `ss -ltn` reads it)."""
    found = set()
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_servers_bind_loopback_unless_told_otherwise() -> None:
    health_port, metrics_port = free_port(), free_port()
    server = serve_health(Health(), health_port)
    serve_metrics(metrics_port)
    try:
        assert bound_addresses(health_port) == {"127.0.0.1"}
        assert bound_addresses(metrics_port) == {"127.0.0.1"}
        assert "aiop_effects_total" in httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
    finally:
        assert server is not None
        server.shutdown()
    wide = serve_health(Health(), free_port(), "0.0.0.0")
    assert wide is not None
    try:
        assert bound_addresses(wide.server_address[1]) == {"0.0.0.0"}
    finally:
        wide.shutdown()


def test_log_lines_say_what_happened_not_the_settings(caplog: pytest.LogCaptureFixture) -> None:
    """kopf's per-object logger adds its OperatorSettings (~2 KB) to every record; our lines drop it."""
    body = kopf.Body({"apiVersion": "aiop.dev/v1alpha1", "kind": "AIConversation",
                      "metadata": {"name": "c1", "namespace": "shop", "uid": "u-1"}})
    logger = kopf.ObjectLogger(body=body, settings=kopf.OperatorSettings())
    with caplog.at_level(logging.INFO, logger="kopf.objects"):
        logger.info("Handler 'x' succeeded.", extra={"thread_id": "t-1"})
    (record,) = caplog.records
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["message"] == "Handler 'x' succeeded."
    assert (entry["kind"], entry["object"], entry["namespace"], entry["thread_id"]) == ("AIConversation", "c1", "shop", "t-1")
    assert not {"settings", "k8s_ref", "k8s_skip"} & set(entry)
    assert len(line) < 400, line
