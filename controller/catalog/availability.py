"""Availability: a HorizontalPodAutoscaler and a PodDisruptionBudget for a workload.

Why these read the workload first: an HPA for a Deployment that does not exist scales nothing,
and a PDB needs the workload's own pod selector (guessing `app=<name>` would protect the wrong pods
or none). Both are new objects, so restore simply deletes them.
"""

from __future__ import annotations

import re
from typing import Any

from controller.api.types import ObjectRef
from controller.catalog.base import (
    NOW_PLACEHOLDER,
    ActionSpec,
    Rendered,
    describe_ref,
    live_object,
    missing,
    nothing,
    ref,
)
from controller.catalog.params import WORKLOAD_KINDS, HpaParams, PdbParams
from controller.planning.types import ClusterReader
from renderer.manifests import render_manifest

APPS = "apps/v1"
HPA_API = "autoscaling/v2"
PDB_API = "policy/v1"
PERCENT = re.compile(r"^[0-9]{1,3}%$")


def pdb_name(workload: str) -> str:
    return f"{workload}-pdb"[:253]


def _find_workload(cluster: ClusterReader, name: str, namespace: str) -> dict[str, Any] | None:
    for kind in ("Deployment", "StatefulSet"):
        found = cluster.get(APPS, kind, name, namespace)
        if found is not None:
            return found
    return None


class CreateHpa(ActionSpec[HpaParams]):
    def title(self, params: HpaParams, cluster: ClusterReader | None = None) -> str:
        metrics = []
        if params.cpu_utilization is not None:
            metrics.append(f"CPU {params.cpu_utilization}%")
        if params.memory_utilization is not None:
            metrics.append(f"memory {params.memory_utilization}%")
        on = f" on {' and '.join(metrics)}" if metrics else ""
        target = describe_ref(ref(APPS, params.kind, params.name, params.namespace))
        return f"Autoscale {target} between {params.min_replicas} and {params.max_replicas} replicas{on}"

    def targets(self, params: HpaParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(HPA_API, "HorizontalPodAutoscaler", params.name, params.namespace)]

    def reads(self, params: HpaParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(APPS, params.kind, params.name, params.namespace)]

    def render(self, params: HpaParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        workload = self.reads(params, cluster)[0]
        if live_object(cluster, workload) is None:
            return missing(workload)
        if params.min_replicas > params.max_replicas:
            return nothing(f"min_replicas ({params.min_replicas}) is above max_replicas ({params.max_replicas}).")
        metrics = [(name, value) for name, value in (("cpu", params.cpu_utilization),
                                                     ("memory", params.memory_utilization)) if value is not None]
        if not metrics:
            return nothing("An autoscaler needs a CPU or memory utilization target.")
        manifest = render_manifest("hpa", name=params.name, namespace=params.namespace, target_kind=params.kind,
                                   target_name=params.name, min_replicas=params.min_replicas,
                                   max_replicas=params.max_replicas, metrics=metrics)
        notes = [f"From now on the autoscaler sets the replica count of {describe_ref(workload)}; "
                 "utilization targets need CPU/memory requests on its containers and a metrics server."]
        return Rendered(manifests=[manifest], notes=notes)


class CreatePdb(ActionSpec[PdbParams]):
    def title(self, params: PdbParams, cluster: ClusterReader | None = None) -> str:
        budget = (f"at most {params.max_unavailable} unavailable" if params.max_unavailable is not None
                  else f"at least {params.min_available} available")
        return f"Protect {params.namespace}/{params.name} with a PodDisruptionBudget ({budget})"

    def targets(self, params: PdbParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(PDB_API, "PodDisruptionBudget", pdb_name(params.name), params.namespace)]

    def reads(self, params: PdbParams, cluster: ClusterReader) -> list[ObjectRef]:
        workload = _find_workload(cluster, params.name, params.namespace)
        kind = str(workload.get("kind", "Deployment")) if workload else "Deployment"
        return [ref(APPS, kind, params.name, params.namespace)]

    def render(self, params: PdbParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        workload = _find_workload(cluster, params.name, params.namespace)
        if workload is None:
            return nothing(f"There is no Deployment or StatefulSet {params.namespace}/{params.name} to protect.")
        match_labels = ((workload.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if not match_labels:
            return nothing(f"{params.namespace}/{params.name} has no matchLabels selector to reuse.")
        budget = params.max_unavailable if params.max_unavailable is not None else params.min_available
        if budget is None:
            return nothing("Say how many pods must stay available (min_available) or may be down (max_unavailable).")
        if isinstance(budget, str) and not PERCENT.match(budget):
            if budget.isdigit():
                budget = int(budget)
            else:
                return nothing(f"{budget!r} is neither a number of pods nor a percentage like '50%'.")
        notes = []
        replicas = (workload.get("spec") or {}).get("replicas")
        if params.max_unavailable is None and isinstance(budget, int) and isinstance(replicas, int) \
                and budget >= replicas:
            notes.append(f"min_available {budget} >= {replicas} replicas: node drains will block until it scales up.")
        manifest = render_manifest(
            "pdb", name=pdb_name(params.name), namespace=params.namespace,
            max_unavailable=budget if params.max_unavailable is not None else None,
            min_available=budget, match_labels=dict(sorted(match_labels.items())),
        )
        return Rendered(manifests=[manifest], notes=notes)


CREATE_HPA = CreateHpa(
    name="create-hpa", context="k8s", params=HpaParams, risk="low",
    existing={"name": WORKLOAD_KINDS},
    description=("Create a HorizontalPodAutoscaler for a Deployment or StatefulSet: autoscale between a minimum "
                 "and maximum number of replicas on CPU and/or memory utilization."),
)
CREATE_PDB = CreatePdb(
    name="create-pdb", context="sre", params=PdbParams, risk="low",
    existing={"name": WORKLOAD_KINDS},
    description=("Create a PodDisruptionBudget for a workload so that node drains and upgrades keep a minimum "
                 "number of its pods available (or allow at most N unavailable)."),
)
ACTIONS: tuple[ActionSpec[Any], ...] = (CREATE_HPA, CREATE_PDB)
