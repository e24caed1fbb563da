"""The StatefulSet controller: ordinal pods `web-0..N-1`, their PVCs from volumeClaimTemplates, ordered rollouts.

Why: stateful workloads are where order and storage matter. As upstream: pod `<name>-<i>` gets the
claims `<template>-<name>-<i>` (created first, kept when the pod goes), hostname = pod name and
subdomain = serviceName; with OrderedReady, pod i+1 is created only once pod i is Running and
Ready, and scaling down removes the highest ordinal first, one at a time; a template change
replaces pods from the highest ordinal down (RollingUpdate, honouring `partition`), recorded as
ControllerRevisions.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from sandbox.controllers.base import Controller, owner_reference
from sandbox.controllers.deployments import template_hash
from sandbox.controllers.replicasets import PodCounter, active, ready_since
from sandbox.recorder import NORMAL
from sandbox.store import ObjectKey

STS_CONTROLLER = "statefulset-controller"
REVISION_LABEL = "controller-revision-hash"


class StatefulSetController(Controller):
    name = STS_CONTROLLER
    watches = (("apps", "statefulsets"), ("", "pods"))
    owner_kind = "StatefulSet"

    def reconcile(self, key: ObjectKey) -> float | None:
        sts = self.get(*key)
        if sts is None or sts["metadata"].get("deletionTimestamp"):
            return None
        spec = sts.get("spec") or {}
        name, namespace = sts["metadata"]["name"], sts["metadata"].get("namespace", "")
        replicas = int(spec.get("replicas", 1))
        revision = f"{name}-{template_hash(spec.get('template') or {})}"
        self._revision(sts, revision)
        pods = {p["metadata"]["name"]: p for p in self.owned("", "pods", sts)}
        pods_rt = self.rt("", "v1", "pods")
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        for i in range(replicas):
            pod_name = f"{name}-{i}"
            pod = pods.get(pod_name)
            if pod is not None and (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed") and \
                    not pod["metadata"].get("deletionTimestamp"):
                self.delete(pods_rt, pod)
                pods.pop(pod_name)
                pod = None
            if pod is None:
                self._claims(sts, i)
                created = self.create(pods_rt, namespace, self._pod(sts, i, revision))
                if created is not None:
                    pods[pod_name] = created
                    self.recorder.record(sts, "SuccessfulCreate", f"create Pod {pod_name} in StatefulSet {name} "
                                         "successful", NORMAL, STS_CONTROLLER)
                if ordered:
                    break
            elif ordered and not (ready_since(pod) is not None and active(pod)):
                break
        extra = sorted((p for n, p in pods.items() if _ordinal(n, name) >= replicas and active(p)),
                       key=lambda p: -_ordinal(p["metadata"]["name"], name))
        for pod in extra[:1] if ordered else extra:
            self.delete(pods_rt, pod)
            self.recorder.record(sts, "SuccessfulDelete", f"delete Pod {pod['metadata']['name']} in StatefulSet "
                                 f"{name} successful", NORMAL, STS_CONTROLLER)
        if not extra:
            self._roll(sts, pods, replicas, revision)
        sts = self.get(*key) or sts
        if self.staged(sts):
            return None
        current_pods = [p for p in self.owned("", "pods", sts) if active(p)]
        counts = PodCounter(current_pods, float(spec.get("minReadySeconds") or 0), self.clock.now())
        updated = sum(1 for p in current_pods if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == revision)
        old_status = sts.get("status") or {}
        current_revision = old_status.get("currentRevision") or revision
        if updated == len(current_pods) == replicas:
            current_revision = revision
        status: dict[str, Any] = {"observedGeneration": sts["metadata"].get("generation", 1),
                                  "replicas": len(current_pods), "availableReplicas": counts.available,
                                  "currentRevision": current_revision, "updateRevision": revision,
                                  "collisionCount": 0}
        current = sum(1 for p in current_pods if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) ==
                      current_revision)
        for field, value in (("readyReplicas", counts.ready), ("currentReplicas", current),
                             ("updatedReplicas", updated)):
            if value:
                status[field] = value
        self.write_status(self.rt("apps", "v1", "statefulsets"), sts, status)
        return counts.next_check

    def _pod(self, sts: dict[str, Any], ordinal: int, revision: str) -> dict[str, Any]:
        spec = sts.get("spec") or {}
        template = copy.deepcopy(spec.get("template") or {})
        name = f"{sts['metadata']['name']}-{ordinal}"
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels.update({"statefulset.kubernetes.io/pod-name": name, REVISION_LABEL: revision,
                       "apps.kubernetes.io/pod-index": str(ordinal)})
        pod_spec = template.get("spec") or {}
        pod_spec["hostname"] = name
        if spec.get("serviceName"):
            pod_spec["subdomain"] = spec["serviceName"]
        volumes = [v for v in pod_spec.get("volumes") or []]
        names = {v.get("name") for v in volumes}
        for claim in spec.get("volumeClaimTemplates") or []:
            claim_name = claim["metadata"]["name"]
            if claim_name not in names:
                volumes.append({"name": claim_name, "persistentVolumeClaim": {
                    "claimName": f"{claim_name}-{sts['metadata']['name']}-{ordinal}"}})
        if volumes:
            pod_spec["volumes"] = volumes
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "labels": labels,
                             "ownerReferences": [owner_reference(sts, "apps/v1", "StatefulSet")]},
                "spec": pod_spec}
        if (template.get("metadata") or {}).get("annotations"):
            body["metadata"]["annotations"] = template["metadata"]["annotations"]
        return body

    def _claims(self, sts: dict[str, Any], ordinal: int) -> None:
        spec = sts.get("spec") or {}
        namespace = sts["metadata"].get("namespace", "")
        rt = self.rt("", "v1", "persistentvolumeclaims")
        selector_labels = ((spec.get("selector") or {}).get("matchLabels") or {})
        for template in spec.get("volumeClaimTemplates") or []:
            claim_name = f"{template['metadata']['name']}-{sts['metadata']['name']}-{ordinal}"
            if self.get("", "persistentvolumeclaims", namespace, claim_name) is not None:
                continue
            body: dict[str, Any] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": claim_name,
                                 "labels": {**((template.get("metadata") or {}).get("labels") or {}),
                                            **selector_labels}},
                    "spec": copy.deepcopy(template.get("spec") or {})}
            policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
            if policy.get("whenDeleted") == "Delete":
                body["metadata"]["ownerReferences"] = [owner_reference(sts, "apps/v1", "StatefulSet")]
            if self.create(rt, namespace, body) is not None:
                pod = f"{sts['metadata']['name']}-{ordinal}"
                self.recorder.record(sts, "SuccessfulCreate", f"create Claim {claim_name} Pod {pod} in StatefulSet "
                                     f"{sts['metadata']['name']} success", NORMAL, STS_CONTROLLER)

    def _roll(self, sts: dict[str, Any], pods: dict[str, dict[str, Any]], replicas: int, revision: str) -> None:
        strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        name = sts["metadata"]["name"]
        live = [pods.get(f"{name}-{i}") for i in range(replicas)]
        if any(p is None or not active(p) or ready_since(p) is None for p in live):
            return  # update one pod at a time, only while all are ready
        for i in range(replicas - 1, partition - 1, -1):
            pod = live[i]
            assert pod is not None
            if (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) != revision:
                self.delete(self.rt("", "v1", "pods"), pod)
                return

    def _revision(self, sts: dict[str, Any], revision: str) -> None:
        namespace = sts["metadata"].get("namespace", "")
        if self.get("apps", "controllerrevisions", namespace, revision) is not None:
            return
        existing = self.owned("apps", "controllerrevisions", sts)
        number = max((int(r.get("revision", 0)) for r in existing), default=0) + 1
        template = (sts.get("spec") or {}).get("template") or {}
        body = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                "metadata": {"name": revision, "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                             "ownerReferences": [owner_reference(sts, "apps/v1", "StatefulSet")]},
                "data": {"spec": {"template": json.loads(json.dumps(template))}}, "revision": number}
        self.create(self.rt("apps", "v1", "controllerrevisions"), namespace, body)


def _ordinal(pod_name: str, sts_name: str) -> int:
    suffix = pod_name[len(sts_name) + 1:]
    return int(suffix) if suffix.isdigit() else -1
