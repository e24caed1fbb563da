"""The tools an AI is offered: catalog actions, read-only cluster tools, and the answer tools.

Why tool calling: the model never writes a manifest or a command; it *calls* a catalog action
whose parameters are a JSON schema generated from the catalog's pydantic models, so the wire
format itself constrains the answer and the catalog validates it again. `respond` covers the
answers that are not plans (an answer, a question back, "I cannot do this"). The read tools let
the model look at the cluster as the requester, through the same redacting `ClusterReader`.

Schemas are sent with `$ref`s inlined and `title`s dropped: several servers (Bedrock models, small
local models) handle flat schemas better, and titles only cost tokens.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from controller.backends.config import DOMAINS
from controller.backends.wire import ToolSpec
from controller.catalog.registry import CATALOG, json_schemas
from controller.cloud.tools import CLOUD_TOOL_NAMES, CLOUD_TOOLS

RESPOND = "respond"
ROUTE = "route"
REVIEW = "review"
READ_OBJECT = "read_object"
LIST_OBJECTS = "list_objects"
READ_EVENTS = "read_events"
READ_LOGS = "read_logs"
# the read-only cloud tools (controller/cloud/tools.py) are read tools too: run by agent._read
READ_TOOLS = frozenset({READ_OBJECT, LIST_OBJECTS, READ_EVENTS, READ_LOGS}) | CLOUD_TOOL_NAMES


_CLASS_FOR = {"d": "[0-9]", "w": "[A-Za-z0-9_]", "s": "[ \\t\\n\\r]"}
_GRAMMAR_ESCAPES = "]\\[tnr"  # the escapes llama.cpp's grammar parser reads inside a class


def _in_class(char: str) -> str:
    """An escaped character inside a character class, as llama.cpp's grammar parser reads it: `\\w` as
    its ranges, `\\-` as `\\x2D` (a bare `-` would be a range), other punctuation as itself."""
    if char in _CLASS_FOR:
        return _CLASS_FOR[char][1:-1]
    if char in _GRAMMAR_ESCAPES:
        return "\\" + char
    if char in "-^":
        return f"\\x{ord(char):02X}"
    return char if not char.isalnum() else "\\" + char


def wire_pattern(pattern: str) -> str:
    """The same regular expression without escapes outside character classes (`\\.` -> `[.]`, `\\d` -> `[0-9]`),
    and inside them only those llama.cpp's grammar reads (`[-\\w.]` -> `[-A-Za-z0-9_.]`).

    Why: llama.cpp's JSON-schema-to-grammar converter (llama-cpp-python 0.3) copies such escapes into
    grammar literals that llama.cpp's own grammar parser refuses, and the server then crashes
    (SIGSEGV) on the request. Character classes say the same thing and every engine reads them alike.
    """
    out, i, in_class = [], 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if in_class:
                out.append(_in_class(nxt))
            elif nxt in _CLASS_FOR:
                out.append(_CLASS_FOR[nxt])
            elif nxt in ".*+?()|{}/$-:@#,":
                out.append(f"[{nxt}]")
            else:
                out.append(char + nxt)
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class and out and out[-1] not in ("[", "[^"):
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


WIRE_MAX_LENGTH = 256


def flatten(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with local `$ref`s replaced by their definitions, `title`s removed, patterns made
    grammar-safe (`wire_pattern`), and no `maxLength` above WIRE_MAX_LENGTH.

    Why the last: llama.cpp writes `maxLength: N` as N nested optional characters, and past ~2,000
    repetitions its grammar parser refuses the grammar ("exceeds sane defaults") and the embedded
    llama.cpp then died of SIGSEGV (seen with `respond`'s 4,000-character answer). The catalog and the
    answer tools' own validation still enforce every length."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node and str(node["$ref"]).startswith("#/$defs/"):
                target = copy.deepcopy(defs[node["$ref"].split("/")[-1]])
                extra = {k: v for k, v in node.items() if k != "$ref"}
                return walk({**target, **extra})
            return {k: (wire_pattern(v) if k == "pattern" and isinstance(v, str) else walk(v))
                    for k, v in node.items() if k not in ("title", "$defs")
                    and not (k == "maxLength" and isinstance(v, int) and v > WIRE_MAX_LENGTH)}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out: dict[str, Any] = walk(schema)
    return out


def action_tools() -> list[ToolSpec]:
    """One tool per executable catalog action (read-secret is omitted: it never runs)."""
    out = []
    for name, schema in json_schemas().items():
        if not CATALOG[name].executable:
            continue
        flat = flatten(schema)
        description = flat.pop("description", "") or CATALOG[name].description
        out.append(ToolSpec(name=name, description=f"[action, risk {CATALOG[name].risk}] {description}", schema=flat))
    return out


def _obj(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


_STR = {"type": "string"}

RESPOND_TOOL = ToolSpec(
    name=RESPOND,
    description=("Answer without changing anything, or explain the action calls made alongside. kind: plan (the "
                 "action calls in this message are the plan), answer (a read-only answer or diagnosis), clarify "
                 "(ask the person one question), unsupported (the catalog cannot do this; say so)."),
    schema=flatten(_obj({"kind": {"enum": ["plan", "answer", "clarify", "unsupported"]},
                         "answer": {"type": "string", "maxLength": 4000},
                         "findings": {"type": "array", "items": {"type": "string", "maxLength": 500}, "maxItems": 10}},
                        ["kind", "answer"])),
)

READ_TOOL_SPECS = [
    ToolSpec(READ_OBJECT, "Read one Kubernetes object as the requester (Secrets come without data).",
             _obj({"api_version": _STR, "kind": _STR, "name": _STR, "namespace": _STR},
                  ["api_version", "kind", "name"])),
    ToolSpec(LIST_OBJECTS, "List Kubernetes objects of a kind in a namespace, as the requester (names and status).",
             _obj({"api_version": _STR, "kind": _STR, "namespace": _STR}, ["api_version", "kind"])),
    ToolSpec(READ_EVENTS, "Recent events in a namespace, optionally of one object.",
             _obj({"namespace": _STR, "name": _STR}, ["namespace"])),
    ToolSpec(READ_LOGS, "The last log lines of a pod's container.",
             _obj({"namespace": _STR, "pod": _STR, "container": _STR, "previous": {"type": "boolean"}},
                  ["namespace", "pod"])),
]

ROUTE_TOOL = ToolSpec(
    name=ROUTE,
    description="Pick the domain of the request: k8s (workloads, config, networking), cloud-aws, cloud-azure, "
                "sre (diagnosis, incidents), security (reviews, policies).",
    schema=flatten(_obj({"domain": {"enum": list(DOMAINS)}, "reason": {"type": "string", "maxLength": 300}},
                        ["domain"])),
)

REVIEW_TOOL = ToolSpec(
    name=REVIEW,
    description=("Give your verdict on the proposed plan: ok, or revise (it should be changed before the person "
                 "sees it). List concrete objections: risk, omissions (backup, verification, namespace), policy."),
    schema=flatten(_obj({"verdict": {"enum": ["ok", "revise"]},
                         "objections": {"type": "array", "items": {"type": "string", "maxLength": 400}, "maxItems": 8}},
                        ["verdict", "objections"])),
)


CLOUD_TOOL_SPECS = [ToolSpec(t["name"], t["description"], t["schema"]) for t in CLOUD_TOOLS]


def planner_tools() -> list[ToolSpec]:
    return [*action_tools(), RESPOND_TOOL, *READ_TOOL_SPECS, *CLOUD_TOOL_SPECS]


def canonical(name: str, arguments: dict[str, Any]) -> str:
    """A stable key for a call, to detect a model repeating itself."""
    return name + json.dumps(arguments, sort_keys=True, separators=(",", ":"))
