"""Where a pod fits: kube-scheduler's filters and its FailedScheduling wording, as pure functions.

Why pure: the answer depends only on the pod, the nodes and what already runs there, and the
message is what users and diagnoses read ("0/3 nodes are available: 1 node(s) had untolerated
taint {dedicated: gpu}, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is
not helpful for scheduling, 2 No preemption victims found for incoming pod."). Filters, in the
default plugin order: NodeUnschedulable, TaintToleration, NodeAffinity (nodeSelector and required
node affinity), NodePorts, NodeResourcesFit (requests against allocatable, pod count), and
InterPodAffinity (required pod affinity/anti-affinity). Scoring picks the least-allocated node,
which spreads replicas across nodes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sandbox import quantity
from sandbox.selectors import labels_match, selector_from_label_selector_object

Obj = dict[str, Any]
RESOURCE_REASONS = ("Insufficient", "Too many pods")


@dataclass(frozen=True)
class Decision:
    node: str | None
    message: str = ""


def pod_requests(pod: Obj) -> dict[str, int]:
    """Effective requests: the sum of containers, or the largest init container if bigger (cpu in m)."""
    spec = pod.get("spec") or {}

    def of(container: Obj) -> dict[str, int]:
        resources = container.get("resources") or {}
        requests = dict(resources.get("limits") or {})
        requests.update(resources.get("requests") or {})
        out: dict[str, int] = {}
        for name, value in requests.items():
            try:
                out[name] = quantity.millicores(value) if name == "cpu" else quantity.to_bytes(value)
            except quantity.QuantityError:
                continue
        return out

    total: Counter[str] = Counter()
    for container in spec.get("containers") or []:
        total.update(of(container))
    for container in spec.get("initContainers") or []:
        for name, value in of(container).items():
            total[name] = max(total[name], value)
    for name, value in (spec.get("overhead") or {}).items():
        total[name] += quantity.millicores(value) if name == "cpu" else quantity.to_bytes(value)
    return dict(total)


def allocatable(node: Obj) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, value in ((node.get("status") or {}).get("allocatable") or {}).items():
        out[name] = quantity.millicores(value) if name == "cpu" else quantity.to_bytes(value)
    return out


def tolerates(tolerations: list[Obj], taint: Obj) -> bool:
    for tol in tolerations:
        effect = tol.get("effect")
        if effect and effect != taint.get("effect"):
            continue
        if not tol.get("key"):
            if tol.get("operator") == "Exists":
                return True
            continue
        if tol.get("key") != taint.get("key"):
            continue
        if tol.get("operator") == "Exists" or tol.get("value", "") == taint.get("value", ""):
            return True
    return False


def _expression(expr: Obj, labels: dict[str, str]) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator", ""), [str(v) for v in expr.get("values") or []]
    value = labels.get(key)
    if op == "In":
        return value in values
    if op == "NotIn":
        return value not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt") and value is not None and values:
        try:
            return int(value) > int(values[0]) if op == "Gt" else int(value) < int(values[0])
        except ValueError:
            return False
    return False


def matches_node_affinity(pod: Obj, node: Obj) -> bool:
    spec = pod.get("spec") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms")
    if not terms:
        return True
    fields = {"metadata.name": node["metadata"]["name"]}
    for term in terms:
        if all(_expression(e, labels) for e in term.get("matchExpressions") or []) and \
                all(_expression(e, fields) for e in term.get("matchFields") or []):
            return True
    return False


def _pod_affinity_ok(pod: Obj, node: Obj, nodes: list[Obj], placed: list[Obj]) -> str:
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    by_name = {n["metadata"]["name"]: n for n in nodes}
    namespace = pod["metadata"].get("namespace", "")

    def domain_pods(term: Obj) -> list[Obj]:
        key = term.get("topologyKey", "")
        here = ((node.get("metadata") or {}).get("labels") or {}).get(key)
        reqs = selector_from_label_selector_object(term.get("labelSelector") or {})
        namespaces = term.get("namespaces") or [namespace]
        out = []
        for other in placed:
            other_node = by_name.get((other.get("spec") or {}).get("nodeName", ""))
            if other_node is None or other["metadata"].get("namespace") not in namespaces:
                continue
            if ((other_node.get("metadata") or {}).get("labels") or {}).get(key) == here and here is not None \
                    and labels_match(reqs, other):
                out.append(other)
        return out

    for term in (affinity.get("podAntiAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or []:
        if domain_pods(term):
            return "node(s) didn't match pod anti-affinity rules"
    for term in (affinity.get("podAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or []:
        if not domain_pods(term):
            reqs = selector_from_label_selector_object(term.get("labelSelector") or {})
            if any(labels_match(reqs, p) for p in placed) or labels_match(reqs, pod) is False:
                return "node(s) didn't match pod affinity rules"
    return ""


def node_failures(pod: Obj, node: Obj, nodes: list[Obj], placed: list[Obj]) -> list[str]:
    """Why `pod` cannot run on `node` (empty: it can), first failing plugin's reasons."""
    spec = pod.get("spec") or {}
    tolerations = spec.get("tolerations") or []
    node_spec = node.get("spec") or {}
    if node_spec.get("unschedulable") and not tolerates(
            tolerations, {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}):
        return ["node(s) were unschedulable"]
    for taint in node_spec.get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
            return [f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"]
    if not matches_node_affinity(pod, node):
        return ["node(s) didn't match Pod's node affinity/selector"]
    name = node["metadata"]["name"]
    here = [p for p in placed if (p.get("spec") or {}).get("nodeName") == name]
    wanted_ports = {(p.get("hostPort"), p.get("protocol", "TCP")) for c in spec.get("containers") or []
                    for p in c.get("ports") or [] if p.get("hostPort")}
    used_ports = {(p.get("hostPort"), p.get("protocol", "TCP")) for other in here
                  for c in (other.get("spec") or {}).get("containers") or [] for p in c.get("ports") or []
                  if p.get("hostPort")}
    if wanted_ports & used_ports:
        return ["node(s) didn't have free ports for the requested pod ports"]
    capacity = allocatable(node)
    reasons = []
    if len(here) + 1 > capacity.get("pods", 110):
        reasons.append("Too many pods")
    used: Counter[str] = Counter()
    for other in here:
        used.update(pod_requests(other))
    for resource, amount in sorted(pod_requests(pod).items()):
        if amount and used[resource] + amount > capacity.get(resource, 0):
            reasons.append(f"Insufficient {resource}")
    if reasons:
        return reasons
    affinity = _pod_affinity_ok(pod, node, nodes, placed)
    return [affinity] if affinity else []


def _histogram(reasons: Counter[str]) -> str:
    return ", ".join(sorted(f"{count} {reason}" for reason, count in reasons.items()))


def unschedulable_message(total: int, reasons: Counter[str], preemption: Counter[str]) -> str:
    return (f"0/{total} nodes are available: {_histogram(reasons)}. "
            f"preemption: 0/{total} nodes are available: {_histogram(preemption)}.")


def whole_pod_message(total: int, reason: str) -> str:
    """A reason that applies before any node is looked at (a missing or unbound PVC)."""
    return (f"0/{total} nodes are available: {reason}. preemption: 0/{total} nodes are available: "
            f"{total} Preemption is not helpful for scheduling.")


def schedule(pod: Obj, nodes: list[Obj], placed: list[Obj]) -> Decision:
    """Pick a node for `pod` among `nodes` given the pods already `placed` (bound, not finished)."""
    if not nodes:
        return Decision(None, "no nodes available to schedule pods")
    reasons: Counter[str] = Counter()
    preemption: Counter[str] = Counter()
    feasible: list[tuple[float, int, str]] = []
    for node in nodes:
        failures = node_failures(pod, node, nodes, placed)
        if failures:
            reasons.update(failures)
            if any(f.startswith(RESOURCE_REASONS) for f in failures):
                preemption["No preemption victims found for incoming pod"] += 1
            else:
                preemption["Preemption is not helpful for scheduling"] += 1
            continue
        name = node["metadata"]["name"]
        capacity = allocatable(node)
        used: Counter[str] = Counter()
        here = [p for p in placed if (p.get("spec") or {}).get("nodeName") == name]
        for other in here:
            used.update(pod_requests(other))
        used.update(pod_requests(pod))
        share = sum(used[r] / capacity[r] for r in ("cpu", "memory") if capacity.get(r)) / 2
        feasible.append((share, len(here), name))
    if feasible:
        return Decision(min(feasible)[2])
    return Decision(None, unschedulable_message(len(nodes), reasons, preemption))
