"""More diagnosis (issue 13 §5): Services without endpoints, PVCs stuck Pending, failing probes,
unschedulable pods, unpullable images — each naming the cause and, when the catalog can express the
fix, offering it.

Why these read objects besides pods: the cause is often one object away. A Service with no
endpoints is a selector that matches no pod (fix: select the pods of the workload it was meant for)
or pods that are not ready (then the probes say why). A readiness probe that fails with "connection
refused" on a port the container does not listen on is a wrong probe port (fix: point it at the
container's port); one that fails with a 503 is the application saying it is not ready (the logs
say why; no fix the catalog can make). A PVC stuck Pending names its StorageClass; an
unschedulable pod's FailedScheduling event names the resource, taint or selector no node satisfies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from controller.kubevalues import quantity
from controller.planning.offline.grounding import Grounder, Ref
from controller.planning.types import ActionCall

SCHEDULING_CAUSES: list[tuple[str, str]] = [
    (r"(\d+) Insufficient (cpu|memory|ephemeral-storage|[\w./-]+)",
     "{0} node(s) lack enough free {1} for the pod's requests"),
    (r"(\d+) node\(s\) had untolerated taint \{([^}]*)\}", "{0} node(s) have the taint {{{1}}} the pod does not tolerate"),
    (r"(\d+) node\(s\) didn't match Pod's node affinity/selector", "{0} node(s) do not match the pod's node selector/affinity"),
    (r"(\d+) node\(s\) had volume node affinity conflict", "{0} node(s) cannot reach the pod's volume (zone)"),
    (r"pod has unbound immediate PersistentVolumeClaims", "a volume claim of the pod is not bound"),
    (r"(\d+) node\(s\) were unschedulable", "{0} node(s) are cordoned"),
    (r"(\d+) Too many pods", "{0} node(s) are full (pod count)"),
]
_PROBE_FAIL = re.compile(r"(Readiness|Liveness|Startup) probe failed: (.*)", re.I)


@dataclass
class Finding:
    lines: list[str] = field(default_factory=list)
    actions: list[ActionCall] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)


def _labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _template_labels(ref: Ref) -> dict[str, str]:
    return dict(((ref.obj.get("spec", {}).get("template", {}) or {}).get("metadata") or {}).get("labels") or {})


def service_finding(grounder: Grounder, service: Ref, workloads: list[Ref]) -> Finding:
    """Why a Service has no (ready) endpoints, with a selector fix when its selector matches no pod."""
    out = Finding()
    selector: dict[str, str] = dict((service.obj.get("spec") or {}).get("selector") or {})
    pods = grounder.objects("v1", "Pod", service.namespace)
    if not selector:
        out.lines.append(f"Service {service.label} has no selector, so Kubernetes gives it no endpoints "
                         "(it needs manually managed Endpoints).")
        return out
    shown = ", ".join(f"{k}={v}" for k, v in selector.items())
    matching = [p for p in pods if _labels_match(selector, (p.get("metadata") or {}).get("labels") or {})]
    if matching:
        ready = [p for p in matching if _ready(p)]
        if not ready:
            out.lines.append(f"Service {service.label} selects {len(matching)} pod(s) ({shown}) but none is ready, so it "
                             "has no ready endpoints and gets no traffic.")
        return out
    intended = _intended(service, selector, workloads)
    out.lines.append(f"Service {service.label} has selector {shown}, which matches no pod, so it has no endpoints.")
    if intended is not None:
        labels = dict((intended.obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {}) or \
            _template_labels(intended)
        new = ", ".join(f"{k}={v}" for k, v in labels.items())
        out.lines.append(f"The pods of {intended.kind} {intended.name} carry {new}.")
        out.fixes.append(f"Proposed fix: change the selector of Service {service.label} to {new}, so it reaches "
                         f"the pods of {intended.kind} {intended.name}.")
        out.actions.append(ActionCall(action="set-service-selector", params={
            "name": service.name, "namespace": service.namespace, "selector": labels},
            reason=f"the selector {shown} matches no pod"))
    return out


def _intended(service: Ref, selector: dict[str, str], workloads: list[Ref]) -> Ref | None:
    """The workload the Service was meant for: same name, else the one whose labels differ least."""
    for ref in workloads:
        if ref.name == service.name:
            return ref
    best: tuple[int, Ref] | None = None
    for ref in workloads:
        labels = _template_labels(ref)
        shared = sum(1 for k in selector if k in labels)
        if shared and (best is None or shared > best[0]):
            best = (shared, ref)
    return best[1] if best else None


def _ready(pod: dict[str, Any]) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def probe_finding(workload: Ref, events: list[dict[str, Any]]) -> Finding:
    """Failing probes from Unhealthy events; a probe on a port the container does not declare gets a fix."""
    out = Finding()
    failures: dict[str, str] = {}
    for ev in events:
        m = _PROBE_FAIL.search(str(ev.get("message", "")))
        if ev.get("reason") == "Unhealthy" and m:
            failures.setdefault(m.group(1).lower(), m.group(2))
    if not failures:
        return out
    containers = workload.obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []
    for kind, message in failures.items():
        out.lines.append(f"The {kind} probe fails: {message}.")
        for c in containers:
            probe = c.get(f"{kind}Probe") or {}
            handler = next((probe[h] for h in ("httpGet", "tcpSocket", "grpc") if h in probe), None)
            if handler is None:
                continue
            port = handler.get("port")
            declared = {p.get("containerPort"): p.get("name") for p in c.get("ports") or []}
            names = {v: k for k, v in declared.items() if v}
            if port in declared or port in names:
                if re.search(r"statuscode: 5\d\d|status code 5\d\d", message, re.I):
                    out.lines.append(f"Container {c.get('name')} listens on port {port}, but its {kind} endpoint answers "
                                     "an error: the application reports itself not ready (see its logs).")
                continue
            if declared:
                target = next(iter(declared))
                out.lines.append(f"The {kind} probe of container {c.get('name')} checks port {port}, but the container "
                                 f"listens on {', '.join(str(p) for p in declared)}.")
                out.fixes.append(f"Proposed fix: point the {kind} probe of {workload.kind} {workload.label} container "
                                 f"{c.get('name')} at port {target}.")
                params: dict[str, Any] = {"kind": workload.kind, "name": workload.name, "namespace": workload.namespace,
                                          "probe": kind, "port": target}
                if len(containers) > 1:
                    params["container"] = c.get("name")
                out.actions.append(ActionCall(action="set-probe", params=params,
                                              reason=f"the {kind} probe checks port {port}, which nothing listens on"))
    return out


def scheduling_causes(message: str) -> list[str]:
    """The causes a FailedScheduling message gives, in plain words."""
    out = []
    for pattern, words in SCHEDULING_CAUSES:
        for m in re.finditer(pattern, message):
            out.append(words.format(*m.groups()))
    return out


def requests_text(workload: Ref | None, pod: dict[str, Any]) -> str:
    spec = (pod.get("spec") or {}) if workload is None else workload.obj.get("spec", {}).get("template", {}).get("spec", {})
    parts = []
    for c in spec.get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        if req:
            parts.append(f"container {c.get('name')} requests " + ", ".join(f"{k} {v}" for k, v in req.items()))
    return "; ".join(parts)


def pvc_finding(grounder: Grounder, claim: Ref) -> Finding:
    """Why a claim is not bound: its StorageClass, the provisioner's events."""
    out = Finding()
    spec, status = claim.obj.get("spec") or {}, claim.obj.get("status") or {}
    phase = status.get("phase", "Unknown")
    size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "?")
    cls = spec.get("storageClassName")
    out.lines.append(f"PersistentVolumeClaim {claim.label} is {phase} (requests {size}, storage class "
                     f"{cls if cls else 'not set'}).")
    for ev in grounder.events(claim.namespace or "", claim.name):
        if ev.get("type") == "Warning" or ev.get("reason") in ("ProvisioningFailed", "FailedBinding"):
            count = f" (x{ev.get('count')})" if ev.get("count") else ""
            out.lines.append(f"event {ev.get('reason')}: {ev.get('message', '')}{count}")
    if phase == "Pending":
        classes = [str(o["metadata"]["name"]) for o in grounder.objects("storage.k8s.io/v1", "StorageClass", None)]
        if cls and classes and cls not in classes:
            out.lines.append(f"StorageClass {cls} does not exist; the cluster has {', '.join(classes)}.")
        elif not cls and not classes:
            out.lines.append("It names no StorageClass and I can see none (or may not read them): nothing provisions it.")
        out.lines.append("A claim's class cannot be changed: create a new claim with an existing class (and delete "
                         "this one) once you have chosen it.")
    return out


def fit_requests(grounder: Grounder, workload: Ref, message: str) -> Finding:
    """For "Insufficient cpu/memory": when no node could ever fit a request, offer requests that fit.

    Only when the nodes can be read (the requester may not list them) and the request is larger than
    every node's allocatable: then waiting cannot help. The offer is three quarters of the largest node,
    said plainly, because the application may not run with less than it asked for.
    """
    out = Finding()
    short = [m.group(1) for m in re.finditer(r"\d+ Insufficient (cpu|memory)", message)]
    nodes = grounder.objects("v1", "Node", None)
    if not short or not nodes:
        return out
    containers = workload.obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []
    for resource in dict.fromkeys(short):
        largest = max((quantity((n.get("status") or {}).get("allocatable", {}).get(resource)) or Decimal(0)
                       for n in nodes), default=Decimal(0))
        for c in containers:
            asked = quantity(((c.get("resources") or {}).get("requests") or {}).get(resource))
            if largest <= 0 or asked is None or asked <= largest:
                continue
            value = _format(resource, largest * Decimal("0.75"))
            limit = quantity(((c.get("resources") or {}).get("limits") or {}).get(resource))
            out.lines.append(f"No node has more than {_format(resource, largest)} of {resource} to give; container "
                             f"{c.get('name')} requests {((c.get('resources') or {}).get('requests') or {})[resource]}, "
                             "so it can never be scheduled.")
            out.fixes.append(f"Proposed fix, if the application can run with less: lower the {resource} request of "
                             f"{workload.kind} {workload.label} container {c.get('name')} to {value} (three quarters "
                             "of the largest node).")
            params: dict[str, Any] = {"kind": workload.kind, "name": workload.name, "namespace": workload.namespace,
                                      "requests": {resource: value}}
            if limit is not None and limit > largest:
                params["limits"] = {resource: value}
            if len(containers) > 1:
                params["container"] = c.get("name")
            out.actions.append(ActionCall(action="set-resources", params=params,
                                          reason=f"the {resource} request is larger than any node"))
    return out


def _format(resource: str, value: Decimal) -> str:
    if resource == "cpu":
        return f"{int(value * 1000)}m"
    mib = int(value / (2 ** 20))
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"
