"""The DaemonSet controller: one pod per node that the pod's selector, affinity and tolerations allow.

Why: `kubectl get ds` READY counts and "why is there no agent on node X" come from here. Each
eligible node gets a pod `<name>-<5 chars>` pinned to it by node affinity on `metadata.name`, as
the real controller does; the status counts desired, current, ready, available and up-to-date pods.
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.controllers.base import Controller
from sandbox.controllers.deployments import template_hash
from sandbox.controllers.replicasets import PodCounter, active, pod_from_template, random_suffix
from sandbox.recorder import NORMAL
from sandbox.scheduler import matches_node_affinity, tolerates
from sandbox.store import ObjectKey, StoreEvent

DS_CONTROLLER = "daemonset-controller"


class DaemonSetController(Controller):
    name = DS_CONTROLLER
    watches = (("apps", "daemonsets"), ("", "pods"), ("", "nodes"))
    owner_kind = "DaemonSet"

    def keys_for(self, event: StoreEvent) -> list[ObjectKey]:
        if event.plural == "nodes":
            return [("apps", "daemonsets", d["metadata"].get("namespace", ""), d["metadata"]["name"])
                    for d in self.store.objects("apps", "daemonsets")]
        return list(super().keys_for(event))

    def _eligible(self, ds: dict[str, Any], node: dict[str, Any]) -> bool:
        template = (ds.get("spec") or {}).get("template") or {}
        pod = {"metadata": {}, "spec": template.get("spec") or {}}
        tolerations = (template.get("spec") or {}).get("tolerations") or []
        for taint in (node.get("spec") or {}).get("taints") or []:
            if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
                return False
        return matches_node_affinity(pod, node)

    def reconcile(self, key: ObjectKey) -> float | None:
        ds = self.get(*key)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return None
        spec = ds.get("spec") or {}
        namespace = ds["metadata"].get("namespace", "")
        revision = template_hash(spec.get("template") or {})
        nodes = [n for n in self.store.objects("", "nodes") if self._eligible(ds, n)]
        pods = [p for p in self.owned("", "pods", ds) if active(p)]
        pods_rt = self.rt("", "v1", "pods")
        by_node: dict[str, list[dict[str, Any]]] = {}
        for pod in pods:
            by_node.setdefault(_target_node(pod), []).append(pod)
        wanted = {n["metadata"]["name"] for n in nodes}
        for node_name in sorted(wanted - set(by_node)):
            body = pod_from_template(spec.get("template") or {}, ds, "apps/v1", "DaemonSet",
                                     f"{ds['metadata']['name']}-{random_suffix()}")
            body["metadata"].setdefault("labels", {})["controller-revision-hash"] = revision
            affinity = body["spec"].setdefault("affinity", {})
            affinity["nodeAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}}
            tolerations = body["spec"].setdefault("tolerations", [])
            for toleration in ({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
                               {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
                               {"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                "effect": "NoSchedule"}):
                if toleration not in tolerations:
                    tolerations.append(copy.deepcopy(toleration))
            if self.create(pods_rt, namespace, body) is not None:
                self.recorder.record(ds, "SuccessfulCreate", f"Created pod: {body['metadata']['name']}", NORMAL,
                                     DS_CONTROLLER)
        for node_name, node_pods in by_node.items():
            surplus = node_pods if node_name not in wanted else node_pods[1:]
            outdated = [p for p in node_pods[:1] if node_name in wanted and
                        (p["metadata"].get("labels") or {}).get("controller-revision-hash") != revision]
            for pod in surplus + outdated:
                self.delete(pods_rt, pod)
                self.recorder.record(ds, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", NORMAL,
                                     DS_CONTROLLER)
        ds = self.get(*key) or ds
        if self.staged(ds):
            return None
        pods = [p for p in self.owned("", "pods", ds) if active(p)]
        counts = PodCounter(pods, float(spec.get("minReadySeconds") or 0), self.clock.now())
        scheduled = [p for p in pods if (p.get("spec") or {}).get("nodeName")]
        status = {"currentNumberScheduled": len(scheduled), "desiredNumberScheduled": len(wanted),
                  "numberMisscheduled": len([p for p in scheduled if p["spec"]["nodeName"] not in wanted]),
                  "numberReady": counts.ready, "observedGeneration": ds["metadata"].get("generation", 1),
                  "updatedNumberScheduled": sum(1 for p in pods if (p["metadata"].get("labels") or {})
                                                .get("controller-revision-hash") == revision)}
        if counts.available:
            status["numberAvailable"] = counts.available
        if len(wanted) - counts.available > 0:
            status["numberUnavailable"] = len(wanted) - counts.available
        self.write_status(self.rt("apps", "v1", "daemonsets"), ds, status)
        return counts.next_check


def _target_node(pod: dict[str, Any]) -> str:
    terms = (((((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})
              .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or [])
    for term in terms:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("values"):
                return str(field["values"][0])
    return str((pod.get("spec") or {}).get("nodeName", ""))
