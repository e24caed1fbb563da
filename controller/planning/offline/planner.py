"""The built-in offline planner: `OfflineBackend.propose(request, cluster) -> PlanningResult`.

Why it exists: the operator must work with no AI service at all (air-gapped clusters, CI, evals).
It classifies the newest turn (embeddings + cues, `intents`), decides whether the turn is a new
request or completes an earlier one (a weak turn such as "actually make it 6" or "payments"
inherits the intent of the last clear turn, and the previous plan seeds the parameters after
feedback), extracts parameters from the words and grounds them in the live cluster, then answers
read-only intents from live data. Manipulative phrasing is cut out before any of this and
reported as `suspicious:` findings. No network; the model loads once per process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from controller.planning.offline import actions_cloud as cloud
from controller.planning.offline import actions_objects as objects
from controller.planning.offline import actions_workload as workload
from controller.planning.offline.context import Ctx, Outcome
from controller.planning.offline.diagnose import diagnose
from controller.planning.offline.grounding import Grounder
from controller.planning.offline.guard import screen
from controller.planning.offline.intents import ACTIONS, UNSUPPORTED, IntentClassifier, IntentScore
from controller.planning.offline.questions import answer_question, pods_fact
from controller.planning.offline.review import review_namespace
from controller.planning.types import ClusterReader, KnowledgeHit, PlanningRequest, PlanningResult

Builder = Callable[[Ctx], Outcome]

BUILDERS: dict[str, Builder] = {
    "scale": workload.build_scale,
    "restart": workload.build_restart,
    "rollback": workload.build_rollback,
    "set-image": workload.build_set_image,
    "set-resources": workload.build_set_resources,
    "create-hpa": workload.build_hpa,
    "create-pdb": workload.build_pdb,
    "expose-service": workload.build_expose,
    "set-configmap-key": objects.build_configmap,
    "set-labels": objects.build_labels,
    "create-namespace": objects.build_namespace,
    "netpol-deny-ingress": objects.build_deny_ingress,
    "netpol-allow-ingress": objects.build_allow_ingress,
    "delete-object": objects.build_delete,
    "read-secret": objects.build_read_secret,
    "create-s3-bucket": cloud.build_s3,
    "create-azure-resource-group": cloud.build_resource_group,
    "create-azure-storage-account": cloud.build_storage_account,
}
assert set(BUILDERS) == set(ACTIONS)

REUSE_MIN_SIMILARITY = 0.2
CAPABILITIES = ("scale, restart or roll back workloads; change images, CPU/memory, labels and ConfigMap keys; "
                "create namespaces with quotas, autoscalers, disruption budgets, Services and NetworkPolicies; "
                "create S3 buckets and Azure resource groups or storage accounts; diagnose failing workloads; "
                "review a namespace's security; and answer questions about what is running")

_shared_classifier: IntentClassifier | None = None
_lock = threading.Lock()


def shared_classifier() -> IntentClassifier:
    """One classifier per process: the anchor matrix is embedded once."""
    global _shared_classifier
    with _lock:
        if _shared_classifier is None:
            _shared_classifier = IntentClassifier()
        return _shared_classifier


class OfflineBackend:
    """The `Backend` that needs no network: anchors + cues for intent, rules + cluster for parameters."""

    name = "offline"

    def __init__(self, classifier: IntentClassifier | None = None) -> None:
        self._classifier = classifier

    @property
    def classifier(self) -> IntentClassifier:
        if self._classifier is None:
            self._classifier = shared_classifier()
        return self._classifier

    # -- the seam ---------------------------------------------------------------------------

    def propose(self, request: PlanningRequest, cluster: ClusterReader) -> PlanningResult:
        raw = [t for t in request.turns if t.strip()]
        if request.feedback.strip():
            raw.append(request.feedback)
        if not raw:
            return PlanningResult(kind="unsupported", intent=UNSUPPORTED,
                                  answer=f"There is no request to plan. I can {CAPABILITIES}.")
        screened = [screen(t) for t in raw]
        texts = [s.text for s in screened]
        scores = [self.classifier.classify(t) for t in texts]
        intent, start = self._intent(scores, request)
        window = list(range(start, len(texts)))
        suspicious: list[str] = []
        for i in window:
            for finding in screened[i].findings:
                if finding not in suspicious:
                    suspicious.append(finding)
        seed = _seed(request, intent)
        ctx = Ctx(request=request, grounder=Grounder(cluster), latest=texts[-1],
                  values=[texts[i] for i in reversed(window)], names=list(reversed(texts)), seed=seed)
        confidence = scores[-1].confidence if start == len(texts) - 1 else max(0.3, scores[start].confidence * 0.9)
        if intent == UNSUPPORTED:
            what = "a request I can act on" if not texts[-1] else "something I can map to an action"
            answer = (f"Sorry, I cannot help with that: it is not {what}. I can {CAPABILITIES}.")
            return PlanningResult(kind="unsupported", intent=UNSUPPORTED, answer=answer, findings=suspicious,
                                  confidence=confidence)
        outcome = BUILDERS[intent](ctx) if intent in BUILDERS else self._read_only(intent, ctx)
        answer = " ".join([outcome.answer, *dict.fromkeys(ctx.notes)]).strip()
        reused: list[str] = []
        if outcome.kind in ("plan", "answer"):
            hit = self._reusable(request.knowledge, intent, texts[start])
            if hit is not None:
                reused = [hit.thread_id]
                answer += f" Based on thread {hit.thread_id}, rated 100 (\"{hit.request}\")."
        kind = outcome.kind if outcome.kind != "plan" or outcome.actions else "clarify"
        return PlanningResult(kind=kind,  # type: ignore[arg-type]
                              answer=answer, actions=outcome.actions if kind in ("plan", "answer") else [],
                              findings=[*suspicious, *outcome.findings], intent=intent, reused_from=reused,
                              confidence=round(confidence, 3))

    # -- deciding what the turn asks for ---------------------------------------------------

    def _intent(self, scores: list[IntentScore], request: PlanningRequest) -> tuple[str, int]:
        """The intent and the index of the turn that stated it (earlier turns a weak one completes)."""
        last = len(scores) - 1
        latest = scores[last]
        if not latest.weak:
            start = last
            while start > 0 and not scores[start - 1].weak and scores[start - 1].intent == latest.intent:
                start -= 1
            return latest.intent, start
        for i in range(last - 1, -1, -1):
            if not scores[i].weak:
                return scores[i].intent, i
        if request.previous_plan and request.previous_plan[0].action in BUILDERS:
            return request.previous_plan[0].action, last
        return UNSUPPORTED, last

    def _read_only(self, intent: str, ctx: Ctx) -> Outcome:
        grounder, ns = ctx.grounder, ctx.namespace
        if intent == "security-review":
            review = review_namespace(grounder, ns)
            return Outcome(review.actions, review.answer, findings=review.findings, kind="answer")
        found = ctx.find()
        if intent == "diagnose":
            if found.ref is not None:
                d = diagnose(grounder, ns, found.ref)
                return Outcome(d.actions, d.answer, findings=d.findings, kind="answer")
            pods = [p for p in grounder.objects("v1", "Pod", ns)
                    if any(p["metadata"]["name"] == w for t in ctx.names for w in t.lower().split())]
            if pods:
                d = diagnose(grounder, ns, None, pods)
                return Outcome(d.actions, d.answer, findings=d.findings, kind="answer")
            if found.asked:  # bare pods without a workload: by app label or name prefix
                pods = [p for p in grounder.objects("v1", "Pod", ns)
                        if (p["metadata"].get("labels") or {}).get("app") == found.asked
                        or p["metadata"]["name"].startswith(f"{found.asked}-")]
                if pods:
                    d = diagnose(grounder, ns, None, pods)
                    return Outcome(d.actions, d.answer, findings=d.findings, kind="answer")
            if found.asked or found.reason == "ambiguous":
                return Outcome.ask(found.question("workload", ns))
            d = diagnose(grounder, ns, None)
            return Outcome(d.actions, d.answer, findings=d.findings, kind="answer")
        # question
        if found.ref is None and found.reason == "ambiguous":
            return Outcome.ask(found.question("workload", ns))
        if found.ref is None and found.reason == "other-namespace":
            return Outcome.ask(found.question("workload", ns))
        text = ctx.latest
        answer = answer_question(grounder, text, ns, found.ref)
        if found.ref is None and found.asked and found.reason == "missing":
            pods = [p for p in grounder.objects("v1", "Pod", ns) if p["metadata"]["name"] == found.asked]
            answer = (pods_fact(grounder, pods, f"named {found.asked}") if pods
                      else f"I found nothing named {found.asked!r} in {ns}. " + answer)
        return Outcome(answer=answer, kind="answer")

    def _reusable(self, hits: list[KnowledgeHit], intent: str, text: str) -> KnowledgeHit | None:
        best: tuple[float, KnowledgeHit] | None = None
        for hit in hits:
            if hit.rating != 100 or not hit.request.strip():
                continue
            hit_text = screen(hit.request).text
            if self.classifier.classify(hit_text).intent != intent:
                continue
            sim = self.classifier.similarity(hit_text, text)
            if sim >= REUSE_MIN_SIMILARITY and (best is None or sim > best[0]):
                best = (sim, hit)
        return best[1] if best else None


def _seed(request: PlanningRequest, intent: str) -> dict[str, Any]:
    for call in request.previous_plan:
        if call.action == intent:
            return dict(call.params)
    return {}
