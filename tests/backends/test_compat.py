"""The OpenAI adapter adapts to what a server accepts, and remembers it per backend.

The servers here are `fakes.OpenAIServer` (a faithful fake of the chat-completions wire) taught to
refuse what real servers refuse, as their documentation and our measurements say: llama.cpp's
Python server answers `tool_choice: "required"` and streamed `"auto"` with HTTP 500; vLLM without
`--enable-auto-tool-choice` answers 400; Ollama ignores `tool_choice` and the model may answer in
prose; llama.cpp's server refuses `response_format: json_schema` with 422. The real llama.cpp
server is exercised in `test_llama_server.py`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from controller.backends import compat
from controller.backends.agent import ChatBackend
from controller.backends.config import OpenAIConfig
from controller.backends.errors import FatalError, TransientError
from controller.backends.openai_chat import OpenAIChat
from controller.backends.tools import ROUTE_TOOL, planner_tools, wire_pattern
from controller.backends.wire import Msg, ToolCall
from controller.planning.memory_cluster import MemoryCluster
from tests.backends import fakes
from tests.backends.conftest import request

pytestmark = pytest.mark.timeout(60)

SCALE = {"name": "web", "namespace": "shop", "replicas": 3}


class PickyServer(fakes.OpenAIServer):
    """A chat-completions server that answers each request by a rule over its body."""

    def __init__(self, rule: Callable[[dict[str, Any]], fakes.Script]) -> None:
        super().__init__()
        self.rule = rule

    def default(self, body: dict[str, Any]) -> fakes.Script:
        return self.rule(body)


def shape_of(body: dict[str, Any]) -> str:
    """The request shape as the adapter names it, read back from what the server received."""
    if body.get("tools"):
        choice = body.get("tool_choice")
        name = f"tool_choice={'named' if isinstance(choice, dict) else choice}"
    elif body.get("response_format"):
        rf = body["response_format"]
        name = "response_format=" + rf["type"] + ("+schema" if "schema" in rf else "")
    else:
        name = "plain"
    return name + ("+stream" if body.get("stream") else "")


def adapter(server: fakes.OpenAIServer, stream: bool = False) -> OpenAIChat:
    return OpenAIChat(OpenAIConfig(name="srv", type="openai", model="m", base_url=server.url + "/v1",
                                   stream=stream, timeout_s=5), None)


def ask(chat: OpenAIChat) -> Any:
    return chat.complete("SYSTEM", [Msg("user", "scale web to 3")], planner_tools(), force_tool=True)


def llama_cpp_like(body: dict[str, Any]) -> fakes.Script:
    """llama-cpp-python 0.3 with --chat_format chatml-function-calling, as measured."""
    if body.get("tool_choice") == "required":
        return fakes.error(500, "")  # an AssertionError inside the handler
    if body.get("tool_choice") == "auto" and body.get("stream"):
        return fakes.error(500, "Automatic streaming tool choice is not supported")
    return fakes.tools(fakes.call("scale", SCALE))


def test_required_refused_with_400_moves_to_auto_at_once_and_is_remembered() -> None:
    """vLLM without auto tool choice: 400 for `required`; the next call starts at `auto`."""
    def rule(body: dict[str, Any]) -> fakes.Script:
        if body.get("tool_choice") == "required":
            return fakes.error(400, '"auto" tool choice requires --enable-auto-tool-choice')
        return fakes.tools(fakes.call("scale", SCALE))

    with PickyServer(rule) as server:
        chat = adapter(server)
        first, second = ask(chat), ask(chat)
        shapes = [shape_of(b) for b in server.requests]
    assert shapes == ["tool_choice=required", "tool_choice=auto", "tool_choice=auto"]
    assert first.tool_calls[0].arguments == SCALE and second.via == "tool_choice=auto"
    assert first.refusals and "400" in first.refusals[0] and not second.refusals
    assert chat.capabilities.snapshot() == {"tools": ["tool_choice=required (HTTP 400)"]}
    # the auto request asks for a JSON reply in case the model calls no tool
    assert compat.REPLY_FORM in server.requests[1]["messages"][0]["content"]


def test_llama_cpp_500s_are_remembered_after_the_second_time() -> None:
    """A 500 might be passing: the richer shape is tried again once, then skipped for good."""
    with PickyServer(llama_cpp_like) as server:
        chat = adapter(server, stream=True)
        replies = [ask(chat) for _ in range(3)]
        shapes = [shape_of(b) for b in server.requests]
    per_call = ["tool_choice=required+stream", "tool_choice=required", "tool_choice=auto+stream", "tool_choice=auto"]
    assert shapes == per_call + per_call + ["tool_choice=auto"]
    assert all(r.tool_calls[0].name == "scale" and r.via == "tool_choice=auto" for r in replies)
    assert len(chat.capabilities.snapshot()["tools"]) == 3


def test_prose_instead_of_a_call_asks_again_for_schema_constrained_json() -> None:
    """Ollama ignores tool_choice: prose comes back; the same exchange is asked again as JSON."""
    def rule(body: dict[str, Any]) -> fakes.Script:
        if body.get("tools"):
            return fakes.text("Sure! I would scale the web deployment to three replicas.")
        return fakes.text(json.dumps({"calls": [{"name": "scale", "arguments": SCALE}]}))

    with PickyServer(rule) as server:
        reply = ask(adapter(server))
        last = server.requests[-1]
    assert [shape_of(b) for b in server.requests] == ["tool_choice=required", "response_format=json_schema"]
    assert reply.tool_calls[0].name == "scale" and reply.tool_calls[0].arguments == SCALE
    assert reply.via == "response_format=json_schema+calls-from-text"
    schema = last["response_format"]["json_schema"]["schema"]
    names = {v["properties"]["name"]["enum"][0] for v in schema["properties"]["calls"]["items"]["anyOf"]}
    assert {"scale", "respond", "read_object"} <= names and "tools" not in last
    assert "- scale:" in last["messages"][0]["content"]  # the tools are described in the prompt instead


def test_json_schema_refused_falls_to_json_object_with_schema() -> None:
    """llama.cpp's server knows `json_object` with a `schema`, and answers `json_schema` with 422."""
    def rule(body: dict[str, Any]) -> fakes.Script:
        if body.get("tools"):
            return fakes.error(400, "tools are not supported")
        if body["response_format"]["type"] == "json_schema":
            return fakes.error(422, "Input should be 'text' or 'json_object'")
        return fakes.text('```json\n{"calls": [{"name": "scale", "arguments": ' + json.dumps(SCALE) + "}]}\n```")

    with PickyServer(rule) as server:
        chat = adapter(server)
        reply, again = ask(chat), ask(chat)
        shapes = [shape_of(b) for b in server.requests]
    assert shapes == ["tool_choice=required", "tool_choice=auto", "response_format=json_schema",
                      "response_format=json_object+schema", "response_format=json_object+schema"]
    assert reply.tool_calls[0].arguments == SCALE and again.tool_calls[0].name == "scale"


def test_tool_results_travel_as_user_turns_without_native_tools() -> None:
    """In the JSON shapes the earlier calls are JSON text and their results one merged user turn."""
    seen: list[dict[str, Any]] = []

    def rule(body: dict[str, Any]) -> fakes.Script:
        seen.append(body)
        if body.get("tools"):
            return fakes.error(400, "no tools here")
        return fakes.text('{"calls": [{"name": "respond", "arguments": {"kind": "answer", "answer": "2 pods"}}]}')

    messages = [Msg("user", "how many pods?"),
                Msg("assistant", "", (ToolCall("c1", "list_objects", {"api_version": "v1", "kind": "Pod"}),)),
                Msg("tool", "[web-1, web-2]", tool_call_id="c1"), Msg("user", "answer now")]
    with PickyServer(rule) as server:
        adapter(server).complete("S", messages, planner_tools(), force_tool=True)
    wire = seen[-1]["messages"]
    assert [m["role"] for m in wire] == ["system", "user", "assistant", "user"]
    assert json.loads(wire[2]["content"]) == {"calls": [{"name": "list_objects",
                                                         "arguments": {"api_version": "v1", "kind": "Pod"}}]}
    assert "[web-1, web-2]" in wire[3]["content"] and "answer now" in wire[3]["content"]


def test_every_shape_refused_is_fatal_or_transient_by_status() -> None:
    with PickyServer(lambda body: fakes.error(400, "bad request")) as server:
        with pytest.raises(FatalError, match="refused every request shape"):
            ask(adapter(server))
        assert len(server.requests) == 6  # required, auto, four JSON shapes: bounded
    with PickyServer(lambda body: fakes.error(500, "boom")) as server, \
            pytest.raises(TransientError, match="failed every request shape"):
        ask(adapter(server))


def test_a_catalog_too_long_for_the_context_is_asked_in_two_steps_from_then_on() -> None:
    """llama.cpp with Gemma: the planner's ~50 tool schemas are ~14k tokens, the context 8k. The adapter
    asks for one tool's name first (one small tool), then for that tool alone, and keeps doing so."""
    def rule(body: dict[str, Any]) -> fakes.Script:
        tools = body.get("tools") or []
        if len(tools) > 1 or body.get("response_format"):
            return fakes.error(400, "This model's maximum context length is 8192 tokens. However, you "
                                    "requested 14208 tokens", code="context_length_exceeded")
        name = tools[0]["function"]["name"]
        if name == compat.PICK_TOOL:
            return fakes.tools(fakes.call(name, {"tool": "scale"}))
        return fakes.tools(fakes.call(name, SCALE), fakes.call("restart", {"name": "web", "namespace": "shop"}))

    with PickyServer(rule) as server:
        chat = adapter(server)
        reply, again = ask(chat), ask(chat)
        shapes = [shape_of(b) for b in server.requests]
        pick_prompt = server.requests[1]["messages"][0]["content"]
    assert shapes == ["tool_choice=required"] + ["tool_choice=named"] * 2 + ["tool_choice=named"] * 2
    # only the chosen tool's call is kept (restart was not chosen)
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("scale", SCALE)]
    assert reply.via == "pick-then-fill(scale)" and "context" in reply.refusals[0]
    assert again.via == reply.via
    assert "- scale: Scale a Deployment or StatefulSet" in pick_prompt  # no shortlist given: every tool
    assert "every tool in one request" in chat.capabilities.snapshot()["tools"][0]


def test_context_overflow_of_a_single_tool_and_auth_are_fatal() -> None:
    with fakes.OpenAIServer() as server:
        server.enqueue(fakes.error(400, "maximum context length is 2048 tokens", code="context_length_exceeded"),
                       fakes.error(401, "bad key"))
        with pytest.raises(FatalError, match="does not fit the model's context"):
            adapter(server).complete("S", [Msg("user", "x")], [ROUTE_TOOL], force_tool=True)
        with pytest.raises(FatalError, match="401"):
            ask(adapter(server))
        assert len(server.requests) == 2


class BrokenStreams(PickyServer):
    """llama.cpp's server answers a streamed tool request it cannot serve with an empty event stream,
    and repeats the whole function name in every chunk of a stream it can serve."""

    def handle(self, h: Any, body: dict[str, Any], raw_body: bytes) -> None:
        if not body.get("stream"):
            super().handle(h, body, raw_body)
            return
        if body.get("tool_choice") != "auto" or len(body.get("tools") or []) != 1:
            self.send(h, 200, b"", {"Content-Type": "text/event-stream"})
            return
        base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
        pieces = ['{"name": ', '"web", "namespace": "shop", ', '"replicas": 3}']
        chunks = [{**base, "choices": [{"index": 0, "finish_reason": None, "delta": {"tool_calls": [
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "scale", "arguments": p}}]}}]}
            for p in pieces]
        chunks.append({**base, "choices": [{"index": 0, "finish_reason": "tool_calls", "delta": {}}]})
        payload = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        self.send(h, 200, payload.encode(), {"Content-Type": "text/event-stream"})


def test_an_empty_stream_is_a_refusal_and_repeated_names_are_read_once() -> None:
    scale = [t for t in planner_tools() if t.name == "scale"]
    with BrokenStreams(lambda body: fakes.error(500, "")) as server:
        reply = adapter(server, stream=True).complete("S", [Msg("user", "scale web to 3")], scale, force_tool=False)
        shapes = [shape_of(b) for b in server.requests]
    assert shapes == ["tool_choice=auto+stream"]
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("scale", SCALE)]
    with BrokenStreams(lambda body: fakes.tools(fakes.call("scale", SCALE))) as server:
        reply = ask(adapter(server, stream=True))
        shapes = [shape_of(b) for b in server.requests]
    assert shapes == ["tool_choice=required+stream", "tool_choice=required"]
    assert "the stream ended without an answer" in reply.refusals[0]


def test_wire_patterns_keep_their_meaning_without_escapes_outside_classes() -> None:
    """llama.cpp's grammar converter turns `\\.` into a literal its parser refuses (the server crashed)."""
    cases = {r"^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$": ["10.0.0.0/8", "10a0.0.0/8", "1.2.3/4"],
             r"^\d{12}$": ["123456789012", "12345678901x"],
             r"^(\*\.)?[a-z0-9]+(\.[a-z0-9]+)*$": ["*.example.com", "a.b", "x*.b", "a..b"],
             r"^[-\w._()]{1,90}$": ["rg-(prod).1", "a b", "a-b_c"],
             r"^[a\-z\.]+$": ["a-z", "b", "a.z"]}
    for pattern, samples in cases.items():
        wired = wire_pattern(pattern)
        # inside classes too: llama.cpp's grammar parser refused `[-\w._()]` ("unknown escape") and its
        # server died on the Azure resource group's name
        assert "\\." not in wired and "\\d" not in wired and "\\w" not in wired and "\\-" not in wired
        assert [bool(re.fullmatch(pattern, x)) for x in samples] == [bool(re.fullmatch(wired, x)) for x in samples]
    every = json.dumps([t.schema for t in planner_tools()])
    assert "\\\\." not in every and "\\\\d" not in every  # no escaped dot or digit class left on the wire


def test_a_plan_read_out_of_text_passes_the_same_gates(shop: MemoryCluster) -> None:
    """Calls parsed from text are untrusted like native ones: a refused parameter gets a repair."""
    replies = iter([fakes.text('{"calls": [{"name": "scale", "arguments": {"name": "web", "namespace": "shop", '
                               '"replicas": -4}}]}'),
                    fakes.text('{"calls": [{"name": "scale", "arguments": ' + json.dumps(SCALE) + '}, '
                               '{"name": "respond", "arguments": {"kind": "plan", "answer": "Scale web to 3."}}]}')])

    def rule(body: dict[str, Any]) -> fakes.Script:
        return fakes.error(400, "no tools") if body.get("tools") else next(replies)

    with PickyServer(rule) as server:
        result = ChatBackend("srv", adapter(server)).propose(request("scale web to 3"), shop)
        repair = server.requests[-1]["messages"][-1]["content"]
    assert result.kind == "plan" and result.actions[0].params["replicas"] == 3
    assert "not accepted" in repair and "replicas" in repair
    assert all(c.get("via", "").startswith("response_format=") for c in result.calls if c["outcome"] == "ok")


def test_calls_from_text_reads_the_forms_small_models_write() -> None:
    one = compat.calls_from_text('I will call {"name": "scale", "arguments": {"replicas": 2}} now.')
    assert [(c.name, c.arguments) for c in one] == [("scale", {"replicas": 2})]
    openai_like = compat.calls_from_text(json.dumps(
        {"tool_calls": [{"function": {"name": "restart", "arguments": '{"name": "web"}'}}]}))
    assert [(c.name, c.arguments) for c in openai_like] == [("restart", {"name": "web"})]
    bad = compat.calls_from_text('{"calls": [{"name": "scale", "arguments": [1, 2]}]}')
    assert bad[0].error and "JSON object" in bad[0].error
    assert compat.calls_from_text("No JSON here, just {broken") == []
    assert compat.calls_from_text('{"replicas": 3}') == []  # JSON that names no tool is not a call
