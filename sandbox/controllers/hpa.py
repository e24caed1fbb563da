"""The HorizontalPodAutoscaler controller: replicas from the load the behaviour file declares.

Why: an HPA's status (current/desired replicas, current utilization, AbleToScale/ScalingActive/
ScalingLimited) is what people read, and its scaling changes the Deployment they look at. Each
container's CPU and memory use is its process's declared `cpuMillicores`/`memoryMiB` (or what its
command does, e.g. `stress --cpu 1`); utilization is use over requests, and the desired count is
`ceil(current * utilization / target)` within [minReplicas, maxReplicas], with the 10% tolerance,
immediate scale-up and the 5-minute scale-down stabilization of the real controller. A pod without
a request for the metric makes ScalingActive False (FailedGetResourceMetric), as upstream.
"""

from __future__ import annotations

import math
from typing import Any

from sandbox import quantity
from sandbox.clock import rfc3339
from sandbox.controllers.base import Controller, set_condition
from sandbox.recorder import NORMAL, WARNING
from sandbox.selectors import labels_match, selector_from_label_selector_object
from sandbox.store import ObjectKey, StoreEvent

HPA_CONTROLLER = "horizontal-pod-autoscaler"
SYNC_SECONDS = 15.0
DOWNSCALE_WINDOW = 300.0
TOLERANCE = 0.1
SCALABLE = {"Deployment": ("apps", "deployments"), "StatefulSet": ("apps", "statefulsets"),
            "ReplicaSet": ("apps", "replicasets")}


class HorizontalPodAutoscalerController(Controller):
    name = HPA_CONTROLLER
    watches = (("autoscaling", "horizontalpodautoscalers"),)

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self.recommendations: dict[str, list[tuple[float, int]]] = {}

    def keys_for(self, event: StoreEvent) -> list[ObjectKey]:
        return list(super().keys_for(event))

    def _usage(self, pod: dict[str, Any], resource: str) -> tuple[float, float] | str:
        """(use, request) of a pod for cpu (millicores) or memory (MiB), or the missing-request error."""
        kubelet = self.sim.kubelet
        runtime = kubelet.pods.get(pod["metadata"]["uid"])
        use = request = 0.0
        for spec in (pod.get("spec") or {}).get("containers") or []:
            value = ((spec.get("resources") or {}).get("requests") or {}).get(resource)
            if value is None:
                return (f"missing request for {resource} in container {spec.get('name')} of Pod "
                        f"{pod['metadata']['name']}")
            request += quantity.millicores(value) if resource == "cpu" else quantity.mib(value)
            container = next((c for c in (runtime.main if runtime else []) if c.name == spec.get("name")), None)
            run = container.current if container is not None else None
            if run is not None and run.finished is None:
                elapsed = self.clock.now() - run.started
                use += run.process.cpu_millicores if resource == "cpu" else run.process.memory_at(elapsed)
        return use, request

    def reconcile(self, key: ObjectKey) -> float | None:
        hpa = self.get(*key)
        if hpa is None:
            self.recommendations.pop("/".join(key), None)
            return None
        if self.staged(hpa):
            return None
        now = self.clock.now()
        stamp = rfc3339(now)
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        namespace = hpa["metadata"].get("namespace", "")
        old = hpa.get("status") or {}
        conditions = [dict(c) for c in old.get("conditions") or []]
        target_kind = SCALABLE.get(str(ref.get("kind", "")))
        target = self.get(target_kind[0], target_kind[1], namespace, str(ref.get("name", ""))) if target_kind else None
        status: dict[str, Any] = {"currentReplicas": int(old.get("currentReplicas") or 0),
                                  "desiredReplicas": int(old.get("desiredReplicas") or 0)}
        if target is None or target_kind is None:
            kind = str(ref.get("kind", "")).lower()
            message = f'the HPA controller was unable to get the target\'s current scale: {kind}s.apps ' \
                      f'"{ref.get("name", "")}" not found'
            conditions = set_condition(conditions, "AbleToScale", "False", "FailedGetScale", message, stamp)
            self.recorder.record(hpa, "FailedGetScale", message, WARNING, HPA_CONTROLLER)
            status["conditions"] = conditions
            self.write_status(self.rt("autoscaling", "v2", "horizontalpodautoscalers"), hpa, status)
            return now + SYNC_SECONDS
        current = int((target.get("spec") or {}).get("replicas", 1))
        reqs = selector_from_label_selector_object((target.get("spec") or {}).get("selector") or {})
        pods = [p for p in self.store.objects("", "pods", namespace) if labels_match(reqs, p)
                and (p.get("status") or {}).get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]
        low, high = int(spec.get("minReplicas", 1)), int(spec.get("maxReplicas", 1))
        metrics = spec.get("metrics") or [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
        proposals: list[int] = []
        current_metrics: list[dict[str, Any]] = []
        error = ""
        for metric in metrics:
            if metric.get("type") != "Resource":
                continue
            resource = metric["resource"].get("name", "cpu")
            target_spec = metric["resource"].get("target") or {}
            use = request = 0.0
            for pod in pods:
                usage = self._usage(pod, resource)
                if isinstance(usage, str):
                    error = f"failed to get {resource} utilization: {usage}"
                    break
                use, request = use + usage[0], request + usage[1]
            if error:
                break
            if not pods:
                error = f"failed to get {resource} utilization: did not receive metrics for targeted pods " \
                        "(pods might be unready)"
                break
            average = use / len(pods)
            value = f"{int(average)}m" if resource == "cpu" else quantity.format_bytes(int(average * 2**20))
            if target_spec.get("type", "Utilization") == "Utilization":
                utilization = round(100 * use / request) if request else 0
                wanted = float(target_spec.get("averageUtilization", 80))
                ratio = utilization / wanted if wanted else 1.0
                current_metrics.append({"type": "Resource", "resource": {"name": resource, "current": {
                    "averageUtilization": utilization, "averageValue": value}}})
            else:
                goal = target_spec.get("averageValue", "0")
                goal_value = quantity.millicores(goal) if resource == "cpu" else quantity.mib(goal)
                ratio = average / goal_value if goal_value else 1.0
                current_metrics.append({"type": "Resource", "resource": {"name": resource,
                                                                         "current": {"averageValue": value}}})
            proposals.append(current if abs(ratio - 1) <= TOLERANCE else math.ceil(len(pods) * ratio))
        if error:
            message = f"the HPA was unable to compute the replica count: {error}"
            conditions = set_condition(conditions, "AbleToScale", "True", "SucceededGetScale",
                                       "the HPA controller was able to get the target's current scale", stamp)
            conditions = set_condition(conditions, "ScalingActive", "False", "FailedGetResourceMetric", message, stamp)
            self.recorder.record(hpa, "FailedGetResourceMetric", error, WARNING, HPA_CONTROLLER)
            status.update({"currentReplicas": current, "desiredReplicas": current, "conditions": conditions})
            self.write_status(self.rt("autoscaling", "v2", "horizontalpodautoscalers"), hpa, status)
            return now + SYNC_SECONDS
        raw = max(proposals) if proposals else current
        desired = min(max(raw, low), high)
        history = self.recommendations.setdefault("/".join(key), [])
        history.append((now, desired))
        history[:] = [(t, r) for t, r in history if t >= now - DOWNSCALE_WINDOW]
        if desired < current:
            desired = max(desired, max(r for _, r in history))
        limited: tuple[str, str] | None = None
        if raw > high:
            limited = ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
        elif raw < low:
            limited = ("TooFewReplicas", "the desired replica count is less than the minimum replica count")
        conditions = set_condition(conditions, "AbleToScale", "True",
                                   "SucceededRescale" if desired != current else "ReadyForNewScale",
                                   f"the HPA controller was able to update the target scale to {desired}"
                                   if desired != current else "recommended size matches current size", stamp)
        conditions = set_condition(conditions, "ScalingActive", "True", "ValidMetricFound",
                                   "the HPA was able to successfully calculate a replica count from cpu resource "
                                   "utilization (percentage of request)", stamp)
        conditions = set_condition(conditions, "ScalingLimited", "True" if limited else "False",
                                   limited[0] if limited else "DesiredWithinRange",
                                   limited[1] if limited else "the desired count is within the acceptable range", stamp)
        if desired != current:
            assert target_kind is not None
            self.patch(self.rt(target_kind[0], "v1", target_kind[1]), target, {"spec": {"replicas": desired}})
            reason = "above" if desired > current else "below"
            self.recorder.record(hpa, "SuccessfulRescale", f"New size: {desired}; reason: "
                                 f"{metrics[0].get('resource', {}).get('name', 'cpu')} resource utilization "
                                 f"(percentage of request) {reason} target", NORMAL, HPA_CONTROLLER)
            status["lastScaleTime"] = stamp
        elif old.get("lastScaleTime"):
            status["lastScaleTime"] = old["lastScaleTime"]
        status.update({"currentReplicas": current, "desiredReplicas": desired, "conditions": conditions})
        if current_metrics:
            status["currentMetrics"] = current_metrics
        self.write_status(self.rt("autoscaling", "v2", "horizontalpodautoscalers"), hpa, status)
        return now + SYNC_SECONDS
