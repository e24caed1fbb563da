"""The neutral shape of one chat exchange, shared by every wire adapter.

Why neutral types: the OpenAI and Bedrock wire formats differ in every detail (where the system
prompt goes, how tool results are sent back, how tokens are counted), but the agent loop, the
repair step, the budgets and the audit only need "messages in, text + tool calls + token counts
out". Each adapter translates to and from its format in one place, and the rest is written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["user", "assistant", "tool"]


@dataclass(frozen=True)
class ToolSpec:
    """A function the model may call: a catalog action, a read tool, or `respond`/`route`/`review`.

    The optional fields narrow it to one request (`narrowing`) for a context too small for the whole
    catalog, where `compat` asks in two steps: `fill_schema` replaces `schema` when this tool is filled
    alone, `shortlist` is its place among the tools offered in the choosing step (0: not offered there,
    unless no tool has a place), `examples` worked examples (a request, and this tool's arguments for it
    as JSON), closest first: the first is shown in the choosing step, all in the fill step."""

    name: str
    description: str
    schema: dict[str, Any]
    fill_schema: dict[str, Any] | None = None
    shortlist: int = 0
    examples: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ToolCall:
    """One call the model made. `error` is set when its arguments were not a JSON object."""

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    raw_arguments: str = ""
    error: str = ""


@dataclass(frozen=True)
class Msg:
    """One message after the system prompt. `tool` messages answer the call named by `tool_call_id`.

    `brief` (user messages of the planner): the conversation so far in a few lines (the person's words,
    the objects that matter, why the last answer was not accepted), sent instead of the whole
    conversation where the context is too small for the whole catalog (`compat`'s two steps)."""

    role: Role
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str = ""
    is_error: bool = False
    brief: str = ""


@dataclass(frozen=True)
class Reply:
    """What the model answered, and what it cost. `via` names the request shape that got the answer
    (see `compat`), `refusals` what the server refused on the way there."""

    text: str
    tool_calls: list[ToolCall]
    input_tokens: int
    output_tokens: int
    model: str
    finish: str = ""
    via: str = ""
    refusals: tuple[str, ...] = ()


class ChatClient(Protocol):
    """One wire adapter (OpenAI-compatible, Azure OpenAI, Bedrock Converse). Raises `BackendError`s."""

    model: str

    def complete(self, system: str, messages: list[Msg], tools: list[ToolSpec], force_tool: bool) -> Reply: ...


def estimate_tokens(text: str) -> int:
    """A rough count (4 characters a token) for servers that do not report usage."""
    return max(1, len(text) // 4)
