"""Local HTTP servers that speak the AI wire formats, and a scripted `ChatClient`.

`OpenAIServer` speaks the OpenAI chat-completions format (`POST /v1/chat/completions`, and Azure's
`/openai/deployments/{deployment}/chat/completions?api-version=...`): JSON answers with
`choices[0].message.tool_calls` and `usage`, server-sent-event streams of `chat.completion.chunk`
deltas ending in `data: [DONE]` (with the usage chunk that `stream_options.include_usage` asks
for), and error bodies `{"error": {"message", "type", "code"}}` with 429/500 statuses. Shapes
follow OpenAI's API reference.

`BedrockServer` speaks the Converse format (`POST /model/{modelId}/converse`): `output.message.content`
with `text` and `toolUse` blocks, `stopReason`, `usage.inputTokens/outputTokens`, `metrics.latencyMs`;
errors carry the `x-amzn-ErrorType` header and a `{"message": ...}` body, as the AWS API reference
documents (ThrottlingException 429, InternalServerException 500).

Both are faithful fakes of the wire, not of a model: replies are scripted. Token usage is counted
the way these tests need it to be meaningful: ~4 characters per token of the request body the
server received, so the measured costs in the README come from real request sizes.

Every request body is kept (`bodies`), so tests can assert on exactly what left the process.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from controller.backends.wire import Msg, Reply, ToolCall, ToolSpec

Script = dict[str, Any]


def tokens_of(raw: bytes) -> int:
    return max(1, len(raw) // 4)


class _Server:
    def __init__(self) -> None:
        self.script: deque[Script | Callable[[dict[str, Any]], Script]] = deque()
        self.bodies: list[bytes] = []
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.bodies.append(raw)
                outer.paths.append(self.path)
                outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                body = json.loads(raw or b"{}")
                outer.requests.append(body)
                outer.handle(self, body, raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def enqueue(self, *items: Script | Callable[[dict[str, Any]], Script]) -> None:
        self.script.extend(items)

    def next(self, body: dict[str, Any]) -> Script:
        item = self.script.popleft() if self.script else self.default(body)
        return item(body) if callable(item) else item

    def default(self, body: dict[str, Any]) -> Script:
        raise NotImplementedError

    def handle(self, h: BaseHTTPRequestHandler, body: dict[str, Any], raw: bytes) -> None:
        raise NotImplementedError

    @staticmethod
    def send(h: BaseHTTPRequestHandler, status: int, payload: bytes, headers: dict[str, str]) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)


# ------------------------------------------------------------------------------------- OpenAI


def call(name: str, args: dict[str, Any] | str) -> tuple[str, str]:
    return name, args if isinstance(args, str) else json.dumps(args)


def tools(*calls: tuple[str, str], text: str | None = None) -> Script:
    """A chat-completions answer with these tool calls."""
    return {"kind": "tools", "calls": list(calls), "text": text}


def text(content: str) -> Script:
    return {"kind": "tools", "calls": [], "text": content}


def streamed(*calls: tuple[str, str], text: str | None = None) -> Script:
    return {"kind": "tools", "calls": list(calls), "text": text, "stream": True}


def error(status: int, message: str = "error", retry_after: str | None = None, code: str = "") -> Script:
    return {"kind": "error", "status": status, "message": message, "retry_after": retry_after, "code": code}


def raw(payload: str, status: int = 200) -> Script:
    return {"kind": "raw", "payload": payload, "status": status}


class OpenAIServer(_Server):
    """The chat-completions wire (see the module docstring)."""

    model = "gpt-fake-1"

    def default(self, body: dict[str, Any]) -> Script:
        return tools(call("respond", {"kind": "answer", "answer": "(no script)"}))

    def handle(self, h: BaseHTTPRequestHandler, body: dict[str, Any], raw_body: bytes) -> None:
        item = self.next(body)
        if item["kind"] == "error":
            err_type = {429: "rate_limit_exceeded", 401: "invalid_request_error"}.get(item["status"], "server_error")
            headers = {"Content-Type": "application/json"}
            if item.get("retry_after"):
                headers["Retry-After"] = item["retry_after"]
            payload = {"error": {"message": item["message"], "type": err_type, "param": None,
                                 "code": item.get("code") or err_type}}
            self.send(h, item["status"], json.dumps(payload).encode(), headers)
            return
        if item["kind"] == "raw":
            self.send(h, item["status"], item["payload"].encode(), {"Content-Type": "application/json"})
            return
        prompt_tokens = tokens_of(raw_body)
        tool_calls = [{"id": f"call_{i}{len(self.bodies)}", "type": "function",
                       "function": {"name": n, "arguments": a}} for i, (n, a) in enumerate(item["calls"])]
        completion_tokens = max(1, len(json.dumps(tool_calls) + (item["text"] or "")) // 4)
        model = body.get("model", self.model)
        if item.get("stream") or body.get("stream"):
            self._stream(h, item, tool_calls, model, prompt_tokens, completion_tokens)
            return
        message: dict[str, Any] = {"role": "assistant", "content": item["text"], "refusal": None}
        if tool_calls:
            message["tool_calls"] = tool_calls
        payload = {
            "id": f"chatcmpl-{len(self.bodies)}", "object": "chat.completion", "created": 1727000000,
            "model": model, "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": "tool_calls" if tool_calls else "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }
        self.send(h, 200, json.dumps(payload).encode(), {"Content-Type": "application/json"})

    def _stream(self, h: BaseHTTPRequestHandler, item: Script, tool_calls: list[dict[str, Any]], model: str,
                prompt_tokens: int, completion_tokens: int) -> None:
        base = {"id": "chatcmpl-stream", "object": "chat.completion.chunk", "created": 1727000000, "model": model,
                "system_fingerprint": "fp_fake"}
        chunks: list[dict[str, Any]] = [
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
        if item["text"]:
            for piece in re.findall(r".{1,7}", item["text"], re.S):
                chunks.append({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
        for i, tc in enumerate(tool_calls):
            chunks.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": i, "id": tc["id"], "type": "function", "function": {"name": tc["function"]["name"],
                                                                              "arguments": ""}}]},
                "finish_reason": None}]})
            args = tc["function"]["arguments"]
            for piece in re.findall(r".{1,9}", args, re.S):
                chunks.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [
                    {"index": i, "function": {"arguments": piece}}]}, "finish_reason": None}]})
        chunks.append({**base, "choices": [{"index": 0, "delta": {},
                                            "finish_reason": "tool_calls" if tool_calls else "stop"}]})
        chunks.append({**base, "choices": [], "usage": {"prompt_tokens": prompt_tokens,
                                                        "completion_tokens": completion_tokens,
                                                        "total_tokens": prompt_tokens + completion_tokens}})
        payload = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        self.send(h, 200, payload.encode(), {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})


# ------------------------------------------------------------------------------------ Bedrock


def converse(*uses: tuple[str, dict[str, Any]], text: str | None = None) -> Script:
    return {"kind": "converse", "uses": list(uses), "text": text}


def aws_error(status: int, error_type: str, message: str) -> Script:
    return {"kind": "aws-error", "status": status, "type": error_type, "message": message}


class BedrockServer(_Server):
    """The Converse wire (see the module docstring)."""

    def default(self, body: dict[str, Any]) -> Script:
        return converse(("respond", {"kind": "answer", "answer": "(no script)"}))

    def handle(self, h: BaseHTTPRequestHandler, body: dict[str, Any], raw_body: bytes) -> None:
        if not re.fullmatch(r"/model/[^/]+/converse", h.path):
            self.send(h, 404, b'{"message":"unknown operation"}', {"Content-Type": "application/json"})
            return
        item = self.next(body)
        if item["kind"] == "aws-error":
            self.send(h, item["status"], json.dumps({"message": item["message"]}).encode(),
                      {"Content-Type": "application/json", "x-amzn-ErrorType": f"{item['type']}:http://internal.amazon.com/coral/com.amazon.bedrock/",
                       "x-amzn-RequestId": "req-1"})
            return
        if item["kind"] == "raw":
            self.send(h, item["status"], item["payload"].encode(), {"Content-Type": "application/json"})
            return
        content: list[dict[str, Any]] = [{"text": item["text"]}] if item["text"] else []
        content += [{"toolUse": {"toolUseId": f"tooluse_{i}{len(self.bodies)}", "name": n, "input": a}}
                    for i, (n, a) in enumerate(item["uses"])]
        tokens_in = tokens_of(raw_body)
        tokens_out = max(1, len(json.dumps(content)) // 4)
        payload = {"output": {"message": {"role": "assistant", "content": content}},
                   "stopReason": "tool_use" if item["uses"] else "end_turn",
                   "usage": {"inputTokens": tokens_in, "outputTokens": tokens_out, "totalTokens": tokens_in + tokens_out},
                   "metrics": {"latencyMs": 42}}
        self.send(h, 200, json.dumps(payload).encode(), {"Content-Type": "application/json", "x-amzn-RequestId": "req-1"})


# ----------------------------------------------------------------------------- in-process fake


class ScriptedChat:
    """A `ChatClient` that replays replies (for cooperation tests that need no HTTP)."""

    def __init__(self, replies: list[Reply | Exception] | None = None, model: str = "scripted-chat") -> None:
        self.model = model
        self.replies: deque[Reply | Exception] = deque(replies or [])
        self.seen: list[tuple[str, list[Msg], list[str]]] = []

    def complete(self, system: str, messages: list[Msg], tools: list[ToolSpec], force_tool: bool) -> Reply:
        self.seen.append((system, list(messages), [t.name for t in tools]))
        item = self.replies.popleft() if self.replies else reply(("respond", {"kind": "answer", "answer": "-"}))
        if isinstance(item, Exception):
            raise item
        return item


def reply(*calls: tuple[str, dict[str, Any]], text: str = "", tokens: tuple[int, int] = (100, 20)) -> Reply:
    return Reply(text=text, tool_calls=[ToolCall(f"c{i}", n, a, json.dumps(a)) for i, (n, a) in enumerate(calls)],
                 input_tokens=tokens[0], output_tokens=tokens[1], model="scripted-chat")
