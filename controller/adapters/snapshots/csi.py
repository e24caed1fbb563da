"""CSI VolumeSnapshots (`snapshot.storage.k8s.io/v1`): how EKS (EBS CSI) and AKS (Azure Disk CSI) snapshot volumes.

Why the cluster's own snapshot engine: the CSI driver already knows how to snapshot its volumes, the
external snapshot-controller already tracks them, and a claim restores from a snapshot with one field
(`spec.dataSource`). The operator creates a VolumeSnapshot of the claim with the VolumeSnapshotClass of
the claim's driver and reads `status.readyToUse` / `status.error` — the snapshot controller's answers —
on later reconciles. The snapshot is the operator's own safety step (created as itself, labelled with the
thread); the claim restored from it is created as the person who pressed restore.
"""

from __future__ import annotations

from typing import Any

from controller.adapters.kube import Kube, KubeError, NotFound
from controller.adapters.snapshots.base import (
    LABEL_SNAPSHOT_THREAD,
    SnapshotError,
    SnapshotRequest,
    SnapshotStatus,
    Step,
    claim_for_restore,
)
from controller.api.types import SnapshotRecord

SNAPSHOT_API = "snapshot.storage.k8s.io/v1"
SNAPSHOT_GROUP = "snapshot.storage.k8s.io"
DEFAULT_CLASS = "snapshot.storage.kubernetes.io/is-default-class"


def _kube_error(exc: KubeError, what: str) -> SnapshotError:
    return SnapshotError(f"{what}: {exc.message}", transient=exc.transient)


class CsiSnapshots:
    name = "csi"

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    # ---------------------------------------------------------------------------- detection

    def served(self) -> bool:
        try:
            self.kube.resource(SNAPSHOT_API, "VolumeSnapshotClass")
            self.kube.resource(SNAPSHOT_API, "VolumeSnapshot")
        except NotFound:
            return False
        return True

    def class_for(self, driver: str) -> str:
        """The VolumeSnapshotClass for `driver` (the default-annotated one first), or ''."""
        if not driver or not self.served():
            return ""
        classes = [c for c in self.kube.list(SNAPSHOT_API, "VolumeSnapshotClass") if c.get("driver") == driver]
        classes.sort(key=lambda c: ((c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) != "true",
                                    c["metadata"]["name"]))
        return str(classes[0]["metadata"]["name"]) if classes else ""

    # -------------------------------------------------------------------------------- take

    def take(self, req: SnapshotRequest) -> SnapshotStatus:
        """Create the VolumeSnapshot once (a second call finds it by name) and say where it is."""
        ns = req.source.namespace
        try:
            live = self.kube.get(SNAPSHOT_API, "VolumeSnapshot", req.name, ns)
            if live is None:
                body = {"apiVersion": SNAPSHOT_API, "kind": "VolumeSnapshot",
                        "metadata": {"name": req.name, "namespace": ns,
                                     "labels": {LABEL_SNAPSHOT_THREAD: req.thread_id[:63]}},
                        "spec": {"volumeSnapshotClassName": req.snapshot_class,
                                 "source": {"persistentVolumeClaimName": req.source.name}}}
                try:
                    live = self.kube.create(body)
                except KubeError as exc:
                    if exc.code != 409:
                        raise
                    live = self.kube.get(SNAPSHOT_API, "VolumeSnapshot", req.name, ns)
        except KubeError as exc:
            raise _kube_error(exc, f"creating VolumeSnapshot {ns}/{req.name}") from exc
        return self._status(live)

    def status(self, record: SnapshotRecord) -> SnapshotStatus:
        try:
            live = self.kube.get(SNAPSHOT_API, "VolumeSnapshot", record.name, record.source.namespace)
        except KubeError as exc:
            raise _kube_error(exc, f"reading VolumeSnapshot {record.source.namespace}/{record.name}") from exc
        return self._status(live)

    @staticmethod
    def _status(live: dict[str, Any] | None) -> SnapshotStatus:
        if live is None:
            return SnapshotStatus("Missing", "the VolumeSnapshot does not exist")
        status = live.get("status") or {}
        error = (status.get("error") or {}).get("message")
        content = str(status.get("boundVolumeSnapshotContentName") or "")
        if error:
            return SnapshotStatus("Failed", f"the snapshot controller reports: {error}", content)
        if status.get("readyToUse") is True:
            return SnapshotStatus("Ready", "ready to use", content, str(status.get("restoreSize") or ""))
        where = f"content {content} bound, " if content else "no VolumeSnapshotContent yet, "
        return SnapshotStatus("Pending", where + "waiting for the CSI driver to cut the snapshot (readyToUse)",
                              content)

    def delete(self, record: SnapshotRecord) -> None:
        """Delete the VolumeSnapshot; its class's deletionPolicy decides whether the content goes too."""
        try:
            self.kube.delete(SNAPSHOT_API, "VolumeSnapshot", record.name, record.source.namespace)
        except KubeError as exc:
            raise _kube_error(exc, f"deleting VolumeSnapshot {record.source.namespace}/{record.name}") from exc

    # ----------------------------------------------------------------------------- restore

    def restore_claim(self, record: SnapshotRecord, saved_claim: dict[str, Any], as_restorer: Kube) -> Step:
        """Re-create the claim with the snapshot as its `dataSource`; done once it is Bound."""
        ns, name = record.source.namespace, record.source.name
        live = as_restorer.get("v1", "PersistentVolumeClaim", name, ns)
        if live is None:
            body = claim_for_restore(saved_claim)
            spec: dict[str, Any] = body["spec"]  # type: ignore[assignment]
            spec["dataSource"] = {"apiGroup": SNAPSHOT_GROUP, "kind": "VolumeSnapshot", "name": record.name}
            _at_least(spec, record.size)
            as_restorer.create(body)
            return Step(False, f"created claim {ns}/{name} from VolumeSnapshot {record.name}")
        source = (live.get("spec") or {}).get("dataSource") or {}
        if source.get("kind") != "VolumeSnapshot" or source.get("name") != record.name:
            return Step(False, f"claim {ns}/{name} exists and does not come from VolumeSnapshot {record.name}",
                        failed=True)
        phase = (live.get("status") or {}).get("phase")
        if phase == "Bound":
            volume = (live.get("spec") or {}).get("volumeName", "")
            return Step(True, f"claim {ns}/{name} is bound to {volume}, restored from VolumeSnapshot {record.name}",
                        {"volume": str(volume)})
        waits_for = self._first_consumer_class(live)
        if waits_for:  # gp3, managed-csi: provisioned (from the snapshot) when the workload's pod is scheduled
            return Step(True, f"claim {ns}/{name} re-created from VolumeSnapshot {record.name}; StorageClass "
                              f"{waits_for} provisions it when the first pod uses it (WaitForFirstConsumer)")
        return Step(False, f"waiting for claim {ns}/{name} to be provisioned from VolumeSnapshot {record.name} "
                           f"({phase or 'no phase yet'})")

    def _first_consumer_class(self, claim: dict[str, Any]) -> str:
        """The claim's StorageClass when it binds only once a pod uses the claim and none was scheduled yet.

        With the workloads scaled to 0 for the restore no pod will, so waiting for Bound would wait forever;
        the restore is done once the claim exists, and the pods that come back have it provisioned.
        """
        annotations = (claim.get("metadata") or {}).get("annotations") or {}
        class_name = str((claim.get("spec") or {}).get("storageClassName") or "")
        if not class_name or "volume.kubernetes.io/selected-node" in annotations:
            return ""
        try:
            cls = self.kube.get("storage.k8s.io/v1", "StorageClass", class_name)
        except KubeError:
            return ""
        return class_name if (cls or {}).get("volumeBindingMode") == "WaitForFirstConsumer" else ""


def _at_least(spec: dict[str, Any], size: str) -> None:
    """A claim from a snapshot must request at least the snapshot's restore size."""
    from controller.kubevalues import quantity

    requests = spec.setdefault("resources", {}).setdefault("requests", {})
    want, have = quantity(size) if size else None, quantity(str(requests.get("storage", "")))
    if want is not None and (have is None or have < want):
        requests["storage"] = size
