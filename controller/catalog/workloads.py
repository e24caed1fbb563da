"""Actions on running workloads: scale, restart, roll back, set an image, set resources.

Why these render partial manifests: the Deployment is owned by whoever wrote it (a Helm chart, a
repo, a person). Server-side apply of only the changed fields (`spec.replicas`, one container's
`image`) changes exactly what the person approved and leaves every other field, and its owner,
alone. Containers are merged by name, so naming one container never drops the others.

Why each render looks at the live object first: an action on a workload that does not exist, or a
container name that is not there, would create a broken half-object; instead it renders nothing
and says why, and the planner does not offer it.
"""

from __future__ import annotations

import copy
from typing import Any

from controller.api.types import ObjectRef, Permission
from controller.catalog.base import (
    NOW_PLACEHOLDER,
    ActionSpec,
    AtRisk,
    Check,
    Rendered,
    Risk,
    describe_ref,
    live_object,
    missing,
    nothing,
    ref,
)
from controller.catalog.data_risk import workload_volumes
from controller.catalog.params import (
    WORKLOAD_KINDS,
    RestartParams,
    RollbackParams,
    ScaleParams,
    SetImageParams,
    SetResourcesParams,
)
from controller.planning.types import ClusterReader
from renderer.manifests import render_manifest

APPS = "apps/v1"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REVISION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"


def workload_ref(kind: str, name: str, namespace: str) -> ObjectRef:
    return ref(APPS, kind, name, namespace)


def _live(cluster: ClusterReader | None, r: ObjectRef) -> dict[str, Any] | None:
    return live_object(cluster, r) if cluster is not None else None


def containers_of(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return list((((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [])


def pick_container(obj: dict[str, Any], wanted: str | None) -> tuple[dict[str, Any] | None, str]:
    """The container to change, or None and why not."""
    containers = containers_of(obj)
    if wanted is not None:
        for c in containers:
            if c.get("name") == wanted:
                return c, ""
        names = ", ".join(str(c.get("name")) for c in containers) or "none"
        return None, f"there is no container {wanted!r} (containers: {names})"
    if len(containers) == 1:
        return containers[0], ""
    names = ", ".join(str(c.get("name")) for c in containers) or "none"
    return None, f"it has {len(containers)} containers ({names}); say which one"


class Scale(ActionSpec[ScaleParams]):
    def title(self, params: ScaleParams, cluster: ClusterReader | None = None) -> str:
        r = workload_ref(params.kind, params.name, params.namespace)
        live = _live(cluster, r)
        current = (live or {}).get("spec", {}).get("replicas") if live else None
        if current is not None:
            return f"Scale {describe_ref(r)} from {current} to {params.replicas} replicas"
        return f"Scale {describe_ref(r)} to {params.replicas} replicas"

    def risk_of(self, params: ScaleParams, cluster: ClusterReader | None = None) -> Risk:
        return "high" if params.replicas == 0 else self.risk

    def targets(self, params: ScaleParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [workload_ref(params.kind, params.name, params.namespace)]

    def render(self, params: ScaleParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        r = self.targets(params, cluster)[0]
        live = live_object(cluster, r)
        if live is None:
            return missing(r)
        notes = []
        if (live.get("spec") or {}).get("replicas") == params.replicas:
            notes.append(f"{describe_ref(r)} already has {params.replicas} replicas.")
        if params.replicas == 0:
            notes.append("Scaling to 0 stops every pod: the workload serves nothing until scaled up.")
        manifest = render_manifest("workload-replicas", api_version=APPS, kind=params.kind,
                                   name=params.name, namespace=params.namespace, replicas=params.replicas)
        return Rendered(manifests=[manifest], notes=notes)

    def checks(self, params: ScaleParams, cluster: ClusterReader) -> list[Check]:
        r = self.targets(params, cluster)[0]
        if live_object(cluster, r) is None:
            return []
        return [Check(ref=r, expect={"spec": {"replicas": params.replicas}}, rollout=True)]

    def data_at_risk(self, params: ScaleParams, cluster: ClusterReader) -> list[AtRisk]:
        """Scaling a StatefulSet down deletes the removed pods' claims when its policy says `whenScaled: Delete`."""
        r = self.targets(params, cluster)[0]
        live = live_object(cluster, r) or {}
        spec = live.get("spec") or {}
        current = int(spec.get("replicas", 1) or 0)
        if params.kind != "StatefulSet" or params.replicas >= current or \
                (spec.get("persistentVolumeClaimRetentionPolicy") or {}).get("whenScaled") != "Delete":
            return []
        return workload_volumes(cluster, r, "scaling down deletes this claim (whenScaled: Delete)",
                                ordinals=range(params.replicas, current))


class Restart(ActionSpec[RestartParams]):
    def title(self, params: RestartParams, cluster: ClusterReader | None = None) -> str:
        return f"Restart {describe_ref(workload_ref(params.kind, params.name, params.namespace))} (rolling)"

    def targets(self, params: RestartParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [workload_ref(params.kind, params.name, params.namespace)]

    def render(self, params: RestartParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        r = self.targets(params, cluster)[0]
        if live_object(cluster, r) is None:
            return missing(r)
        manifest = render_manifest("workload-restart", api_version=APPS, kind=params.kind, name=params.name,
                                   namespace=params.namespace, restarted_at=now)
        return Rendered(manifests=[manifest], notes=["Pods are replaced one by one, as with `kubectl rollout restart`."])

    def checks(self, params: RestartParams, cluster: ClusterReader) -> list[Check]:
        r = self.targets(params, cluster)[0]
        if live_object(cluster, r) is None:
            return []
        # The timestamp is only known when the executor renders; the rollout is what matters.
        return [Check(ref=r, rollout=True)]

    def restore(self, params: RestartParams, cluster: ClusterReader) -> str:
        return ("A restart cannot be undone; restore re-applies the saved Deployment, "
                "which starts one more rolling restart.")


def _owned_replicasets(cluster: ClusterReader, name: str, namespace: str) -> list[tuple[int, dict[str, Any]]]:
    """(revision, ReplicaSet) of the Deployment, oldest first."""
    found = []
    for rs in cluster.list(APPS, "ReplicaSet", namespace):
        meta = rs.get("metadata") or {}
        owners = meta.get("ownerReferences") or []
        if not any(o.get("kind") == "Deployment" and o.get("name") == name for o in owners):
            continue
        try:
            revision = int((meta.get("annotations") or {}).get(REVISION, ""))
        except ValueError:
            continue
        found.append((revision, rs))
    return sorted(found, key=lambda item: item[0])


def _rollback_choice(params: RollbackParams, cluster: ClusterReader) -> tuple[int, dict[str, Any] | None, int, str]:
    """(current revision, chosen ReplicaSet, its revision, why-not)."""
    history = _owned_replicasets(cluster, params.name, params.namespace)
    deployment = live_object(cluster, workload_ref("Deployment", params.name, params.namespace)) or {}
    try:
        current = int(((deployment.get("metadata") or {}).get("annotations") or {}).get(REVISION, ""))
    except ValueError:
        current = history[-1][0] if history else 0
    if params.to_revision is not None:
        if params.to_revision == current:
            return current, None, 0, f"revision {current} is the current one"
        for revision, rs in history:
            if revision == params.to_revision:
                return current, rs, revision, ""
        known = ", ".join(str(r) for r, _ in history) or "none"
        return current, None, 0, f"there is no revision {params.to_revision} (revisions kept: {known})"
    earlier = [(r, rs) for r, rs in history if r < current]
    if not earlier:
        return current, None, 0, "there is no earlier revision to roll back to"
    revision, rs = earlier[-1]
    return current, rs, revision, ""


def _template_of(rs: dict[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
    labels = (template.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)  # set by the controller per ReplicaSet, never by people
    return template


class Rollback(ActionSpec[RollbackParams]):
    def title(self, params: RollbackParams, cluster: ClusterReader | None = None) -> str:
        r = workload_ref("Deployment", params.name, params.namespace)
        if cluster is not None:
            current, rs, revision, _ = _rollback_choice(params, cluster)
            if rs is not None:
                return f"Roll back {describe_ref(r)} from revision {current} to revision {revision}"
        if params.to_revision is not None:
            return f"Roll back {describe_ref(r)} to revision {params.to_revision}"
        return f"Roll back {describe_ref(r)} to its previous revision"

    def targets(self, params: RollbackParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [workload_ref("Deployment", params.name, params.namespace)]

    def extra_permissions(self, params: RollbackParams, cluster: ClusterReader) -> list[Permission]:
        return [Permission(verb="list", group="apps", resource="replicasets", namespace=params.namespace)]

    def render(self, params: RollbackParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        r = self.targets(params, cluster)[0]
        if live_object(cluster, r) is None:
            return missing(r)
        current, rs, revision, why = _rollback_choice(params, cluster)
        if rs is None and params.to_revision is None:
            return Rendered(deferred=True, notes=[
                f"{describe_ref(r)} has no revision before {current or 'the current one'} recorded right now, so the "
                f"target is resolved when the plan runs: the revision before the current one at that moment "
                f"(as `kubectl rollout undo` does). If there is still none, nothing is applied and the thread says so."])
        if rs is None:
            return nothing(f"Cannot roll back {describe_ref(r)}: {why}.")
        manifest = render_manifest("workload-template", api_version=APPS, kind="Deployment", name=params.name,
                                   namespace=params.namespace, template=_template_of(rs))
        images = ", ".join(f"{c.get('name')}={c.get('image')}" for c in containers_of(rs))
        return Rendered(manifests=[manifest],
                        notes=[f"Revision {revision} ran {images}; the Deployment is now at revision {current}."])

    def checks(self, params: RollbackParams, cluster: ClusterReader) -> list[Check]:
        _, rs, _, _ = _rollback_choice(params, cluster)
        if rs is None:
            return []
        containers = [{"name": c.get("name"), "image": c.get("image")} for c in containers_of(rs)]
        return [Check(ref=self.targets(params, cluster)[0],
                      expect={"spec": {"template": {"spec": {"containers": containers}}}}, rollout=True)]

    def data_at_risk(self, params: RollbackParams, cluster: ClusterReader) -> list[AtRisk]:
        return workload_volumes(cluster, self.targets(params, cluster)[0], "an older version runs on this data")


class SetImage(ActionSpec[SetImageParams]):
    def title(self, params: SetImageParams, cluster: ClusterReader | None = None) -> str:
        r = workload_ref(params.kind, params.name, params.namespace)
        live = _live(cluster, r)
        if live is not None:
            container, _ = pick_container(live, params.container)
            if container is not None:
                return (f"Set image of container {container.get('name')} in {describe_ref(r)} "
                        f"from {container.get('image')} to {params.image}")
        where = f"container {params.container} in " if params.container else ""
        return f"Set image of {where}{describe_ref(r)} to {params.image}"

    def targets(self, params: SetImageParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [workload_ref(params.kind, params.name, params.namespace)]

    def render(self, params: SetImageParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        r = self.targets(params, cluster)[0]
        live = live_object(cluster, r)
        if live is None:
            return missing(r)
        container, why = pick_container(live, params.container)
        if container is None:
            return nothing(f"Cannot set the image of {describe_ref(r)}: {why}.")
        notes = []
        if params.image.endswith(":latest") or ":" not in params.image.rsplit("/", 1)[-1]:
            notes.append(f"{params.image} has no fixed tag: what runs may change without a new plan.")
        manifest = render_manifest("workload-containers", api_version=APPS, kind=params.kind, name=params.name,
                                   namespace=params.namespace,
                                   containers=[{"name": container["name"], "image": params.image}])
        return Rendered(manifests=[manifest], notes=notes)

    def data_at_risk(self, params: SetImageParams, cluster: ClusterReader) -> list[AtRisk]:
        """A new image may migrate the data it finds (a database upgrade) in a way the old one cannot read."""
        return workload_volumes(cluster, self.targets(params, cluster)[0],
                                f"the image changes to {params.image} (an upgrade may rewrite the data)")


def _quantities(values: Any) -> dict[str, str]:
    return {k: v for k, v in (("cpu", values.cpu), ("memory", values.memory)) if v is not None}


class SetResources(ActionSpec[SetResourcesParams]):
    def title(self, params: SetResourcesParams, cluster: ClusterReader | None = None) -> str:
        r = workload_ref(params.kind, params.name, params.namespace)
        parts = []
        for label, values in (("requests", params.requests), ("limits", params.limits)):
            q = _quantities(values)
            if q:
                parts.append(f"{label} " + ", ".join(f"{k}={v}" for k, v in q.items()))
        where = f"container {params.container} in " if params.container else ""
        return f"Set {'; '.join(parts) or 'resources'} on {where}{describe_ref(r)}"

    def targets(self, params: SetResourcesParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [workload_ref(params.kind, params.name, params.namespace)]

    def render(self, params: SetResourcesParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        r = self.targets(params, cluster)[0]
        live = live_object(cluster, r)
        if live is None:
            return missing(r)
        resources = {k: q for k, q in (("requests", _quantities(params.requests)),
                                       ("limits", _quantities(params.limits))) if q}
        if not resources:
            return nothing("No requests or limits were given, so there is nothing to set.")
        container, why = pick_container(live, params.container)
        if container is None:
            return nothing(f"Cannot set resources of {describe_ref(r)}: {why}.")
        manifest = render_manifest("workload-containers", api_version=APPS, kind=params.kind, name=params.name,
                                   namespace=params.namespace,
                                   containers=[{"name": container["name"], "resources": resources}])
        return Rendered(manifests=[manifest], notes=["Changing resources replaces the pods (a rolling update)."])


SCALE = Scale(
    name="scale", context="k8s", params=ScaleParams, risk="low",
    existing={"name": WORKLOAD_KINDS},
    description=("Scale a Deployment or StatefulSet to a given number of replicas (more or fewer pods, "
                 "scale up, scale down, resize, set the instance count). Changes only spec.replicas."),
)
RESTART = Restart(
    name="restart", context="k8s", params=RestartParams, risk="low",
    existing={"name": WORKLOAD_KINDS},
    description=("Restart a Deployment or StatefulSet with a rolling restart (like `kubectl rollout restart`): "
                 "every pod is replaced one by one, e.g. to pick up a changed ConfigMap or recover stuck pods."),
)
ROLLBACK = Rollback(
    name="rollback", context="k8s", params=RollbackParams, risk="medium",
    existing={"name": ("Deployment",)},
    description=("Roll a Deployment back to its previous revision (or a given revision): undo a bad rollout, "
                 "revert to the last working version. Uses the pod template of the earlier ReplicaSet."),
)
SET_IMAGE = SetImage(
    name="set-image", context="k8s", params=SetImageParams, risk="medium",
    existing={"name": WORKLOAD_KINDS},
    description=("Set the container image (and tag) of one container of a Deployment or StatefulSet: "
                 "upgrade, downgrade, update or pin the version. Starts a rolling update."),
)
SET_RESOURCES = SetResources(
    name="set-resources", context="k8s", params=SetResourcesParams, risk="medium",
    existing={"name": WORKLOAD_KINDS},
    description=("Set CPU and memory requests and limits of one container of a Deployment or StatefulSet, "
                 "e.g. to fix OOMKilled pods or pods Pending for lack of resources. Starts a rolling update."),
)
ACTIONS: tuple[ActionSpec[Any], ...] = (SCALE, RESTART, ROLLBACK, SET_IMAGE, SET_RESOURCES)
