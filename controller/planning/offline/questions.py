"""Answers to factual questions about the live cluster (replicas, images, pods, services, labels).

Why: a question must be answered from what is running now, with numbers, never from memory; and
an answer must never carry Secret data (the reader does not return it, and this module does not
ask). The topic is picked by keywords; a named workload gets a compact fact sheet by default.
"""

from __future__ import annotations

import re
from typing import Any

from controller.planning.offline import extract
from controller.planning.offline.grounding import WORKLOAD_KINDS, Grounder, Ref

_LIST_KINDS: list[tuple[str, str, str]] = [
    (r"deployments?|deploys?", "apps/v1", "Deployment"),
    (r"statefulsets?|stateful sets?", "apps/v1", "StatefulSet"),
    (r"daemonsets?", "apps/v1", "DaemonSet"),
    (r"services?|svc", "v1", "Service"),
    (r"config ?maps?", "v1", "ConfigMap"),
    (r"namespaces?", "v1", "Namespace"),
    (r"hpas?|autoscalers?", "autoscaling/v2", "HorizontalPodAutoscaler"),
    (r"pdbs?|disruption budgets?", "policy/v1", "PodDisruptionBudget"),
    (r"network ?polic(?:y|ies)", "networking.k8s.io/v1", "NetworkPolicy"),
    (r"cron ?jobs?", "batch/v1", "CronJob"),
    (r"jobs?", "batch/v1", "Job"),
    (r"pvcs?|persistent ?volume ?claims?|volume ?claims?|volumes?", "v1", "PersistentVolumeClaim"),
    (r"service ?accounts?", "v1", "ServiceAccount"),
    (r"role ?bindings?", "rbac.authorization.k8s.io/v1", "RoleBinding"),
    (r"roles?", "rbac.authorization.k8s.io/v1", "Role"),
    (r"secrets?", "v1", "Secret"),
    (r"ingress(?:es)?", "networking.k8s.io/v1", "Ingress"),
    (r"pods?", "v1", "Pod"),
]


def pod_ready(pod: dict[str, Any]) -> bool:
    for cond in pod.get("status", {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    statuses = pod.get("status", {}).get("containerStatuses") or []
    return bool(statuses) and all(cs.get("ready") for cs in statuses)


def _images(ref: Ref) -> list[str]:
    spec = ref.obj.get("spec", {}).get("template", {}).get("spec", {})
    return [f"{c.get('name')}={c.get('image')}" if len(spec.get("containers") or []) > 1 else str(c.get("image"))
            for c in spec.get("containers") or []]


def replicas_fact(grounder: Grounder, ref: Ref) -> str:
    spec_replicas = ref.obj.get("spec", {}).get("replicas", 1)
    status = ref.obj.get("status") or {}
    if "readyReplicas" in status or "replicas" in status:
        ready = f"{status.get('readyReplicas', 0)} ready"
    else:
        pods = grounder.pods_of(ref)
        ready = f"{sum(pod_ready(p) for p in pods)} of {len(pods)} pods ready" if pods else "no pods reported"
    return f"{ref.kind} {ref.name} in {ref.namespace} has {spec_replicas} replicas ({ready})"


def pods_fact(grounder: Grounder, pods: list[dict[str, Any]], where: str) -> str:
    if not pods:
        return f"There are no pods {where}."
    parts = []
    for pod in pods[:20]:
        status = pod.get("status", {})
        restarts = sum(cs.get("restartCount") or 0 for cs in status.get("containerStatuses") or [])
        waiting = [cs["state"]["waiting"].get("reason") for cs in status.get("containerStatuses") or []
                   if (cs.get("state") or {}).get("waiting")]
        text = f"{pod['metadata']['name']} {status.get('phase', 'Unknown')}"
        text += ", ready" if pod_ready(pod) else ", not ready"
        if waiting:
            text += f" ({', '.join(str(w) for w in waiting)})"
        if restarts:
            text += f", {restarts} restarts"
        parts.append(text)
    return f"{len(pods)} pod(s) {where}: " + "; ".join(parts) + "."


def services_fact(grounder: Grounder, namespace: str, ref: Ref | None) -> str:
    services = grounder.objects("v1", "Service", namespace)
    if ref is not None:
        labels = (ref.obj.get("spec", {}).get("template", {}).get("metadata", {}) or {}).get("labels") or {}
        services = [s for s in services if (sel := s.get("spec", {}).get("selector") or {})
                    and all(labels.get(k) == v for k, v in sel.items())] or services
    if not services:
        return f"There are no Services in {namespace}."
    parts = []
    for svc in services:
        spec = svc.get("spec", {})
        ports = ", ".join(f"{p.get('port')}->{p.get('targetPort', p.get('port'))}" for p in spec.get("ports") or [])
        parts.append(f"{svc['metadata']['name']} ({spec.get('type', 'ClusterIP')}, ports {ports or 'none'})")
    return f"Services in {namespace}: " + "; ".join(parts) + "."


_CLUSTER_WIDE = re.compile(r"\b(?:in|across) (?:the (?:whole |entire )?cluster|all namespaces|every namespace)\b|"
                           r"\bcluster[- ]wide\b|\bevery (?:deployment|statefulset|pod|service)s? in the cluster\b")

# kind -> how one object of it is described in an answer
_DESCRIBED: list[tuple[str, str]] = [("batch/v1", "CronJob"), ("v1", "PersistentVolumeClaim"),
                                     ("networking.k8s.io/v1", "Ingress"), ("batch/v1", "Job"), ("v1", "ServiceAccount"),
                                     ("networking.k8s.io/v1", "NetworkPolicy"), ("autoscaling/v2", "HorizontalPodAutoscaler"),
                                     ("policy/v1", "PodDisruptionBudget"), ("rbac.authorization.k8s.io/v1", "Role")]


def describe_object(obj: dict[str, Any]) -> str:
    """One line of what matters about an object of the kinds in `_DESCRIBED`."""
    kind, meta, spec = obj.get("kind"), obj.get("metadata") or {}, obj.get("spec") or {}
    label = f"{kind} {meta.get('namespace')}/{meta.get('name')}"
    status = obj.get("status") or {}
    if kind == "CronJob":
        return (f"{label} runs on schedule \"{spec.get('schedule')}\" and is "
                f"{'suspended' if spec.get('suspend') else 'active'}"
                + (f"; last run {status['lastScheduleTime']}" if status.get("lastScheduleTime") else "") + ".")
    if kind == "PersistentVolumeClaim":
        size = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        capacity = (status.get("capacity") or {}).get("storage")
        return (f"{label} requests {size} ({', '.join(spec.get('accessModes') or [])}, storage class "
                f"{spec.get('storageClassName') or 'default'}), {status.get('phase', 'Unknown')}"
                + (f", capacity {capacity}" if capacity else "") + ".")
    if kind == "Ingress":
        routes = [f"{r.get('host', '*')}{p.get('path', '/')} -> {((p.get('backend') or {}).get('service') or {}).get('name')}"
                  for r in spec.get("rules") or [] for p in ((r.get("http") or {}).get("paths") or [])]
        return f"{label} routes {', '.join(routes) or 'nothing'}" + (" with TLS" if spec.get("tls") else "") + "."
    if kind == "ServiceAccount":
        notes = meta.get("annotations") or {}
        identity = [f"{k}={v}" for k, v in notes.items() if "role-arn" in k or "client-id" in k]
        return f"{label}" + (f" has cloud identity {', '.join(identity)}." if identity else " has no cloud identity.")
    if kind == "Role":
        grants = "; ".join(f"{', '.join(r.get('verbs') or [])} {', '.join(r.get('resources') or [])}"
                           for r in obj.get("rules") or [])
        return f"{label} allows {grants or 'nothing'}."
    return f"{label} exists."


def named_object_fact(grounder: Grounder, text: str, namespace: str) -> str | None:
    """An object named in the text (ConfigMap data is configuration, not a secret; Secrets are never read)."""
    words = set(extract.tokens(text))
    for api, kind in _DESCRIBED:
        for obj in grounder.objects(api, kind, namespace):
            if obj["metadata"]["name"] in words:
                return describe_object(obj)
    for cm in grounder.objects("v1", "ConfigMap", namespace):
        if cm["metadata"]["name"] in words:
            data = cm.get("data") or {}
            shown = ", ".join(f"{k}={v}" for k, v in list(data.items())[:20]) or "no keys"
            return f"ConfigMap {namespace}/{cm['metadata']['name']} has {len(data)} key(s): {shown}."
    for svc in grounder.objects("v1", "Service", namespace):
        if svc["metadata"]["name"] in words and re.search(r"\b(service|svc|ports?)\b", text, re.I):
            spec = svc.get("spec", {})
            ports = ", ".join(f"{p.get('port')}->{p.get('targetPort', p.get('port'))}" for p in spec.get("ports") or [])
            return f"Service {namespace}/{svc['metadata']['name']} is {spec.get('type', 'ClusterIP')} with ports {ports or 'none'}."
    return None


def answer_question(grounder: Grounder, text: str, namespace: str, ref: Ref | None) -> str:
    low = extract.normalise(text).lower()
    if ref is None and (fact := named_object_fact(grounder, text, namespace)):
        return fact
    if ref is not None:
        facts: list[str] = []
        if re.search(r"\b(replicas?|instances?|copies|how many|scale|count)\b", low):
            facts.append(replicas_fact(grounder, ref))
        if re.search(r"\b(image|images|version|tag|running what|which build)\b", low):
            facts.append(f"{ref.kind} {ref.name} runs image {', '.join(_images(ref))}")
        if re.search(r"\blabels?\b", low):
            labels = ref.obj.get("metadata", {}).get("labels") or {}
            facts.append(f"{ref.kind} {ref.name} has labels " + (", ".join(f"{k}={v}" for k, v in labels.items()) or "none"))
        if re.search(r"\bannotations?\b", low):
            notes = ref.obj.get("metadata", {}).get("annotations") or {}
            facts.append(f"{ref.kind} {ref.name} has annotations " + (", ".join(notes) or "none"))
        if re.search(r"\b(limits?|requests?|resources?|memory|cpu|ram)\b", low):
            spec = ref.obj.get("spec", {}).get("template", {}).get("spec", {})
            for c in spec.get("containers") or []:
                res = c.get("resources") or {}
                facts.append(f"container {c.get('name')} requests {res.get('requests') or 'none'}, "
                             f"limits {res.get('limits') or 'none'}")
        if re.search(r"\benv\w*\b|\bvariables?\b", low):
            spec = ref.obj.get("spec", {}).get("template", {}).get("spec", {})
            for c in spec.get("containers") or []:
                listed = [f"{e.get('name')}={e['value']}" if "value" in e
                          else f"{e.get('name')} (from a Secret or ConfigMap)" for e in c.get("env") or []]
                facts.append(f"container {c.get('name')} has env {', '.join(listed) or 'none'}")
        if re.search(r"\b(ports?|services?|reachable|exposed)\b", low):
            facts.append(services_fact(grounder, namespace, ref))
        if re.search(r"\b(pods?|running|up|healthy|status|ready|alive|state)\b", low) or not facts:
            if not facts:
                facts.append(replicas_fact(grounder, ref))
                facts.append(f"image {', '.join(_images(ref))}")
            facts.append(pods_fact(grounder, grounder.pods_of(ref), f"of {ref.kind} {ref.name}"))
        return "; ".join(f.rstrip(".") for f in facts) + "."
    wide = bool(_CLUSTER_WIDE.search(low))
    for pattern, api, kind in _LIST_KINDS:
        if re.search(rf"\b(?:{pattern})\b", low):
            scope = None if kind == "Namespace" or wide else namespace
            objs = grounder.objects(api, kind, scope)
            if kind == "Pod":
                return pods_fact(grounder, objs, f"in namespace {namespace}")
            if kind == "Service":
                return services_fact(grounder, namespace, None)
            names = []
            for obj in objs:
                name = obj["metadata"]["name"] if scope is not None or kind == "Namespace" else \
                    f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"
                if kind in ("Deployment", "StatefulSet"):
                    name += f" ({obj.get('spec', {}).get('replicas', 1)} replicas)"
                names.append(name)
            where = "in the cluster" if scope is None else f"in namespace {namespace}"
            return f"{len(names)} {kind}(s) {where}: {', '.join(names) or 'none'}."
    workloads = grounder.refs(WORKLOAD_KINDS, namespace)
    if not workloads:
        return f"Namespace {namespace} has no Deployments or StatefulSets."
    return f"Workloads in namespace {namespace}: " + "; ".join(replicas_fact(grounder, w) for w in workloads) + "."
