"""Admin alerts reach a webhook, and `aiop chat` drives a thread from the terminal.

The webhook receiver is a plain HTTP server on 127.0.0.1 recording what a Slack-compatible endpoint
would receive; the cluster is the sandbox; the backend is scripted at the `Backend` seam.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from typer.testing import CliRunner

from controller.adapters.telemetry import Alerts
from controller.cli import app
from controller.planning.types import ActionCall, PlanningResult
from tests.engine.conftest import ALICE, Loop

pytestmark = pytest.mark.timeout(120)


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


def test_alert_goes_to_event_and_webhook(loop: Loop) -> None:
    """An alert is a Warning Event on the conversation and a Slack-compatible JSON post."""
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        loop.backend.enqueue(PlanningResult(kind="answer", answer="hello"))
        loop.client.say("shop", "alerting", "hello", ALICE)
        conversation = loop.client.wait_settled("shop", "alerting")
        alerts = Alerts(loop.kube, webhook_url=f"http://127.0.0.1:{server.server_port}/hook")
        alerts.raise_alert(conversation, "PolicyViolation", "touches kube-system")
    finally:
        server.shutdown()
    post = _Receiver.received[-1]
    assert "PolicyViolation" in post["text"] and "shop/alerting" in post["text"] and post["blocks"]
    events = [e for e in loop.kube.list("v1", "Event", "shop") if e["involvedObject"]["name"] == "alerting"]
    assert any(e["type"] == "Warning" and e["reason"] == "PolicyViolation" for e in events)


def test_chat_cli_say_approve_show(loop: Loop) -> None:
    """`aiop chat say`, `approve` and `show` act as the named user and print the thread."""
    runner = CliRunner()
    kubeconfig = str(loop.server.kubeconfig_path)
    loop.backend.enqueue(PlanningResult(kind="plan", actions=[ActionCall(
        action="scale", params={"name": "worker", "namespace": "shop", "replicas": 3})]))
    said = runner.invoke(app, ["chat", "say", "cli-thread", "scale worker to 3", "--as", ALICE.user,
                               "--group", "devs", "-n", "shop", "--kubeconfig", kubeconfig])
    assert said.exit_code == 0, said.output
    assert "AwaitingApproval" in said.output and "Scale Deployment shop/worker" in said.output
    approved = runner.invoke(app, ["chat", "approve", "cli-thread", "--as", ALICE.user, "-n", "shop",
                                   "--kubeconfig", kubeconfig])
    assert approved.exit_code == 0, approved.output
    assert "AwaitingRating" in approved.output
    shown = runner.invoke(app, ["chat", "show", "cli-thread", "-n", "shop", "--json", "--kubeconfig", kubeconfig])
    assert json.loads(shown.output)["status"]["phase"] == "AwaitingRating"
    missing = runner.invoke(app, ["chat", "show", "no-such-thread", "-n", "shop", "--kubeconfig", kubeconfig])
    assert missing.exit_code == 1 and "no conversation shop/no-such-thread" in missing.output


def test_phase_changes_are_logged_as_json(loop: Loop, caplog: pytest.LogCaptureFixture) -> None:
    """With INFO logs on, each phase change is one structured record naming the thread (never a crash)."""
    import logging

    from controller.adapters.telemetry import JsonFormatter

    loop.backend.enqueue(PlanningResult(kind="answer", answer="2 replicas"))
    with caplog.at_level(logging.INFO, logger="aiop"):
        loop.client.say("shop", "logged", "how many replicas has web?", ALICE)
        obj = loop.client.wait_settled("shop", "logged")
    assert obj["status"]["phase"] == "AwaitingRating"
    records = [r for r in caplog.records if r.getMessage() == "phase" and getattr(r, "thread_id", "") == "shop-logged"]
    assert records
    line = json.loads(JsonFormatter().format(records[-1]))
    assert line["thread_id"] == "shop-logged" and line["to"] == "AwaitingRating" and line["level"] == "info"
