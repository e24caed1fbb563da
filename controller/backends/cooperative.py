"""Several backends on one thread: router → planner for the domain → reviewer → summariser.

Why roles: a cheap or local model can route and summarise while a stronger one plans; a second
model (or the offline rules) criticises the plan before the person sees it, and its objections are
shown as `review: ...` findings; "revise" sends the plan back to the planner once, with the
objections. Any role may be the offline backend.

Fallbacks, in order: a backend's own retries (timeouts, 429, 5xx, bounded backoff, in `agent`);
one repair of an invalid answer (in `agent`); the next backend of the role's chain; for the
planner, finally the offline planner, which says so in `findings`. A spent budget or a detected
loop stops all AI calls for the round at once: the offline planner answers, and optional roles
(review, summary) are skipped. Nothing here trusts the result: `engine.planning` validates,
policy-checks, renders, dry-runs and RBAC-checks whatever comes out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from controller.backends import metrics
from controller.backends.agent import ChatBackend
from controller.backends.config import BackendsConfig
from controller.backends.errors import BackendError, BudgetExceeded
from controller.backends.ledger import Ledger, ThreadUsage
from controller.catalog.registry import CATALOG
from controller.planning.types import Backend, ClusterReader, PlanningRequest, PlanningResult
from controller.redact import redact_text

OFFLINE = "offline"

_DOMAIN_WORDS: list[tuple[str, re.Pattern[str]]] = [
    ("cloud-aws", re.compile(r"(?i)\b(aws|s3|ec2|rds|ebs|iam|eks|bucket|dynamodb|lambda)\b")),
    ("cloud-azure", re.compile(r"(?i)\b(azure|aks|resource group|storage account|entra|blob)\b")),
    ("security", re.compile(r"(?i)\b(security|secure|network ?polic\w*|netpol|rbac|vulnerab\w*|cve|audit|harden\w*)\b")),
    ("sre", re.compile(r"(?i)\b(crash\w*|failing|down|outage|incident|diagnos\w*|why|oom\w*|latency|logs?|error)\b")),
]


def guess_domain(text: str) -> str:
    """The offline router: the first domain whose words appear, else k8s."""
    return next((domain for domain, words in _DOMAIN_WORDS if words.search(text)), "k8s")


def offline_review(result: PlanningResult) -> list[str]:
    """The offline critic: objections that follow from the catalog alone."""
    out = []
    for call in result.actions:
        spec = CATALOG.get(call.action)
        if spec is not None and spec.risk == "high":
            out.append(f"{call.action} is high risk; check the backup and restore steps before approving")
        if call.action == "scale" and call.params.get("replicas") == 0:
            out.append("scaling to 0 stops the workload entirely")
        if call.action == "apply-manifest":
            out.append("a free-form manifest: read its diff carefully, it is not a curated catalog action")
    return out


class CooperativeBackend:
    """A `Backend` made of role-playing backends, with fallbacks, budgets and an audit trail."""

    def __init__(self, config: BackendsConfig, members: dict[str, Backend],
                 offline: Callable[[], Backend], usage: ThreadUsage | None = None) -> None:
        self.config = config
        self.members = members
        self._offline_factory = offline
        self._offline: Backend | None = None
        self.usage = usage or ThreadUsage()
        roles = config.roles
        planner = config.planner_chain("k8s")
        parts = [f"planner={'>'.join(planner)}"]
        for role in ("router", "reviewer", "summarizer"):
            value = getattr(roles, role)
            if value:
                parts.append(f"{role}={'>'.join([value] if isinstance(value, str) else value)}")
        self.name = ",".join(parts)

    def offline(self) -> Backend:
        if self._offline is None:
            self._offline = self._offline_factory()
        return self._offline

    def member(self, name: str) -> Backend:
        return self.members[name] if name in self.members else self.offline()

    # ------------------------------------------------------------------------------ a round

    def propose(self, request: PlanningRequest, cluster: ClusterReader) -> PlanningResult:
        ledger = Ledger(request.thread_id, self.config.budget, self.usage.of(request.thread_id))
        findings: list[str] = []
        domain = self._route(request, ledger, findings)
        result = self._plan(request, cluster, ledger, domain, findings)
        if result.kind == "plan" and self.config.roles.reviewer:
            result = self._review(request, cluster, ledger, domain, result, findings)
        if result.actions and self.config.roles.summarizer and not ledger.stopped:
            answer = self._summarize(request, result, ledger, findings)
            if answer:
                result = result.model_copy(update={"answer": answer})
        merged = list(dict.fromkeys([*result.findings, *findings]))
        return result.model_copy(update={"findings": merged, "calls": [*result.calls, *ledger.calls]})

    # ------------------------------------------------------------------------------- roles

    def _route(self, request: PlanningRequest, ledger: Ledger, findings: list[str]) -> str:
        if request.context:
            return str(request.context)  # the person chose the domain
        for name in self._chain(self.config.roles.router):
            member = self.member(name)
            if not isinstance(member, ChatBackend):
                break
            try:
                return member.route(request, ledger)
            except BackendError as exc:
                self._fell_back("router", name, exc, findings)
                if isinstance(exc, BudgetExceeded):
                    break
        domain = guess_domain(request.turns[-1] if request.turns else "")
        ledger.note(OFFLINE, "router", "ok", f"domain {domain} from keywords")
        return domain

    def _plan(self, request: PlanningRequest, cluster: ClusterReader, ledger: Ledger, domain: str,
              findings: list[str], extra: str = "") -> PlanningResult:
        failures: list[str] = []
        for name in self.config.planner_chain(domain):
            member = self.member(name)
            if isinstance(member, ChatBackend):
                if ledger.stopped:
                    break
                try:
                    result = member.plan(request, cluster, ledger, domain, extra)
                except BackendError as exc:
                    failures.append(f"{name}: {redact_text(str(exc))}")
                    self._fell_back("planner", name, exc, [])
                    if isinstance(exc, BudgetExceeded):
                        break
                    continue
            else:
                try:
                    result = member.propose(request, cluster)
                except Exception as exc:  # a plain Backend may raise anything; the chain goes on
                    failures.append(f"{name}: {redact_text(str(exc))}")
                    continue
                ledger.note(name, "planner", "ok", "planned without an AI call")
            if failures:
                findings.append(f"fallback: {name} planned after {'; '.join(failures)}")
            return result
        if not self.config.offline_fallback:
            return PlanningResult(kind="unsupported", findings=[f"fallback: {f}" for f in failures],
                                  answer="No AI backend could plan this (" + "; ".join(failures) + "). "
                                         "Nothing was proposed; try again later.")
        findings.append("fallback: the AI planners failed (" + "; ".join(failures) +
                        "); the offline planner answered instead")
        metrics.FALLBACKS.labels(role="planner", from_backend="chain", to=OFFLINE).inc()
        ledger.note(OFFLINE, "planner", "fallback", "; ".join(failures))
        return self.offline().propose(request, cluster)

    def _review(self, request: PlanningRequest, cluster: ClusterReader, ledger: Ledger, domain: str,
                result: PlanningResult, findings: list[str]) -> PlanningResult:
        verdict, objections = self._critique(request, result, ledger, findings)
        findings += [f"review: {o}" for o in objections]
        if verdict != "revise" or self.config.budget.max_revisions < 1 or ledger.stopped:
            return result
        extra = ("A reviewer objected to your previous plan " + _plan_calls(result) + ":\n" +
                 "\n".join(f"- {redact_text(o)}" for o in objections) + "\nPropose a corrected plan.")
        revised = self._plan(request, cluster, ledger, domain, findings, extra)
        findings.append("review: the plan was revised once after these objections")
        if revised.kind == "plan" and not ledger.stopped:
            verdict2, objections2 = self._critique(request, revised, ledger, findings)
            findings += [f"review (revised plan): {o}" for o in objections2]
            if verdict2 == "revise":
                findings.append("review: the reviewer still objects; read the objections before approving")
        return revised

    def _critique(self, request: PlanningRequest, result: PlanningResult, ledger: Ledger,
                  findings: list[str]) -> tuple[str, list[str]]:
        for name in self._chain(self.config.roles.reviewer):
            member = self.member(name)
            if not isinstance(member, ChatBackend):
                break
            try:
                return member.review(request, result, ledger)
            except BackendError as exc:
                self._fell_back("reviewer", name, exc, findings)
                if isinstance(exc, BudgetExceeded):
                    break
        ledger.note(OFFLINE, "reviewer", "ok", "rules from the catalog")
        return "ok", offline_review(result)

    def _summarize(self, request: PlanningRequest, result: PlanningResult, ledger: Ledger,
                   findings: list[str]) -> str:
        for name in self._chain(self.config.roles.summarizer):
            member = self.member(name)
            if not isinstance(member, ChatBackend):
                return ""
            try:
                return member.summarize(request, result, ledger)
            except BackendError as exc:
                self._fell_back("summarizer", name, exc, findings)
                if isinstance(exc, BudgetExceeded):
                    break
        return ""

    # ----------------------------------------------------------------------------- helpers

    @staticmethod
    def _chain(value: Any) -> list[str]:
        if not value:
            return []
        return [value] if isinstance(value, str) else list(value)

    @staticmethod
    def _fell_back(role: str, name: str, exc: BaseException, findings: list[str]) -> None:
        metrics.FALLBACKS.labels(role=role, from_backend=name, to="next").inc()
        if role != "planner":
            findings.append(f"fallback: the {role} {name} failed ({redact_text(str(exc))}); moved on")


def _plan_calls(result: PlanningResult) -> str:
    return "[" + ", ".join(f"{c.action} {c.params}" for c in result.actions) + "]"
