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
    """A function the model may call: a catalog action, a read tool, or `respond`/`route`/`review`."""

    name: str
    description: str
    schema: dict[str, Any]


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
    """One message after the system prompt. `tool` messages answer the call named by `tool_call_id`."""

    role: Role
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str = ""
    is_error: bool = False


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
