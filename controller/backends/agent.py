"""One AI backend as a planner, router, reviewer and summariser: the tool-calling loop.

Why the loop lives above the wire adapters: what makes an AI safe to use is the same for every
service. Each call is charged to the thread's budget first; timeouts, 429 and 5xx are retried
with bounded exponential backoff; the model may read the cluster (as the requester, redacted)
for at most `max_tool_iterations` rounds; a repeated identical call stops the loop; an answer
that is not valid (unknown tool, bad JSON, parameters the catalog refuses, a manifest its schema
refuses, a credential in the parameters) is sent back once with the exact errors, and a second
invalid answer is an `InvalidOutput` so the next backend is tried.

Destructive calls (delete kube-system, read-secret) are *not* repaired away here: they go on to
the policy gate in `engine.planning`, which refuses them and alerts admins.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from controller.backends import narrowing, prompt
from controller.backends.config import DOMAINS, Budget
from controller.backends.errors import FatalError, InvalidOutput, TransientError
from controller.backends.ledger import Ledger, ThreadUsage
from controller.backends.tools import (
    LIST_OBJECTS,
    READ_EVENTS,
    READ_LOGS,
    READ_OBJECT,
    READ_TOOLS,
    RESPOND,
    REVIEW,
    REVIEW_TOOL,
    ROUTE,
    ROUTE_TOOL,
    canonical,
    planner_tools,
)
from controller.backends.wire import ChatClient, Msg, Reply, ToolCall, ToolSpec
from controller.catalog.base import CatalogError
from controller.catalog.registry import CATALOG, validate_call
from controller.cloud.tools import CLOUD_TOOL_NAMES, run_cloud_tool
from controller.planning.types import ActionCall, ClusterReader, PlanningRequest, PlanningResult
from controller.redact import redact_object, redact_text, redact_value

MAX_BACKOFF_FACTOR = 8


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RespondArgs(_Args):
    kind: Literal["plan", "answer", "clarify", "unsupported"]
    answer: str = Field(max_length=4000)
    findings: list[str] = Field(default_factory=list, max_length=10)


class RouteArgs(_Args):
    domain: Literal["k8s", "cloud-aws", "cloud-azure", "sre", "security"]
    reason: str = ""


class ReviewArgs(_Args):
    verdict: Literal["ok", "revise"]
    objections: list[str] = Field(default_factory=list, max_length=8)


def _errors(name: str, exc: ValidationError) -> str:
    return "; ".join(f"{name}: {'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}" for e in exc.errors())


class ChatBackend:
    """A `Backend` (and a router, reviewer and summariser) over one `ChatClient`."""

    def __init__(self, name: str, client: ChatClient, *, max_retries: int = 2, backoff_s: float = 1.0,
                 price_input_per_1k: float = 0.0, price_output_per_1k: float = 0.0, budget: Budget | None = None,
                 usage: ThreadUsage | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.name = name
        self.client = client
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.prices = (price_input_per_1k, price_output_per_1k)
        self.budget = budget or Budget()
        self.usage = usage or ThreadUsage()
        self.sleep = sleep

    # ------------------------------------------------------------------------- Backend seam

    def propose(self, request: PlanningRequest, cluster: ClusterReader) -> PlanningResult:
        """Standalone use (no cooperation): plan, and return the audit of the calls."""
        ledger = Ledger(request.thread_id, self.budget, self.usage.of(request.thread_id))
        result = self.plan(request, cluster, ledger)
        return result.model_copy(update={"calls": ledger.calls})

    # ------------------------------------------------------------------------------ one call

    def call(self, ledger: Ledger, role: str, system: str, messages: list[Msg], tools: list[ToolSpec],
             force_tool: bool) -> Reply:
        """One exchange, retried on transient errors with bounded backoff; every attempt is audited."""
        audit = {"system": system, "tools": [t.name for t in tools],
                 "messages": [{"role": m.role, "text": m.text, "calls": [c.name for c in m.tool_calls]}
                              for m in messages]}
        attempt = 0
        while True:
            ledger.charge()
            started = time.monotonic()
            try:
                reply = self.client.complete(system, messages, tools, force_tool)
            except (TransientError, FatalError, InvalidOutput) as exc:
                kind = {TransientError: "transient", FatalError: "fatal"}.get(type(exc), "invalid")
                ledger.record(backend=self.name, role=role, model=self.client.model, outcome=kind,
                              latency_s=time.monotonic() - started, tokens_in=0, tokens_out=0, cost_usd=0.0,
                              request=audit, response=str(exc), attempt=attempt + 1)
                if not isinstance(exc, TransientError) or attempt >= self.max_retries:
                    raise
                pause = exc.retry_after if exc.retry_after is not None else self.backoff_s * 2 ** attempt
                self.sleep(min(pause, self.backoff_s * MAX_BACKOFF_FACTOR, 30.0))
                attempt += 1
                continue
            cost = reply.input_tokens / 1000 * self.prices[0] + reply.output_tokens / 1000 * self.prices[1]
            shown = reply.text + "".join(f" {c.name}({c.raw_arguments or c.arguments})" for c in reply.tool_calls)
            ledger.record(backend=self.name, role=role, model=reply.model, outcome="ok",
                          latency_s=time.monotonic() - started, tokens_in=reply.input_tokens,
                          tokens_out=reply.output_tokens, cost_usd=cost, request=audit, response=shown,
                          attempt=attempt + 1, via=reply.via, refusals=reply.refusals)
            return reply

    # ------------------------------------------------------------------------------- planner

    def plan(self, request: PlanningRequest, cluster: ClusterReader, ledger: Ledger, domain: str = "",
             extra: str = "") -> PlanningResult:
        # the narrowed tools and the brief are used only where the whole catalog does not fit (compat)
        tools, candidates = narrowing.for_request(planner_tools(), request, cluster)
        messages = [Msg("user", prompt.request_text(request, cluster, domain, extra),
                        brief=narrowing.brief(request, candidates))]
        repaired, rounds = False, 0
        while True:
            reply = self.call(ledger, "planner", prompt.SYSTEM_PLANNER, messages, tools, force_tool=True)
            messages.append(Msg("assistant", reply.text, tuple(reply.tool_calls)))
            finals = [c for c in reply.tool_calls if c.name not in READ_TOOLS]
            # the loop breaker: the same read twice, or the very same final answer twice
            for c in reply.tool_calls:
                if c.name in READ_TOOLS:
                    ledger.repeated(canonical(f"{self.name}:{c.name}", c.arguments))
            if finals:
                ledger.repeated(canonical(f"{self.name}:answer", {"calls": [(c.name, c.arguments or c.raw_arguments)
                                                                            for c in finals]}))
            if reply.tool_calls and not finals:
                rounds += 1
                if rounds > ledger.budget.max_tool_iterations:
                    ledger.stop("iterations", f"{self.name} used {rounds - 1} read-tool rounds without answering "
                                              f"(limit {ledger.budget.max_tool_iterations})")
                messages += [Msg("tool", _read(c, cluster), tool_call_id=c.id) for c in reply.tool_calls]
                continue
            try:
                return self._result(reply, finals, cluster)
            except InvalidOutput as exc:
                if repaired:
                    raise InvalidOutput(f"{self.name} answered invalidly twice: {exc}") from None
                repaired = True
                messages += [Msg("tool", f"Not accepted: {exc}", tool_call_id=c.id, is_error=True)
                             for c in reply.tool_calls]
                messages.append(Msg("user", f"Your answer was not accepted: {exc}. Answer again, by calling the "
                                            "tools with corrected arguments.",
                                    brief=narrowing.brief(request, candidates, str(exc))))

    def _result(self, reply: Reply, finals: list[ToolCall], cluster: ClusterReader) -> PlanningResult:
        problems: list[str] = []
        if not reply.tool_calls:
            problems.append("no tool was called; answer only by calling catalog actions and `respond`")
        actions: list[ActionCall] = []
        respond: RespondArgs | None = None
        for c in finals:
            if c.error:
                problems.append(c.error)
            elif c.name == RESPOND:
                try:
                    respond = RespondArgs.model_validate(c.arguments)
                except ValidationError as exc:
                    problems.append(_errors(RESPOND, exc))
            elif c.name in CATALOG:
                problems += _check_action(c, cluster)
                actions.append(ActionCall(action=c.name, params=c.arguments))
            else:
                problems.append(f"there is no tool {c.name!r}; use a catalog action or `respond`")
        kind = respond.kind if respond else ("plan" if actions else "answer")
        if kind == "plan" and not actions and not problems:
            problems.append("respond says kind=plan, but no catalog action was called")
        if kind in ("clarify", "unsupported") and actions:
            problems.append(f"respond says kind={kind}, which takes no action calls")
        if problems:
            raise InvalidOutput("; ".join(problems))
        answer = respond.answer if respond else reply.text
        findings = [redact_text(f) for f in (respond.findings if respond else [])]
        safe = redact_text(answer)
        if safe != answer:
            findings.append("redacted: the AI's answer contained what looks like a credential; it was masked")
        return PlanningResult(kind=kind, answer=safe, actions=actions, findings=findings, intent=self.name)

    # ----------------------------------------------------------------------- other roles

    def route(self, request: PlanningRequest, ledger: Ledger) -> str:
        messages = [Msg("user", prompt.request_text(request, None))]
        reply = self.call(ledger, "router", prompt.SYSTEM_ROUTER, messages, [ROUTE_TOOL], force_tool=True)
        call = next((c for c in reply.tool_calls if c.name == ROUTE), None)
        if call is None:
            raise InvalidOutput("the router did not call `route`")
        try:
            return RouteArgs.model_validate(call.arguments).domain
        except ValidationError as exc:
            raise InvalidOutput(_errors(ROUTE, exc) + f" (domains: {', '.join(DOMAINS)})") from None

    def review(self, request: PlanningRequest, result: PlanningResult, ledger: Ledger) -> tuple[str, list[str]]:
        messages = [Msg("user", prompt.request_text(request, None) + "\n\n" + prompt.plan_text(result))]
        reply = self.call(ledger, "reviewer", prompt.SYSTEM_REVIEWER, messages, [REVIEW_TOOL], force_tool=True)
        call = next((c for c in reply.tool_calls if c.name == REVIEW), None)
        if call is None:
            raise InvalidOutput("the reviewer did not call `review`")
        try:
            args = ReviewArgs.model_validate(call.arguments)
        except ValidationError as exc:
            raise InvalidOutput(_errors(REVIEW, exc)) from None
        return args.verdict, [redact_text(o) for o in args.objections]

    def summarize(self, request: PlanningRequest, result: PlanningResult, ledger: Ledger) -> str:
        messages = [Msg("user", prompt.request_text(request, None) + "\n\n" + prompt.plan_text(result))]
        reply = self.call(ledger, "summarizer", prompt.SYSTEM_SUMMARIZER, messages, [], force_tool=False)
        text = reply.text.strip()
        if not text:
            raise InvalidOutput("the summariser answered nothing")
        return redact_text(text)[:4000]


def _check_action(c: ToolCall, cluster: ClusterReader) -> list[str]:
    """Catalog validation, plus a render (which schema-checks apply-manifest) and a credential check."""
    problems: list[str] = []
    if redact_value(c.arguments) != c.arguments:
        problems.append(f"{c.name}: the parameters contain what looks like a credential; the operator never "
                        "writes secrets")
    try:
        spec, params = validate_call(ActionCall(action=c.name, params=c.arguments))
    except CatalogError as exc:
        return [*problems, str(exc)]
    if spec.executable:  # read-secret & co. go on to the policy gate, which refuses them and alerts
        try:
            spec.render(params, cluster)
        except CatalogError as exc:
            problems.append(str(exc))
    return problems


def _read(c: ToolCall, cluster: ClusterReader) -> str:
    """Run one read tool as the requester; the result is fenced DATA, redacted again."""
    a = c.arguments
    try:
        if c.name == READ_OBJECT:
            if a.get("kind") == "Secret":
                return "Secrets are never shown."
            obj = cluster.get(str(a["api_version"]), str(a["kind"]), str(a["name"]), a.get("namespace") or None)
            data: Any = redact_object(obj) if obj else f"not found (or not visible to {a.get('kind')} readers)"
        elif c.name == LIST_OBJECTS:
            if a.get("kind") == "Secret":
                return "Secrets are never listed."
            items = cluster.list(str(a["api_version"]), str(a["kind"]), a.get("namespace") or None)
            data = [prompt._summary(o) for o in items[:30]]
        elif c.name == READ_EVENTS:
            data = [{"object": (e.get("involvedObject") or {}).get("name"), "reason": e.get("reason"),
                     "message": e.get("message")} for e in cluster.events(str(a["namespace"]), a.get("name"))[-20:]]
        elif c.name == READ_LOGS:
            data = cluster.logs(str(a["namespace"]), str(a["pod"]), a.get("container"), bool(a.get("previous")))
        elif c.name in CLOUD_TOOL_NAMES:  # read-only cloud tools (controller/cloud/tools.py)
            data = run_cloud_tool(c.name, a, cluster)
        else:
            return f"unknown read tool {c.name}"
    except KeyError as exc:
        return f"missing argument {exc}"
    except Exception as exc:  # a read that fails is told to the model, not raised
        return f"the read failed: {redact_text(str(exc))[:200]}"
    return prompt.fence(f"tool result of {c.name}", data)
