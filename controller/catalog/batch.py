"""Work that runs to completion, and new workloads: CronJob (create, suspend/resume), Job, Pod, StatefulSet.

Why new objects are rendered whole and refused when the name is taken: server-side apply onto an
existing Job or Pod would try to change an immutable pod template and fail half-way at sync; saying
so at planning time is clearer. A suspend renders only `spec.suspend`, so the schedule, the job
template and whoever owns them stay as they are.

Why a canary copies the stable pod template: only the image should differ, so the canary sees the same
config, env and probes; it shares the stable selector's labels plus `track: canary`, so the Services
that select the stable pods reach both and traffic splits by the number of ready pods.

Why a StatefulSet comes with its headless Service: `spec.serviceName` must name a governing Service
for the pods' DNS names; when one of that name exists it is used as it is.
"""

from __future__ import annotations

import copy
from typing import Any

from controller.api.types import ObjectRef
from controller.catalog.base import (
    NOW_PLACEHOLDER,
    ActionSpec,
    Check,
    Rendered,
    describe_ref,
    live_object,
    missing,
    nothing,
    ref,
)
from controller.catalog.params_everyday import (
    CanaryParams,
    CronJobParams,
    JobParams,
    PodParams,
    StatefulSetParams,
    SuspendCronJobParams,
)
from controller.catalog.workloads import RESTARTED_AT, pick_container
from controller.planning.types import ClusterReader
from renderer.manifests import render_manifest

BATCH = "batch/v1"
APPS = "apps/v1"


def container(name: str, image: str, command: list[str], args: list[str] | None = None,
              port: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "image": image}
    if command:
        out["command"] = list(command)
    if args:
        out["args"] = list(args)
    if port:
        out["ports"] = [{"containerPort": port}]
    return out


def _command_text(command: list[str], args: list[str]) -> str:
    words = [*command, *args]
    return f" running `{' '.join(words)}`" if words else ""


def _taken(cluster: ClusterReader, r: ObjectRef) -> Rendered | None:
    if live_object(cluster, r) is not None:
        return nothing(f"{describe_ref(r)} exists already: choose another name (its pod template cannot be changed "
                       "in place).")
    return None


class CreateCronJob(ActionSpec[CronJobParams]):
    def title(self, params: CronJobParams, cluster: ClusterReader | None = None) -> str:
        zone = f" ({params.time_zone})" if params.time_zone else ""
        return (f"Create CronJob {params.namespace}/{params.name} on schedule \"{params.schedule}\"{zone} with image "
                f"{params.image}{_command_text(params.command, params.args)}")

    def targets(self, params: CronJobParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(BATCH, "CronJob", params.name, params.namespace)]

    def render(self, params: CronJobParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        r = self.targets(params, cluster)[0]
        if live_object(cluster, r) is not None:
            return nothing(f"{describe_ref(r)} exists already: suspend or resume it, or choose another name.")
        manifest = render_manifest(
            "cronjob", name=params.name, namespace=params.namespace, labels={"app": params.name},
            schedule=params.schedule, time_zone=params.time_zone or "", concurrency_policy=params.concurrency_policy,
            restart_policy=params.restart_policy,
            containers=[container(params.name, params.image, params.command, params.args)])
        notes = [f"Schedules are in the controller's time zone (UTC on most clusters) unless a time zone is given; "
                 f"concurrency policy {params.concurrency_policy}."]
        if not params.command and not params.args:
            notes.append("No command given: the image's default entrypoint runs.")
        return Rendered(manifests=[manifest], notes=notes)


class SuspendCronJob(ActionSpec[SuspendCronJobParams]):
    def title(self, params: SuspendCronJobParams, cluster: ClusterReader | None = None) -> str:
        verb = "Suspend" if params.suspend else "Resume"
        return f"{verb} CronJob {params.namespace}/{params.name}"

    def targets(self, params: SuspendCronJobParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(BATCH, "CronJob", params.name, params.namespace)]

    def render(self, params: SuspendCronJobParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        r = self.targets(params, cluster)[0]
        live = live_object(cluster, r)
        if live is None:
            return missing(r)
        current = bool((live.get("spec") or {}).get("suspend"))
        if current == params.suspend:
            return nothing(f"{describe_ref(r)} is already {'suspended' if current else 'running on its schedule'}.")
        schedule = (live.get("spec") or {}).get("schedule", "?")
        notes = ([f"No new Jobs start until it is resumed (schedule \"{schedule}\"); Jobs already running continue."]
                 if params.suspend else
                 [f"Jobs start again on schedule \"{schedule}\"; runs missed while suspended may start at once "
                  "if they are within startingDeadlineSeconds."])
        manifest = render_manifest("cronjob-suspend", name=params.name, namespace=params.namespace,
                                   suspend=params.suspend)
        return Rendered(manifests=[manifest], notes=notes)


class CreateJob(ActionSpec[JobParams]):
    def title(self, params: JobParams, cluster: ClusterReader | None = None) -> str:
        return (f"Run Job {params.namespace}/{params.name} with image {params.image}"
                f"{_command_text(params.command, params.args)}")

    def targets(self, params: JobParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(BATCH, "Job", params.name, params.namespace)]

    def render(self, params: JobParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        r = self.targets(params, cluster)[0]
        taken = _taken(cluster, r)
        if taken is not None:
            return taken
        manifest = render_manifest("job", name=params.name, namespace=params.namespace, labels={"app": params.name},
                                   backoff_limit=params.backoff_limit, ttl=params.ttl_seconds_after_finished,
                                   containers=[container(params.name, params.image, params.command, params.args)])
        return Rendered(manifests=[manifest], notes=[
            f"The Job starts as soon as it is applied and retries up to {params.backoff_limit} time(s); what it does "
            "cannot be undone by restore (restore deletes the Job object)."])


class CreatePod(ActionSpec[PodParams]):
    def title(self, params: PodParams, cluster: ClusterReader | None = None) -> str:
        return (f"Create Pod {params.namespace}/{params.name} with image {params.image}"
                f"{_command_text(params.command, params.args)}")

    def targets(self, params: PodParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref("v1", "Pod", params.name, params.namespace)]

    def render(self, params: PodParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        r = self.targets(params, cluster)[0]
        taken = _taken(cluster, r)
        if taken is not None:
            return taken
        manifest = render_manifest("pod", name=params.name, namespace=params.namespace, labels={"app": params.name},
                                   restart_policy=params.restart_policy,
                                   containers=[container(params.name, params.image, params.command, params.args,
                                                         params.port)])
        return Rendered(manifests=[manifest], notes=[
            "A bare Pod is not recreated when it ends or its node fails; use a Deployment or Job for anything lasting."])

    def checks(self, params: PodParams, cluster: ClusterReader) -> list[Check]:
        # The kubelet fills in defaults; the image is what the person asked for.
        return [Check(ref=self.targets(params, cluster)[0],
                      expect={"spec": {"containers": [{"name": params.name, "image": params.image}]}})]


class CreateStatefulSet(ActionSpec[StatefulSetParams]):
    def title(self, params: StatefulSetParams, cluster: ClusterReader | None = None) -> str:
        volume = f", a {params.storage} volume per pod at {params.mount_path}" if params.storage else ""
        return (f"Create StatefulSet {params.namespace}/{params.name}: {params.replicas} replica(s) of {params.image}"
                f"{volume}")

    def targets(self, params: StatefulSetParams, cluster: ClusterReader) -> list[ObjectRef]:
        out = [ref(APPS, "StatefulSet", params.name, params.namespace)]
        if live_object(cluster, ref("v1", "Service", params.name, params.namespace)) is None:
            out.append(ref("v1", "Service", params.name, params.namespace))
        return out

    def render(self, params: StatefulSetParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        r = ref(APPS, "StatefulSet", params.name, params.namespace)
        taken = _taken(cluster, r)
        if taken is not None:
            return taken
        labels = {"app": params.name}
        main = container(params.name, params.image, params.command, None, params.port)
        claims: list[dict[str, Any]] = []
        if params.storage:
            main["volumeMounts"] = [{"name": "data", "mountPath": params.mount_path}]
            spec: dict[str, Any] = {"accessModes": list(params.access_modes),
                                    "resources": {"requests": {"storage": params.storage}}}
            if params.storage_class:
                spec["storageClassName"] = params.storage_class
            claims = [{"metadata": {"name": "data"}, "spec": spec}]
        manifests = []
        notes = []
        if len(self.targets(params, cluster)) > 1:
            ports = [{"name": "main", "port": params.port, "targetPort": params.port}] if params.port else \
                [{"name": "none", "port": 80, "targetPort": 80}]
            manifests.append(render_manifest("service-headless", name=params.name, namespace=params.namespace,
                                             labels=labels, ports=ports))
        else:
            notes.append(f"Service {params.name} exists already and is used as the governing Service.")
        manifests.append(render_manifest("statefulset", name=params.name, namespace=params.namespace, labels=labels,
                                         service_name=params.name, replicas=params.replicas, containers=[main],
                                         claim_templates=claims))
        if params.storage:
            notes.append(f"Each pod gets its own claim data-{params.name}-<ordinal>; restore deletes the StatefulSet "
                         "but Kubernetes keeps those claims (delete them by hand if the data is not needed).")
        return Rendered(manifests=manifests, notes=notes)


CANARY_LABEL = "track"


def canary_name(stable: str) -> str:
    return f"{stable}-canary"


def canary_replicas(params: CanaryParams, stable_replicas: int) -> int:
    """Canary pods for the asked share: w% of all pods means canary = stable * w / (100 - w), at least 1."""
    if params.canary_replicas:
        return params.canary_replicas
    if params.weight:
        return max(1, round(stable_replicas * params.weight / (100 - params.weight)))
    return 1


def _share(canary: int, stable: int) -> int:
    return round(100 * canary / (canary + stable)) if canary + stable else 0


class CreateCanary(ActionSpec[CanaryParams]):
    def title(self, params: CanaryParams, cluster: ClusterReader | None = None) -> str:
        stable = live_object(cluster, ref(APPS, "Deployment", params.name, params.namespace)) if cluster else None
        replicas = int(((stable or {}).get("spec") or {}).get("replicas", 1) or 0)
        canary = canary_replicas(params, replicas)
        return (f"Start canary Deployment {params.namespace}/{canary_name(params.name)} ({params.image}, {canary} "
                f"replica(s)) next to {params.name} ({replicas}): about {_share(canary, replicas)}% of the traffic")

    def targets(self, params: CanaryParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(APPS, "Deployment", canary_name(params.name), params.namespace)]

    def reads(self, params: CanaryParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(APPS, "Deployment", params.name, params.namespace)]

    def render(self, params: CanaryParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        stable_ref = self.reads(params, cluster)[0]
        stable = live_object(cluster, stable_ref)
        if stable is None:
            return missing(stable_ref)
        chosen, why = pick_container(stable, params.container)
        if chosen is None:
            return nothing(f"Cannot start a canary of {describe_ref(stable_ref)}: {why}.")
        spec = stable.get("spec") or {}
        selector = dict((spec.get("selector") or {}).get("matchLabels") or {})
        if not selector:
            return nothing(f"{describe_ref(stable_ref)} has no matchLabels selector to share with a canary.")
        template = copy.deepcopy(spec.get("template") or {})
        meta = template.setdefault("metadata", {})
        labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != "pod-template-hash"}
        labels[CANARY_LABEL] = "canary"
        meta["labels"] = labels
        annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != RESTARTED_AT}
        if annotations:
            meta["annotations"] = annotations
        else:
            meta.pop("annotations", None)
        for item in (template.get("spec") or {}).get("containers") or []:
            if item.get("name") == chosen.get("name"):
                item["image"] = params.image
        stable_replicas = int(spec.get("replicas", 1) or 0)
        canary = canary_replicas(params, stable_replicas)
        manifest = render_manifest(
            "deployment", name=canary_name(params.name), namespace=params.namespace,
            labels={**((stable.get("metadata") or {}).get("labels") or {}), CANARY_LABEL: "canary"},
            replicas=canary, selector={**selector, CANARY_LABEL: "canary"}, template=template)
        shown = ", ".join(f"{k}={v}" for k, v in sorted(selector.items()))
        notes = [f"Traffic is split by pods: Services selecting {shown} reach {stable_replicas} stable and {canary} "
                 f"canary pod(s), about {_share(canary, stable_replicas)}% to the canary.",
                 "To promote, set the stable Deployment's image and remove the canary (restore removes it too)."]
        return Rendered(manifests=[manifest], notes=notes)


CREATE_CRONJOB = CreateCronJob(
    name="create-cronjob", context="k8s", params=CronJobParams, risk="low",
    description=("Create a CronJob that runs a container (image, command split into words) on a cron schedule "
                 "such as '30 2 * * *'."),
)
SUSPEND_CRONJOB = SuspendCronJob(
    name="suspend-cronjob", context="k8s", params=SuspendCronJobParams, risk="low",
    description="Suspend (pause) a CronJob's schedule, or resume it with suspend=false. Running Jobs continue.",
)
CREATE_JOB = CreateJob(
    name="create-job", context="k8s", params=JobParams, risk="medium",
    description="Run a one-off Job: a container (image and command) that runs to completion, with retries.",
)
CREATE_POD = CreatePod(
    name="create-pod", context="k8s", params=PodParams, risk="low",
    description="Create a single Pod of one container (image, command), e.g. a debug or test pod.",
)
CREATE_STATEFULSET = CreateStatefulSet(
    name="create-statefulset", context="k8s", params=StatefulSetParams, risk="low",
    description=("Create a StatefulSet (ordinal pods, e.g. a database) with a headless Service and optionally a "
                 "persistent volume per pod (volumeClaimTemplates) of a size, mounted at a path."),
)
CREATE_CANARY = CreateCanary(
    name="create-canary", context="k8s", params=CanaryParams, risk="medium",
    existing={"name": ("Deployment",)},
    description=("Start a canary: a copy of a Deployment (name-canary) running a new image next to the stable one; "
                 "its Services send traffic to both, split by the number of pods (weight in percent or replicas)."),
)
ACTIONS: tuple[ActionSpec[Any], ...] = (CREATE_CRONJOB, SUSPEND_CRONJOB, CREATE_JOB, CREATE_POD, CREATE_STATEFULSET,
                                        CREATE_CANARY)
