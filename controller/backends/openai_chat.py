"""The OpenAI chat-completions adapter: OpenAI itself, Azure OpenAI, and compatible servers.

Why one adapter for all of them: Ollama, vLLM, LiteLLM, llama.cpp and Azure OpenAI speak the same
chat-completions wire format with tool calls; only the client construction differs (a `base_url`,
or Azure's endpoint + deployment + api-version) and what each server accepts. The latter is found
out per backend by `compat` (a ladder of request shapes, richest first, and a memory of what the
server refused). The `openai` package is imported here only. Its own retries are switched off
(`max_retries=0`): retries, backoff and fallbacks are decided in one place (`agent`), so that they
are bounded and counted.

Streaming (`stream: true`) reassembles tool calls from their fragments by `index`, as the
documented `chat.completion.chunk` deltas deliver them, and asks for usage in the last chunk.

`send` is the one seam between a built request and a `Reply`: over HTTP here, in-process for the
embedded llama.cpp (`local_chat`), which takes the same requests.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from controller.backends import compat
from controller.backends.config import AzureOpenAIConfig, LocalConfig, OpenAIConfig
from controller.backends.errors import FatalError, InvalidOutput, TransientError
from controller.backends.wire import Msg, Reply, ToolCall, ToolSpec, estimate_tokens

# Refusals that a simpler request shape may get past; anything else is transient or fatal.
REFUSAL_STATUSES = frozenset({400, 422, 500, 501})


def _to_wire(system: str, messages: list[Msg]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "system", "content": system}]
    for m in messages:
        if m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.tool_call_id, "content": m.text})
        elif m.role == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": m.text or None}
            if m.tool_calls:
                entry["tool_calls"] = [{"id": c.id, "type": "function",
                                        "function": {"name": c.name, "arguments": c.raw_arguments or
                                                     json.dumps(c.arguments)}} for c in m.tool_calls]
            out.append(entry)
        else:
            out.append({"role": "user", "content": m.text})
    return out


def _tool_call(call_id: str, name: str, raw: str, cut_off: bool = False) -> ToolCall:
    try:
        args = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        closed = compat.close_truncated(raw) if cut_off else None
        if closed is None:
            return ToolCall(call_id, name, {}, raw, f"the arguments of {name} are not valid JSON: {exc.msg}")
        args = json.loads(closed)  # cut off by max_tokens: what was written, closed (validation follows)
    if not isinstance(args, dict):
        return ToolCall(call_id, name, {}, raw, f"the arguments of {name} must be a JSON object")
    return ToolCall(call_id, name, args, raw)


def build_request(shape: compat.Shape, model: str, system: str, messages: list[Msg], tools: list[ToolSpec],
                  force_tool: bool, temperature: float, max_tokens: int) -> dict[str, Any]:
    """The chat-completions body for one request shape (see `compat`)."""
    kwargs: dict[str, Any] = {"model": model, "temperature": temperature, "max_tokens": max_tokens}
    if shape.native_tools:
        prompt = system + (compat.auto_instruction() if shape.tool_choice == "auto" and force_tool else "")
        kwargs["messages"] = _to_wire(prompt, messages)
        kwargs["tools"] = [{"type": "function", "function": {"name": t.name, "description": t.description,
                                                             "parameters": t.schema}} for t in tools]
        kwargs["tool_choice"] = ({"type": "function", "function": {"name": tools[0].name}}
                                 if shape.tool_choice == "named" else shape.tool_choice)
    elif tools:
        kwargs["messages"] = _to_wire(system + compat.json_instruction(tools), compat.as_text_messages(messages))
        response_format = compat.response_format(shape, tools)
        if response_format is not None:
            kwargs["response_format"] = response_format
    else:
        kwargs["messages"] = _to_wire(system, messages)
    return kwargs


class OpenAIChat:
    """`ChatClient` over the `openai` package, adapting to what the server accepts."""

    config: OpenAIConfig | AzureOpenAIConfig | LocalConfig

    def __init__(self, config: OpenAIConfig | AzureOpenAIConfig, api_key: str | None) -> None:
        import openai

        self._openai = openai
        self.config = config
        self.stream = config.stream
        self.capabilities = compat.Capabilities()
        if isinstance(config, AzureOpenAIConfig):
            self.client: Any = openai.AzureOpenAI(azure_endpoint=config.endpoint, api_key=api_key,
                                                  api_version=config.api_version, timeout=config.timeout_s,
                                                  max_retries=0)
            self.model = config.deployment
        else:
            # Ollama and most local servers need no key, but the client insists on one.
            self.client = openai.OpenAI(base_url=config.base_url, api_key=api_key or "no-key",
                                        timeout=config.timeout_s, max_retries=0)
            self.model = config.model

    # ------------------------------------------------------------------------ the ladder

    def complete(self, system: str, messages: list[Msg], tools: list[ToolSpec], force_tool: bool) -> Reply:
        kind = compat.kind_of(tools, force_tool)
        if self.capabilities.is_too_long(kind):
            return self._pick_then_fill(system, messages, tools, ())
        shapes = self.capabilities.usable(kind, compat.ladder(kind, force_tool, self.stream))
        refusals: list[tuple[str, int, str]] = []
        unstructured: Reply | None = None
        index = 0
        while index < len(shapes):
            shape = shapes[index]
            index += 1
            body = build_request(shape, self.model, system, messages, tools, force_tool,
                                 self.config.temperature, self.config.max_output_tokens)
            try:
                reply = self.send(body, shape.stream)
            except compat.TooLong as exc:
                if kind != "tools":
                    raise FatalError(f"the request does not fit the model's context: {exc}") from exc
                self.capabilities.mark_too_long(kind, str(exc))
                return self._pick_then_fill(system, messages, tools, _notes([*refusals, (shape.name, 400, str(exc))]))
            except compat.Refused as exc:
                refusals.append((shape.name, exc.status, str(exc)))
                continue
            via = shape.name
            if force_tool and not reply.tool_calls:
                calls = compat.calls_from_text(reply.text)
                if not calls and (reply.finish == "length" or reply.output_tokens >= self.config.max_output_tokens):
                    calls = compat.calls_from_text(compat.close_truncated(reply.text.strip()) or "")
                if calls:
                    reply, via = dataclasses.replace(reply, tool_calls=calls), via + "+calls-from-text"
                elif shape.native_tools and any(not s.native_tools for s in shapes[index:]):
                    # prose where a tool call was due (tool_choice ignored): ask again for a JSON reply,
                    # without taking it as a refusal (the next call starts from the top again)
                    unstructured = reply
                    index = next(i for i, s in enumerate(shapes) if not s.native_tools)
                    continue
            self.capabilities.learn(kind, [(name, status) for name, status, _m in refusals])
            return dataclasses.replace(reply, via=via, refusals=_notes(refusals))
        if unstructured is not None:
            return unstructured
        detail = "; ".join(f"{n} -> {s} {m}"[:200] for n, s, m in refusals) or "no request shape left to try"
        if any(s >= 500 for _n, s, _m in refusals):
            raise TransientError(f"the server failed every request shape: {detail}")
        raise FatalError(f"the server refused every request shape: {detail}")

    def _pick_then_fill(self, system: str, messages: list[Msg], tools: list[ToolSpec],
                        refusals: tuple[str, ...]) -> Reply:
        """For a context too small for every tool's schema: choose one tool by name, then fill it alone
        (under its narrowed schema and with its example when the request gave it those, see `narrowing`)."""
        shortlist = compat.offered(tools)
        pick_system, pick_messages = compat.briefed(system, messages, compat.PICK_SYSTEM)
        first = self.complete(pick_system + "\n\nThe tools you may choose:" + compat.tool_listing(shortlist),
                              pick_messages, [compat.pick_tool(shortlist)], force_tool=True)
        chosen = compat.picked(first.tool_calls, shortlist)
        calls: list[ToolCall] = []
        tokens_in, tokens_out, texts = first.input_tokens, first.output_tokens, [first.text]
        if chosen is not None:
            fill_system, fill_messages = compat.briefed(system, messages,
                                                        compat.FILL_SYSTEM.format(name=chosen.name))
            reply = self.complete(fill_system + compat.fill_instruction(chosen), fill_messages, [compat.alone(chosen)],
                                  force_tool=True)
            tokens_in, tokens_out = tokens_in + reply.input_tokens, tokens_out + reply.output_tokens
            texts.append(reply.text)
            calls = [dataclasses.replace(c, id="call_0") for c in reply.tool_calls if c.name == chosen.name][:1]
        via = f"pick-then-fill({chosen.name if chosen else ''})"
        return Reply(text="" if calls else " ".join(t for t in texts if t).strip(), tool_calls=calls,
                     input_tokens=tokens_in, output_tokens=tokens_out, model=first.model, via=via,
                     refusals=refusals)

    # ------------------------------------------------------------------------ one request

    def send(self, body: dict[str, Any], stream: bool) -> Reply:
        """One request over HTTP; raises `compat.Refused` for what a simpler shape may get past.

        A kept-alive connection the server dropped (after a broken stream, say) is retried once at
        once on a new connection, as HTTP clients do for a stale connection."""
        try:
            return self._send(body, stream)
        except compat.StaleConnection:
            try:
                return self._send(body, stream)
            except compat.StaleConnection as exc:
                raise TransientError(f"the connection broke twice: {exc}") from exc

    def _send(self, body: dict[str, Any], stream: bool) -> Reply:
        try:
            if stream:
                return self._streamed(body)
            return self._parse(self.client.chat.completions.create(**body))
        except self._openai.APITimeoutError as exc:
            raise TransientError(f"timed out after {self.config.timeout_s:g}s") from exc
        except self._openai.RateLimitError as exc:
            raise TransientError(f"429 rate limited: {_message(exc)}", _retry_after(exc)) from exc
        except self._openai.APIConnectionError as exc:
            if _never_connected(exc):
                raise TransientError(f"cannot connect: {_cause(exc)}") from exc
            if stream:  # llama.cpp answers a streamed tool request it cannot serve by dropping the connection
                raise compat.Refused(500, f"the stream broke: {_cause(exc)}") from exc
            raise compat.StaleConnection(_cause(exc)) from exc
        except self._openai.APIStatusError as exc:
            if exc.status_code in (400, 413) and compat.too_long(_code(exc), _message(exc)):
                raise compat.TooLong(exc.status_code, _message(exc)) from exc
            if exc.status_code in REFUSAL_STATUSES and _code(exc) != "model_not_found":
                raise compat.Refused(exc.status_code, _message(exc)) from exc
            if exc.status_code >= 500 or exc.status_code in (408, 409):
                raise TransientError(f"{exc.status_code} from the server: {_message(exc)}") from exc
            raise FatalError(f"{exc.status_code} from the server: {_message(exc)}") from exc
        except self._openai.APIResponseValidationError as exc:
            raise InvalidOutput(f"the server's answer does not have the chat-completions shape: {exc}") from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidOutput(f"the server's answer could not be read: {exc}") from exc

    def _parse(self, response: Any) -> Reply:
        if isinstance(response, str):  # a body that was not JSON comes back as text
            raise InvalidOutput("the server's answer is not JSON")
        if not response.choices:
            raise InvalidOutput("the server's answer has no choices")
        choice = response.choices[0]
        message = choice.message
        finish = choice.finish_reason or ""
        usage = response.usage
        # llama.cpp reports "tool_calls" even when max_tokens cut the arguments off: count the tokens too
        cut_off = finish == "length" or bool(usage and usage.completion_tokens >= self.config.max_output_tokens)
        calls = [_tool_call(c.id, c.function.name, c.function.arguments or "", cut_off)
                 for c in message.tool_calls or []]
        text = message.content or ""
        return Reply(text=text, tool_calls=calls,
                     input_tokens=usage.prompt_tokens if usage else 0,
                     output_tokens=usage.completion_tokens if usage else estimate_tokens(text),
                     model=response.model or self.model, finish=finish)

    def _streamed(self, kwargs: dict[str, Any]) -> Reply:
        stream = self.client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True})
        text: list[str] = []
        parts: dict[int, dict[str, str]] = {}
        model, finish, tokens_in, tokens_out = self.model, "", 0, 0
        for chunk in _guarded(stream):
            model = chunk.model or model
            if chunk.usage is not None:
                tokens_in, tokens_out = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
            for choice in chunk.choices or []:
                delta = choice.delta
                if delta.content:
                    text.append(delta.content)
                for frag in delta.tool_calls or []:
                    part = parts.setdefault(frag.index, {"id": "", "name": "", "arguments": ""})
                    part["id"] = frag.id or part["id"]
                    if frag.function is not None:
                        name = frag.function.name or ""
                        if name != part["name"]:  # llama.cpp repeats the whole name in every chunk
                            part["name"] += name
                        part["arguments"] += frag.function.arguments or ""
                finish = choice.finish_reason or finish
        joined = "".join(text)
        if not joined and not parts and not finish:
            raise compat.Refused(500, "the stream ended without an answer")
        cut_off = finish == "length" or tokens_out >= self.config.max_output_tokens
        calls = [_tool_call(p["id"] or f"call_{i}", p["name"], p["arguments"], cut_off)
                 for i, p in sorted(parts.items())]
        return Reply(text=joined, tool_calls=calls, input_tokens=tokens_in,
                     output_tokens=tokens_out or estimate_tokens(joined), model=model, finish=finish)


def _guarded(stream: Any) -> Any:
    """The chunks of a stream; a transport that breaks after the first byte is a refusal of streaming."""
    iterator = iter(stream)
    while True:
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        except (ValueError, KeyError, TypeError, AttributeError):
            raise
        except Exception as exc:  # httpx's ReadError / RemoteProtocolError, an error event in the stream
            raise compat.Refused(500, f"the stream broke: {type(exc).__name__}: {exc}"[:300]) from exc
        yield chunk


def _never_connected(exc: BaseException) -> bool:
    """Whether a connection error happened before the server accepted the connection (it is down)."""
    seen: BaseException | None = exc
    while seen is not None:
        if any(k.__name__ in ("ConnectError", "ConnectTimeout") for k in type(seen).__mro__):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _cause(exc: BaseException) -> str:
    inner = exc.__cause__
    return f"{exc} ({type(inner).__name__}: {inner})" if inner is not None and str(inner) else str(exc)


def _notes(refusals: list[tuple[str, int, str]]) -> tuple[str, ...]:
    return tuple(f"{name}: {status} {message}"[:200] for name, status, message in refusals)


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return str(getattr(exc, "message", exc))[:300]


def _code(exc: Any) -> str:
    body = getattr(exc, "body", None)
    inner = body.get("error", body) if isinstance(body, dict) else None
    return str(inner.get("code") or "") if isinstance(inner, dict) else ""


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value else None
    except ValueError:
        return None
