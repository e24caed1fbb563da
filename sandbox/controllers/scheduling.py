"""The default-scheduler: binds pending pods to nodes, or leaves them Pending with FailedScheduling.

Why a controller around sandbox/scheduler.py: binding is a write (as the `pods/binding`
subresource does it, `spec.nodeName` plus the PodScheduled condition), unschedulable pods get the
condition and a Warning Event, and a pod waits again whenever something that could make it fit
changes (a node, another pod going away, a PVC being bound).
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.clock import rfc3339
from sandbox.controllers.base import Controller, set_condition
from sandbox.network import pod_views
from sandbox.recorder import WARNING
from sandbox.scheduler import schedule, whole_pod_message
from sandbox.store import ObjectKey, StoreEvent

DEFAULT_SCHEDULER = "default-scheduler"


def _pending(pod: dict[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    return not spec.get("nodeName") and not pod["metadata"].get("deletionTimestamp") and \
        (pod.get("status") or {}).get("phase") in (None, "Pending")


class Scheduler(Controller):
    name = DEFAULT_SCHEDULER
    watches = (("", "pods"), ("", "nodes"), ("", "persistentvolumeclaims"))

    def keys_for(self, event: StoreEvent) -> list[ObjectKey]:
        if event.plural == "pods" and _pending(event.obj) and event.type != "DELETED":
            return list(super().keys_for(event))
        if event.plural == "pods" and not (event.type == "DELETED" or
                                           (event.obj.get("status") or {}).get("phase") in ("Succeeded", "Failed")):
            return []
        namespace = event.namespace if event.plural == "persistentvolumeclaims" else None
        return [("", "pods", p["metadata"].get("namespace", ""), p["metadata"]["name"])
                for p in pod_views(self.store, namespace) if _pending(p)]

    def reconcile(self, key: ObjectKey) -> float | None:
        pod = self.get(*key)
        if pod is None or not _pending(pod) or self.staged(pod):
            return None
        if (pod.get("spec") or {}).get("schedulerName", DEFAULT_SCHEDULER) != DEFAULT_SCHEDULER:
            return None
        nodes = self.store.objects("", "nodes")
        volume_problem, selected = self._volumes(pod)
        if volume_problem:
            self._unschedulable(pod, whole_pod_message(len(nodes), volume_problem))
            return None
        def bound(p: dict[str, Any]) -> bool:
            return bool((p.get("spec") or {}).get("nodeName")) and \
                (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")

        # read-only views of every bound pod (copying them all for each pod would be quadratic)
        placed = [p for p in pod_views(self.store) if bound(p)]
        candidates = [n for n in nodes if selected is None or n["metadata"]["name"] == selected]
        decision = schedule(pod, candidates, placed)
        if decision.node is None:
            self._unschedulable(pod, decision.message)
            return None
        self._claim_volumes(pod, decision.node)
        self._bind(pod, decision.node)
        return None

    def _volumes(self, pod: dict[str, Any]) -> tuple[str, str | None]:
        """(problem, node a WaitForFirstConsumer claim already chose)."""
        namespace = pod["metadata"].get("namespace", "")
        selected = None
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            claim_ref = volume.get("persistentVolumeClaim")
            if not claim_ref:
                continue
            name = claim_ref.get("claimName", "")
            claim = self.get("", "persistentvolumeclaims", namespace, name)
            if claim is None:
                return f'persistentvolumeclaim "{name}" not found', None
            if claim["metadata"].get("deletionTimestamp"):
                return f'persistentvolumeclaim "{name}" is being deleted', None
            if (claim.get("status") or {}).get("phase") == "Bound":
                continue
            if not self.sim.storage.waits_for_consumer(claim):
                return "pod has unbound immediate PersistentVolumeClaims", None
            chosen = (claim["metadata"].get("annotations") or {}).get("volume.kubernetes.io/selected-node")
            selected = chosen or selected
        return "", selected

    def _claim_volumes(self, pod: dict[str, Any], node: str) -> None:
        namespace = pod["metadata"].get("namespace", "")
        rt = self.rt("", "v1", "persistentvolumeclaims")
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            claim_ref = volume.get("persistentVolumeClaim")
            if not claim_ref:
                continue
            claim = self.get("", "persistentvolumeclaims", namespace, claim_ref.get("claimName", ""))
            if claim is None or (claim.get("status") or {}).get("phase") == "Bound":
                continue
            if not (claim["metadata"].get("annotations") or {}).get("volume.kubernetes.io/selected-node"):
                self.patch(rt, claim, {"metadata": {"annotations": {"volume.kubernetes.io/selected-node": node}}})

    def _unbound_claims(self, pod: dict[str, Any]) -> bool:
        namespace = pod["metadata"].get("namespace", "")
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            claim_ref = volume.get("persistentVolumeClaim")
            if claim_ref:
                claim = self.get("", "persistentvolumeclaims", namespace, claim_ref.get("claimName", ""))
                if claim is None or (claim.get("status") or {}).get("phase") != "Bound":
                    return True
        return False

    def _unschedulable(self, pod: dict[str, Any], message: str) -> None:
        stamp = self.clock.timestamp()
        status = copy.deepcopy(pod.get("status") or {})
        before = [dict(c) for c in status.get("conditions") or []]
        status["phase"] = "Pending"
        status["conditions"] = set_condition(before, "PodScheduled", "False", "Unschedulable", message, stamp)
        changed = status["conditions"] != before
        self.write_status(self.rt("", "v1", "pods"), pod, status)
        if changed:
            self.recorder.record(pod, "FailedScheduling", message, WARNING, DEFAULT_SCHEDULER)

    def _bind(self, pod: dict[str, Any], node: str) -> None:
        """What POST pods/<name>/binding does: set spec.nodeName and PodScheduled=True."""
        if self._unbound_claims(pod):
            return
        meta = pod["metadata"]
        stored = self.store.get(("", "pods", meta.get("namespace", ""), meta["name"]))
        if stored is None or (stored.get("spec") or {}).get("nodeName"):
            return
        stored["spec"]["nodeName"] = node
        status = stored.setdefault("status", {})
        status["conditions"] = set_condition(status.get("conditions") or [], "PodScheduled", "True", "", "",
                                             rfc3339(self.clock.now()))
        status["conditions"] = [{k: v for k, v in c.items() if v != ""} for c in status["conditions"]]
        with self.sim.own_writes():
            self.store.put("", "pods", stored)
        self.recorder.record(stored, "Scheduled", f"Successfully assigned {meta.get('namespace', '')}/{meta['name']} "
                             f"to {node}", "Normal", DEFAULT_SCHEDULER)
