"""The OpenAI-compatible and Azure OpenAI adapters against a local chat-completions server.

The server (`fakes.OpenAIServer`) is a faithful fake of the *wire*: the real `openai` package talks
HTTP to it, and it answers with bodies, SSE streams and error bodies shaped after OpenAI's API
reference. What it cannot fake is a model's judgement, so its replies are scripted.
"""

from __future__ import annotations

import json

import pytest

from controller.backends.agent import ChatBackend
from controller.backends.config import AzureOpenAIConfig, Budget, OpenAIConfig
from controller.backends.errors import FatalError, InvalidOutput, TransientError
from controller.backends.ledger import Ledger, Spent
from controller.backends.openai_chat import OpenAIChat
from controller.backends.wire import Msg
from controller.planning.memory_cluster import MemoryCluster
from tests.backends import fakes
from tests.backends.conftest import request

pytestmark = pytest.mark.timeout(60)


def client(server: fakes.OpenAIServer, stream: bool = False) -> OpenAIChat:
    cfg = OpenAIConfig(name="gpt", type="openai", model="gpt-4.1", base_url=server.url + "/v1", stream=stream,
                       api_key_env="OPENAI_API_KEY", timeout_s=5)
    return OpenAIChat(cfg, "test-key-123")


def ledger() -> Ledger:
    return Ledger("t1", Budget(), Spent())


def test_tool_calls_usage_and_request_shape() -> None:
    """A tool-call answer is parsed; the request carries system prompt, tools and `tool_choice`:
    `required` when several tools are offered, the tool by name when only one is."""
    with fakes.OpenAIServer() as server:
        server.enqueue(fakes.tools(fakes.call("scale", {"name": "web", "namespace": "shop", "replicas": 3})),
                       fakes.tools(fakes.call("scale", {"name": "web", "namespace": "shop", "replicas": 3})))
        reply = client(server).complete("SYSTEM", [Msg("user", "scale web to 3")],
                                        [fakes_tool("scale"), fakes_tool("restart")], force_tool=True)
        client(server).complete("SYSTEM", [Msg("user", "scale web to 3")], [fakes_tool("scale")], force_tool=True)
        body, single = server.requests
    assert server.paths[0] == "/v1/chat/completions"
    assert server.headers[0]["authorization"] == "Bearer test-key-123"
    assert body["messages"][0] == {"role": "system", "content": "SYSTEM"}
    assert body["tool_choice"] == "required" and body["tools"][0]["function"]["name"] == "scale"
    assert single["tool_choice"] == {"type": "function", "function": {"name": "scale"}}
    assert reply.tool_calls[0].name == "scale" and reply.tool_calls[0].arguments["replicas"] == 3
    assert reply.input_tokens == fakes.tokens_of(server.bodies[0]) and reply.output_tokens > 0
    assert reply.via == "tool_choice=required"


def fakes_tool(name: str) -> object:
    from controller.backends.tools import action_tools

    return next(t for t in action_tools() if t.name == name)


def test_streaming_reassembles_tool_call_fragments() -> None:
    """SSE chunks with argument fragments by `index` become whole calls; usage comes from the last chunk."""
    with fakes.OpenAIServer() as server:
        server.enqueue(fakes.streamed(fakes.call("scale", {"name": "web", "namespace": "shop", "replicas": 4}),
                                      fakes.call("respond", {"kind": "plan", "answer": "Scaling web to 4."}),
                                      text="thinking out loud"))
        reply = client(server, stream=True).complete("S", [Msg("user", "x")], [], force_tool=False)
        assert server.requests[0]["stream"] is True
        assert server.requests[0]["stream_options"] == {"include_usage": True}
    assert [c.name for c in reply.tool_calls] == ["scale", "respond"]
    assert reply.tool_calls[0].arguments == {"name": "web", "namespace": "shop", "replicas": 4}
    assert reply.text == "thinking out loud" and reply.input_tokens > 0


def test_429_then_503_are_retried_with_backoff_then_succeed(shop: MemoryCluster) -> None:
    """429 (with Retry-After) and 503 are transient: the same backend is retried after a bounded pause.
    (A 500 first sends a simpler request shape: see test_compat.)"""
    pauses: list[float] = []
    with fakes.OpenAIServer() as server:
        server.enqueue(fakes.error(429, "Rate limit reached", retry_after="0.5"), fakes.error(503, "overloaded"),
                       fakes.tools(fakes.call("respond", {"kind": "answer", "answer": "web runs 2 replicas"})))
        backend = ChatBackend("gpt", client(server), max_retries=2, backoff_s=1.0, sleep=pauses.append)
        result = backend.propose(request("how many replicas does web have?"), shop)
    assert result.kind == "answer" and "2 replicas" in result.answer
    assert pauses == [0.5, 2.0]  # Retry-After honoured, then 1s * 2**1
    assert [c["outcome"] for c in result.calls] == ["transient", "transient", "ok"]


def test_retries_are_bounded(shop: MemoryCluster) -> None:
    with fakes.OpenAIServer() as server:
        server.enqueue(*[fakes.error(503, "overloaded")] * 5)
        backend = ChatBackend("gpt", client(server), max_retries=2, backoff_s=100, sleep=lambda s: None)
        with pytest.raises(TransientError, match="503"):
            backend.plan(request("scale web to 3"), shop, ledger())
        assert len(server.bodies) == 3


def test_401_is_fatal_and_malformed_json_is_invalid_output() -> None:
    with fakes.OpenAIServer() as server:
        server.enqueue(fakes.error(401, "Incorrect API key provided"), fakes.raw("{not json"))
        c = client(server)
        with pytest.raises(FatalError, match="401"):
            c.complete("S", [Msg("user", "x")], [], force_tool=False)
        with pytest.raises(InvalidOutput):
            c.complete("S", [Msg("user", "x")], [], force_tool=False)


def test_malformed_tool_arguments_get_one_repair_with_the_error(shop: MemoryCluster) -> None:
    """Broken JSON arguments are sent back once, with the parse error; the corrected answer is used."""
    with fakes.OpenAIServer() as server:
        server.enqueue(fakes.tools(fakes.call("scale", '{"name": "web", "replicas": ')),
                       fakes.tools(fakes.call("scale", {"name": "web", "namespace": "shop", "replicas": 3})))
        result = ChatBackend("gpt", client(server)).propose(request("scale web to 3"), shop)
        repair = server.requests[1]["messages"]
    assert result.kind == "plan" and result.actions[0].params["replicas"] == 3
    tool_answers = [m for m in repair if m["role"] == "tool"]
    assert tool_answers and "not valid JSON" in tool_answers[0]["content"]
    assert repair[-1]["role"] == "user" and "not accepted" in repair[-1]["content"]


def test_azure_openai_deployment_path_key_header_and_api_version() -> None:
    with fakes.OpenAIServer() as server:
        server.enqueue(fakes.tools(fakes.call("respond", {"kind": "answer", "answer": "ok"})))
        cfg = AzureOpenAIConfig(name="az", type="azure-openai", endpoint=server.url, deployment="gpt4o-prod",
                                api_version="2024-10-21", api_key_env="AZURE_OPENAI_API_KEY", timeout_s=5)
        reply = OpenAIChat(cfg, "azure-key-xyz").complete("S", [Msg("user", "x")], [], force_tool=False)
        assert server.paths[0] == "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21"
        assert server.headers[0]["api-key"] == "azure-key-xyz"
        assert json.loads(server.bodies[0])["model"] == "gpt4o-prod"
    assert reply.tool_calls[0].name == "respond"
