"""The Deployment controller: ReplicaSets per pod template, rolling updates that can stall, real conditions.

Why: `kubectl rollout status`, `rollout undo` and every "is my rollout healthy?" question read
what this controller writes. As upstream: one ReplicaSet per pod template (`<name>-<hash>`, with
the `deployment.kubernetes.io/revision` annotation that `rollout history/undo` use); a
RollingUpdate scales the new ReplicaSet up within maxSurge and old ones down within maxUnavailable,
so a broken image leaves the old pods serving; Recreate empties the old ones first. Status counts
come from the ReplicaSets (hence from real pods); `Available` is False while fewer than
`replicas - maxUnavailable` pods are available; `Progressing` turns False with
ProgressDeadlineExceeded when nothing progressed for `progressDeadlineSeconds`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from typing import Any

from sandbox.clock import parse_rfc3339
from sandbox.controllers.base import Controller, condition, owner_reference, set_condition
from sandbox.recorder import NORMAL
from sandbox.store import ObjectKey

REVISION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
TEMPLATE_HASH = "pod-template-hash"
DEPLOYMENT_CONTROLLER = "deployment-controller"


def template_hash(template: dict[str, Any]) -> str:
    """A stable short hash of a pod template, usable as a label value and a name suffix."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    n = int(digest[:16], 16)
    out = ""
    for _ in range(10):
        n, r = divmod(n, len(alphabet))
        out += alphabet[r]
    return out


def resolve(value: Any, total: int, round_up: bool) -> int:
    """An int-or-percent of `total` (maxSurge rounds up, maxUnavailable down)."""
    if value is None:
        value = "25%"
    if isinstance(value, str) and value.endswith("%"):
        share = total * float(value[:-1]) / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(value)


def revision_of(rs: dict[str, Any]) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _replicas(rs: dict[str, Any]) -> int:
    return int((rs.get("spec") or {}).get("replicas", 0))


def _status(rs: dict[str, Any], field: str) -> int:
    return int((rs.get("status") or {}).get(field) or 0)


class DeploymentController(Controller):
    name = DEPLOYMENT_CONTROLLER
    watches = (("apps", "deployments"), ("apps", "replicasets"))
    owner_kind = "Deployment"

    def reconcile(self, key: ObjectKey) -> float | None:
        deploy = self.get(*key)
        if deploy is None or deploy["metadata"].get("deletionTimestamp"):
            return None
        spec = deploy.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        owned = self.owned("apps", "replicasets", deploy)
        new_rs, created = self._new_replica_set(deploy, owned)
        old = [rs for rs in owned if rs["metadata"]["uid"] != (new_rs or {}).get("metadata", {}).get("uid")]
        if not spec.get("paused") and new_rs is not None:
            strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
            if strategy == "Recreate":
                self._recreate(deploy, new_rs, old, replicas)
            else:
                self._rolling(deploy, new_rs, old, replicas)
            self._prune(deploy, old, int(spec.get("revisionHistoryLimit", 10)))
        deploy = self.get(*key) or deploy
        if new_rs is not None and (deploy["metadata"].get("annotations") or {}).get(REVISION) != str(revision_of(new_rs)):
            deploy = self.patch(self.rt("apps", "v1", "deployments"), deploy,
                                {"metadata": {"annotations": {REVISION: str(revision_of(new_rs))}}}) or deploy
        if self.staged(deploy):
            return None
        owned = self.owned("apps", "replicasets", deploy)
        new_rs = next((rs for rs in owned if new_rs and rs["metadata"]["uid"] == new_rs["metadata"]["uid"]), None)
        return self._sync_status(deploy, new_rs, owned, created)

    # -- ReplicaSets -------------------------------------------------------------------------------

    def _new_replica_set(self, deploy: dict[str, Any], owned: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, bool]:
        spec = deploy.get("spec") or {}
        template = spec.get("template") or {}
        digest = template_hash(template)
        top = max((revision_of(rs) for rs in owned), default=0)
        current = next((rs for rs in owned if (rs["metadata"].get("labels") or {}).get(TEMPLATE_HASH) == digest), None)
        rs_rt = self.rt("apps", "v1", "replicasets")
        replicas = int(spec.get("replicas", 1))
        surge = resolve(((spec.get("strategy") or {}).get("rollingUpdate") or {}).get("maxSurge"), replicas, True)
        if current is not None:
            if revision_of(current) < top:  # a rollback to an older template: it becomes the newest revision
                current = self.patch(rs_rt, current, {"metadata": {"annotations": {REVISION: str(top + 1)}}}) or current
            return current, False
        if spec.get("paused"):
            return None, False
        meta = deploy["metadata"]
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels[TEMPLATE_HASH] = digest
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[TEMPLATE_HASH] = digest
        pod_template = copy.deepcopy(template)
        pod_template.setdefault("metadata", {})["labels"] = labels
        start = 0 if any(_replicas(rs) for rs in owned) else replicas
        body: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": f"{meta['name']}-{digest}", "labels": labels,
                             "annotations": {REVISION: str(top + 1), DESIRED_REPLICAS: str(replicas),
                                             MAX_REPLICAS: str(replicas + surge)},
                             "ownerReferences": [owner_reference(deploy, "apps/v1", "Deployment")]},
                "spec": {"replicas": start, "selector": selector, "template": pod_template}}
        for field in ("minReadySeconds",):
            if spec.get(field):
                body["spec"][field] = spec[field]
        created = self.create(rs_rt, meta.get("namespace", ""), body)
        if created is not None and start:
            self._scaled(deploy, created, 0, start)
        return created, created is not None

    def _scale(self, deploy: dict[str, Any], rs: dict[str, Any], to: int) -> dict[str, Any]:
        before = _replicas(rs)
        replicas = int((deploy.get("spec") or {}).get("replicas", 1))
        annotations = {DESIRED_REPLICAS: str(replicas)}
        if before == to and (rs["metadata"].get("annotations") or {}).get(DESIRED_REPLICAS) == str(replicas):
            return rs
        rs = self.patch(self.rt("apps", "v1", "replicasets"), rs,
                        {"metadata": {"annotations": annotations}, "spec": {"replicas": to}}) or rs
        if before != to:
            self._scaled(deploy, rs, before, to)
        return rs

    def _scaled(self, deploy: dict[str, Any], rs: dict[str, Any], before: int, to: int) -> None:
        verb = "up" if to > before else "down"
        self.recorder.record(deploy, "ScalingReplicaSet", f"Scaled {verb} replica set {rs['metadata']['name']} "
                             f"from {before} to {to}", NORMAL, DEPLOYMENT_CONTROLLER)

    def _recreate(self, deploy: dict[str, Any], new_rs: dict[str, Any], old: list[dict[str, Any]], replicas: int) -> None:
        for rs in old:
            if _replicas(rs):
                self._scale(deploy, rs, 0)
        if any(_status(rs, "replicas") for rs in old):
            return  # wait until the old pods are gone
        self._scale(deploy, new_rs, replicas)

    def _rolling(self, deploy: dict[str, Any], new_rs: dict[str, Any], old: list[dict[str, Any]], replicas: int) -> None:
        rolling = ((deploy.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
        surge = resolve(rolling.get("maxSurge"), replicas, True)
        unavailable = resolve(rolling.get("maxUnavailable"), replicas, False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        if not any(_replicas(rs) for rs in old):  # nothing to roll over: just scale
            self._scale(deploy, new_rs, replicas)
            return
        current = _replicas(new_rs) + sum(_replicas(rs) for rs in old)
        if _replicas(new_rs) > replicas:
            new_rs = self._scale(deploy, new_rs, replicas)
        elif current < replicas + surge:
            grow = min(replicas + surge - current, replicas - _replicas(new_rs))
            if grow > 0:
                new_rs = self._scale(deploy, new_rs, _replicas(new_rs) + grow)
        min_available = replicas - unavailable
        all_pods = _replicas(new_rs) + sum(_replicas(rs) for rs in old)
        new_unavailable = _replicas(new_rs) - _status(new_rs, "availableReplicas")
        budget = all_pods - min_available - new_unavailable
        if budget <= 0:
            return
        for rs in sorted(old, key=revision_of):  # first the unhealthy old replicas
            if budget <= 0:
                break
            unhealthy = _replicas(rs) - _status(rs, "availableReplicas")
            if unhealthy > 0:
                cut = min(budget, unhealthy)
                self._scale(deploy, rs, _replicas(rs) - cut)
                budget -= cut
        old = [self.get("apps", "replicasets", rs["metadata"].get("namespace", ""), rs["metadata"]["name"]) or rs
               for rs in old]
        available = _status(new_rs, "availableReplicas") + sum(_status(rs, "availableReplicas") for rs in old)
        budget = min(budget, available - min_available)
        for rs in sorted(old, key=revision_of):
            if budget <= 0:
                break
            if _replicas(rs):
                cut = min(budget, _replicas(rs))
                self._scale(deploy, rs, _replicas(rs) - cut)
                budget -= cut

    def _prune(self, deploy: dict[str, Any], old: list[dict[str, Any]], limit: int) -> None:
        idle = sorted((rs for rs in old if not _replicas(rs) and not _status(rs, "replicas")), key=revision_of)
        rt = self.rt("apps", "v1", "replicasets")
        for rs in idle[: max(0, len(idle) - limit)]:
            self.delete(rt, rs)

    # -- status ------------------------------------------------------------------------------------

    def _sync_status(self, deploy: dict[str, Any], new_rs: dict[str, Any] | None, owned: list[dict[str, Any]],
                     created: bool) -> float | None:
        spec = deploy.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        unavailable_allowed = resolve(rolling.get("maxUnavailable"), replicas, False) \
            if (spec.get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate" else 0
        total = sum(_status(rs, "replicas") for rs in owned)
        updated = _status(new_rs, "replicas") if new_rs is not None else 0
        ready = sum(_status(rs, "readyReplicas") for rs in owned)
        available = sum(_status(rs, "availableReplicas") for rs in owned)
        old_status = deploy.get("status") or {}
        status: dict[str, Any] = {"observedGeneration": deploy["metadata"].get("generation", 1)}
        for field, value in (("replicas", total), ("updatedReplicas", updated), ("readyReplicas", ready),
                             ("availableReplicas", available), ("unavailableReplicas", max(0, replicas - available))):
            if value:
                status[field] = value
        if old_status.get("collisionCount"):
            status["collisionCount"] = old_status["collisionCount"]
        stamp = self.clock.timestamp()
        conditions = [dict(c) for c in old_status.get("conditions") or []]
        if available >= replicas - unavailable_allowed:
            conditions = set_condition(conditions, "Available", "True", "MinimumReplicasAvailable",
                                       "Deployment has minimum availability.", stamp, update_time=True)
        else:
            conditions = set_condition(conditions, "Available", "False", "MinimumReplicasUnavailable",
                                       "Deployment does not have minimum availability.", stamp, update_time=True)
        due = None
        name = new_rs["metadata"]["name"] if new_rs is not None else ""
        progressing = condition(conditions, "Progressing")
        complete = new_rs is not None and updated == replicas and available == replicas and total == replicas and \
            _replicas(new_rs) == replicas
        if spec.get("paused"):
            conditions = set_condition(conditions, "Progressing", "Unknown", "DeploymentPaused",
                                       "Deployment is paused", stamp, update_time=True)
        elif complete:
            conditions = set_condition(conditions, "Progressing", "True", "NewReplicaSetAvailable",
                                       f'ReplicaSet "{name}" has successfully progressed.', stamp, update_time=True)
        elif progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded" and \
                not self._progressed(old_status, status):
            pass
        elif new_rs is not None:
            if created:
                reason, message = "NewReplicaSetCreated", f'Created new replica set "{name}"'
            elif progressing is None or progressing.get("reason") == "DeploymentPaused":
                reason, message = "FoundNewReplicaSet", f'Found new replica set "{name}"'
            else:
                reason, message = "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.'
            moved = created or progressing is None or self._progressed(old_status, status) or \
                progressing.get("reason") in ("NewReplicaSetAvailable", "DeploymentPaused")
            if moved:
                conditions = set_condition(conditions, "Progressing", "True", reason, message, stamp)
                for c in conditions:
                    if c["type"] == "Progressing":
                        c["lastUpdateTime"] = stamp
            deadline = spec.get("progressDeadlineSeconds", 600)
            current = condition(conditions, "Progressing") or {}
            last = parse_rfc3339(current.get("lastUpdateTime")) or self.clock.now()
            if deadline is not None and current.get("status") == "True":
                expires = last + float(deadline)
                if self.clock.now() >= expires:
                    conditions = set_condition(conditions, "Progressing", "False", "ProgressDeadlineExceeded",
                                               f'ReplicaSet "{name}" has timed out progressing.', stamp,
                                               update_time=True)
                else:
                    due = expires
        order = {"Available": 0, "Progressing": 1, "ReplicaFailure": 2}
        status["conditions"] = sorted(conditions, key=lambda c: order.get(c["type"], 9))
        if old_status.get("conditions"):
            for new_c in status["conditions"]:  # keep the stored lastUpdateTime when nothing else changed
                old_c = condition(old_status["conditions"], new_c["type"])
                if old_c is not None and {k: v for k, v in old_c.items() if k != "lastUpdateTime"} == \
                        {k: v for k, v in new_c.items() if k != "lastUpdateTime"} and new_c["type"] == "Available":
                    new_c["lastUpdateTime"] = old_c.get("lastUpdateTime", new_c.get("lastUpdateTime"))
        self.write_status(self.rt("apps", "v1", "deployments"), deploy, status)
        return due

    @staticmethod
    def _progressed(old: dict[str, Any], new: dict[str, Any]) -> bool:
        fields = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
        return any(int(old.get(f) or 0) != int(new.get(f) or 0) for f in fields)
