"""The CSI snapshot controller and the drivers' snapshotter sidecars: VolumeSnapshots become ready, claims restore.

Why: EKS and AKS snapshot volumes through `snapshot.storage.k8s.io/v1` (the external-snapshotter's
snapshot-controller plus a csi-snapshotter sidecar next to each CSI driver). Once those CRDs are
installed, this plays both, as a real cluster shows them:
- A VolumeSnapshot of a claim gets a VolumeSnapshotContent `snapcontent-<snapshot uid>` (the class's
  driver and deletionPolicy, the volume's handle) and `status.boundVolumeSnapshotContentName`; a class
  that does not exist, a claim that does not exist or is not bound, a class for another driver, is an
  `error` in status with the snapshot-controller's words.
- A sidecar runs for every driver the cluster runs, i.e. the provisioners of the behaviour file's
  StorageClasses (the only ones that provision here). It cuts the snapshot after `timing.snapshotSeconds`
  of cluster time: the content gets `snapshotHandle`, `restoreSize` and `readyToUse`, and the
  snapshot `readyToUse: true`, `restoreSize`, `creationTime`. A volume of a driver without a sidecar
  (a statically provisioned PV of another driver) stays not ready for good — what a cluster without
  that driver's snapshotter shows.
- The snapshot keeps the volume's files (the kubelet's volume data) as they were; a claim whose
  `dataSource` is a ready VolumeSnapshot is provisioned with those files (`restore_source`, called by
  the storage controller). One whose snapshot is missing or not ready stays Pending with
  ProvisioningFailed, and is looked at again when the snapshot becomes ready.
- A status written by a client (tests play the controller's transitions) is left as written, and an
  `error` is never overwritten. Deleting a snapshot deletes its content when the policy is Delete.
"""

from __future__ import annotations

from typing import Any

from sandbox import quantity
from sandbox.clock import rfc3339
from sandbox.controllers.base import Controller
from sandbox.process import ScratchFiles
from sandbox.recorder import NORMAL, WARNING
from sandbox.store import ObjectKey, StoreEvent

GROUP = "snapshot.storage.k8s.io"
SNAPSHOTS = (GROUP, "volumesnapshots")
CONTENTS = (GROUP, "volumesnapshotcontents")
CLASSES = (GROUP, "volumesnapshotclasses")
DEFAULT_CLASS = "snapshot.storage.kubernetes.io/is-default-class"
SNAPSHOT_CONTROLLER = "snapshot-controller"


class SnapshotController(Controller):
    name = "snapshot-controller"
    watches = (SNAPSHOTS, CONTENTS)

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self.data: dict[str, dict[str, str]] = {}  # content name -> the volume's files when the snapshot was cut

    def keys_for(self, event: StoreEvent) -> list[ObjectKey]:
        if (event.group, event.plural) == CONTENTS:
            ref = (event.obj.get("spec") or {}).get("volumeSnapshotRef") or {}
            return [(GROUP, "volumesnapshots", ref.get("namespace", ""), ref.get("name", ""))] if ref.get("name") else []
        return list(super().keys_for(event))

    def _served(self) -> bool:
        return self.ops.registry.lookup(GROUP, "v1", "volumesnapshots") is not None and \
            self.ops.registry.lookup(GROUP, "v1", "volumesnapshotcontents") is not None

    # ------------------------------------------------------------------------------- reconcile

    def reconcile(self, key: ObjectKey) -> float | None:
        if not self._served():
            return None
        snap = self.get(*key)
        if snap is None:
            self._forget(key[2], key[3])
            return None
        status = dict(snap.get("status") or {})
        if snap["metadata"].get("deletionTimestamp") or status.get("error") or status.get("readyToUse") is True:
            return None
        spec = snap.get("spec") or {}
        claim_name = (spec.get("source") or {}).get("persistentVolumeClaimName")
        if not claim_name:
            return None  # pre-provisioned snapshots (source.volumeSnapshotContentName) are not modelled
        content = self._content_of(snap)
        if content is None:
            content, problem = self._bind(snap, claim_name)
            if content is None:
                self._error(snap, problem)
                return None
        return self._cut(snap, content)

    def _content_of(self, snap: dict[str, Any]) -> dict[str, Any] | None:
        name = (snap.get("status") or {}).get("boundVolumeSnapshotContentName") or f"snapcontent-{snap['metadata']['uid']}"
        return self.get(GROUP, "volumesnapshotcontents", "", name)

    def _bind(self, snap: dict[str, Any], claim_name: str) -> tuple[dict[str, Any] | None, str]:
        """Create the content for a dynamic snapshot, or say why not (the snapshot-controller's checks)."""
        ns = snap["metadata"].get("namespace", "")
        claim = self.get("", "persistentvolumeclaims", ns, claim_name)
        if claim is None:
            return None, f'error getting source PVC: persistentvolumeclaims "{claim_name}" not found'
        volume_name = (claim.get("spec") or {}).get("volumeName")
        pv = self.get("", "persistentvolumes", "", volume_name) if volume_name else None
        if pv is None or (claim.get("status") or {}).get("phase") != "Bound":
            return None, (f"failed to get input parameters to create snapshot {snap['metadata']['name']}: "
                          f'"the PVC {claim_name} is not yet bound to a PV, will not attempt to take a snapshot"')
        driver = self._driver(pv)
        class_name = (snap.get("spec") or {}).get("volumeSnapshotClassName")
        cls = self.get(GROUP, "volumesnapshotclasses", "", class_name) if class_name else self._default_class(driver)
        if cls is None:
            if class_name:
                return None, (f"Failed to get snapshot class with error volumesnapshotclass.snapshot.storage.k8s.io "
                              f'"{class_name}" not found')
            return None, f"cannot find default snapshot class for snapshot {snap['metadata']['name']}"
        if cls.get("driver") != driver:
            return None, (f"Failed to create snapshot: snapshot class {cls['metadata']['name']} is for driver "
                          f"{cls.get('driver')}, the volume of PVC {claim_name} is provisioned by {driver}")
        name = f"snapcontent-{snap['metadata']['uid']}"
        body = {"apiVersion": f"{GROUP}/v1", "kind": "VolumeSnapshotContent", "metadata": {"name": name},
                "spec": {"deletionPolicy": cls.get("deletionPolicy", "Delete"), "driver": driver,
                         "source": {"volumeHandle": self._handle(pv)},
                         "volumeSnapshotClassName": cls["metadata"]["name"],
                         "volumeSnapshotRef": {"apiVersion": f"{GROUP}/v1", "kind": "VolumeSnapshot",
                                               "name": snap["metadata"]["name"], "namespace": ns,
                                               "uid": snap["metadata"]["uid"]}}}
        content = self.create(self.rt(GROUP, "v1", "volumesnapshotcontents"), "", body)
        if content is None:
            return None, f"failed to create snapshot content {name}"
        self.recorder.record(snap, "CreatingSnapshot", f"Waiting for a snapshot {ns}/{snap['metadata']['name']} to be "
                             "created by the CSI driver.", NORMAL, SNAPSHOT_CONTROLLER)
        self.write_status(self.rt(GROUP, "v1", "volumesnapshots"), snap,
                          {"boundVolumeSnapshotContentName": name, "readyToUse": False})
        files = self.sim.kubelet.volume_data.get(f"pv:{pv['metadata']['name']}")
        self.data[name] = dict(files.files) if files is not None else {}
        return self.get(GROUP, "volumesnapshotcontents", "", name), ""

    def _cut(self, snap: dict[str, Any], content: dict[str, Any]) -> float | None:
        """The driver's sidecar: ready after `timing.snapshotSeconds`, if the driver runs in this cluster."""
        driver = str((content.get("spec") or {}).get("driver", ""))
        if not self._runs(driver):
            return None  # nobody cuts it: not ready, for good
        due = self._created(content) + self.behaviour.timing.snapshot_seconds
        if self.clock.now() < due:
            return due
        cstatus = content.get("status") or {}
        pv_size = self._restore_size(snap)
        if not cstatus.get("readyToUse"):
            cstatus = {"snapshotHandle": f"snap-{content['metadata']['uid']}", "readyToUse": True,
                       "creationTime": int(due * 1_000_000_000), "restoreSize": pv_size}
            self.write_status(self.rt(GROUP, "v1", "volumesnapshotcontents"), content, cstatus)
        self.write_status(self.rt(GROUP, "v1", "volumesnapshots"), snap, {
            "boundVolumeSnapshotContentName": content["metadata"]["name"], "readyToUse": True,
            "creationTime": rfc3339(due), "restoreSize": quantity.format_bytes(pv_size)})
        self.recorder.record(snap, "SnapshotReady", f"Snapshot {snap['metadata'].get('namespace')}/"
                             f"{snap['metadata']['name']} is ready to use.", NORMAL, SNAPSHOT_CONTROLLER)
        self._wake_claims(snap)
        return None

    def _created(self, content: dict[str, Any]) -> float:
        from sandbox.clock import parse_rfc3339

        return parse_rfc3339(content["metadata"].get("creationTimestamp")) or self.clock.now()

    def _restore_size(self, snap: dict[str, Any]) -> int:
        claim = self.get("", "persistentvolumeclaims", snap["metadata"].get("namespace", ""),
                         ((snap.get("spec") or {}).get("source") or {}).get("persistentVolumeClaimName", ""))
        capacity = ((claim or {}).get("status") or {}).get("capacity", {}).get("storage") or \
            (((claim or {}).get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage", "0")
        return quantity.to_bytes(capacity)

    def _error(self, snap: dict[str, Any], message: str) -> None:
        self.recorder.record(snap, "SnapshotCreationFailed", message, WARNING, SNAPSHOT_CONTROLLER)
        self.write_status(self.rt(GROUP, "v1", "volumesnapshots"), snap, {
            "readyToUse": False, "error": {"message": message, "time": self.clock.timestamp()}})

    def _forget(self, namespace: str, name: str) -> None:
        """A deleted snapshot takes its content with it when the policy says Delete."""
        rt = self.ops.registry.lookup(GROUP, "v1", "volumesnapshotcontents")
        if rt is None:
            return
        for content in self.store.objects(GROUP, "volumesnapshotcontents"):
            ref = (content.get("spec") or {}).get("volumeSnapshotRef") or {}
            if ref.get("namespace") == namespace and ref.get("name") == name and \
                    (content.get("spec") or {}).get("deletionPolicy", "Delete") == "Delete":
                self.delete(rt, content)
                self.data.pop(content["metadata"]["name"], None)

    # --------------------------------------------------------------------------- drivers

    def _runs(self, driver: str) -> bool:
        return driver in {c.provisioner for c in self.behaviour.storage_classes}

    def _driver(self, pv: dict[str, Any]) -> str:
        spec = pv.get("spec") or {}
        if (spec.get("csi") or {}).get("driver"):
            return str(spec["csi"]["driver"])
        provisioned = (pv["metadata"].get("annotations") or {}).get("pv.kubernetes.io/provisioned-by")
        if provisioned:
            return str(provisioned)
        sc = self.get("storage.k8s.io", "storageclasses", "", spec.get("storageClassName") or "")
        return str((sc or {}).get("provisioner") or "")

    @staticmethod
    def _handle(pv: dict[str, Any]) -> str:
        return str(((pv.get("spec") or {}).get("csi") or {}).get("volumeHandle") or pv["metadata"]["name"])

    def _default_class(self, driver: str) -> dict[str, Any] | None:
        for cls in self.store.objects(*CLASSES):
            if cls.get("driver") == driver and (cls["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true":
                return cls
        return None

    # ------------------------------------------------------------------------ restoring claims

    def _wake_claims(self, snap: dict[str, Any]) -> None:
        ns, name = snap["metadata"].get("namespace", ""), snap["metadata"]["name"]
        for claim in self.store.objects("", "persistentvolumeclaims", ns):
            source = _data_source(claim)
            if source.get("name") == name and (claim.get("status") or {}).get("phase") != "Bound":
                self.sim.enqueue("storage", ("", "persistentvolumeclaims", ns, claim["metadata"]["name"]))

    def restore_source(self, claim: dict[str, Any]) -> tuple[str, dict[str, str] | None]:
        """For a claim with a VolumeSnapshot `dataSource`: (why it cannot be provisioned yet, the files to seed).

        ('', None): no snapshot source; ('', files): provision with these files; (problem, None): wait.
        """
        source = _data_source(claim)
        if source.get("kind") != "VolumeSnapshot":
            return "", None
        ns, name = claim["metadata"].get("namespace", ""), str(source.get("name", ""))
        prefix = f"error getting handle for DataSource Type VolumeSnapshot by Name {name}: "
        snap = self.get(*SNAPSHOTS, ns, name) if self._served() else None
        if snap is None:
            return (prefix + f"error getting snapshot {name} from api server: volumesnapshots.snapshot.storage.k8s.io "
                    f'"{name}" not found'), None
        status = snap.get("status") or {}
        if status.get("readyToUse") is not True:
            return prefix + f"snapshot {name} is not Ready", None
        wanted = quantity.to_bytes((((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get(
            "storage", "0"))
        size = quantity.to_bytes(status.get("restoreSize") or "0")
        if wanted < size:
            return (f"requested volume size {wanted} is less than the size {size} for the source snapshot {name}"), None
        content = str(status.get("boundVolumeSnapshotContentName") or "")
        return "", dict(self.data.get(content, {}))



def _data_source(claim: dict[str, Any]) -> dict[str, Any]:
    spec = claim.get("spec") or {}
    return dict(spec.get("dataSourceRef") or spec.get("dataSource") or {})


def seed_volume(sim: Any, pv_name: str, files: dict[str, str]) -> None:
    """Give a freshly provisioned volume the files it was restored from."""
    sim.kubelet.volume_data[f"pv:{pv_name}"] = ScratchFiles(files)
