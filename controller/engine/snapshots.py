"""Snapshots before every risky change: resolve at plan time, take after approval, wait before the first change.

Why here, in one module: the product's promise is "restore is a revert to the pre-chat commit plus cloud
snapshot" (issue 14). The catalog says what a step can lose (`data_at_risk`); this module decides how each
piece is snapshotted — and the plan shows it, so approving the plan approves the snapshot step — then takes
the snapshots in Execute right after the object backup (idempotent by name: one per thread and source, the
first one wins across revisions, as backups do), and lets Sync wait, reconcile by reconcile, until every
snapshot is ready *before* anything is applied. A snapshot that fails or is not ready within
`AIOP_SNAPSHOT_TIMEOUT` fails the thread with nothing changed, saying why. Retention deletes them once the
thread is closed (pull requests merged or closed, or restored) plus a grace period, unless the person keeps
them; never while a restore may still need them. Restoring from them is `data_restore.py`.

The providers (CSI, Velero, AWS, Azure) are adapters behind `SnapshotProvider`, declared here where it is
consumed; which ones exist comes from the settings (`controller/adapters/snapshots/select.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from controller.adapters.kube import Kube, KubeError
from controller.adapters.snapshots.base import SnapshotError, SnapshotRequest, SnapshotStatus, snapshot_name
from controller.adapters.snapshots.select import Providers
from controller.api.types import ExecutionRecord, ObjectRef, PlannedSnapshot, PlanRevision, SnapshotRecord
from controller.catalog.base import AtRisk
from controller.engine.errors import transient_from
from renderer.yaml_out import dump_yaml

STAMP = "%Y-%m-%dT%H:%M:%SZ"
EBS_DRIVERS = ("ebs.csi.aws.com", "kubernetes.io/aws-ebs")
DISK_DRIVERS = ("disk.csi.azure.com", "kubernetes.io/azure-disk")


class SnapshotProvider(Protocol):
    """Takes, reads and deletes one kind of snapshot (CSI, Velero, RDS, EBS, Azure disk); idempotent by name."""

    name: str

    def take(self, req: SnapshotRequest) -> SnapshotStatus: ...

    def status(self, record: SnapshotRecord) -> SnapshotStatus: ...

    def delete(self, record: SnapshotRecord) -> None: ...


@dataclass(frozen=True)
class Wait:
    """Where the snapshots of an execution are: all ready, one failed (why), or still waiting (on what)."""

    records: list[SnapshotRecord]
    ready: bool
    failed: str = ""
    message: str = ""


def parse_time(stamp: str) -> datetime:
    return datetime.strptime(stamp, STAMP).replace(tzinfo=UTC)


def source_key(kind: str, source: ObjectRef, cloud_id: str) -> str:
    """One snapshot per claim, per RDS instance, per resource group (Azure names are case-insensitive)."""
    if kind == "azure-resource-group":
        return f"{kind}:{cloud_id.lower()}"
    return f"{kind}:{cloud_id}" if kind == "db-instance" else f"{kind}:{source.key()}"


def merge_planned(items: Iterable[PlannedSnapshot]) -> list[PlannedSnapshot]:
    """One entry per source, naming every step that endangers it (required if any step requires it)."""
    out: dict[str, PlannedSnapshot] = {}
    for item in items:
        key = source_key(item.kind, item.source, item.cloud_id)
        if key in out:
            old = out[key]
            out[key] = old.model_copy(update={"actions": [*old.actions, *(a for a in item.actions if a not in old.actions)],
                                              "required": old.required or item.required,
                                              "why": old.why if item.why in old.why else f"{old.why}; {item.why}"})
        else:
            out[key] = item
    return list(out.values())


class Snapshots:
    """The snapshot step of the engine: plan, take, wait, mark used, retain, and notes for git."""

    def __init__(self, kube: Kube, providers: Providers, timeout_s: float = 900.0, grace_hours: float = 168.0) -> None:
        self.kube = kube  # the operator's own rights: snapshots are its safety step
        self.providers = providers
        self.timeout_s = timeout_s
        self.grace_hours = grace_hours

    # ------------------------------------------------------------------------------ planning

    def plan(self, thread_id: str, action_id: str, at_risk: list[AtRisk]) -> list[PlannedSnapshot]:
        """How each piece of data at risk would be snapshotted, read with the operator's rights."""
        out = []
        for item in at_risk:
            try:
                planned = (self._plan_volume(thread_id, item) if item.kind == "volume"
                           else self._plan_group(thread_id, item) if item.kind == "azure-resource-group"
                           else self._plan_db(thread_id, item))
            except KubeError as exc:
                if exc.transient:
                    raise transient_from(exc, f"reading {item.ref.key()} to plan its snapshot") from exc
                raise
            if planned is not None:
                out.append(planned.model_copy(update={"actions": [action_id]}))
        return out

    def _plan_db(self, thread_id: str, item: AtRisk) -> PlannedSnapshot:
        base = PlannedSnapshot(kind="db-instance", source=item.ref, cloud_id=item.cloud_id, why=item.why,
                               required=item.required, name=snapshot_name("aiop", thread_id, item.cloud_id, 255))
        if self.providers.rds is None:
            return base.model_copy(update={"note": "no AWS access is configured (AIOP_AWS), so no RDS DB snapshot "
                                                   "can be taken"})
        return base.model_copy(update={"provider": "aws-rds", "snapshot_class": "manual"})

    def _plan_group(self, thread_id: str, item: AtRisk) -> PlannedSnapshot:
        base = PlannedSnapshot(kind="azure-resource-group", source=item.ref, cloud_id=item.cloud_id, why=item.why,
                               required=item.required, name=snapshot_name("aiop", thread_id, f"rg-{item.cloud_id}"))
        if self.providers.template is None:
            return base.model_copy(update={"note": "no Azure access is configured (AIOP_AZURE_SUBSCRIPTION_ID), so "
                                                   "the resource group's template cannot be exported"})
        return base.model_copy(update={"provider": "azure-template", "snapshot_class": "ARM template"})

    def _plan_volume(self, thread_id: str, item: AtRisk) -> PlannedSnapshot | None:
        ns, name = item.ref.namespace, item.ref.name
        claim = self.kube.get("v1", "PersistentVolumeClaim", name, ns)
        if claim is None:
            return None  # nothing there yet, nothing to lose
        spec, status = claim.get("spec") or {}, claim.get("status") or {}
        size = str((status.get("capacity") or {}).get("storage")
                   or ((spec.get("resources") or {}).get("requests") or {}).get("storage") or "")
        volume = self.kube.get("v1", "PersistentVolume", spec["volumeName"]) if spec.get("volumeName") else None
        driver, handle = _driver_and_handle(claim, volume, self._class_provisioner(spec.get("storageClassName")))
        base = PlannedSnapshot(kind="volume", source=item.ref, cloud_id=handle, size=size, why=item.why,
                               required=item.required)
        if not spec.get("volumeName"):
            return None  # not bound to a volume: it holds no data yet
        reasons = []
        for choice in (("csi", "velero", "cloud") if self.providers.volumes == "auto" else (self.providers.volumes,)):
            found, why = self._choose(choice, thread_id, base, driver, handle)
            if found is not None:
                return found
            reasons.append(why)
        return base.model_copy(update={"note": "; ".join(r for r in reasons if r)})

    def _choose(self, choice: str, thread_id: str, base: PlannedSnapshot, driver: str,
                handle: str) -> tuple[PlannedSnapshot | None, str]:
        src = base.source
        if choice == "none":
            return None, "volume snapshots are off (AIOP_SNAPSHOT_VOLUMES=none)"
        if choice == "csi":
            cls = self.providers.csi.class_for(driver)
            if not cls:
                return None, f"no VolumeSnapshotClass for driver {driver or '(unknown)'}"
            return base.model_copy(update={"provider": "csi", "snapshot_class": cls,
                                           "name": snapshot_name("aiop", thread_id, src.name)}), ""
        if choice == "velero":
            location, why = self.providers.velero.location()
            if not location:
                return None, why
            return base.model_copy(update={"provider": "velero", "snapshot_class": location,
                                           "name": snapshot_name("aiop", thread_id, src.namespace)}), ""
        if driver in EBS_DRIVERS and handle:
            if self.providers.ebs is None:
                return None, "an EBS volume, but no AWS access is configured (AIOP_AWS)"
            return base.model_copy(update={"provider": "aws-ebs", "snapshot_class": "EBS",
                                           "name": snapshot_name("aiop", thread_id, f"{src.namespace}-{src.name}")}), ""
        if driver in DISK_DRIVERS and handle:
            if self.providers.disk is None:
                return None, "an Azure managed disk, but no Azure access is configured (AIOP_AZURE_SUBSCRIPTION_ID)"
            return base.model_copy(update={"provider": "azure-disk", "snapshot_class": "incremental",
                                           "name": snapshot_name("aiop", thread_id, f"{src.namespace}-{src.name}",
                                                                 80)}), ""
        return None, f"no cloud snapshot for driver {driver or '(unknown)'}"

    def _class_provisioner(self, class_name: Any) -> str:
        if not class_name:
            return ""
        sc = self.kube.get("storage.k8s.io/v1", "StorageClass", str(class_name))
        return str((sc or {}).get("provisioner") or "")

    # ---------------------------------------------------------------------------------- take

    def take(self, thread_id: str, revision: PlanRevision, earlier: Iterable[SnapshotRecord],
             now: str) -> list[SnapshotRecord]:
        """Take the revision's snapshots (once per source: an earlier one that did not fail is kept)."""
        records = list(earlier)
        kept = {source_key(r.kind, r.source, r.cloud_id) for r in records if r.state not in ("Failed", "Deleted")}
        for planned in revision.snapshots:
            key = source_key(planned.kind, planned.source, planned.cloud_id)
            if planned.provider == "none" or key in kept:
                continue
            retry = any(source_key(r.kind, r.source, r.cloud_id) == key for r in records)
            name = f"{planned.name}-r{revision.revision}" if retry else planned.name
            provider = self._provider(planned.provider)
            status = provider.take(SnapshotRequest(name=name, thread_id=thread_id, kind=planned.kind,
                                                   source=planned.source, cloud_id=planned.cloud_id,
                                                   snapshot_class=planned.snapshot_class))
            record = SnapshotRecord(name=name, provider=planned.provider, kind=planned.kind, source=planned.source,
                                    cloud_id=planned.cloud_id, snapshot_class=planned.snapshot_class,
                                    size=status.size or planned.size, revision=revision.revision, requested_at=now,
                                    restore_detail=dict(status.detail))
            records = [r for r in records if source_key(r.kind, r.source, r.cloud_id) != key] + [
                _updated(record, status, now)]
            kept.add(key)
        return records

    def _provider(self, name: str) -> Any:
        provider = self.providers.get(name)
        if provider is None:
            raise SnapshotError(f"the {name} snapshot provider is not configured any more")
        return provider

    # ---------------------------------------------------------------------------------- wait

    def wait(self, record: ExecutionRecord, now: str) -> Wait:
        """Read the pending snapshots of this execution once; ready, failed or still waiting (and on what)."""
        records, waiting = [], []
        failed = ""
        for snap in record.snapshots:
            if snap.state == "Pending":
                status = self._provider(snap.provider).status(snap)
                snap = _updated(snap, status, now)
                late = (parse_time(now) - parse_time(snap.requested_at)).total_seconds() > self.timeout_s
                if snap.state == "Pending" and late:
                    snap = snap.model_copy(update={"state": "Failed", "message": f"not ready after {self.timeout_s:.0f}s"
                                                                                 f" ({snap.message})"})
            if snap.state == "Failed" and not failed and snap.revision == record.revision:
                failed = f"snapshot {snap.name} of {_what(snap)} ({snap.provider}) failed: {snap.message}"
            if snap.state == "Pending":
                waiting.append(f"{snap.name}: {snap.message}")
            records.append(snap)
        ready = not failed and not waiting
        done = sum(1 for s in records if s.state == "Ready")
        message = failed or (f"waiting for {len(waiting)} of {len(records)} snapshot(s): " + "; ".join(waiting)
                             if waiting else f"{done} snapshot(s) ready")
        return Wait(records, ready, failed, message)

    @staticmethod
    def mark_used(records: list[SnapshotRecord]) -> list[SnapshotRecord]:
        """A change is being applied after these snapshots: restore will bring their data back."""
        return [r.model_copy(update={"used": True}) if r.state == "Ready" else r for r in records]

    # ----------------------------------------------------------------------------- retention

    def retain(self, records: list[SnapshotRecord], closed_at: str, keep: bool, now: str) -> list[SnapshotRecord]:
        """Once the thread is closed: an expiry `grace` after `closed_at`, then delete (unless kept)."""
        out = []
        for snap in records:
            if snap.state == "Deleted" or keep:
                out.append(snap.model_copy(update={"expires_at": ""}) if keep and snap.expires_at else snap)
                continue
            expires = snap.expires_at or (parse_time(closed_at) + timedelta(hours=self.grace_hours)).strftime(STAMP)
            snap = snap.model_copy(update={"expires_at": expires})
            if parse_time(now) >= parse_time(expires) and snap.restore_phase not in _RESTORING:
                if snap.state != "Failed" or snap.handle:
                    provider = self.providers.get(snap.provider)
                    if provider is None:
                        snap = snap.model_copy(update={"message": f"cannot delete: {snap.provider} is not configured"})
                        out.append(snap)
                        continue
                    provider.delete(snap)
                snap = snap.model_copy(update={"state": "Deleted", "deleted_at": now})
            out.append(snap)
        return out

    # ----------------------------------------------------------------------------- git notes

    @staticmethod
    def notes(records: list[SnapshotRecord]) -> str:
        """`backup/snapshots.yaml`: what was snapshotted before the change, where, how big, when."""
        items = [{"name": r.name, "provider": r.provider, "of": _what(r), "class": r.snapshot_class,
                  "size": r.size, "handle": r.handle, "requestedAt": r.requested_at, "revision": r.revision}
                 for r in records]
        return dump_yaml({"snapshots": [{k: v for k, v in i.items() if v not in ("", None)} for i in items]})

    def files(self, records: list[SnapshotRecord]) -> dict[str, str]:
        """Snapshot contents that belong in the thread's `backup/` folder (redacted), by file name: the
        exported ARM templates of resource groups, ready when the commit is made."""
        out = {}
        for snap in records:
            provider = self.providers.get(snap.provider)
            found = provider.payload(snap) if hasattr(provider, "payload") else None
            if found is not None:
                out[found[0]] = found[1]
        return out


_RESTORING = frozenset({"Quiescing", "Saving", "Deleting", "Provisioning", "Renaming", "Restoring"})


def _what(snap: SnapshotRecord | PlannedSnapshot) -> str:
    if snap.kind == "db-instance":
        return f"RDS instance {snap.cloud_id}"
    if snap.kind == "azure-resource-group":
        return f"resource group {snap.cloud_id}"
    return f"PVC {snap.source.namespace}/{snap.source.name}"


def _updated(record: SnapshotRecord, status: SnapshotStatus, now: str) -> SnapshotRecord:
    state = "Failed" if status.state == "Missing" else status.state
    update: dict[str, Any] = {"state": state, "message": status.message}
    if status.handle:
        update["handle"] = status.handle
    if status.size:
        update["size"] = status.size
    if state == "Ready" and not record.ready_at:
        update["ready_at"] = now
    return record.model_copy(update=update)


def _driver_and_handle(claim: dict[str, Any], volume: dict[str, Any] | None, class_provisioner: str) -> tuple[str, str]:
    """The CSI driver (or in-tree plugin) behind a claim, and its volume handle (EBS volume id, disk id)."""
    spec = (volume or {}).get("spec") or {}
    csi = spec.get("csi") or {}
    if csi.get("driver"):
        return str(csi["driver"]), str(csi.get("volumeHandle") or "")
    if spec.get("awsElasticBlockStore"):
        return "kubernetes.io/aws-ebs", str(spec["awsElasticBlockStore"].get("volumeID", "")).rsplit("/", 1)[-1]
    if spec.get("azureDisk"):
        return "kubernetes.io/azure-disk", str(spec["azureDisk"].get("diskURI", ""))
    annotations = (claim.get("metadata") or {}).get("annotations") or {}
    provisioned_by = ((volume or {}).get("metadata") or {}).get("annotations", {}).get("pv.kubernetes.io/provisioned-by")
    driver = (provisioned_by or annotations.get("volume.kubernetes.io/storage-provisioner")
              or annotations.get("volume.beta.kubernetes.io/storage-provisioner") or class_provisioner)
    return str(driver or ""), ""
