"""StorageClasses, a provisioner and the PV binder: PVCs bind, expand, or stay Pending for a reason.

Why: a PVC that never binds hides every storage problem and makes expansion untestable. As in a
real cluster: the behaviour file's classes exist (one default); a claim without a class gets the
default; an Immediate class provisions a PV `pvc-<uid>` at once, a WaitForFirstConsumer class
when the scheduler picks a node for the first pod (only the provisioners named by the behaviour file's
classes run: a class naming another leaves its claims waiting, ExternalProvisioning); a claim that fits
an Available PV binds to it;
an unknown class leaves the claim Pending with ProvisioningFailed
(`storageclass.storage.k8s.io "x" not found`); a bigger request expands the PV when the class
allows it (otherwise the API server refuses the update, as the PersistentVolumeClaimResize
admission plugin does); deleting a claim deletes or releases its volume per the reclaim policy.
"""

from __future__ import annotations

from typing import Any

from sandbox import errors, quantity
from sandbox.admission import AdmissionRequest
from sandbox.controllers.base import Controller
from sandbox.operations import SYSTEM_USER
from sandbox.recorder import NORMAL, WARNING
from sandbox.selectors import labels_match, selector_from_label_selector_object
from sandbox.store import ObjectKey, StoreEvent

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
PV_CONTROLLER = "persistentvolume-controller"
GROUP = "storage.k8s.io"


def requested_bytes(claim: dict[str, Any]) -> int:
    value = (((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage", "0")
    try:
        return quantity.to_bytes(value)
    except quantity.QuantityError:
        return 0


class StorageController(Controller):
    name = "storage"
    watches = (("", "persistentvolumeclaims"), (GROUP, "storageclasses"), ("", "persistentvolumes"))

    def seed(self) -> None:
        rt = self.rt(GROUP, "v1", "storageclasses")
        for spec in self.behaviour.storage_classes:
            if self.get(GROUP, "storageclasses", "", spec.name) is not None:
                continue
            body = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                    "metadata": {"name": spec.name,
                                 "annotations": {DEFAULT_CLASS_ANNOTATION: "true"} if spec.default else {}},
                    "provisioner": spec.provisioner, "reclaimPolicy": spec.reclaim_policy,
                    "volumeBindingMode": spec.volume_binding_mode,
                    "allowVolumeExpansion": spec.allow_volume_expansion}
            if spec.parameters:
                body["parameters"] = dict(spec.parameters)
            self.create(rt, "", body)

    def keys_for(self, event: StoreEvent) -> list[ObjectKey]:
        if event.plural == "persistentvolumeclaims":
            return list(super().keys_for(event))
        if event.plural == "persistentvolumes":
            ref = (event.obj.get("spec") or {}).get("claimRef") or {}
            if ref.get("name"):
                return [("", "persistentvolumeclaims", ref.get("namespace", ""), ref["name"])]
        return [("", "persistentvolumeclaims", c["metadata"].get("namespace", ""), c["metadata"]["name"])
                for c in self.store.objects("", "persistentvolumeclaims")
                if (c.get("status") or {}).get("phase") != "Bound"]

    # -- classes ---------------------------------------------------------------------------------

    def _class(self, name: str) -> dict[str, Any] | None:
        return self.get(GROUP, "storageclasses", "", name)

    def default_class(self) -> dict[str, Any] | None:
        for sc in self.store.objects(GROUP, "storageclasses"):
            if (sc["metadata"].get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true":
                return sc
        return None

    def waits_for_consumer(self, claim: dict[str, Any]) -> bool:
        name = (claim.get("spec") or {}).get("storageClassName")
        sc = self._class(name) if name else None
        return bool(sc and sc.get("volumeBindingMode") == "WaitForFirstConsumer")

    # -- admission: PersistentVolumeClaimResize ----------------------------------------------------

    def admit(self, request: AdmissionRequest) -> None:
        """Refuse a bigger request unless the claim is bound and its class allows expansion."""
        if request.resource != "persistentvolumeclaims" or request.operation != "UPDATE" or request.subresource:
            return
        new, old = request.object, request.old_object or {}
        if requested_bytes(new) <= requested_bytes(old):
            return
        name = request.name
        rt = self.rt("", "v1", "persistentvolumeclaims")
        if (old.get("status") or {}).get("phase") != "Bound" or not (old.get("spec") or {}).get("volumeName"):
            raise errors.invalid(rt, name, [{
                "reason": "FieldValueForbidden", "field": "spec",
                "message": "Forbidden: spec is immutable after creation except resources.requests and "
                           "volumeAttributesClassName for bound claims"}])
        sc = self._class((old.get("spec") or {}).get("storageClassName") or "")
        if sc is None or not sc.get("allowVolumeExpansion"):
            raise errors.forbidden(rt, name, "only dynamically provisioned pvc can be resized and the storageclass "
                                   "that provisions the pvc must support resize")

    # -- reconcile ---------------------------------------------------------------------------------

    def reconcile(self, key: ObjectKey) -> float | None:
        claim = self.get(*key)
        if claim is None:
            self._release(key[2], key[3])
            return None
        if claim["metadata"].get("deletionTimestamp") or self.staged(claim):
            return None
        spec = claim.get("spec") or {}
        rt = self.rt("", "v1", "persistentvolumeclaims")
        if "storageClassName" not in spec and not spec.get("volumeName"):
            default = self.default_class()
            if default is not None:
                claim = self.patch(rt, claim, {"spec": {"storageClassName": default["metadata"]["name"]}}) or claim
                spec = claim.get("spec") or {}
        volume_name = spec.get("volumeName")
        if volume_name:
            pv = self.get("", "persistentvolumes", "", volume_name)
            if pv is None:
                self._status(claim, "Lost")
                return None
            self._bind_pv(pv, claim)
            self._expand(claim, pv)
            return None
        pv = self._matching_volume(claim)
        if pv is not None:
            self._bind(claim, pv, provisioned=False)
            return None
        class_name = spec.get("storageClassName") or ""
        if not class_name:
            self._event(claim, "FailedBinding", "no persistent volumes available for this claim and no storage "
                        "class is set", NORMAL)
            self._status(claim, "Pending")
            return None
        sc = self._class(class_name)
        if sc is None:
            self._event(claim, "ProvisioningFailed", f'storageclass.storage.k8s.io "{class_name}" not found', WARNING)
            self._status(claim, "Pending")
            return None
        node = (claim["metadata"].get("annotations") or {}).get(SELECTED_NODE)
        provisioner = str(sc.get("provisioner", ""))
        if provisioner not in {c.provisioner for c in self.behaviour.storage_classes}:
            # No such provisioner runs in this cluster (or none: kubernetes.io/no-provisioner): the claim
            # waits for one, or for an administrator's PV, as the PV controller says.
            self._event(claim, "ExternalProvisioning", f'Waiting for a volume to be created either by the external '
                        f'provisioner "{provisioner}" or manually by the system administrator. If volume creation is '
                        "delayed, please verify that the provisioner is running and correctly registered.", NORMAL)
            self._status(claim, "Pending")
            return None
        if sc.get("volumeBindingMode") == "WaitForFirstConsumer" and not node:
            self._event(claim, "WaitForFirstConsumer", "waiting for first consumer to be created before binding",
                        NORMAL)
            self._status(claim, "Pending")
            return None
        self._provision(claim, sc, node)
        return None

    def _event(self, claim: dict[str, Any], reason: str, message: str, type_: str,
               component: str = PV_CONTROLLER) -> None:
        self.recorder.record(claim, reason, message, type_, component)

    def _status(self, claim: dict[str, Any], phase: str, pv: dict[str, Any] | None = None) -> None:
        status: dict[str, Any] = {"phase": phase}
        if pv is not None:
            pv_spec = pv.get("spec") or {}
            status["accessModes"] = list(pv_spec.get("accessModes") or [])
            status["capacity"] = dict(pv_spec.get("capacity") or {})
        self.write_status(self.rt("", "v1", "persistentvolumeclaims"), claim, status)

    def _matching_volume(self, claim: dict[str, Any]) -> dict[str, Any] | None:
        spec = claim.get("spec") or {}
        wanted_class = spec.get("storageClassName") or ""
        wanted_modes = set(spec.get("accessModes") or [])
        size = requested_bytes(claim)
        selector = selector_from_label_selector_object(spec.get("selector") or {}) if spec.get("selector") else None
        fits = []
        for pv in self.store.objects("", "persistentvolumes"):
            pv_spec = pv.get("spec") or {}
            ref = pv_spec.get("claimRef") or {}
            if ref.get("name") == claim["metadata"]["name"] and ref.get("namespace") == claim["metadata"].get(
                    "namespace") and not ref.get("uid"):
                return pv  # pre-bound by an administrator
            if ref or (pv.get("status") or {}).get("phase") not in (None, "Available", "Pending"):
                continue
            if (pv_spec.get("storageClassName") or "") != wanted_class:
                continue
            if not wanted_modes <= set(pv_spec.get("accessModes") or []):
                continue
            if selector is not None and not labels_match(selector, pv):
                continue
            capacity = quantity.to_bytes((pv_spec.get("capacity") or {}).get("storage", "0"))
            if capacity >= size:
                fits.append((capacity, pv["metadata"]["name"], pv))
        return min(fits)[2] if fits else None

    def _provision(self, claim: dict[str, Any], sc: dict[str, Any], node: str | None) -> None:
        meta = claim["metadata"]
        provisioner = str(sc.get("provisioner", ""))
        namespace = meta.get("namespace", "")
        problem, files = _snapshot_source(self.sim, claim)  # a claim restored from a VolumeSnapshot
        if problem:
            self._event(claim, "ProvisioningFailed", f'failed to provision volume with StorageClass '
                        f'"{sc["metadata"]["name"]}": {problem}', WARNING, provisioner)
            self._status(claim, "Pending")
            return
        self._event(claim, "ExternalProvisioning", f'Waiting for a volume to be created either by the external '
                    f'provisioner "{provisioner}" or manually by the system administrator. If volume creation is '
                    f"delayed, please verify that the provisioner is running and correctly registered.", NORMAL)
        self._event(claim, "Provisioning", f'External provisioner is provisioning volume for claim '
                    f'"{namespace}/{meta["name"]}"', NORMAL, provisioner)
        name = f"pvc-{meta['uid']}"
        spec = claim.get("spec") or {}
        storage = (((spec.get("resources") or {}).get("requests") or {}).get("storage")) or "1Gi"
        body: dict[str, Any] = {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {"pv.kubernetes.io/provisioned-by": provisioner}},
            "spec": {"capacity": {"storage": storage}, "accessModes": list(spec.get("accessModes") or
                                                                          ["ReadWriteOnce"]),
                     "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy", "Delete"),
                     "storageClassName": sc["metadata"]["name"], "volumeMode": spec.get("volumeMode", "Filesystem"),
                     "hostPath": {"path": f"/var/local-path-provisioner/{name}_{namespace}_{meta['name']}",
                                  "type": "DirectoryOrCreate"}},
        }
        if node:
            body["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}
        pv = self.get("", "persistentvolumes", "", name) or self.create(self.rt("", "v1", "persistentvolumes"), "", body)
        if pv is None:
            self._event(claim, "ProvisioningFailed", f'failed to provision volume with StorageClass '
                        f'"{sc["metadata"]["name"]}"', WARNING, provisioner)
            return
        if files is not None:
            from sandbox.controllers.snapshots import seed_volume

            seed_volume(self.sim, name, files)
        self._event(claim, "ProvisioningSucceeded", f"Successfully provisioned volume {name}", NORMAL, provisioner)
        self._bind(claim, pv, provisioned=True, provisioner=provisioner)

    def _bind(self, claim: dict[str, Any], pv: dict[str, Any], provisioned: bool, provisioner: str = "") -> None:
        pv = self._bind_pv(pv, claim)
        annotations = {"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"}
        if provisioned:
            annotations.update({"volume.beta.kubernetes.io/storage-provisioner": provisioner,
                                "volume.kubernetes.io/storage-provisioner": provisioner})
        rt = self.rt("", "v1", "persistentvolumeclaims")
        bound = self.patch(rt, claim, {"metadata": {"annotations": annotations},
                                       "spec": {"volumeName": pv["metadata"]["name"]}})
        self._status(bound or claim, "Bound", pv)

    def _bind_pv(self, pv: dict[str, Any], claim: dict[str, Any]) -> dict[str, Any]:
        rt = self.rt("", "v1", "persistentvolumes")
        meta = claim["metadata"]
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        if ref.get("uid") != meta["uid"]:
            pv = self.patch(rt, pv, {"spec": {"claimRef": {
                "kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": meta.get("namespace", ""),
                "name": meta["name"], "uid": meta["uid"], "resourceVersion": meta.get("resourceVersion", "")}}}) or pv
        if (pv.get("status") or {}).get("phase") != "Bound":
            pv = self.write_status(rt, pv, {"phase": "Bound"})
        return pv

    def _expand(self, claim: dict[str, Any], pv: dict[str, Any]) -> None:
        wanted = requested_bytes(claim)
        pv_spec = pv.get("spec") or {}
        current = quantity.to_bytes((pv_spec.get("capacity") or {}).get("storage", "0"))
        size = (((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
        if wanted > current and size:
            sc = self._class(pv_spec.get("storageClassName") or "")
            if sc is None or not sc.get("allowVolumeExpansion"):
                return
            provisioner = str(sc.get("provisioner", ""))
            self._event(claim, "Resizing", f"External resizer is resizing volume {pv['metadata']['name']}", NORMAL,
                        f"external-resizer {provisioner}")
            pv = self.patch(self.rt("", "v1", "persistentvolumes"), pv, {"spec": {"capacity": {"storage": size}}}) or pv
            self._event(claim, "FileSystemResizeSuccessful", f'MountVolume.NodeExpandVolume succeeded for volume '
                        f'"{pv["metadata"]["name"]}"', NORMAL, "kubelet")
        status = dict(claim.get("status") or {})
        phase_pv = {"phase": "Bound", "accessModes": list(pv_spec.get("accessModes") or []),
                    "capacity": dict((pv.get("spec") or {}).get("capacity") or {})}
        if status != phase_pv:
            self.write_status(self.rt("", "v1", "persistentvolumeclaims"), claim, phase_pv)

    def _release(self, namespace: str, name: str) -> None:
        rt = self.rt("", "v1", "persistentvolumes")
        for pv in self.store.objects("", "persistentvolumes"):
            ref = (pv.get("spec") or {}).get("claimRef") or {}
            if ref.get("namespace") != namespace or ref.get("name") != name or not ref.get("uid"):
                continue
            if (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy", "Retain") == "Delete":
                self.delete(rt, pv)
            elif (pv.get("status") or {}).get("phase") != "Released":
                self.write_status(rt, pv, {"phase": "Released"})


def _snapshot_source(sim: Any, claim: dict[str, Any]) -> tuple[str, dict[str, str] | None]:
    """Why a claim restored from a snapshot cannot be provisioned yet, or the files it starts with
    (sandbox/controllers/snapshots.py; ('', None) for a claim without a snapshot source)."""
    controller = next((c for c in sim.controllers if c.name == "snapshot-controller"), None)
    return controller.restore_source(claim) if controller is not None else ("", None)


def register_admission(controller: StorageController, hooks: list[Any]) -> None:
    """Install the resize check as an admission hook of the API server (it reads StorageClasses)."""

    def hook(request: AdmissionRequest) -> None:
        if request.user != SYSTEM_USER.name:
            controller.admit(request)

    hooks.append(hook)
