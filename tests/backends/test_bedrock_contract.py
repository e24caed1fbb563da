"""The Bedrock adapter against a local Converse server, through the real boto3 client.

`fakes.BedrockServer` is a faithful fake of the Converse *wire*: boto3 signs and sends real
`POST /model/{modelId}/converse` requests to it (`endpoint_url`, dummy credentials), and it
answers with bodies and error headers shaped after the Bedrock API reference. Replies are scripted.
"""

from __future__ import annotations

import pytest

from controller.backends.agent import ChatBackend
from controller.backends.bedrock_chat import BedrockChat
from controller.backends.config import BedrockConfig
from controller.backends.errors import FatalError, InvalidOutput, TransientError
from controller.backends.wire import Msg, ToolCall
from controller.planning.memory_cluster import MemoryCluster
from tests.backends import fakes
from tests.backends.conftest import request

pytestmark = pytest.mark.timeout(60)
MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
DUMMY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def client(server: fakes.BedrockServer) -> BedrockChat:
    cfg = BedrockConfig(name="claude", type="bedrock", region="us-east-1", model=MODEL,
                        endpoint_url=server.url, timeout_s=5)
    return BedrockChat(cfg, DUMMY)


def test_converse_request_and_tool_use_answer() -> None:
    """System prompt, toolConfig with toolSpec/inputSchema.json, alternating turns; toolUse parsed."""
    with fakes.BedrockServer() as server:
        server.enqueue(fakes.converse(("scale", {"name": "web", "namespace": "shop", "replicas": 3}),
                                      text="I will scale web."))
        messages = [Msg("user", "scale web"),
                    Msg("assistant", "", (ToolCall("tu1", "read_object", {"kind": "Deployment"}),)),
                    Msg("tool", "DATA", tool_call_id="tu1"), Msg("tool", "more", tool_call_id="tu2", is_error=True)]
        from controller.backends.tools import planner_tools

        reply = client(server).complete("SYSTEM", messages, planner_tools(), force_tool=True)
        body, path = server.requests[0], server.paths[0]
        auth = server.headers[0]["authorization"]
    assert path == f"/model/{MODEL.replace(':', '%3A')}/converse"
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert body["system"] == [{"text": "SYSTEM"}]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    results = body["messages"][2]["content"]
    assert results[0]["toolResult"]["toolUseId"] == "tu1" and results[1]["toolResult"]["status"] == "error"
    spec = body["toolConfig"]["tools"][0]["toolSpec"]
    assert spec["name"] == "scale" and spec["inputSchema"]["json"]["properties"]["replicas"]["type"] == "integer"
    assert body["toolConfig"]["toolChoice"] == {"any": {}}
    assert reply.text == "I will scale web." and reply.tool_calls[0].arguments["replicas"] == 3
    assert reply.input_tokens > 0 and reply.output_tokens > 0 and reply.finish == "tool_use"


def test_throttling_is_retried_then_planned(shop: MemoryCluster) -> None:
    pauses: list[float] = []
    with fakes.BedrockServer() as server:
        server.enqueue(fakes.aws_error(429, "ThrottlingException", "Too many requests, please wait."),
                       fakes.converse(("scale", {"name": "web", "namespace": "shop", "replicas": 3}),
                                      ("respond", {"kind": "plan", "answer": "Scale web to 3."})))
        result = ChatBackend("claude", client(server), backoff_s=0.25, sleep=pauses.append).propose(
            request("scale web to 3"), shop)
    assert pauses == [0.25]
    assert result.kind == "plan" and result.actions[0].action == "scale" and result.answer == "Scale web to 3."
    assert [c["outcome"] for c in result.calls] == ["transient", "ok"] and result.calls[1]["model"] == MODEL


def test_server_error_access_denied_and_garbage() -> None:
    with fakes.BedrockServer() as server:
        server.enqueue(fakes.aws_error(500, "InternalServerException", "internal"),
                       fakes.aws_error(403, "AccessDeniedException", "not authorized to invoke the model"),
                       fakes.raw('{"output": {"nothing": 1}}'))
        c = client(server)
        with pytest.raises(TransientError, match="InternalServerException"):
            c.complete("S", [Msg("user", "x")], [], force_tool=False)
        with pytest.raises(FatalError, match="AccessDenied"):
            c.complete("S", [Msg("user", "x")], [], force_tool=False)
        with pytest.raises(InvalidOutput, match=r"output\.message"):
            c.complete("S", [Msg("user", "x")], [], force_tool=False)
