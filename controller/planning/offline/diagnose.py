"""Read-only diagnosis of a failing workload from status, events and logs.

Why here and not in a model: the reasons Kubernetes reports (CrashLoopBackOff, OOMKilled,
ImagePullBackOff, Unschedulable) are exact words; quoting them with the evidence (restart counts,
exit codes, event messages, log lines) is more useful than any paraphrase. A fix is proposed only
when the evidence makes it clear: OOMKilled -> raise the memory limit; a failing image pull with a
known-good earlier image -> go back to that image. Otherwise the diagnosis proposes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from controller.planning.offline import quantities
from controller.planning.offline.diagnose_more import (
    fit_requests,
    probe_finding,
    requests_text,
    scheduling_causes,
)
from controller.planning.offline.grounding import Grounder, Ref
from controller.planning.types import ActionCall

PULL_REASONS = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull")
DEFAULT_MEMORY_LIMIT = "512Mi"
_LOG_SIGNAL = re.compile(r"error|fatal|panic|exception|fail|refused|denied|not found|missing|killed|timeout|cannot|"
                         r"can't|unable|invalid|traceback", re.I)


@dataclass
class Diagnosis:
    answer: str
    findings: list[str] = field(default_factory=list)
    actions: list[ActionCall] = field(default_factory=list)


@dataclass
class _PodReport:
    name: str
    lines: list[str] = field(default_factory=list)
    reasons: set[str] = field(default_factory=set)
    failing_images: dict[str, str] = field(default_factory=dict)  # container -> image
    oom_containers: set[str] = field(default_factory=set)
    events: list[dict[str, Any]] = field(default_factory=list)
    pull_errors: list[str] = field(default_factory=list)


def diagnose(grounder: Grounder, namespace: str, target: Ref | None,
             pods: list[dict[str, Any]] | None = None) -> Diagnosis:
    """Diagnose `target` (a workload) or, without one, every pod of the namespace that is unwell."""
    if pods is None:
        pods = grounder.pods_of(target) if target else grounder.objects("v1", "Pod", namespace)
    subject = f"{target.kind} {target.label}" if target else f"namespace {namespace}"
    reports = [_inspect_pod(grounder, namespace, pod) for pod in pods]
    unwell = [r for r in reports if r.lines]
    findings: list[str] = []
    events = _workload_events(grounder, namespace, target) if target else []
    events = _workload_conditions(target) + events if target else events
    if not pods:
        text = f"I found no pods for {subject}."
        if target:
            replicas = target.obj.get("spec", {}).get("replicas")
            text += f" Its spec asks for {replicas} replica(s)." if replicas is not None else ""
        findings.extend(events)
        if events:
            text += " Events: " + "; ".join(events)
        return Diagnosis(text, findings)
    if not unwell:
        return Diagnosis(f"I found no problem with {subject}: " + ", ".join(
            f"pod {p['metadata']['name']} is {p.get('status', {}).get('phase', 'Unknown')}" for p in pods[:6]) + ".",
            events)
    for report in unwell:
        findings.extend(f"pod {report.name}: {line}" for line in report.lines)
    findings.extend(events)
    reasons = sorted({r for rep in unwell for r in rep.reasons})
    answer = f"Diagnosis of {subject}: " + " ".join(
        f"Pod {rep.name}: {'; '.join(rep.lines)}." for rep in unwell[:4])
    if reasons:
        answer = f"{subject} is failing with {', '.join(reasons)}. " + answer
    actions: list[ActionCall] = []
    pending = [p for p, r in zip(pods, reports, strict=True)
               if (p.get("status") or {}).get("phase") == "Pending" and r.reasons & {"FailedScheduling", "Unschedulable"}]
    if pending and (asked := requests_text(target, pending[0])):
        answer += f" The pods ask for: {asked}."
    if target is not None:
        probes = probe_finding(target, [ev for r in unwell for ev in r.events])
        if probes.lines:
            answer += " " + " ".join(probes.lines)
        actions, fix_text = _propose_fix(grounder, target, unwell)
        if not actions and probes.actions:
            actions, fix_text = probes.actions, " ".join(probes.fixes)
        scheduling = " ".join(str(e.get("message", "")) for r in unwell for e in r.events
                              if e.get("reason") == "FailedScheduling")
        fit = fit_requests(grounder, target, scheduling) if not actions and scheduling else None
        if fit is not None and fit.actions:
            actions, fix_text = fit.actions, " ".join([*fit.lines, *fit.fixes])
        if fix_text:
            answer += " " + fix_text
    return Diagnosis(answer, findings, actions)


def _inspect_pod(grounder: Grounder, namespace: str, pod: dict[str, Any]) -> _PodReport:
    meta, status = pod.get("metadata", {}), pod.get("status", {}) or {}
    report = _PodReport(str(meta.get("name", "")))
    phase = status.get("phase", "")
    if phase in ("Pending", "Failed", "Unknown"):
        report.lines.append(f"phase {phase}")
        report.reasons.add(phase)
    for cond in status.get("conditions") or []:
        if cond.get("status") == "False" and cond.get("reason") in ("Unschedulable", "ContainersNotReady") and (
            cond.get("reason") == "Unschedulable" or phase == "Pending"
        ):
            report.lines.append(f"{cond.get('type')} is False: {cond.get('reason')}"
                                + (f" - {cond.get('message')}" if cond.get("message") else ""))
            report.reasons.add(str(cond.get("reason")))
    if status.get("reason"):
        report.lines.append(f"{status.get('reason')}: {status.get('message', '')}".rstrip(": "))
        report.reasons.add(str(status.get("reason")))
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if phase == "Running" and ready is not None and ready.get("status") == "False":
        report.lines.append(f"Running but not ready ({ready.get('reason', 'NotReady')}"
                            + (f": {ready.get('message')}" if ready.get("message") else "") + ")")
        report.reasons.add("NotReady")
    statuses = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    for cs in statuses:
        _inspect_container(report, cs)
    restarted = any((cs.get("restartCount") or 0) > 0 for cs in statuses)
    if report.lines or restarted:
        for ev in grounder.events(namespace, report.name):
            if ev.get("type") == "Warning" or ev.get("reason") in ("BackOff", "Failed", "FailedScheduling", "OOMKilling"):
                report.events.append(ev)
                message = str(ev.get("message", ""))
                line = f"event {ev.get('reason')}: {message}"
                if ev.get("count"):
                    line += f" (x{ev.get('count')})"
                report.lines.append(line)
                if ev.get("reason") == "FailedScheduling":
                    report.lines.extend(f"cause: {c}" for c in scheduling_causes(message))
                    report.reasons.add("FailedScheduling")
                if ev.get("reason") in ("Failed", "ErrImagePull") and "pull" in message.lower():
                    report.pull_errors.append(message)
        for previous in (True, False):
            logs = _log_excerpt(grounder, namespace, report.name, previous)
            if logs:
                report.lines.append(f"{'previous' if previous else 'current'} logs: {logs}")
    return report


def _inspect_container(report: _PodReport, cs: dict[str, Any]) -> None:
    name = cs.get("name", "?")
    restarts = cs.get("restartCount") or 0
    state = cs.get("state") or {}
    last = (cs.get("lastState") or {}).get("terminated") or {}
    waiting = state.get("waiting") or {}
    terminated = state.get("terminated") or {}
    parts: list[str] = []
    if waiting.get("reason") and waiting.get("reason") not in ("ContainerCreating", "PodInitializing"):
        parts.append(f"waiting with reason {waiting['reason']}" + (f" ({waiting['message']})" if waiting.get("message") else ""))
        report.reasons.add(str(waiting["reason"]))
        if waiting["reason"] in PULL_REASONS:
            report.failing_images[name] = str(cs.get("image", ""))
    if terminated and (terminated.get("reason") != "Completed" or terminated.get("exitCode")):
        parts.append(f"terminated with reason {terminated.get('reason', '?')}, exit code {terminated.get('exitCode', '?')}")
        report.reasons.add(str(terminated.get("reason", "Terminated")))
        if terminated.get("reason") == "OOMKilled":
            report.oom_containers.add(name)
    if last:
        parts.append(f"last terminated with reason {last.get('reason', '?')}, exit code {last.get('exitCode', '?')}"
                     + (f" ({last['message']})" if last.get("message") else ""))
        report.reasons.add(str(last.get("reason", "Terminated")))
        if last.get("reason") == "OOMKilled":
            report.oom_containers.add(name)
    if restarts:
        parts.append(f"restartCount {restarts}")
    if parts and (waiting or last or terminated or restarts):
        report.lines.append(f"container {name} " + ", ".join(parts))


def _log_excerpt(grounder: Grounder, namespace: str, pod: str, previous: bool) -> str:
    try:
        text = grounder.cluster.logs(namespace, pod, previous=previous, tail_lines=50)
    except Exception:
        return ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return ""
    signal = [ln for ln in lines if _LOG_SIGNAL.search(ln)]
    chosen = (signal or lines)[-3:]
    return " | ".join(f'"{ln[:200]}"' for ln in chosen)


def _workload_events(grounder: Grounder, namespace: str, target: Ref | None) -> list[str]:
    if target is None:
        return []
    out = []
    for ev in grounder.events(namespace, target.name):
        if ev.get("type") == "Warning":
            out.append(f"event on {target.kind} {target.name} {ev.get('reason')}: {ev.get('message', '')}")
    return out


def _workload_conditions(target: Ref) -> list[str]:
    """Conditions that explain missing pods (ReplicaFailure: quota exceeded, Available False...)."""
    out = []
    for cond in (target.obj.get("status") or {}).get("conditions") or []:
        bad = cond.get("type") == "ReplicaFailure" or (
            cond.get("type") in ("Available", "Progressing") and cond.get("status") == "False")
        if bad:
            out.append(f"{target.kind} {target.name} condition {cond.get('type')}={cond.get('status')}: "
                       f"{cond.get('reason', '')} {cond.get('message', '')}".rstrip())
    return out


def _containers(ref: Ref) -> list[dict[str, Any]]:
    spec = ref.obj.get("spec", {}).get("template", {}).get("spec", {})
    return list(spec.get("containers") or [])


def _propose_fix(grounder: Grounder, target: Ref, unwell: list[_PodReport]) -> tuple[list[ActionCall], str]:
    oom = sorted({c for r in unwell for c in r.oom_containers})
    containers = _containers(target)
    if oom and target.kind in ("Deployment", "StatefulSet"):
        name = oom[0]
        spec = next((c for c in containers if c.get("name") == name), containers[0] if containers else {})
        res = spec.get("resources") or {}
        current = (res.get("limits") or {}).get("memory")
        request = (res.get("requests") or {}).get("memory")
        new = DEFAULT_MEMORY_LIMIT
        basis = f"no memory limit is set, so I propose {new}"
        if current and (mib := quantities.parse_quantity_mi(str(current))):
            new = quantities.format_mi(mib * 2)
            basis = f"double the current limit {current}"
        elif request and (mib := quantities.parse_quantity_mi(str(request))):
            new = quantities.format_mi(max(mib * 2, 512))
            basis = f"no limit is set; twice the request {request}"
        params: dict[str, Any] = {"kind": target.kind, "name": target.name, "namespace": target.namespace,
                                  "limits": {"memory": new}}
        if len(containers) > 1:
            params["container"] = spec.get("name", name)
        text = (f"Proposed fix: raise the memory limit of {target.kind} {target.label} container "
                f"{spec.get('name', name)} to {new} ({basis}), because it was OOMKilled.")
        return [ActionCall(action="set-resources", params=params, reason="container was OOMKilled")], text
    failing = {c: img for r in unwell for c, img in r.failing_images.items()}
    if failing and target.kind in ("Deployment", "StatefulSet"):
        container, bad = next(iter(failing.items()))
        good = _previous_good_image(grounder, target, container, bad)
        errors = [e for r in unwell for e in r.pull_errors]
        why = _pull_cause(bad, errors)
        if good:
            params = {"kind": target.kind, "name": target.name, "namespace": target.namespace, "image": good}
            if len(containers) > 1:
                params["container"] = container
            text = (f"{why} Proposed fix: set the image of {target.kind} {target.label} container {container} back to "
                    f"{good} (the last image that ran).")
            return [ActionCall(action="set-image", params=params, reason=f"image {bad} cannot be pulled")], text
        return [], f"{why} Check the tag and the registry credentials (no earlier image is known to go back to)."
    return [], ""


def _previous_good_image(grounder: Grounder, target: Ref, container: str, bad: str) -> str | None:
    """An image that ran before: older ReplicaSets of the Deployment, or healthy pods of the workload."""
    candidates: list[tuple[int, str]] = []
    for rs in grounder.objects("apps/v1", "ReplicaSet", target.namespace):
        meta = rs.get("metadata", {})
        owners = [o.get("name") for o in meta.get("ownerReferences") or []]
        if target.name not in owners and not str(meta.get("name", "")).startswith(target.name + "-"):
            continue
        revision = int((meta.get("annotations") or {}).get("deployment.kubernetes.io/revision", "0") or 0)
        for c in rs.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []:
            if c.get("name") == container and c.get("image") and c.get("image") != bad:
                candidates.append((revision, str(c["image"])))
    if candidates:
        return sorted(candidates, reverse=True)[0][1]
    for pod in grounder.pods_of(target):
        for cs in pod.get("status", {}).get("containerStatuses") or []:
            if cs.get("name") == container and cs.get("ready") and cs.get("image") and cs.get("image") != bad:
                return str(cs["image"])
    return None


def _pull_cause(image: str, errors: list[str]) -> str:
    """Which tag of which repository failed, and what the registry said."""
    repo, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
    text = " ".join(errors).lower()
    if re.search(r"not found|manifest unknown|notfound", text):
        said = "the registry has no such tag (not found)"
    elif re.search(r"unauthorized|denied|forbidden|authentication required", text):
        said = "the registry refused the credentials (unauthorized)"
    elif re.search(r"no such host|i/o timeout|connection refused|dial tcp", text):
        said = "the registry cannot be reached"
    else:
        said = "it cannot be pulled"
    return f"The image {image} (repository {repo}, tag {tag or 'latest'}) cannot be pulled: {said}."
