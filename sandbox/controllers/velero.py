"""Velero: Backups of claims and volumes, Restores of them, DeleteBackupRequests — once its CRDs are installed.

Why: many platform teams run Velero, and the operator backs up through it when it is there. This plays
Velero's server as the cluster shows it (phases and status fields of `velero.io/v1`), in cluster time:
- Backup: validated first — its storage location (`spec.storageLocation`, else the location marked
  `default`) must exist in the Backup's namespace, else `FailedValidation` with Velero's message; a
  location that is not `Available` fails the backup. Otherwise it runs (`InProgress`) and completes after
  `timing.snapshotSeconds`: every claim and volume of the included namespaces (and resources) is kept
  with the volume's files, as a volume snapshot would keep them; status gets the timestamps,
  `expiration` (start + `ttl`), `progress` and the volume snapshot counts.
- Restore of a Completed Backup: each kept claim of the included namespaces that does not exist now is
  created again with a volume holding the files it had (claim and volume keep their labels and
  annotations, plus the `velero.io/backup-name` and `velero.io/restore-name` labels, as Velero's
  restore does); a claim that exists is skipped with a warning,
  as Velero does. A backup that does not exist or did not complete fails validation.
- DeleteBackupRequest: the Backup and what it kept go (phase `Processed`).
A phase a client wrote (tests play Velero's transitions) is left alone once it is not `New`/empty.
Velero's CRDs have no status subresource: status is written with the object, as Velero does.
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox import quantity
from sandbox.controllers.base import Controller
from sandbox.controllers.snapshots import seed_volume
from sandbox.store import ObjectKey

GROUP = "velero.io"
TERMINAL = frozenset({"Completed", "Failed", "PartiallyFailed", "FailedValidation"})


def _ttl_seconds(ttl: str) -> float:
    """A Go duration as Velero writes it (`720h0m0s`)."""
    total, number = 0.0, ""
    units = {"h": 3600, "m": 60, "s": 1}
    for ch in ttl or "720h":
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in units and number:
            total += float(number) * units[ch]
            number = ""
    return total or 720 * 3600


class VeleroController(Controller):
    name = "velero"
    watches = ((GROUP, "backups"), (GROUP, "restores"), (GROUP, "deletebackuprequests"))

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self.kept: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (namespace, backup) -> claims with their files

    def keys_for(self, event: Any) -> list[ObjectKey]:
        meta = event.obj.get("metadata") or {}
        return [(event.group, event.plural, meta.get("namespace", ""), meta.get("name", ""))]

    def reconcile(self, key: ObjectKey) -> float | None:
        obj = self.get(*key)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return None
        phase = (obj.get("status") or {}).get("phase") or "New"
        if key[1] == "deletebackuprequests":
            if phase == "New":
                self._delete_backup(obj)
            return None
        if phase in TERMINAL or phase not in ("New", "InProgress"):
            return None
        return self._backup(obj, phase) if key[1] == "backups" else self._restore(obj, phase)

    def _write(self, obj: dict[str, Any], status: dict[str, Any]) -> None:
        plural = "backups" if obj["kind"] == "Backup" else "restores" if obj["kind"] == "Restore" else \
            "deletebackuprequests"
        self.patch(self.rt(GROUP, "v1", plural), obj, {"status": status})

    # ---------------------------------------------------------------------------------- backups

    def _location(self, backup: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        ns = backup["metadata"].get("namespace", "")
        wanted = (backup.get("spec") or {}).get("storageLocation")
        if wanted:
            found = self.get(GROUP, "backupstoragelocations", ns, wanted)
            return found, "" if found else (f"an existing backup storage location wasn't specified at backup creation "
                                            f"time and the server default '{wanted}' doesn't exist. Please address "
                                            "this issue (see `velero backup-location -h` for options) and create a "
                                            "new backup.")
        for bsl in self.store.objects(GROUP, "backupstoragelocations", ns):
            if (bsl.get("spec") or {}).get("default"):
                return bsl, ""
        return None, ("an existing backup storage location wasn't specified at backup creation time and the default "
                      "'default' wasn't found. Please address this issue (see `velero backup-location -h` for options) "
                      "and create a new backup.")

    def _backup(self, backup: dict[str, Any], phase: str) -> float | None:
        now = self.clock.now()
        if phase == "New":
            location, problem = self._location(backup)
            if location is None:
                self._write(backup, {"phase": "FailedValidation", "validationErrors": [problem], "version": 1,
                                     "formatVersion": "1.1.0"})
                return None
            self._write(backup, {"phase": "InProgress", "startTimestamp": self.clock.timestamp(), "version": 1,
                                 "formatVersion": "1.1.0", "expiration": _stamp(now + _ttl_seconds(
                                     str((backup.get("spec") or {}).get("ttl") or "")))})
            return now + self.behaviour.timing.snapshot_seconds
        started = _parse(str((backup.get("status") or {}).get("startTimestamp") or "")) or now
        if now < started + self.behaviour.timing.snapshot_seconds:
            return started + self.behaviour.timing.snapshot_seconds
        location, _ = self._location(backup)
        status = dict(backup.get("status") or {})
        if location is None or (location.get("status") or {}).get("phase") != "Available":
            name = (location or {}).get("metadata", {}).get("name", "default")
            status.update(phase="Failed", completionTimestamp=self.clock.timestamp(),
                          failureReason=f"backup storage location {name} is unavailable")
            self._write(backup, status)
            return None
        claims = self._claims_in(backup.get("spec") or {})
        self.kept[(backup["metadata"].get("namespace", ""), backup["metadata"]["name"])] = claims
        items = len(claims) * 2
        status.update(phase="Completed", completionTimestamp=self.clock.timestamp(),
                      progress={"totalItems": items, "itemsBackedUp": items},
                      volumeSnapshotsAttempted=len(claims), volumeSnapshotsCompleted=len(claims))
        self._write(backup, status)
        return None

    def _claims_in(self, spec: dict[str, Any]) -> list[dict[str, Any]]:
        resources = spec.get("includedResources") or ["*"]
        if "*" not in resources and "persistentvolumeclaims" not in resources:
            return []
        namespaces = spec.get("includedNamespaces") or ["*"]
        out = []
        for claim in self.store.objects("", "persistentvolumeclaims"):
            ns = claim["metadata"].get("namespace", "")
            if "*" not in namespaces and ns not in namespaces:
                continue
            volume = (claim.get("spec") or {}).get("volumeName") or ""
            pv = self.get("", "persistentvolumes", "", volume) if volume else None
            files = self.sim.kubelet.volume_data.get(f"pv:{volume}")
            out.append({"claim": copy.deepcopy(claim), "pv": copy.deepcopy(pv),
                        "files": dict(files.files) if files is not None else {}})
        return out

    def _delete_backup(self, request: dict[str, Any]) -> None:
        ns, name = request["metadata"].get("namespace", ""), (request.get("spec") or {}).get("backupName", "")
        backup = self.get(GROUP, "backups", ns, name)
        if backup is not None:
            self.delete(self.rt(GROUP, "v1", "backups"), backup)
        self.kept.pop((ns, name), None)
        self._write(request, {"phase": "Processed"})

    # --------------------------------------------------------------------------------- restores

    def _restore(self, restore: dict[str, Any], phase: str) -> float | None:
        now = self.clock.now()
        spec = restore.get("spec") or {}
        ns = restore["metadata"].get("namespace", "")
        backup = self.get(GROUP, "backups", ns, spec.get("backupName") or "")
        if phase == "New":
            if backup is None or (backup.get("status") or {}).get("phase") != "Completed":
                why = (f"backup {spec.get('backupName')} not found" if backup is None
                       else f"backup {spec.get('backupName')} is not Completed")
                self._write(restore, {"phase": "FailedValidation", "validationErrors": [why]})
                return None
            self._write(restore, {"phase": "InProgress", "startTimestamp": self.clock.timestamp()})
            return now + self.behaviour.timing.snapshot_seconds
        started = _parse(str((restore.get("status") or {}).get("startTimestamp") or "")) or now
        if now < started + self.behaviour.timing.snapshot_seconds:
            return started + self.behaviour.timing.snapshot_seconds
        kept = self.kept.get((ns, spec.get("backupName") or ""))
        status = dict(restore.get("status") or {})
        if kept is None:
            status.update(phase="PartiallyFailed", completionTimestamp=self.clock.timestamp(), errors=1,
                          failureReason="the backup's contents are not in the storage location (the sandbox keeps "
                                        "them in memory only)")
            self._write(restore, status)
            return None
        namespaces = spec.get("includedNamespaces") or ["*"]
        restored = warnings = 0
        for item in kept:
            claim = item["claim"]
            cns = claim["metadata"].get("namespace", "")
            if "*" not in namespaces and cns not in namespaces:
                continue
            if self.get("", "persistentvolumeclaims", cns, claim["metadata"]["name"]) is not None:
                warnings += 1  # "could not restore, PersistentVolumeClaim ... already exists"
                continue
            self._restore_claim(item, restore)
            restored += 1
        status.update(phase="Completed", completionTimestamp=self.clock.timestamp(), warnings=warnings,
                      progress={"totalItems": len(kept) * 2, "itemsRestored": restored * 2})
        self._write(restore, status)
        return None

    def _restore_claim(self, item: dict[str, Any], restore: dict[str, Any]) -> None:
        claim, pv = item["claim"], item["pv"]
        labels = {"velero.io/backup-name": str((restore.get("spec") or {}).get("backupName", ""))[:63],
                  "velero.io/restore-name": restore["metadata"]["name"][:63]}
        cmeta = claim["metadata"]
        spec = copy.deepcopy(claim.get("spec") or {})
        if pv is not None:
            name = pv["metadata"]["name"]
            if self.get("", "persistentvolumes", "", name) is not None:
                name = f"{name}-{restore['metadata']['uid'][:8]}"
            pv_spec = {k: v for k, v in copy.deepcopy(pv.get("spec") or {}).items() if k != "claimRef"}
            pv_spec["claimRef"] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                   "namespace": cmeta.get("namespace", ""), "name": cmeta["name"]}
            size = (pv_spec.get("capacity") or {}).get("storage")
            if size:
                pv_spec["capacity"] = {"storage": quantity.format_bytes(quantity.to_bytes(size))}
            pmeta = pv["metadata"]  # Velero keeps an object's labels and annotations, adding its own labels
            created = self.create(self.rt("", "v1", "persistentvolumes"), "", {
                "apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": name, "labels": {**(pmeta.get("labels") or {}), **labels},
                             **({"annotations": pmeta["annotations"]} if pmeta.get("annotations") else {})},
                "spec": pv_spec})
            if created is not None:
                seed_volume(self.sim, name, item["files"])
                spec["volumeName"] = name
        body = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": cmeta["name"], "labels": {**(cmeta.get("labels") or {}), **labels},
                             **({"annotations": cmeta["annotations"]} if cmeta.get("annotations") else {})},
                "spec": spec}
        self.create(self.rt("", "v1", "persistentvolumeclaims"), cmeta.get("namespace", ""), body)


def _stamp(moment: float) -> str:
    from sandbox.clock import rfc3339

    return rfc3339(moment)


def _parse(text: str) -> float | None:
    from sandbox.clock import parse_rfc3339

    return parse_rfc3339(text)
