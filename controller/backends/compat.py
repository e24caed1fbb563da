"""What an OpenAI-compatible server supports, found out by asking, and remembered per backend.

Why: "speaks the OpenAI API" covers servers that accept very different requests. OpenAI and vLLM
(>= 0.8.3) take `tool_choice: "required"`; llama.cpp's Python server answers it with HTTP 500 (its
`chatml-function-calling` handler asserts on anything but `"auto"`, and refuses streamed `"auto"`);
Ollama documents `tools` but ignores `tool_choice`, so the model may answer in prose; some proxies
only stream. A fixed request shape therefore either fails on half of the servers people run or
gives up structure on all of them. Instead each kind of call has a *ladder* of request shapes,
richest first:

    one tool forced:  named tool_choice -> auto -> JSON schema -> JSON object (+schema) -> JSON object -> prompt
    several forced:   required          -> auto -> JSON schema -> JSON object (+schema) -> JSON object -> prompt
    no tools:         plain

(each native-tools step first streamed, then not, when the backend is configured to stream). A
shape the server *refuses* (400/422/501, or 500, which is how llama.cpp refuses) sends the same
exchange one step down at once. When a lower step then works, the refusal is remembered for the
backend's lifetime: at once for a 4xx, after the second time for a 5xx (so one passing server error
cannot cost a backend its best shape for good). Timeouts, 429, 502-504 and connection errors are
never taken as refusals: the agent retries them with backoff. In the `auto` shape the system
prompt asks for a JSON reply when no tool is called; in the JSON shapes no native tools are sent at
all, the tools are described in the prompt, the reply is constrained by `response_format`, and
tool results travel as user messages. Whatever shape produced them, tool calls read out of text
pass the same validation, policy and approval gates as native ones.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import Any, Literal

from controller.backends.wire import Msg, ToolCall, ToolSpec

Kind = Literal["one-tool", "tools", "text"]
ToolChoice = Literal["named", "required", "auto", ""]
Format = Literal["", "json_schema", "json_object+schema", "json_object", "prompt"]

STRIKES_4XX = 1
STRIKES_5XX = 2


class Refused(Exception):
    """The server would not take this request shape (the adapter then tries the next one down)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class StaleConnection(Exception):
    """The server dropped a connection it had accepted, before answering (retried once, at once)."""


class TooLong(Refused):
    """The request does not fit the model's context window (no shape of the whole catalog will)."""


_TOO_LONG = re.compile(r"(?i)context[_ ]length|context window|maximum context|too many tokens|exceeds? the context")


def too_long(code: str, message: str) -> bool:
    """Whether an error says the request does not fit the context (OpenAI, vLLM and llama.cpp phrasings)."""
    return code == "context_length_exceeded" or bool(_TOO_LONG.search(message))


@dataclass(frozen=True)
class Shape:
    """One way of asking: native tools with a `tool_choice`, or a JSON reply under a `response_format`."""

    tool_choice: ToolChoice = ""
    response_format: Format = ""
    stream: bool = False

    @property
    def native_tools(self) -> bool:
        return bool(self.tool_choice)

    @property
    def name(self) -> str:
        base = f"tool_choice={self.tool_choice}" if self.tool_choice else (
            f"response_format={self.response_format}" if self.response_format else "plain")
        return base + ("+stream" if self.stream else "")


_JSON_STEPS: tuple[Format, ...] = ("json_schema", "json_object+schema", "json_object", "prompt")


def kind_of(tools: list[ToolSpec], force_tool: bool) -> Kind:
    if not tools:
        return "text"
    return "one-tool" if force_tool and len(tools) == 1 else "tools"


def ladder(kind: Kind, force_tool: bool, stream: bool) -> list[Shape]:
    """The request shapes for a kind of call, richest first."""
    if kind == "text":
        return [Shape(stream=True), Shape()] if stream else [Shape()]
    native: list[ToolChoice] = ["auto"]
    if force_tool:
        native.insert(0, "named" if kind == "one-tool" else "required")
    out: list[Shape] = []
    for choice in native:
        if stream:
            out.append(Shape(tool_choice=choice, stream=True))
        out.append(Shape(tool_choice=choice))
    return out + [Shape(response_format=f) for f in _JSON_STEPS]


# ------------------------------------------------------------------------ what was learned


class Capabilities:
    """Per backend and kind of call: the request shapes its server refused (thread-safe, process lifetime)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._strikes: dict[tuple[Kind, str], int] = {}
        self._refused: dict[tuple[Kind, str], int] = {}
        self._reasons: dict[tuple[Kind, str], str] = {}

    def usable(self, kind: Kind, shapes: list[Shape]) -> list[Shape]:
        """The shapes still worth trying, richest first."""
        with self._lock:
            return [s for s in shapes if (kind, s.name) not in self._refused]

    def learn(self, kind: Kind, refusals: list[tuple[str, int]]) -> None:
        """After a shape answered: the refusals (shape name, HTTP status) met on the way down to it."""
        with self._lock:
            for name, status in refusals:
                key = (kind, name)
                self._strikes[key] = self._strikes.get(key, 0) + 1
                if self._strikes[key] >= (STRIKES_5XX if status >= 500 else STRIKES_4XX):
                    self._refused[key] = status

    def mark_too_long(self, kind: Kind, reason: str) -> None:
        """The whole tool list does not fit: this kind of call is asked in two steps from now on."""
        with self._lock:
            self._refused[(kind, PICK_THEN_FILL_OFF)] = 400
            self._reasons[(kind, PICK_THEN_FILL_OFF)] = f"does not fit the context: {reason}"[:200]

    def is_too_long(self, kind: Kind) -> bool:
        with self._lock:
            return (kind, PICK_THEN_FILL_OFF) in self._refused

    def assume_refused(self, kind: Kind, names: tuple[str, ...], reason: str) -> None:
        """Known without asking (the embedded llama.cpp's handler is known code): never try these shapes."""
        with self._lock:
            for name in names:
                self._refused[(kind, name)] = 0
                self._reasons[(kind, name)] = reason

    def snapshot(self) -> dict[str, list[str]]:
        """What this backend's server was found to refuse, per kind of call."""
        with self._lock:
            out: dict[str, list[str]] = {}
            for (kind, name), status in self._refused.items():
                why = self._reasons.get((kind, name)) or f"HTTP {status}"
                out.setdefault(kind, []).append(f"{name} ({why})")
            return out


# ------------------------------------------------------------------------ two steps, for small contexts

PICK_THEN_FILL_OFF = "every tool in one request"
PICK_TOOL = "choose_tool"


def offered(tools: list[ToolSpec]) -> list[ToolSpec]:
    """The tools offered in the choosing step: the request's shortlist in its order, else every tool."""
    listed = sorted((t for t in tools if t.shortlist > 0), key=lambda t: t.shortlist)
    return listed or tools


def pick_tool(tools: list[ToolSpec]) -> ToolSpec:
    """Step one when the whole tool list does not fit the context: choose one tool by name.

    One, not a list: a small model asked for a list continues it with whatever comes next (Gemma 270M
    chose `scale, restart, rollback` for "scale web to 3"), and each would become a step of the plan."""
    return ToolSpec(PICK_TOOL, "Choose the one tool that does what the person asks (the system prompt lists them).",
                    {"type": "object", "additionalProperties": False, "required": ["tool"],
                     "properties": {"tool": {"enum": [t.name for t in tools]}}})


def tool_listing(tools: list[ToolSpec]) -> str:
    """One line per tool: its name, the first sentence of its description, and its example request if any."""
    return "\n" + "\n".join(f"- {t.name}: {_first_sentence(t.description)}"
                             + (f' (for example: "{t.examples[0][0]}")' if t.examples else "") for t in tools)


def _first_sentence(text: str, limit: int = 70) -> str:
    first = re.sub(r"^\[[^]]*\]\s*", "", text).split(". ")[0].rstrip(".")
    return first if len(first) <= limit else first[: limit - 1] + "…"


def picked(calls: list[ToolCall], tools: list[ToolSpec]) -> ToolSpec | None:
    """The tool chosen in step one (a known name only; a model that called a tool directly chose it)."""
    by_name = {t.name: t for t in tools}
    for call in calls:
        chosen = call.arguments.get("tool") if call.name == PICK_TOOL else call.name
        if isinstance(chosen, str) and chosen in by_name:
            return by_name[chosen]
    return None


def alone(spec: ToolSpec) -> ToolSpec:
    """The tool as the fill step sends it: under its narrowed schema when the request gave it one."""
    return ToolSpec(spec.name, spec.description, spec.fill_schema or spec.schema)


def fill_instruction(spec: ToolSpec) -> str:
    """Appended to the system prompt of the fill step: which tool, and its worked examples.

    Several, not one: Gemma 270M given one example copied its values (12 replicas for "scale web to 5"
    after "... twelve replicas"); given three with different values it took the request's more often."""
    text = f"\n\nCall {spec.name} with the arguments the person's last message asks for."
    return text + "".join(f'\nExample: for "{request}" the arguments are {arguments}' for request, arguments in spec.examples)


PICK_SYSTEM = "You choose the one tool that does what a person asks of a Kubernetes operator."
FILL_SYSTEM = "You fill in the arguments of the tool {name} for what a person asks of a Kubernetes operator."


def briefed(system: str, messages: list[Msg], step: str) -> tuple[str, list[Msg]]:
    """The prompt of one of the two steps: the short system prompt and the last brief, when the
    conversation has one (`Msg.brief`); else the whole conversation under the planner's own prompt."""
    brief = next((m.brief for m in reversed(messages) if m.brief), "")
    return (step, [Msg("user", brief)]) if brief else (system, messages)


# ------------------------------------------------------------------------ JSON-shaped replies


REPLY_FORM = '{"calls": [{"name": "<tool name>", "arguments": {...}}]}'


def reply_schema(tools: list[ToolSpec]) -> dict[str, Any]:
    """The JSON schema of a reply that carries tool calls: each call's arguments follow its tool's schema."""
    variants = [{"type": "object", "properties": {"name": {"enum": [t.name]}, "arguments": t.schema},
                 "required": ["name", "arguments"], "additionalProperties": False} for t in tools]
    item: dict[str, Any] = variants[0] if len(variants) == 1 else {"anyOf": variants}
    return {"type": "object", "properties": {"calls": {"type": "array", "items": item, "minItems": 1}},
            "required": ["calls"], "additionalProperties": False}


def auto_instruction() -> str:
    """Appended to the system prompt in the `auto` shape: a JSON reply when the model calls no tool."""
    return ("\n\nAnswer by calling the tools. If you cannot call them, answer with only this JSON and no other "
            f"text: {REPLY_FORM}")


def json_instruction(tools: list[ToolSpec]) -> str:
    """Appended to the system prompt in the JSON shapes: the tools, described, and the reply's form."""
    lines = ["", "", "You call tools by answering with one JSON object and no other text, of this form:",
             REPLY_FORM, "", "The tools (name: description; arguments as a JSON schema):"]
    lines += [f"- {t.name}: {t.description} Arguments: {json.dumps(t.schema, separators=(',', ':'))}" for t in tools]
    return "\n".join(lines)


def response_format(shape: Shape, tools: list[ToolSpec]) -> dict[str, Any] | None:
    """The `response_format` field of a JSON shape (OpenAI/vLLM/Ollama spell it one way, llama.cpp another)."""
    if shape.response_format == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "tool_calls", "schema": reply_schema(tools)}}
    if shape.response_format == "json_object+schema":
        return {"type": "json_object", "schema": reply_schema(tools)}
    if shape.response_format == "json_object":
        return {"type": "json_object"}
    return None


def as_text_messages(messages: list[Msg]) -> list[Msg]:
    """The conversation for a server without native tools: calls become JSON text, results user turns.

    Consecutive user turns are merged, since some chat templates (Gemma's) refuse two in a row.
    """
    out: list[Msg] = []
    for m in messages:
        if m.role == "assistant":
            calls = [{"name": c.name, "arguments": c.arguments or c.raw_arguments} for c in m.tool_calls]
            text = json.dumps({"calls": calls}) if calls else m.text
            out.append(Msg("assistant", text))
            continue
        text = m.text if m.role == "user" else f"Result of your call {m.tool_call_id}:\n{m.text}"
        if out and out[-1].role == "user":
            out[-1] = Msg("user", out[-1].text + "\n\n" + text)
        else:
            out.append(Msg("user", text))
    return out


def close_truncated(raw: str) -> str | None:
    """JSON cut off by the output-token limit, closed where it stopped (open string, arrays, objects).

    What was written stays as written; what is missing stays missing, and validation says so. A
    trailing half pair (`"key":` or `"key"`) is dropped, since it has no value yet.
    """
    stack: list[str] = []
    in_string = escaped = False
    for char in raw:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            stack.append("}" if char == "{" else "]")
        elif char in "}]" and stack:
            stack.pop()
    if not stack:
        return None
    text = raw[:-1] if escaped else raw
    text += '"' if in_string else ""
    text = re.sub(r'(,\s*"(?:[^"\\]|\\.)*"\s*:?\s*|,\s*|:\s*)$', "", text.rstrip())
    if text.endswith(":"):
        return None
    candidate = text + "".join(reversed(stack))
    try:
        json.loads(candidate)
    except json.JSONDecodeError:
        return None
    return candidate


_FENCED = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def _json_values(text: str) -> list[Any]:
    """JSON values found in text: the whole text, fenced blocks, then each balanced {...} or [...]."""
    found: list[Any] = []
    candidates = [text.strip(), *(m.strip() for m in _FENCED.findall(text))]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        try:
            found.append(json.loads(candidate))
            return found
        except json.JSONDecodeError:
            pass
    for start, char in enumerate(text):
        if char in "{[":
            try:
                value, _end = decoder.raw_decode(text[start:])
            except json.JSONDecodeError:
                continue
            found.append(value)
            break
    return found


def _one_call(item: Any) -> tuple[str, Any] | None:
    if not isinstance(item, dict):
        return None
    if isinstance(item.get("function"), dict):
        item = item["function"]
    name = item.get("name") or item.get("tool")
    if not isinstance(name, str) or not name:
        return None
    args = item.get("arguments", item.get("parameters", item.get("args", {})))
    return name, args


def calls_from_text(text: str, prefix: str = "text") -> list[ToolCall]:
    """Tool calls a model wrote as JSON text (`{"calls": [...]}`, `{"tool_calls": [...]}`, one call, a list).

    Arguments that are not a JSON object come back with `error` set, so the agent asks for a repair.
    """
    for value in _json_values(text):
        items: Any = value
        if isinstance(value, dict):
            items = value.get("calls", value.get("tool_calls", [value]))
        if not isinstance(items, list):
            continue
        calls = [c for c in (_one_call(i) for i in items) if c is not None]
        out = []
        for index, (name, args) in enumerate(calls):
            if isinstance(args, str):
                try:
                    args = json.loads(args)
                except json.JSONDecodeError:
                    out.append(ToolCall(f"{prefix}_{index}", name, {}, args, f"the arguments of {name} are not JSON"))
                    continue
            if not isinstance(args, dict):
                out.append(ToolCall(f"{prefix}_{index}", name, {}, json.dumps(args),
                                    f"the arguments of {name} must be a JSON object"))
                continue
            out.append(ToolCall(f"{prefix}_{index}", name, args, json.dumps(args)))
        if out:
            return out
    return []
