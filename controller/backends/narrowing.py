"""The planner's tools narrowed to one request: the objects a call may name, the tools worth offering, an example.

Why: a small model (Gemma 3 270M, measured) asked to fill `scale` under the catalog's schema writes
names that look right and do not exist (`kube-apidr`), because the schema allows any DNS name. The
cluster context already gathered for the request names the candidates, and llama.cpp (like vLLM and
other grammar-constrained servers) turns a JSON schema into a grammar, so a schema whose `name` is an
`enum` of the Deployments that exist makes a non-existent name impossible to emit rather than
unlikely. The same holds for the namespace, the workload kind (a `kind`/`name` pair per kind, so a
StatefulSet's name goes with `StatefulSet`) and the container. Nothing here is trusted: whatever the
model emits still goes through catalog validation, policy, dry-run, RBAC and approval, and only a
parameter that must name an object existing *now* is narrowed (a new object's name never is).

What each tool gets (all optional, `wire.ToolSpec`), used only where a context is too small for the
whole catalog (`compat` asks in two steps there, and big models never get there):
- `fill_schema`: the schema with those enums, for the step that fills this tool alone;
- `shortlist`: its place among the few tools the step that chooses offers (the catalog's actions and
  `respond` ranked by the words the request shares with their names and example requests, object and
  namespace names left out; `respond` always among them), so a small model chooses among 5 tools, not 60;
- `examples`: the closest of the catalog's own example requests (`catalog/examples.yaml`) with their
  arguments, worked examples for both steps;
and the request gets a `brief` (`Msg.brief`): the person's words, the namespace and the objects in a few
lines, which those two steps send instead of the planner's long prompt and fenced context (Gemma 270M
given the whole prompt chose `create-canary` for "scale web to 5"; given the brief, `scale` and `web`).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from controller.backends.tools import RESPOND
from controller.backends.wire import ToolSpec
from controller.catalog.registry import CATALOG
from controller.planning.types import ClusterReader, PlanningRequest
from controller.redact import redact_text

SHORTLIST = 5
API_VERSIONS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "Service": "v1", "ConfigMap": "v1"}

# The read-only intents of examples.yaml are answered with `respond`.
RESPOND_INTENTS = ("diagnose", "security-review", "question", "unsupported")
EXAMPLES = Path(__file__).resolve().parents[1] / "catalog" / "examples.yaml"

_STOP = frozenset(["a", "an", "the", "in", "of", "to", "for", "on", "at", "and", "or", "is", "are", "be", "it", "its", "my", "me", "we", "our", "please", "can", "could", "you", "with", "from", "by", "as", "this", "that", "these", "those", "all", "any", "do", "does", "i"])


@dataclasses.dataclass(frozen=True)
class Workload:
    kind: str
    name: str
    namespace: str
    containers: tuple[str, ...] = ()
    detail: str = ""  # replicas and images, for the brief


@dataclasses.dataclass(frozen=True)
class Candidates:
    """The objects a request may be about: its namespaces, and their workloads, Services and ConfigMaps."""

    namespaces: tuple[str, ...]
    objects: tuple[Workload, ...]

    def names(self, kinds: Iterable[str]) -> list[str]:
        wanted = set(kinds)
        return sorted({o.name for o in self.objects if o.kind in wanted})

    def containers(self, kind: str) -> list[str]:
        return sorted({c for o in self.objects if o.kind == kind for c in o.containers})


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9][a-z0-9.-]*[a-z0-9]|[a-z0-9]", text.lower())


def gather(request: PlanningRequest, cluster: ClusterReader) -> Candidates:
    """The conversation's namespace, any existing namespace the request names, and what they hold."""
    namespaces = [request.namespace]
    said = set(words(" ".join(request.turns)))
    try:
        existing = {(o.get("metadata") or {}).get("name") for o in cluster.list("v1", "Namespace", None)}
    except Exception:  # the requester may not list namespaces: the conversation's stays the only one
        existing = set()
    namespaces += sorted(n for n in said & existing if isinstance(n, str) and n != request.namespace)
    objects: list[Workload] = []
    for ns in namespaces:
        for kind, api_version in API_VERSIONS.items():
            try:
                items = cluster.list(api_version, kind, ns)[:50]
            except Exception:  # not visible to the requester: nothing to offer of this kind
                continue
            for item in items:
                meta = item.get("metadata") or {}
                pod = ((item.get("spec") or {}).get("template") or {}).get("spec") or {}
                containers = tuple(str(c.get("name")) for c in pod.get("containers") or [] if c.get("name"))
                spec = item.get("spec") or {}
                # replicas only: a small model copies an image it is shown instead of the one asked for
                detail = f"{spec['replicas']} replicas" if "replicas" in spec else ""
                if meta.get("name"):
                    objects.append(Workload(kind, str(meta["name"]), str(meta.get("namespace") or ns), containers,
                                            detail))
    return Candidates(tuple(namespaces), tuple(objects))


# ------------------------------------------------------------------------------ the schema


def _enum(prop: dict[str, Any], values: list[str]) -> dict[str, Any]:
    """`prop` allowing only `values` (an optional `anyOf [..., null]` keeps its null)."""
    narrowed = {"type": "string", "enum": values}
    if "anyOf" in prop and any(p.get("type") == "null" for p in prop["anyOf"]):
        return {"anyOf": [narrowed, {"type": "null"}]}
    return narrowed


def fill_schema(action: str, schema: dict[str, Any], candidates: Candidates) -> dict[str, Any] | None:
    """`schema` with its existing-object parameters as enums of the candidates (None: nothing to narrow)."""
    props = schema.get("properties") or {}
    spec = CATALOG.get(action)
    out = copy.deepcopy(schema)
    changed = False
    if "namespace" in props and not (spec and spec.new_namespace) and candidates.namespaces:
        out["properties"]["namespace"] = _enum(props["namespace"], list(candidates.namespaces))
        changed = True
    variants: list[dict[str, Any]] = []
    for param, kinds in (spec.existing if spec else {}).items():
        if param not in props:
            continue
        if "kind" not in props:  # the kind is implied (expose-service, create-pdb, rollback, ...)
            names = candidates.names(kinds)
            if names:
                out["properties"][param] = _enum(props[param], names)
                changed = True
            continue
        for kind in kinds:  # one variant per kind that has candidates: the name goes with its kind
            names = candidates.names([kind])
            if not names:
                continue
            variant = copy.deepcopy(out)
            variant["properties"]["kind"] = {"type": "string", "enum": [kind]}
            variant["properties"][param] = _enum(props[param], names)
            required = ["kind"]
            if "api_version" in props:
                variant["properties"]["api_version"] = {"type": "string", "enum": [API_VERSIONS[kind]]}
                required.append("api_version")
            containers = candidates.containers(kind)
            if "container" in props and containers:
                variant["properties"]["container"] = _enum(props["container"], containers)
            if "containers" in props and containers:
                variant["properties"]["containers"] = {"type": "array", "items": {"enum": containers}}
            variant["required"] = required + [r for r in variant.get("required", []) if r not in required]
            variants.append(variant)
    if variants:
        return variants[0] if len(variants) == 1 else {"type": "object", "anyOf": variants}
    return out if changed else None


# ------------------------------------------------------------------------ the shortlist


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _terms(text: str, leave_out: frozenset[str] = frozenset()) -> set[str]:
    return {_stem(w) for w in words(text) if w not in _STOP and w not in leave_out and not w.isdigit()}


@functools.cache
def examples() -> dict[str, list[dict[str, Any]]]:
    """The catalog's example requests per action (and per read-only intent, under `respond`)."""
    data: dict[str, list[dict[str, Any]]] = yaml.safe_load(EXAMPLES.read_text()) or {}
    out = {name: rows for name, rows in data.items() if name not in RESPOND_INTENTS}
    out[RESPOND] = [{**row, "params": {"kind": row.get("kind", "answer"), "answer": "..."}}
                    for intent in RESPOND_INTENTS for row in data.get(intent) or []]
    return out


def _says(row: dict[str, Any]) -> str:
    say = row.get("say", "")
    return " ".join(say) if isinstance(say, list) else str(say)


@functools.cache
def _documents() -> dict[str, tuple[set[str], set[str]]]:
    """Per tool: the terms of its name, and those of its name and example requests."""
    return {name: (_terms(name.replace("-", " ")),
                   _terms(name.replace("-", " ") + " " + " ".join(_says(r) for r in rows)))
            for name, rows in examples().items()}


def relevance(text: str, names: Iterable[str], leave_out: frozenset[str] = frozenset()) -> dict[str, float]:
    """How much each tool's name and example requests share the request's words: rarer words count more,
    a word of the tool's own name twice, and a tool with many examples is not favoured for having many words."""
    docs = _documents()
    pool = [n for n in names if n in docs]
    query = _terms(text, leave_out)
    average = sum(len(docs[n][1]) for n in pool) / max(1, len(pool))
    scores = {}
    for name in pool:
        title, body = docs[name]
        weight = sum(math.log(1 + len(pool) / sum(term in docs[n][1] for n in pool)) * (2 if term in title else 1)
                     for term in query if term in body)
        scores[name] = weight / (0.5 + 0.5 * len(body) / average)
    return scores


MAX_EXAMPLES = 3


def closest_examples(name: str, text: str, leave_out: frozenset[str] = frozenset()) -> tuple[tuple[str, str], ...]:
    """The example requests of `name` closest to `text` (at most MAX_EXAMPLES), each with its arguments as JSON."""
    rows = [r for r in examples().get(name, []) if "params" in r]
    query = _terms(text, leave_out)
    rows.sort(key=lambda r: -len(query & _terms(_says(r))))  # stable: the file's order among equals
    return tuple((_says(r), json.dumps(r["params"])) for r in rows[:MAX_EXAMPLES])


MAX_BRIEF_OBJECTS = 12


def brief(request: PlanningRequest, candidates: Candidates, rejected: str = "") -> str:
    """The request in a few lines for a small model: the person's words, the objects, why the last answer
    was refused. Redacted again, as everything that leaves the cluster (`prompt`)."""
    turns = [redact_text(t) for t in request.turns]
    lines = [f"Earlier messages: {' / '.join(turns[-4:-1])}"] if len(turns) > 1 else []
    lines.append(f"Request: {turns[-1] if turns else ''}")
    if request.feedback:
        lines.append(f"Feedback on the last result: {redact_text(request.feedback)}")
    lines.append(f"Namespace: {request.namespace}")
    shown = [f"{o.kind} {o.name}" + (f" in {o.namespace}" if o.namespace != request.namespace else "")
             + (f" ({o.detail})" if o.detail else "") for o in candidates.objects[:MAX_BRIEF_OBJECTS]]
    if shown:
        lines.append("Objects: " + "; ".join(redact_text(x) for x in shown))
    if rejected:
        lines.append(f"Your last answer was not accepted: {redact_text(rejected)[:400]}")
    return "\n".join(lines)


def for_request(tools: list[ToolSpec], request: PlanningRequest,
                cluster: ClusterReader) -> tuple[list[ToolSpec], Candidates]:
    """The planner's tools, each with its narrowed schema, its place in the shortlist and an example, and
    the candidates they were narrowed to. The tools, their order and their schemas are unchanged: only
    the optional fields are set."""
    candidates = gather(request, cluster)
    text = request.turns[-1] if request.turns else ""
    leave_out = frozenset({*candidates.namespaces, *(o.name for o in candidates.objects)})
    names = [t.name for t in tools if t.name in examples()]
    scores = relevance(text, names, leave_out)
    ranked = [n for n in sorted(names, key=lambda n: -scores[n]) if scores[n] > 0][:SHORTLIST]
    ranked += [] if RESPOND in ranked else [RESPOND]
    place = {name: index for index, name in enumerate(ranked, start=1)}
    out = []
    for tool in tools:
        if tool.name not in examples():  # read tools and cloud tools: never filled alone
            out.append(tool)
            continue
        out.append(dataclasses.replace(tool, fill_schema=fill_schema(tool.name, tool.schema, candidates),
                                       shortlist=place.get(tool.name, 0),
                                       examples=closest_examples(tool.name, text, leave_out)))
    return out, candidates
