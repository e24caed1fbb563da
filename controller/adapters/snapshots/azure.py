"""Azure managed-disk snapshots through the Azure SDK (azure-mgmt-compute), as the operator's Workload Identity.

Why: on AKS a claim's volume is a managed disk (`disk.csi.azure.com`, the handle is the disk's ARM id).
When no VolumeSnapshotClass serves that driver, the operator snapshots the disk itself: an incremental
snapshot `Microsoft.Compute/snapshots/<name>` in the disk's resource group (a PUT answered as a
long-running operation, polled through `Azure-AsyncOperation` for a moment, then read back on later
reconciles from `provisioningState` and `completionPercent`). Restore creates a disk from the snapshot
(`createOption: Copy`) and then the PersistentVolume and claim for it (`volumes.py`). The role needs
exactly the calls in charts/README.md (`Microsoft.Compute/snapshots/write`, `.../disks/beginGetAccess`...).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from controller.adapters.kube import Kube
from controller.adapters.snapshots.base import (
    TAG_SOURCE,
    TAG_THREAD,
    SnapshotError,
    SnapshotRequest,
    SnapshotStatus,
    Step,
)
from controller.adapters.snapshots.volumes import static_volume_claim
from controller.api.types import SnapshotRecord
from controller.cloud.seam import CloudError, CloudNotFound, CloudTransient

DISK_DRIVER = "disk.csi.azure.com"
_DISK_ID = re.compile(r"^/subscriptions/[^/]+/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute/disks/"
                      r"(?P<name>[^/]+)$", re.I)
T = TypeVar("T")


def azure_snapshot_name(name: str) -> str:
    """Azure snapshot and disk names: a-z, A-Z, 0-9, _ and -, at most 80 characters."""
    if len(name) <= 80:
        return name
    import hashlib

    return f"{name[:69].rstrip('-')}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"


def azure_call(call: str, fn: Callable[[], T]) -> T:
    """One Azure SDK call as a snapshot step: 429/5xx/unreachable are transient, 404 is `NotFound`."""
    from controller.cloud.azure import _run

    try:
        return _run(call, fn)
    except CloudTransient as exc:
        raise SnapshotError(str(exc), transient=True) from exc
    except CloudNotFound as exc:
        raise SnapshotError(str(exc), code="NotFound") from exc
    except CloudError as exc:
        raise SnapshotError(str(exc)) from exc


def disk_parts(disk_id: str) -> tuple[str, str]:
    match = _DISK_ID.match(disk_id or "")
    if not match:
        raise SnapshotError(f"{disk_id!r} is not a managed disk id (/subscriptions/…/providers/Microsoft.Compute/disks/…)")
    return match.group("rg"), match.group("name")


class AzureDiskSnapshots:
    """Incremental snapshots of the managed disks behind claims (Azure Disk CSI driver)."""

    name = "azure-disk"

    def __init__(self, credential: Any, subscription: str, base_url: str = "", ca_bundle: str = "",
                 lro_wait_s: float = 2.0) -> None:
        from controller.cloud.azure import _Clients

        self.subscription = subscription
        self.clients = _Clients(credential, subscription, base_url, ca_bundle, retry_total=3)
        self.lro_wait_s = lro_wait_s

    @property
    def compute(self) -> Any:
        return self.clients.get("compute")

    def _run(self, call: str, fn: Callable[[], T]) -> T:
        return azure_call(call, fn)

    def _get(self, call: str, fn: Callable[[], T]) -> T | None:
        try:
            return self._run(call, fn)
        except SnapshotError as exc:
            if exc.code == "NotFound":
                return None
            raise

    def _start(self, call: str, begin: Callable[[], Any]) -> None:
        """Send the PUT and follow its long-running operation for a moment; later reads see where it got."""
        poller = self._run(call, begin)
        self._run(call, lambda: poller.wait(self.lro_wait_s))

    # --------------------------------------------------------------------------------- take

    def take(self, req: SnapshotRequest) -> SnapshotStatus:
        rg, disk_name = disk_parts(req.cloud_id)
        name = azure_snapshot_name(req.name)
        found = self._get(f"snapshots.get {name}", lambda: self.compute.snapshots.get(rg, name))
        detail: dict[str, str] = {}
        if found is None:
            disk = self._get(f"disks.get {disk_name}", lambda: self.compute.disks.get(rg, disk_name))
            if disk is None:
                return SnapshotStatus("Failed", f"there is no managed disk {req.cloud_id}")
            detail = {"location": str(disk.location or ""), "sku": str((disk.sku or {}).get("name") or ""),
                      "zone": str((disk.zones or [""])[0])}
            body = {"location": disk.location, "tags": {TAG_THREAD: req.thread_id,
                                                        TAG_SOURCE: f"{req.source.namespace}/{req.source.name}"},
                    "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": req.cloud_id},
                                   "incremental": True}}
            self._start(f"snapshots.begin_create_or_update {name}",
                        lambda: self.compute.snapshots.begin_create_or_update(rg, name, body))
            found = self._get(f"snapshots.get {name}", lambda: self.compute.snapshots.get(rg, name))
        status = self._status(found)
        return SnapshotStatus(status.state, status.message, status.handle, status.size, detail)

    def status(self, record: SnapshotRecord) -> SnapshotStatus:
        rg, _ = disk_parts(record.cloud_id)
        name = azure_snapshot_name(record.name)
        return self._status(self._get(f"snapshots.get {name}", lambda: self.compute.snapshots.get(rg, name)))

    @staticmethod
    def _status(found: Any) -> SnapshotStatus:
        if found is None:
            return SnapshotStatus("Missing", "the Azure snapshot does not exist")
        props = found.properties
        state = str(getattr(props, "provisioning_state", "") or "")
        size = f"{props.disk_size_gb}Gi" if getattr(props, "disk_size_gb", None) else ""
        percent = getattr(props, "completion_percent", None)
        if state == "Succeeded" and (percent is None or float(percent) >= 100):
            return SnapshotStatus("Ready", "Succeeded", str(found.id), size)
        if state in ("Failed", "Canceled"):
            return SnapshotStatus("Failed", f"the Azure snapshot is {state}", str(found.id), size)
        more = f", {percent}% copied" if percent is not None else ""
        return SnapshotStatus("Pending", f"the Azure snapshot is {state or 'Creating'}{more}", str(found.id), size)

    def delete(self, record: SnapshotRecord) -> None:
        rg, _ = disk_parts(record.cloud_id)
        name = azure_snapshot_name(record.name)
        try:
            self._start(f"snapshots.begin_delete {name}", lambda: self.compute.snapshots.begin_delete(rg, name))
        except SnapshotError as exc:
            if exc.code != "NotFound":
                raise

    # ------------------------------------------------------------------------------ restore

    def restore_claim(self, record: SnapshotRecord, saved_claim: dict[str, Any], as_restorer: Kube) -> Step:
        """A managed disk copied from the snapshot, then its PersistentVolume and the claim bound to it."""
        rg, _ = disk_parts(record.cloud_id)
        detail = dict(record.restore_detail)
        name = azure_snapshot_name(f"{record.name}-restored")
        disk = self._get(f"disks.get {name}", lambda: self.compute.disks.get(rg, name))
        if disk is None:
            body: dict[str, Any] = {"location": detail.get("location") or "westeurope",
                                    "tags": {TAG_SOURCE: f"{record.source.namespace}/{record.source.name}"},
                                    "properties": {"creationData": {"createOption": "Copy",
                                                                    "sourceResourceId": record.handle}}}
            if detail.get("sku"):
                body["sku"] = {"name": detail["sku"]}
            if detail.get("zone"):
                body["zones"] = [detail["zone"]]
            self._start(f"disks.begin_create_or_update {name}",
                        lambda: self.compute.disks.begin_create_or_update(rg, name, body))
            return Step(False, f"creating managed disk {name} from snapshot {record.handle}")
        state = str(getattr(disk.properties, "provisioning_state", "") or "")
        if state != "Succeeded":
            return Step(False, f"waiting for managed disk {name} ({state or 'Creating'})")
        size = f"{disk.properties.disk_size_gb}Gi" if disk.properties.disk_size_gb else record.size
        zone = detail.get("zone", "")
        return static_volume_claim(record, saved_claim, as_restorer, DISK_DRIVER, str(disk.id), size,
                                   {"topology.disk.csi.azure.com/zone": f"{detail.get('location', '')}-{zone}"
                                    if zone else ""})
