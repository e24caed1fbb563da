"""Storage: create a PersistentVolumeClaim; expand an existing one.

Why expansion is its own action: a claim's spec is immutable except its storage request, and that
may only grow, and only when the StorageClass allows expansion. The action checks both before
proposing anything (a smaller size or a class without `allowVolumeExpansion` renders nothing and
says why), and it says plainly that restore cannot shrink the volume again.
"""

from __future__ import annotations

from typing import Any

from controller.api.types import ObjectRef
from controller.catalog.base import (
    NOW_PLACEHOLDER,
    ActionSpec,
    AtRisk,
    Check,
    Rendered,
    describe_ref,
    live_object,
    missing,
    nothing,
    ref,
)
from controller.catalog.data_risk import claim_at_risk
from controller.catalog.params_everyday import ExpandPvcParams, PvcParams
from controller.kubevalues import quantity
from controller.planning.types import ClusterReader
from renderer.manifests import render_manifest

STORAGE_API = "storage.k8s.io/v1"


def claim_size(claim: dict[str, Any]) -> str | None:
    """The claim's storage request as written (`30Gi`)."""
    value = (((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
    return str(value) if value is not None else None


class CreatePvc(ActionSpec[PvcParams]):
    def title(self, params: PvcParams, cluster: ClusterReader | None = None) -> str:
        cls = f", class {params.storage_class}" if params.storage_class else ", default class"
        return (f"Create PersistentVolumeClaim {params.namespace}/{params.name} of {params.size} "
                f"({', '.join(params.access_modes)}{cls})")

    def targets(self, params: PvcParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref("v1", "PersistentVolumeClaim", params.name, params.namespace)]

    def render(self, params: PvcParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        r = self.targets(params, cluster)[0]
        if live_object(cluster, r) is not None:
            return nothing(f"{describe_ref(r)} exists already; a claim cannot be changed except its size "
                           "(ask to expand it).")
        notes = ["Restore deletes the claim, and with the default reclaim policy the volume and its data too."]
        if not params.storage_class:
            notes.insert(0, "No StorageClass given: the cluster's default class provisions the volume.")
        manifest = render_manifest("pvc", name=params.name, namespace=params.namespace,
                                   access_modes=list(params.access_modes), storage_class=params.storage_class or "",
                                   size=params.size)
        return Rendered(manifests=[manifest], notes=notes)


class ExpandPvc(ActionSpec[ExpandPvcParams]):
    def title(self, params: ExpandPvcParams, cluster: ClusterReader | None = None) -> str:
        r = ref("v1", "PersistentVolumeClaim", params.name, params.namespace)
        live = live_object(cluster, r) if cluster is not None else None
        current = claim_size(live) if live else None
        return f"Expand {describe_ref(r)}" + (f" from {current}" if current else "") + f" to {params.size}"

    def targets(self, params: ExpandPvcParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref("v1", "PersistentVolumeClaim", params.name, params.namespace)]

    def restore(self, params: ExpandPvcParams, cluster: ClusterReader) -> str:
        return ("A volume cannot shrink: restore re-creates the claim at its old size from the snapshot taken before "
                "the change (without a snapshot it keeps its new size: the API server refuses a smaller request).")

    def data_at_risk(self, params: ExpandPvcParams, cluster: ClusterReader) -> list[AtRisk]:
        return claim_at_risk(cluster, params.name, params.namespace, "the volume is resized (a failed file-system "
                             "resize can leave it unreadable)")

    def render(self, params: ExpandPvcParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        r = self.targets(params, cluster)[0]
        live = live_object(cluster, r)
        if live is None:
            return missing(r)
        current = claim_size(live)
        new_q, old_q = quantity(params.size), quantity(current)
        if new_q is None or (old_q is not None and new_q <= old_q):
            return nothing(f"{describe_ref(r)} requests {current}; a claim can only grow, and {params.size} is not larger.")
        notes = [f"The claim grows from {current} to {params.size}; the file system is resized by the node, for some "
                 "drivers only when the pod restarts."]
        class_name = (live.get("spec") or {}).get("storageClassName")
        if class_name:
            storage_class = live_object(cluster, ref(STORAGE_API, "StorageClass", str(class_name)))
            if storage_class is not None and not storage_class.get("allowVolumeExpansion"):
                return nothing(f"StorageClass {class_name} does not allow volume expansion "
                               "(allowVolumeExpansion is not true), so the claim cannot grow.")
            if storage_class is None:
                notes.append(f"I could not read StorageClass {class_name}: the API server refuses the change if it "
                             "does not allow volume expansion.")
        manifest = render_manifest("pvc-size", name=params.name, namespace=params.namespace, size=params.size)
        return Rendered(manifests=[manifest], notes=notes)

    def checks(self, params: ExpandPvcParams, cluster: ClusterReader) -> list[Check]:
        r = self.targets(params, cluster)[0]
        return [Check(ref=r, expect={"spec": {"resources": {"requests": {"storage": params.size}}}})]


CREATE_PVC = CreatePvc(
    name="create-pvc", context="k8s", params=PvcParams, risk="low",
    description=("Create a PersistentVolumeClaim (a volume) of a size, with access modes (ReadWriteOnce...) and "
                 "optionally a StorageClass."),
)
EXPAND_PVC = ExpandPvc(
    name="expand-pvc", context="k8s", params=ExpandPvcParams, risk="medium",
    description=("Grow an existing PersistentVolumeClaim (resize a volume / disk that is full) to a larger size; "
                 "volumes cannot shrink."),
)
ACTIONS: tuple[ActionSpec[Any], ...] = (CREATE_PVC, EXPAND_PVC)
