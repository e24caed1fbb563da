"""Secrets planted in the cluster, in the chat and in past threads never reach an AI backend.

Both wire fakes are used (`fakes.OpenAIServer` for router, reviewer and summariser; the Bedrock
Converse fake for the planner, which also reads logs and objects through its tools), so the
assertion is made on every request body that actually crossed the socket, byte for byte. The
cluster is a `MemoryCluster` that does *not* redact env values, annotations, events or logs: the
redaction under test is the backend package's own, the last step before text leaves.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from controller.backends.config import parse_config
from controller.backends.factory import build_backend
from controller.planning.memory_cluster import LOGS_ANNOTATION, MemoryCluster
from controller.planning.scripted import ScriptedBackend
from controller.planning.types import KnowledgeHit
from tests.backends import fakes
from tests.backends.conftest import deployment, request

pytestmark = pytest.mark.timeout(60)

PLANTED = {
    "aws_key": "AKIAIOSFODNN7EXAMPLE",
    "aws_secret": "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
    "github": "ghp_R2D2C3POr2d2c3poR2D2C3POr2d2c3po1234",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl",
    "password": "Tr0ub4dor&3-horse",
    "slack": "xoxb-123456789012-abcdefghijkl",
    "openai": "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
    "secret_b64": "c3VwZXJzZWNyZXQ=",
}


def cluster() -> MemoryCluster:
    env = [{"name": "AWS_SECRET_ACCESS_KEY", "value": PLANTED["aws_secret"]},
           {"name": "DB_PASSWORD", "value": PLANTED["password"]}, {"name": "LOG_LEVEL", "value": "info"}]
    web = deployment("web", env=env, annotations={"ci/token": PLANTED["github"],
                                                  "note": f"deployed with AWS_ACCESS_KEY_ID={PLANTED['aws_key']}"})
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "worker-1", "namespace": "shop", "annotations": {
               LOGS_ANNOTATION: json.dumps({"worker": f"boot\nconnecting with Authorization: Bearer {PLANTED['jwt']}\n"
                                                     f"slack={PLANTED['slack']}\ncrash: db password: {PLANTED['password']}"})}},
           "spec": {"containers": [{"name": "worker", "image": "shop/worker:1"}]},
           "status": {"phase": "Running", "containerStatuses": [{"name": "worker", "restartCount": 7}]}}
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "shop"},
             "involvedObject": {"name": "worker-1"}, "reason": "BackOff", "type": "Warning",
             "message": f"pulling with token={PLANTED['openai']}"}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
              "data": {"password": PLANTED["secret_b64"]}}
    return MemoryCluster([web, pod, event, secret])


def test_no_planted_secret_appears_in_any_request_body() -> None:
    chat_text = (f"worker crashes. my aws key is {PLANTED['aws_key']} and the db password: {PLANTED['password']}. "
                 f"also api_key={PLANTED['openai']}")
    knowledge = [KnowledgeHit(thread_id="old", request=f"fix login, used token {PLANTED['github']}",
                              resolution=f"set password={PLANTED['password']} then restart", rating=100,
                              comment=f"worked once the token {PLANTED['github']} was rotated")]
    with fakes.OpenAIServer() as gpt, fakes.BedrockServer() as claude:
        gpt.enqueue(fakes.tools(fakes.call("route", {"domain": "sre"})),
                    fakes.tools(fakes.call("review", {"verdict": "ok", "objections": []})),
                    fakes.text("Restart worker; nothing runs until you approve."))
        claude.enqueue(
            fakes.converse(("read_logs", {"namespace": "shop", "pod": "worker-1", "container": "worker"}),
                           ("read_object", {"api_version": "apps/v1", "kind": "Deployment", "name": "web",
                                            "namespace": "shop"})),
            fakes.converse(("read_events", {"namespace": "shop"}),
                           ("read_object", {"api_version": "v1", "kind": "Secret", "name": "db", "namespace": "shop"}),
                           ("list_objects", {"api_version": "v1", "kind": "Secret", "namespace": "shop"})),
            fakes.converse(("restart", {"name": "worker", "namespace": "shop"}),
                           ("respond", {"kind": "plan", "answer": "Restart worker."})))
        config = parse_config({
            "backends": [
                {"name": "gpt", "type": "openai", "model": "gpt-4.1", "base_url": gpt.url + "/v1",
                 "api_key_env": "OPENAI_API_KEY"},
                {"name": "claude", "type": "bedrock", "region": "us-east-1", "model": "anthropic.claude-3-5-sonnet",
                 "endpoint_url": claude.url, "access_key_id_env": "AWS_ACCESS_KEY_ID",
                 "secret_access_key_env": "AWS_SECRET_ACCESS_KEY"}],
            "roles": {"router": "gpt", "planner": "claude", "reviewer": "gpt", "summarizer": "gpt"}})
        env = {"OPENAI_API_KEY": "sk-test-key-not-planted-000000", "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing"}
        backend = build_backend(config, env, offline=lambda: ScriptedBackend())
        result = backend.propose(request(chat_text, knowledge=knowledge), cluster())
        bodies: list[bytes] = gpt.bodies + claude.bodies
    assert len(gpt.bodies) == 3 and len(claude.bodies) == 3, "every role made its call"
    assert result.actions[0].action == "restart" and result.answer.startswith("Restart worker")
    for body in bodies:
        text = body.decode()
        for name, value in PLANTED.items():
            assert value not in text, f"{name} reached a backend"
            assert json.dumps(value)[1:-1] not in text, f"{name} (JSON-escaped) reached a backend"
    everything = b"".join(bodies).decode()
    assert "[REDACTED]" in everything and "Secrets are never shown." in everything
    assert "worked once the token" in everything  # the rating comment was sent, redacted
    assert "connecting with Authorization" in everything and "BackOff" in everything  # logs and events were sent
    assert "never an instruction" in everything  # the system prompt about DATA blocks was sent
    audit: Any = json.dumps(result.calls)
    assert not any(v in audit for v in PLANTED.values())
    assert {c["role"] for c in result.calls} == {"router", "planner", "reviewer", "summarizer"}
