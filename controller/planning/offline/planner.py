"""The built-in offline planner: `OfflineBackend.propose(request, cluster) -> PlanningResult`.

Why it exists: the operator must work with no AI service at all (air-gapped clusters, CI, evals).

How one turn is read (issue 13):
1. manipulative phrasing is cut out and reported (`guard`);
2. the speech act is decided before any intent (`speech`): a question, a problem report or a
   "don't change anything" gets a read-only answer or a diagnosis (which may *offer* a fix), never
   the action its words resemble;
3. the intent comes from embeddings + cues (`intents`); a weak turn ("actually 6", "payments")
   completes the request of the last clear turn, and the previous plan seeds its parameters;
4. a command asking for something no catalog action can do (`scope`) gets an honest "I cannot"
   with what the operator can do instead;
5. "and"/"then"/";" joining several actions make one plan of several steps, in order;
6. each builder extracts values from the words and grounds names in the live cluster, asking when
   something is missing or ambiguous;
7. the plan is checked against the request (`controller.planning.coverage`): a plan that does not
   touch what the request names is refused, not shown;
8. a rated-100 past thread of the same kind is reused (`reuse`): its steps adapted to this cluster,
   and a low-rated one with a comment steers the plan away from what failed.
No network; the model loads once per process.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from controller.planning import coverage
from controller.planning.offline import actions_change as change
from controller.planning.offline import actions_cloud as cloud
from controller.planning.offline import actions_create as create
from controller.planning.offline import actions_objects as objects
from controller.planning.offline import actions_workload as workload
from controller.planning.offline import cloud_questions, reuse
from controller.planning.offline.context import Ctx, Outcome
from controller.planning.offline.grounding import Grounder
from controller.planning.offline.guard import screen
from controller.planning.offline.intents import ACTIONS, UNSUPPORTED, IntentClassifier, IntentScore
from controller.planning.offline.readonly import answer_read_only
from controller.planning.offline.scope import incidental, incidental_notes, out_of_scope
from controller.planning.offline.speech import Act, classify_act, has_symptom, split_steps
from controller.planning.types import ActionCall, ClusterReader, PlanningRequest, PlanningResult

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
    "create-ingress": create.build_ingress,
    "create-cronjob": create.build_cronjob,
    "create-job": create.build_job,
    "create-pod": create.build_pod,
    "create-statefulset": create.build_statefulset,
    "create-pvc": create.build_pvc,
    "create-canary": create.build_canary,
    "suspend-cronjob": change.build_suspend_cronjob,
    "expand-pvc": change.build_expand_pvc,
    "harden-workload": change.build_harden,
    "set-env": change.build_set_env,
    "remove-env": change.build_remove_env,
    "set-probe": change.build_probe,
    "set-service-selector": change.build_service_selector,
    "sa-aws-role": change.build_sa_aws_role,
    "sa-azure-identity": change.build_sa_azure_identity,
    "create-role": change.build_role,
    "create-rolebinding": change.build_rolebinding,
    "netpol-egress": change.build_egress,
}
assert set(BUILDERS) == set(ACTIONS)

# Intents that never change anything: allowed whatever the speech act.
READ_ONLY_INTENTS = frozenset({"question", "diagnose", "security-review", "read-secret", UNSUPPORTED})
CAPABILITIES = ("scale, restart or roll back workloads; change images, CPU/memory, env vars, probes, securityContext, "
                "labels and ConfigMap keys; create namespaces with quotas, autoscalers, disruption budgets, Services, "
                "Ingresses, NetworkPolicies (ingress and egress), CronJobs, Jobs, Pods, StatefulSets, volume claims, "
                "canaries, namespaced Roles and RoleBindings; give ServiceAccounts an AWS or Azure identity; create S3 "
                "buckets and Azure resource groups or storage accounts; diagnose failing workloads, Services and "
                "volume claims; review a namespace's security; and answer questions about what is running")

_shared_classifier: IntentClassifier | None = None
_lock = threading.Lock()


def shared_classifier() -> IntentClassifier:
    """One classifier per process: the anchor matrix is embedded once."""
    global _shared_classifier
    with _lock:
        if _shared_classifier is None:
            _shared_classifier = IntentClassifier()
        return _shared_classifier


_KUBERNETES_TROUBLE = re.compile(r"\bpods?\b|\bready\b|\bcrash\w*|\boomkill\w*|\bimagepull\w*|\bpending\b|\bendpoints?\b|"
                                 r"\brestart\w*|\bdeployments?\b|\bservices?\b|\bcontainers?\b|\bprobes?\b", re.I)


_REVIEW_WORDS = re.compile(r"\b(?:review|check|scan|assess|inspect|audit(?:s|ing)?\s+(?:the\s+)?(?:security|namespace|"
                           r"workloads?|pods?)|secur\w*|harden\w*|look\w*)\b", re.I)


def _unasked_review(intent: str, act: Act, text: str) -> bool:
    """A command read as a security review without asking for one ("truncate the audit tables"): screened too,
    since the review would offer remediation plans for a request that asked for something else."""
    return intent == "security-review" and act.kind == "command" and not _REVIEW_WORDS.search(text)


def gate(intent: str, act: Act, text: str) -> str:
    """The intent the speech act allows: questions, problems and negations stay read-only."""
    if intent == UNSUPPORTED and act.kind == "problem" and _KUBERNETES_TROUBLE.search(text):
        return "diagnose"  # a problem report about the cluster is always worth a diagnosis
    if act.kind == "command" or intent in READ_ONLY_INTENTS:
        return "diagnose" if act.kind == "problem" and intent == "question" else intent
    if act.kind == "problem" or has_symptom(text):
        return "diagnose"
    return "question"


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
        act = classify_act(texts[start] if scores[-1].weak and start < len(texts) - 1 else texts[-1])
        window = list(range(start, len(texts)))
        suspicious = list(dict.fromkeys(f for i in window for f in screened[i].findings))
        grounder = Grounder(cluster)
        ctx = Ctx(request=request, grounder=grounder, latest=texts[-1],
                  values=[texts[i] for i in reversed(window)], names=list(reversed(texts)),
                  seed=_seed(request, intent))
        confidence = scores[-1].confidence if start == len(texts) - 1 else max(0.3, scores[start].confidence * 0.9)
        stated = " ".join(texts[i] for i in window)
        thread = reuse.named(request.knowledge, texts[-1])
        if thread is not None:
            rebuilt = self._from_thread(thread, request, grounder, texts[-1])
            if rebuilt is not None:
                intent, outcome = rebuilt
                return self._result(outcome, intent, ctx, request, texts[start], stated, suspicious, confidence,
                                    reused=[thread.thread_id])
        intent = gate(intent, act, stated)
        # The cloud half (cloud_questions.py): reviews, troubleshooting, hardening and inventory of AWS/Azure
        # resources from live cloud data, after the speech act and before the out-of-catalog screen;
        # None leaves the request to the intents below.
        routed = cloud_questions.route(ctx, intent, cluster, read_only=act.kind == "negated")
        if routed is not None:
            return self._result(routed[1], routed[0], ctx, request, texts[start], stated, suspicious, confidence)
        if intent == UNSUPPORTED or intent in BUILDERS or _unasked_review(intent, act, stated):
            known = self._known_names(grounder, ctx.namespace)
            outside = out_of_scope(stated, known)
            if outside is not None or intent == UNSUPPORTED:
                return self._cannot(outside, suspicious, confidence)
            ctx.notes.extend(incidental_notes(stated, known))
        several = self._several(request, grounder, texts, start) if intent in BUILDERS else None
        if several is not None:
            outcome = several
        else:
            outcome = BUILDERS[intent](ctx) if intent in BUILDERS else answer_read_only(intent, ctx, act)
        return self._result(outcome, intent, ctx, request, texts[start], stated, suspicious, confidence)

    def _result(self, outcome: Outcome, intent: str, ctx: Ctx, request: PlanningRequest, first: str, stated: str,
                suspicious: list[str], confidence: float, reused: list[str] | None = None) -> PlanningResult:
        """Check the outcome against the request, reuse and steer with past threads, and answer."""
        kind = outcome.kind if outcome.kind != "plan" or outcome.actions else "clarify"
        match = None if reused else reuse.best_match(request.knowledge, intent, first, self.classifier)
        if kind in ("plan", "clarify") and match is not None and intent in BUILDERS and reuse.seed_of(match, intent) \
                and len(outcome.actions) <= 1:  # the thread's values where this request states none
            ctx.seed = {**reuse.seed_of(match, intent), **ctx.seed}
            rebuilt = BUILDERS[intent](ctx)
            if rebuilt.kind == "plan" and rebuilt.actions:
                outcome, kind = rebuilt, "plan"
        if kind == "plan":
            refused = self._uncovered(stated, outcome.actions)
            if refused:
                return PlanningResult(kind="unsupported", intent=intent, answer=refused, findings=suspicious,
                                      confidence=confidence)
        notes = list(dict.fromkeys(ctx.notes))
        actions = outcome.actions if kind in ("plan", "answer") else []
        reused = list(reused or [])
        if kind in ("plan", "answer") and actions:
            thread = next((h for h in request.knowledge if h.thread_id in reused), None) or match
            if thread is not None:
                reused = reused or [thread.thread_id]
                notes.append(f"Based on {reuse.where(thread)} (\"{thread.request}\"), adapted to the objects named "
                             "here and checked again.")
            steered = reuse.steer(request.knowledge, actions, offered=kind == "answer")
            actions, notes = steered.actions, [*notes, *steered.notes]
        answer = " ".join([outcome.answer, *notes]).strip()
        return PlanningResult(kind=kind,  # type: ignore[arg-type]
                              answer=answer, actions=actions, findings=[*suspicious, *outcome.findings],
                              intent=intent, reused_from=reused, confidence=round(confidence, 3))

    def _from_thread(self, thread: Any, request: PlanningRequest, grounder: Grounder,
                     text: str) -> tuple[str, Outcome] | None:
        """The named past thread's action, with its values, on the objects this request names."""
        intent = reuse.intent_of(thread, self.classifier)
        if intent not in BUILDERS or intent == "read-secret":
            return None
        own = re.sub(re.escape(thread.thread_id), " ", text, flags=re.I)
        ctx = Ctx(request=request, grounder=grounder, latest=own, values=[own, screen(thread.request).text],
                  names=[own], seed=reuse.seed_of(thread, intent))
        outcome = BUILDERS[intent](ctx)
        return (intent, outcome) if outcome.kind == "plan" and outcome.actions else None

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

    def _several(self, request: PlanningRequest, grounder: Grounder, texts: list[str], start: int) -> Outcome | None:
        """One plan of several steps when the newest turn joins several actions ("scale X and restart Y")."""
        if start != len(texts) - 1:
            return None
        parts = [p for p in split_steps(texts[-1]) if not incidental(p)]  # "take a snapshot first": the plan's own
        if len(parts) < 2:
            return None
        steps: list[tuple[str, str]] = []
        for part in parts:
            score = self.classifier.classify(part)
            merge = steps and (score.weak or score.intent not in BUILDERS or score.intent == "read-secret"
                               or (score.intent == steps[-1][1] and not self._other_object(grounder, steps[-1][0], part)))
            if merge:
                steps[-1] = (f"{steps[-1][0]} and {part}", steps[-1][1])
            else:
                steps.append((part, score.intent))
        if len(steps) < 2 or any(i not in BUILDERS or i == "read-secret" for _, i in steps):
            return None
        actions: list[ActionCall] = []
        answers: list[str] = []
        earlier = list(reversed(texts[:-1]))
        for index, (part, intent) in enumerate(steps, start=1):
            before = [p for p, _ in reversed(steps[:index - 1])]
            namespace = grounder.pick_namespace([part, *before], request.namespace).name
            if grounder.find([part], namespace).asked:  # the step names its own object: never another step's
                before = []
            sctx = Ctx(request=request, grounder=grounder, latest=part, values=[part], names=[part, *before, *earlier])
            outcome = BUILDERS[intent](sctx)
            if outcome.kind != "plan" or not outcome.actions:
                return Outcome.ask(f"Step {index} (\"{part}\"): {outcome.answer}")
            actions.extend(outcome.actions)
            answers.append(f"Step {index}: {outcome.answer}")
        return Outcome(actions, " ".join(answers))

    @staticmethod
    def _other_object(grounder: Grounder, before: str, part: str) -> bool:
        """Whether a step of the same kind names another object ("scale web to 3 and scale worker to 2")."""
        namespace = grounder.pick_namespace([part, before], "default").name
        one = grounder.find([before], namespace).ref
        two = grounder.find([part], namespace).ref
        return one is not None and two is not None and one != two

    def _uncovered(self, text: str, actions: list[ActionCall]) -> str | None:
        steps = [coverage.Step(a.action, _kinds(a)) for a in actions]
        return coverage.refusal(text, steps, [a.reason for a in actions])

    @staticmethod
    def _known_names(grounder: Grounder, namespace: str) -> list[str]:
        names = list(grounder.namespaces())
        names += [r.name for r in grounder.refs((("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"),
                                                 ("v1", "Service"), ("batch/v1", "CronJob")), namespace)]
        return names

    def _cannot(self, outside: Any, suspicious: list[str], confidence: float) -> PlanningResult:
        if outside is not None:
            answer = (f"I cannot do this: {outside.what} are outside what this operator changes. Instead: "
                      f"{outside.instead} Nothing was proposed.")
        else:
            answer = f"Sorry, I cannot help with that: it is not something I can map to an action. I can {CAPABILITIES}."
        return PlanningResult(kind="unsupported", intent=UNSUPPORTED, answer=answer, findings=suspicious,
                              confidence=confidence)


def _kinds(call: ActionCall) -> tuple[str, ...]:
    kind = call.params.get("kind")
    return (str(kind),) if isinstance(kind, str) else ()


def _seed(request: PlanningRequest, intent: str) -> dict[str, Any]:
    for call in request.previous_plan:
        if call.action == intent:
            return dict(call.params)
    return {}
