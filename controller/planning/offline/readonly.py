"""Read-only answers: diagnosis, security review and questions, routed to what the request is about.

Why a router: "why is X pending" is about a workload's pods, "the reports service has no endpoints"
about a Service (and the pods it should reach), "the scratch claim never binds" about a volume claim.
Each is answered from live data; a fix is *offered* (as actions the person may approve) only when the
evidence makes it clear and the catalog can express it.
"""

from __future__ import annotations

import re

from controller.planning.offline import extract
from controller.planning.offline.context import Ctx, Outcome
from controller.planning.offline.diagnose import diagnose
from controller.planning.offline.diagnose_more import pvc_finding, service_finding
from controller.planning.offline.grounding import WORKLOAD_KINDS, Ref
from controller.planning.offline.questions import answer_question, pods_fact
from controller.planning.offline.review import review_namespace
from controller.planning.offline.speech import Act

SERVICE = (("v1", "Service"),)
PVC = (("v1", "PersistentVolumeClaim"),)
_ABOUT_SERVICE = re.compile(r"\bservices?\b|\bsvc\b|\bendpoints?\b|\btraffic\b|\bunreachable\b|\bconnection refused\b",
                            re.I)
_ABOUT_CLAIM = re.compile(r"\bpvcs?\b|\bvolume ?claims?\b|\bclaims?\b|\bpersistent ?volumes?\b|\bvolumes?\b|\bbind(?:s|ing)?\b",
                          re.I)


def answer_read_only(intent: str, ctx: Ctx, act: Act) -> Outcome:
    if intent == "security-review":
        review = review_namespace(ctx.grounder, ctx.namespace)
        return Outcome(review.actions, review.answer, findings=review.findings, kind="answer")
    if intent == "diagnose":
        return _diagnose(ctx, act)
    return _question(ctx)


def _exact(ctx: Ctx, kinds: tuple[tuple[str, str], ...]) -> Ref | None:
    words: set[str] = set()
    for text in ctx.names[:2]:
        words.update(extract.tokens(text))
    for ref in ctx.grounder.refs(kinds, ctx.namespace):
        if ref.name in words:
            return ref
    return None


def _diagnose(ctx: Ctx, act: Act) -> Outcome:
    grounder, ns, text = ctx.grounder, ctx.namespace, " ".join(ctx.values[:2])
    if _ABOUT_CLAIM.search(text) and (claim := _exact(ctx, PVC)) is not None:
        claimed = pvc_finding(grounder, claim)
        return Outcome(claimed.actions, " ".join(claimed.lines), findings=claimed.lines, kind="answer")
    workloads = grounder.refs(WORKLOAD_KINDS, ns)
    found = ctx.find()
    service = _exact(ctx, SERVICE) if _ABOUT_SERVICE.search(text) else None
    if service is None and found.ref is not None and _ABOUT_SERVICE.search(text):
        service = next((s for s in grounder.refs(SERVICE, ns) if s.name == found.ref.name), None)
    parts: list[str] = []
    actions = []
    findings: list[str] = []
    if service is not None:
        svc = service_finding(grounder, service, workloads)
        parts.extend(svc.lines)
        findings.extend(svc.lines)
        if svc.actions:
            parts.extend(svc.fixes)
            actions.extend(svc.actions)
            return Outcome(actions, " ".join(parts), findings=findings, kind="answer")
    if found.ref is not None:
        d = diagnose(grounder, ns, found.ref)
        return Outcome(d.actions, " ".join([*parts, d.answer]), findings=[*findings, *d.findings], kind="answer")
    pods = [p for p in grounder.objects("v1", "Pod", ns)
            if any(p["metadata"]["name"] == w for t in ctx.names for w in t.lower().split())]
    if not pods and found.asked:  # bare pods without a workload: by app label or name prefix
        pods = [p for p in grounder.objects("v1", "Pod", ns)
                if (p["metadata"].get("labels") or {}).get("app") == found.asked
                or p["metadata"]["name"].startswith(f"{found.asked}-")]
    if pods:
        d = diagnose(grounder, ns, None, pods)
        return Outcome(d.actions, " ".join([*parts, d.answer]), findings=[*findings, *d.findings], kind="answer")
    if parts:
        return Outcome(actions, " ".join(parts), findings=findings, kind="answer")
    if found.asked or found.reason == "ambiguous":
        return Outcome.ask(found.question("workload", ns))
    d = diagnose(grounder, ns, None)
    return Outcome(d.actions, d.answer, findings=d.findings, kind="answer")


def _question(ctx: Ctx) -> Outcome:
    grounder, ns = ctx.grounder, ctx.namespace
    found = ctx.find()
    if found.ref is None and found.reason in ("ambiguous", "other-namespace"):
        return Outcome.ask(found.question("workload", ns))
    answer = answer_question(grounder, ctx.latest, ns, found.ref)
    if found.ref is None and found.asked and found.reason == "missing" and answer.startswith("Workloads in namespace"):
        pods = [p for p in grounder.objects("v1", "Pod", ns) if p["metadata"]["name"] == found.asked]
        answer = (pods_fact(grounder, pods, f"named {found.asked}") if pods
                  else f"I found nothing named {found.asked!r} in {ns}. " + answer)
    return Outcome(answer=answer, kind="answer")
