"""The planning pipeline: from the person's words to a plan revision that can be approved.

Steps 1-4 of DESIGN.md. The backend's answer is untrusted: each action call is validated against
the catalog, checked against policy, rendered by the catalog (never by the backend), previewed with
a server-side dry-run *as the requester* (so the API server's schema validation, admission and RBAC
speak), and every permission it needs is checked with a SubjectAccessReview as the requester. The
revision's digest covers exactly what will be committed and applied, and the state of every
target it was made against, so approving a digest is approving those bytes against that state.

Who shapes a plan: only the requester's turns, unless the operator accepts collaborators; then
every author whose turns shaped the plan must hold every permission it needs (no one gets a change
through someone else's rights). A permission check that fails for a transient reason (503, 429,
unreachable) raises `Transient`: planning is retried, never answered with "not allowed".
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from controller.adapters.kube import Invalid, Kube, KubeError, NotFound
from controller.api.constants import LABEL_THREAD
from controller.api.types import (
    ConversationSpec,
    Identity,
    ObjectRef,
    Permission,
    PlannedAction,
    PlannedSnapshot,
    PlanRevision,
    TargetState,
    Turn,
)
from controller.catalog.base import CatalogError, Rendered, describe_ref, unique_permissions
from controller.catalog.registry import validate_call
from controller.cloud.graph import groups_line
from controller.cloud.permissions import CloudCheck, check_plan
from controller.cloud.seam import NO_CLOUD, CloudAccess, CloudTransient
from controller.engine.errors import Transient, transient_from
from controller.engine.live import LiveClusterReader
from controller.engine.snapshots import Snapshots, merge_planned
from controller.engine.targets import observe
from controller.knowledge.base import KnowledgeStore
from controller.planning import coverage
from controller.planning.references import referenced_threads
from controller.planning.types import ActionCall, Backend, PlanningRequest, PlanningResult
from controller.policy import PolicySettings, evaluate
from controller.redact import redact_object, redact_text
from controller.textclean import clean_text
from controller.workflow import machine as m
from renderer.diff import apply_preview, deletion_diff, unified_diff
from renderer.graph import workflow_dot

log = logging.getLogger("aiop.planning")


@dataclass(frozen=True)
class ThreadView:
    """What planning needs to know about the conversation object."""

    thread_id: str
    namespace: str
    name: str
    spec: ConversationSpec
    revisions: list[PlanRevision]


@dataclass
class Proposal:
    event: m.Event
    revision: PlanRevision
    message: str
    missing: list[Permission] = field(default_factory=list)


CONTEXT_TURNS = 20  # turns given to a planner: the first (the request) and the latest ones


def plan_digest(thread_id: str, revision: int, actions: list[dict[str, Any]], manifests: list[dict[str, Any]],
                deletes: list[dict[str, Any]], targets: list[dict[str, Any]] | None = None,
                snapshots: list[dict[str, Any]] | None = None) -> str:
    """sha256 over the canonical JSON of exactly what would run (snapshots first, when the plan takes any)
    and the state it was planned against."""
    content: dict[str, Any] = {"thread": thread_id, "revision": revision, "actions": actions,
                               "manifests": manifests, "deletes": deletes, "targets": targets or []}
    if snapshots:
        content["snapshots"] = snapshots
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def shaping_turns(spec: ConversationSpec, upto: int, collaborators: bool) -> tuple[list[tuple[int, Turn]], list[str]]:
    """The turns (1-based index, turn) that may shape the plan, and everyone who wrote one of them."""
    requester = spec.requester.user
    chosen = []
    for index, turn in enumerate(spec.turns[: max(upto, 1)], start=1):
        author = turn.author.user if turn.author else requester
        if author == requester or collaborators:
            chosen.append((index, turn))
    authors = sorted({(t.author.user if t.author else requester) for _, t in chosen} or {requester})
    return chosen, authors


def planning_context(texts: list[str]) -> list[str]:
    """What a planner reads: the first turn and the latest ones (a 500-turn thread plans as fast as a short one)."""
    if len(texts) <= CONTEXT_TURNS:
        return texts
    return [texts[0], *texts[-(CONTEXT_TURNS - 1):]]


def labelled(manifest: dict[str, Any], thread_id: str) -> dict[str, Any]:
    """A copy of the manifest carrying the thread's label, so objects say which thread last wrote them."""
    out: dict[str, Any] = json.loads(json.dumps(manifest))
    labels = out.setdefault("metadata", {}).setdefault("labels", {}) or {}
    labels[LABEL_THREAD] = thread_id[:63]
    out["metadata"]["labels"] = labels
    return out


class Planner:
    """Runs one planning round for a thread."""

    def __init__(self, backend: Backend, kube: Kube, knowledge: KnowledgeStore, policy: PolicySettings,
                 field_manager: str = "ai-operator", allow_collaborators: bool = False,
                 cloud: CloudAccess | None = None, snapshots: Snapshots | None = None) -> None:
        self.backend = backend
        self.cloud = cloud or NO_CLOUD  # the cloud half: reads for planners, cloud permission checks
        self.kube = kube
        self.knowledge = knowledge
        self.policy = policy
        self.field_manager = field_manager
        self.allow_collaborators = allow_collaborators
        self.snapshots = snapshots  # issue 14: resolves the data each step puts at risk to a snapshot

    # ----------------------------------------------------------------------------- entry point

    def propose(self, thread: ThreadView, turn: int, feedback: str, now: str) -> Proposal:
        spec = thread.spec
        requester = spec.requester
        chosen, authors = shaping_turns(spec, turn, self.allow_collaborators)
        turns = [redact_text(clean_text(text)) for text in planning_context([t.text for _, t in chosen])] or [""]
        latest = turns[-1]
        revision_no = (thread.revisions[-1].revision if thread.revisions else 0) + 1
        hits = self._search(latest)
        previous = thread.revisions[-1] if thread.revisions else None
        request = PlanningRequest(
            thread_id=thread.thread_id, turns=turns, feedback=redact_text(feedback), requester=requester,
            namespace=thread.namespace, context=spec.context.value if spec.context else None, knowledge=hits,
            preferences=self._preferences(requester.user),
            previous_plan=[ActionCall(action=a.action, params=a.params) for a in previous.actions] if previous else [],
        )
        reader = LiveClusterReader(self.kube.as_user(requester), self.cloud)
        result = self._ask_backend(request, reader)
        return self._build(thread, revision_no, turn, latest, result, reader, requester, now, authors)

    def _search(self, text: str) -> list[Any]:
        """The search hits, after the threads the request names by id (fetched whatever their rank)."""
        try:
            hits = self.knowledge.search(text, top_k=5)
        except Exception as exc:  # the store being down must not stop planning
            log.warning("knowledge search failed", extra={"error": str(exc)})
            hits = []
        known = {h.thread_id for h in hits}
        named = []
        for candidate in referenced_threads(text):
            for thread_id in dict.fromkeys((candidate, candidate.lower())):
                if thread_id in known:
                    break
                try:
                    hit = self.knowledge.get(thread_id)
                except Exception as exc:  # as above: planning goes on without it
                    log.warning("knowledge lookup failed", extra={"thread": thread_id, "error": str(exc)})
                    break
                if hit is not None:
                    named.append(hit)
                    known.add(hit.thread_id)
                    break
        return [*named, *hits]

    def _preferences(self, user: str) -> dict[str, Any]:
        """The requester's defaults from their past plans and explicit choices (box #20 of the seed)."""
        try:
            return dict(self.knowledge.preferences(user))
        except Exception as exc:  # preferences only inform a plan; their absence must not stop it
            log.warning("knowledge preferences failed", extra={"error": str(exc)})
            return {}

    def _ask_backend(self, request: PlanningRequest, reader: LiveClusterReader) -> PlanningResult:
        try:
            return self.backend.propose(request, reader)
        except Exception as exc:
            log.exception("backend failed", extra={"backend": getattr(self.backend, "name", "?")})
            return PlanningResult(kind="unsupported",
                                  answer=f"The planner ({getattr(self.backend, 'name', '?')}) failed: {exc}. "
                                         "Nothing was proposed; try again or rephrase.")

    # --------------------------------------------------------------------------------- build

    def _build(self, thread: ThreadView, revision_no: int, turn: int, latest: str, result: PlanningResult,
               reader: LiveClusterReader, requester: Identity, now: str, authors: list[str]) -> Proposal:
        validated, problems = [], []
        for call in result.actions:
            try:
                validated.append((call, *validate_call(call)))
            except CatalogError as exc:
                problems.append(str(exc))
        targets = [(spec.name, spec.targets(params, reader)) for _call, spec, params in validated]
        verdict = evaluate(latest, targets, self.policy)
        findings = list(result.findings) + [f"suspicious: {s}" for s in verdict.suspicious
                                            if f"suspicious: {s}" not in result.findings]
        suspicious = "; ".join(s for s in findings if s.startswith("suspicious:"))

        if not verdict.allowed:
            return self._rejected(thread, revision_no, turn, result, validated, targets, verdict.summary(),
                                  findings, now)

        # --- plan vs request (issue 13 §2; controller/planning/coverage.py): a plan that does not touch what
        # the request names (an Ingress asked, a NetworkPolicy planned) is refused with the reason, whatever
        # backend proposed it. Read-only answers that offer a fix are not judged against the words.
        if result.kind == "plan" and validated:
            refusal = coverage.refusal(latest, [coverage.Step(spec.name, tuple(r.kind for r in refs))
                                                for (_c, spec, _p), (_n, refs) in zip(validated, targets, strict=True)],
                                       [spec.title(params, reader) for _c, spec, params in validated])
            if refusal:
                result = result.model_copy(update={"kind": "unsupported", "answer": refusal, "actions": []})
                validated, targets = [], []
        # --- end plan vs request

        actions: list[PlannedAction] = []
        manifests: list[dict[str, Any]] = []
        deletes: list[ObjectRef] = []
        notes: list[str] = list(problems)
        missing: list[Permission] = []
        restore_warnings: list[str] = []
        snapshots: list[PlannedSnapshot] = []
        takes_over: dict[str, list[str]] = {}
        shapers = [requester] + [Identity(user=a) for a in authors if a != requester.user]
        as_requester = self.kube.as_user(requester)
        for index, (_call, spec, params) in enumerate(validated, start=1):
            try:
                rendered: Rendered = spec.render(params, reader, now=now)
            except CatalogError as exc:
                notes.append(str(exc))
                continue
            if rendered.empty and not rendered.deferred:
                notes.extend(rendered.notes)
                continue
            stamped = [labelled(mf, thread.thread_id) for mf in rendered.manifests]
            diffs, invalid = self._preview(as_requester, reader, stamped, rendered.deletes, takes_over)
            if invalid:
                notes.extend(invalid)
                continue
            # --- data at risk (issue 14; controller/engine/snapshots.py): what the step can lose is snapshotted
            # before the first change, and the plan shows how; a step whose required snapshot cannot be taken
            # is not offered
            at_risk = spec.data_at_risk(params, reader) if self.snapshots is not None else []
            planned = self.snapshots.plan(thread.thread_id, f"a{index}", at_risk) if self.snapshots and at_risk else []
            impossible = [p for p in planned if p.required and p.provider == "none"]
            if impossible:
                notes.append(f"{spec.title(params, reader)}: not offered, because it needs a snapshot first and none "
                             "can be taken: " + "; ".join(p.describe() for p in impossible))
                continue
            snapshots.extend(planned)
            # --- end data at risk
            perms = spec.permissions(params, reader)
            for who in shapers:
                missing.extend(self._missing_for(who, p, requester) for p in perms if not self._allowed(who, p))
            for p in spec.restore_permissions(params, reader):
                if not self._allowed(requester, p):
                    restore_warnings.append(f"restore would need: {p.describe()}")
            manifests.extend(stamped)
            deletes.extend(rendered.deletes)
            notes.extend(rendered.notes)
            target = (spec.targets(params, reader) or [ObjectRef(api_version="v1", kind="Unknown")])[0]
            actions.append(PlannedAction(
                id=f"a{index}", action=spec.name, title=spec.title(params, reader),
                params=params.model_dump(mode="json", exclude_none=True), target=target,
                risk=spec.risk_of(params, reader), mutating=spec.mutating, permissions=perms,
                backup=spec.backup(params, reader), restore=spec.restore(params, reader),
                verify=spec.verify(params, reader),
                diff="\n".join(diffs) or "\n".join(f"# {n}" for n in rendered.notes), deferred=rendered.deferred))

        # The cloud half (controller/cloud/permissions.py): what ACK's role / ASO's identity lack for these
        # manifests (a transient cloud error is retried), and the requester's Entra ID group names.
        cloud_check = self._cloud_check(manifests, reader)
        findings += [f"cloud: {n}" for n in cloud_check.notes]
        groups = groups_line(self.cloud.directory, list(requester.groups))
        if groups:
            findings.append(f"requester {requester.user}: {groups}")
        mutating = any(a.mutating for a in actions)
        answer = result.answer.strip()
        if notes and not actions:
            answer = (answer + "\n\n" if answer else "") + "I cannot propose a change: " + "; ".join(notes)
        states = self._target_states(manifests, deletes, actions, takes_over, reader) if mutating else []
        snapshots = merge_planned(snapshots) if mutating else []
        digest = plan_digest(thread.thread_id, revision_no,
                             [{"action": a.action, "params": a.params} for a in actions], manifests,
                             [d.wire() for d in deletes], [t.wire() for t in states], [p.wire() for p in snapshots])
        revision = PlanRevision(
            revision=revision_no, digest=digest, based_on_turn=max(turn, 1), summary=self._summary(actions, result),
            answer=answer, mutating=mutating, actions=actions, graph=workflow_dot(self._steps(actions)),
            findings=findings + [f"note: {n}" for n in notes if n not in answer], reused_from=result.reused_from,
            manifests=manifests, deletes=deletes, restore_warnings=restore_warnings,
            backend=getattr(self.backend, "name", ""), ai_calls=list(result.calls), created_at=now,
            targets=states, shaped_by=authors, snapshots=snapshots)
        missing = unique_permissions(missing)
        if missing or cloud_check.missing:
            message = answer
            if missing:
                lines = "\n".join(f"- {p.describe()}" for p in missing)
                message += (f"\n\nYou are missing permissions this plan needs, so nothing can run:\n{lines}\n"
                            "Ask a cluster admin to grant them (admins have been alerted).")
            if cloud_check.missing:
                message += "\n\n" + cloud_check.message()
            described = tuple(p.describe() for p in missing) + tuple(cloud_check.missing_lines())
            return Proposal(m.PermissionsMissing(revision_no, digest, described), revision, message.strip(), missing)
        if result.kind == "clarify" and not actions:
            return Proposal(m.QuestionAsked(revision_no, digest, answer), revision, answer)
        message = self._message(revision)
        return Proposal(m.PlanProposed(revision_no, digest, mutating, suspicious=suspicious), revision, message)

    def _cloud_check(self, manifests: list[dict[str, Any]], reader: LiveClusterReader) -> CloudCheck:
        try:
            return check_plan(self.cloud, manifests, reader.get)
        except CloudTransient as exc:
            raise Transient(f"checking cloud permissions: {exc}") from exc

    def _rejected(self, thread: ThreadView, revision_no: int, turn: int, result: PlanningResult,
                  validated: list[Any], targets: list[tuple[str, list[ObjectRef]]], reason: str,
                  findings: list[str], now: str) -> Proposal:
        actions = []
        for index, ((_call, spec, params), (_name, refs)) in enumerate(zip(validated, targets, strict=True), start=1):
            actions.append(PlannedAction(
                id=f"a{index}", action=spec.name, title=f"REFUSED: {spec.name} " + ", ".join(describe_ref(r) for r in refs),
                params=params.model_dump(mode="json", exclude_none=True),
                target=refs[0] if refs else ObjectRef(api_version="v1", kind="Unknown"),
                risk="high", mutating=False))
        digest = plan_digest(thread.thread_id, revision_no, [{"refused": reason}], [], [])
        message = f"I will not do this: {reason}. Nothing was changed, and the cluster admins have been alerted."
        revision = PlanRevision(revision=revision_no, digest=digest, based_on_turn=max(turn, 1),
                                summary="Refused by policy", answer=message, mutating=False, actions=actions,
                                findings=findings, backend=getattr(self.backend, "name", ""),
                                ai_calls=list(result.calls), created_at=now)
        return Proposal(m.PolicyRejected(reason=reason), revision, message)

    # ------------------------------------------------------------------------------- helpers

    def _preview(self, as_requester: Kube, reader: LiveClusterReader, manifests: list[dict[str, Any]],
                 deletes: list[ObjectRef], takes_over: dict[str, list[str]]) -> tuple[list[str], list[str]]:
        """Diffs of each manifest against the live object, from a server-side dry-run apply.

        The dry run is not forced: fields another manager owns come back as conflicts, which the plan
        lists (`takesOver`) so that approving it approves taking them over, and nothing else.
        """
        diffs, invalid = [], []
        for manifest in manifests:
            meta = manifest["metadata"]
            live = reader.get(manifest["apiVersion"], manifest["kind"], meta["name"], meta.get("namespace"))
            name = f"{manifest['kind']}/{meta.get('namespace', '')}/{meta['name']}".replace("//", "/")
            try:
                desired = self._dry_run(as_requester, manifest, takes_over)
            except Invalid as exc:
                invalid.append(f"{name} is invalid: {exc.message}")
                continue
            except KubeError as exc:
                if exc.transient:
                    raise transient_from(exc, f"previewing {name}") from exc
                desired = apply_preview(live, manifest)
            diffs.append(unified_diff(live, redact_object(desired), name))
        for ref in deletes:
            live = reader.get(ref.api_version, ref.kind, ref.name, ref.namespace or None)
            if live is not None:
                diffs.append(deletion_diff(live, describe_ref(ref)))
        return diffs, invalid

    def _dry_run(self, as_requester: Kube, manifest: dict[str, Any],
                 takes_over: dict[str, list[str]]) -> dict[str, Any]:
        try:
            return as_requester.apply(manifest, self.field_manager, dry_run=True, force=False)
        except KubeError as exc:
            if not exc.field_conflicts:
                raise
            meta = manifest["metadata"]
            key = ObjectRef(api_version=manifest["apiVersion"], kind=manifest["kind"], name=meta["name"],
                            namespace=meta.get("namespace") or "").key()
            takes_over.setdefault(key, []).extend(c for c in exc.field_conflicts if c not in takes_over.get(key, []))
            return as_requester.apply(manifest, self.field_manager, dry_run=True, force=True)

    def _target_states(self, manifests: list[dict[str, Any]], deletes: list[ObjectRef],
                       actions: list[PlannedAction], takes_over: dict[str, list[str]],
                       planned_from: LiveClusterReader) -> list[TargetState]:
        """Each target's state as the plan was made against it: the first state the planner read of it
        (a later read may already show another thread's write, and the plan would record a state it was
        not made against), else read now with the operator's rights (redacted), as execution will read it."""
        refs: dict[str, ObjectRef] = {}
        for manifest in manifests:
            meta = manifest["metadata"]
            ref = ObjectRef(api_version=manifest["apiVersion"], kind=manifest["kind"], name=meta["name"],
                            namespace=meta.get("namespace") or "")
            refs.setdefault(ref.key(), ref)
        for ref in [*deletes, *(a.target for a in actions if a.mutating and a.target.name)]:
            refs.setdefault(ref.key(), ref)

        def read(ref: ObjectRef) -> dict[str, Any] | None:
            if ref.key() in planned_from.first_seen:
                return planned_from.first_seen[ref.key()]
            try:
                live = self.kube.get(ref.api_version, ref.kind, ref.name, ref.namespace or None)
            except NotFound:  # the kind itself is not served (a CRD not installed)
                return None
            except KubeError as exc:
                if exc.transient:
                    raise transient_from(exc, f"reading {ref.key()}") from exc
                raise
            return redact_object(live) if live is not None else None

        return observe(manifests, list(refs.values()), read, takes_over)

    def _allowed(self, who: Identity, p: Permission) -> bool:
        """A SubjectAccessReview as `who`; a transient failure is retried, never a refusal."""
        try:
            allowed, _reason = self.kube.can_i(who, p.verb, p.group, p.resource, p.namespace, p.name, p.subresource)
            return allowed
        except KubeError as exc:
            if exc.transient:
                raise transient_from(exc, f"checking whether {who.user} may {p.describe()}") from exc
            log.warning("access review refused", extra={"error": exc.message})
            return False

    @staticmethod
    def _missing_for(who: Identity, p: Permission, requester: Identity) -> Permission:
        """The missing permission, naming the collaborator who lacks it when that is not the requester."""
        return p if who.user == requester.user else p.model_copy(update={"user": who.user})

    @staticmethod
    def _summary(actions: list[PlannedAction], result: PlanningResult) -> str:
        if actions:
            return "; ".join(a.title for a in actions)
        return {"answer": "Answer", "clarify": "Question", "unsupported": "Cannot do this"}.get(result.kind, "Answer")

    @staticmethod
    def _steps(actions: list[PlannedAction]) -> list[dict[str, Any]]:
        return [{"id": a.id, "title": a.title, "risk": a.risk, "mutating": a.mutating} for a in actions]

    @staticmethod
    def _message(revision: PlanRevision) -> str:
        parts = [revision.answer] if revision.answer else []
        if revision.mutating:
            steps = "\n".join(f"{i}. {a.title} (risk {a.risk})" for i, a in enumerate(revision.actions, start=1))
            parts.append(f"Plan revision {revision.revision}:\n{steps}")
            if revision.reused_from:
                parts.append("Built on past thread(s): " + ", ".join(revision.reused_from))
            if revision.snapshots:
                parts.append("Before running:\n" + "\n".join(f"- {s.describe()}" for s in revision.snapshots))
            if revision.restore_warnings:
                parts.append("Warning: " + "; ".join(revision.restore_warnings))
            parts.append(f"Nothing runs until you approve revision {revision.revision} (digest {revision.digest}).")
        return "\n\n".join(p for p in parts if p).strip() or revision.summary
