"""The Amazon Bedrock adapter, through boto3's Converse API.

Why Converse rather than InvokeModel: Converse is one request shape for every Bedrock chat model
(Claude, Llama, Mistral, Nova), with tool use as `toolUse`/`toolResult` content blocks, and it
reports token usage. boto3 is imported here only; its retries are off (`total_max_attempts=1`)
because backoff is decided in one place (`agent`).

Credentials come from boto3's chain (IRSA on EKS) unless the config names environment variables.
"""

from __future__ import annotations

from typing import Any

from controller.backends.config import BedrockConfig
from controller.backends.errors import FatalError, InvalidOutput, TransientError
from controller.backends.wire import Msg, Reply, ToolCall, ToolSpec

TRANSIENT_CODES = frozenset({"ThrottlingException", "ServiceUnavailableException", "ModelTimeoutException",
                             "InternalServerException", "ModelNotReadyException", "TooManyRequestsException"})


def _to_wire(messages: list[Msg]) -> list[dict[str, Any]]:
    """Converse wants user/assistant turns alternating; tool results are user content blocks."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            block: dict[str, Any] = {"toolResult": {"toolUseId": m.tool_call_id, "content": [{"text": m.text}]}}
            if m.is_error:
                block["toolResult"]["status"] = "error"
            role, content = "user", [block]
        elif m.role == "assistant":
            content = ([{"text": m.text}] if m.text else []) + [
                {"toolUse": {"toolUseId": c.id, "name": c.name, "input": c.arguments}} for c in m.tool_calls]
            role = "assistant"
        else:
            role, content = "user", [{"text": m.text}]
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(content)
        else:
            out.append({"role": role, "content": content})
    return out


class BedrockChat:
    """`ChatClient` over `bedrock-runtime` Converse."""

    def __init__(self, config: BedrockConfig, credentials: dict[str, str] | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.config = config
        self.model = config.model
        session = boto3.session.Session(region_name=config.region, **(credentials or {}))
        self.client: Any = session.client(
            "bedrock-runtime", endpoint_url=config.endpoint_url,
            config=Config(read_timeout=config.timeout_s, connect_timeout=min(config.timeout_s, 10),
                          retries={"total_max_attempts": 1, "mode": "standard"}))

    def complete(self, system: str, messages: list[Msg], tools: list[ToolSpec], force_tool: bool) -> Reply:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionError,
            ConnectTimeoutError,
            ReadTimeoutError,
        )
        from botocore.parsers import ResponseParserError

        kwargs: dict[str, Any] = {
            "modelId": self.model, "messages": _to_wire(messages), "system": [{"text": system}],
            "inferenceConfig": {"maxTokens": self.config.max_output_tokens, "temperature": self.config.temperature},
        }
        if tools:
            kwargs["toolConfig"] = {
                "tools": [{"toolSpec": {"name": t.name, "description": t.description, "inputSchema": {"json": t.schema}}}
                          for t in tools],
                "toolChoice": {"any": {}} if force_tool else {"auto": {}},
            }
        try:
            response = self.client.converse(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            message = str(exc.response.get("Error", {}).get("Message", ""))[:300]
            if code in TRANSIENT_CODES or status == 429 or status >= 500:
                raise TransientError(f"{status} {code}: {message}") from exc
            raise FatalError(f"{status} {code}: {message}") from exc
        except (ReadTimeoutError, ConnectTimeoutError) as exc:
            raise TransientError(f"timed out after {self.config.timeout_s:g}s") from exc
        except ConnectionError as exc:
            raise TransientError(f"cannot connect: {exc}") from exc
        except ResponseParserError as exc:
            raise InvalidOutput(f"the Converse answer could not be parsed: {exc}") from exc
        except BotoCoreError as exc:
            raise TransientError(f"bedrock: {exc}") from exc
        return self._parse(response)

    def _parse(self, response: dict[str, Any]) -> Reply:
        message = (response.get("output") or {}).get("message")
        if not isinstance(message, dict) or not isinstance(message.get("content"), list):
            raise InvalidOutput("the Converse answer has no output.message.content")
        text, calls = [], []
        for block in message["content"]:
            if "text" in block:
                text.append(str(block["text"]))
            elif "toolUse" in block:
                use = block["toolUse"]
                args = use.get("input")
                if isinstance(args, dict):
                    calls.append(ToolCall(str(use.get("toolUseId", "")), str(use.get("name", "")), args))
                else:
                    calls.append(ToolCall(str(use.get("toolUseId", "")), str(use.get("name", "")), {}, str(args),
                                          f"the input of {use.get('name')} must be a JSON object"))
        usage = response.get("usage") or {}
        return Reply(text="".join(text), tool_calls=calls, input_tokens=int(usage.get("inputTokens", 0)),
                     output_tokens=int(usage.get("outputTokens", 0)), model=self.model,
                     finish=str(response.get("stopReason", "")))
