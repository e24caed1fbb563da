"""Velero (`velero.io/v1` Backup / Restore): the backup engine many platform teams already run.

Why through Velero when it is installed: its Backup of a namespace's claims and volumes goes to the
team's own storage location (and the volume snapshots through its plugins), and the team already knows
how to list, keep and restore those backups. The operator creates one Backup per thread and namespace
(`aiop-<thread>-<namespace>`: every claim and volume of the namespace, `snapshotVolumes: true`) and
reads `status.phase` on later reconciles; restore creates a Restore of that Backup limited to claims and
volumes, which brings back exactly the claims that do not exist any more (Velero skips existing ones),
so the engine deletes the claims it restores first. Deleting a backup is a `DeleteBackupRequest`, as
`velero backup delete` does: deleting the Backup object alone leaves the data in the bucket and Velero
syncs the object back.
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
    snapshot_name,
)
from controller.api.types import SnapshotRecord

VELERO_API = "velero.io/v1"
DONE = "Completed"
FAILED = frozenset({"Failed", "PartiallyFailed", "FailedValidation", "FinalizingPartiallyFailed",
                    "WaitingForPluginOperationsPartiallyFailed"})
BACKUP_TTL = "720h0m0s"  # Velero's own expiry, a last resort: the operator deletes it when the thread is closed


def _error(exc: KubeError, what: str) -> SnapshotError:
    return SnapshotError(f"{what}: {exc.message}", transient=exc.transient)


class VeleroBackups:
    name = "velero"

    def __init__(self, kube: Kube, namespace: str = "velero") -> None:
        self.kube = kube
        self.namespace = namespace

    # ---------------------------------------------------------------------------- detection

    def location(self) -> tuple[str, str]:
        """(the BackupStorageLocation a Backup would use, why none); the default location first."""
        try:
            self.kube.resource(VELERO_API, "Backup")
            locations = self.kube.list(VELERO_API, "BackupStorageLocation", self.namespace)
        except NotFound:
            return "", "Velero is not installed (no velero.io/v1 Backup)"
        if not locations:
            return "", f"Velero has no BackupStorageLocation in namespace {self.namespace}"
        locations.sort(key=lambda b: (not (b.get("spec") or {}).get("default"), b["metadata"]["name"]))
        for bsl in locations:
            if (bsl.get("status") or {}).get("phase") == "Available":
                return str(bsl["metadata"]["name"]), ""
        names = ", ".join(b["metadata"]["name"] for b in locations)
        return "", f"no Velero BackupStorageLocation is Available ({names})"

    # -------------------------------------------------------------------------------- take

    def take(self, req: SnapshotRequest) -> SnapshotStatus:
        """One Backup of the claim's namespace (shared by the thread's claims there); created once."""
        try:
            live = self.kube.get(VELERO_API, "Backup", req.name, self.namespace)
            if live is None:
                body = {"apiVersion": VELERO_API, "kind": "Backup",
                        "metadata": {"name": req.name, "namespace": self.namespace,
                                     "labels": {LABEL_SNAPSHOT_THREAD: req.thread_id[:63]}},
                        "spec": {"includedNamespaces": [req.source.namespace],
                                 "includedResources": ["persistentvolumeclaims", "persistentvolumes"],
                                 "snapshotVolumes": True, "storageLocation": req.snapshot_class, "ttl": BACKUP_TTL}}
                try:
                    live = self.kube.create(body)
                except KubeError as exc:
                    if exc.code != 409:
                        raise
                    live = self.kube.get(VELERO_API, "Backup", req.name, self.namespace)
        except KubeError as exc:
            raise _error(exc, f"creating Velero Backup {self.namespace}/{req.name}") from exc
        return self._status(live)

    def status(self, record: SnapshotRecord) -> SnapshotStatus:
        try:
            live = self.kube.get(VELERO_API, "Backup", record.name, self.namespace)
        except KubeError as exc:
            raise _error(exc, f"reading Velero Backup {self.namespace}/{record.name}") from exc
        return self._status(live)

    @staticmethod
    def _status(live: dict[str, Any] | None) -> SnapshotStatus:
        if live is None:
            return SnapshotStatus("Missing", "the Velero Backup does not exist")
        status = live.get("status") or {}
        phase = str(status.get("phase") or "New")
        name = live["metadata"]["name"]
        if phase == DONE:
            items = (status.get("progress") or {}).get("itemsBackedUp")
            size = f"{items} items" if items is not None else ""
            return SnapshotStatus("Ready", "backup completed", name, size)
        if phase in FAILED:
            why = "; ".join(str(e) for e in status.get("validationErrors") or []) or status.get("failureReason") or ""
            return SnapshotStatus("Failed", f"Velero Backup {name} is {phase}" + (f": {why}" if why else ""), name)
        return SnapshotStatus("Pending", f"Velero Backup {name} is {phase}", name)

    def delete(self, record: SnapshotRecord) -> None:
        """A DeleteBackupRequest (what `velero backup delete` creates), once per backup."""
        name = snapshot_name("delete", record.name, "", 253)
        body = {"apiVersion": VELERO_API, "kind": "DeleteBackupRequest",
                "metadata": {"name": name, "namespace": self.namespace,
                             "labels": {"velero.io/backup-name": record.name[:63]}},
                "spec": {"backupName": record.name}}
        try:
            self.kube.create(body)
        except NotFound as exc:
            raise SnapshotError("Velero serves no DeleteBackupRequest: delete it with "
                                f"`velero backup delete {record.name}`") from exc
        except KubeError as exc:
            if exc.code != 409:
                raise _error(exc, f"deleting Velero Backup {record.name}") from exc

    # ----------------------------------------------------------------------------- restore

    def restore_name(self, record: SnapshotRecord) -> str:
        return snapshot_name("restore", record.name, "", 253)

    def restore_claim(self, record: SnapshotRecord, saved_claim: dict[str, Any], as_restorer: Kube) -> Step:
        """A Restore of the thread's Backup (claims and volumes of that namespace); done once the claim is Bound."""
        ns, claim = record.source.namespace, record.source.name
        name = self.restore_name(record)
        live = as_restorer.get(VELERO_API, "Restore", name, self.namespace)
        if live is None:
            as_restorer.create({
                "apiVersion": VELERO_API, "kind": "Restore",
                "metadata": {"name": name, "namespace": self.namespace},
                "spec": {"backupName": record.name, "includedNamespaces": [ns],
                         "includedResources": ["persistentvolumeclaims", "persistentvolumes"], "restorePVs": True}})
            return Step(False, f"created Velero Restore {name} of Backup {record.name}", {"restore": name})
        phase = str((live.get("status") or {}).get("phase") or "New")
        if phase in FAILED:
            why = "; ".join(str(e) for e in (live.get("status") or {}).get("validationErrors") or []) or \
                (live.get("status") or {}).get("failureReason") or ""
            return Step(False, f"Velero Restore {name} is {phase}" + (f": {why}" if why else ""), failed=True)
        if phase != DONE:
            return Step(False, f"waiting for Velero Restore {name} ({phase})")
        restored = as_restorer.get("v1", "PersistentVolumeClaim", claim, ns)
        if restored is None:
            return Step(False, f"Velero Restore {name} completed without claim {ns}/{claim} (not in the backup)",
                        failed=True)
        if (restored.get("status") or {}).get("phase") != "Bound":
            return Step(False, f"waiting for restored claim {ns}/{claim} to bind")
        return Step(True, f"claim {ns}/{claim} restored by Velero Restore {name} of Backup {record.name}",
                    {"restore": name, "volume": str((restored.get("spec") or {}).get("volumeName", ""))})
