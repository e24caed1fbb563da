"""Restore that brings data back: volumes and databases from the snapshots taken before the change.

Why a step machine: bringing a claim back is several things that each take time — stop what uses it,
remove the changed claim, create it again from the snapshot, wait until it is bound — and restoring a
database is a rename and a restore that take minutes; an Azure resource group's exported template is
redeployed (incremental) and followed until the deployment succeeded. Each call does at most one round of writes and
records where every snapshot is (`restore_phase`, `restore_detail` on its record); the reconciler writes
that to status and calls again on the next tick. A controller killed anywhere resumes from the record,
and no worker blocks while AWS or the CSI driver works.

A claim, step by step (the same for a StatefulSet's claims and a Deployment's):
1. Quiescing: every workload whose pods mount one of the claims (a StatefulSet through its claim
   templates: `data-db-0`, `data-db-1`) is scaled to 0; its replicas are kept in the annotation
   `aiop.dev/restore-replicas`. Wait until no pod uses the claims.
2. Saving: the claim as it was before the chat (the thread's backup) or as it is, recorded, so a
   restart after the next step still knows what to create.
3. Deleting: the changed claims are deleted (with the default reclaim policy, their changed volumes too);
   wait until every one is gone — Velero only restores claims that do not exist.
4. Provisioning: the provider re-creates the claim with the same name: `dataSource` = the VolumeSnapshot
   (CSI), a Velero Restore of the thread's Backup, or a PersistentVolume for a volume made from the EBS /
   Azure disk snapshot. The workload, whose pods name the claim, is pointed at it by name — for a
   StatefulSet that is the only way, its claim templates are immutable. Done when Bound.
5. Then workloads the thread did not change are scaled back to the kept replicas; the ones it changed
   come back with their backup (the revert that follows re-applies them, replicas and all).
Everything is written as the person who pressed restore (their RBAC decides, `needs` lists it first).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from controller.adapters.backups import BackupStore, clean_for_backup
from controller.adapters.kube import Kube
from controller.adapters.snapshots.base import Step
from controller.adapters.snapshots.select import Providers
from controller.api.types import Identity, ObjectRef, Permission, SnapshotRecord
from controller.catalog.data_risk import mounted_claims

REPLICAS_ANNOTATION = "aiop.dev/restore-replicas"
WORKLOAD_KINDS = (("apps/v1", "StatefulSet", "statefulsets"), ("apps/v1", "Deployment", "deployments"))
ACTIVE = ("Quiescing", "Saving", "Deleting", "Provisioning", "Restoring")


@dataclass(frozen=True)
class Progress:
    records: list[SnapshotRecord]
    done: bool
    failed: str = ""
    message: str = ""


def to_restore(records: list[SnapshotRecord]) -> list[SnapshotRecord]:
    """Snapshots a restore must bring back: a change was applied after them, and they are not back yet."""
    return [r for r in records if r.used and r.restore_phase not in ("Done",)]


def restored_keys(records: list[SnapshotRecord]) -> set[str]:
    """Claims re-created from snapshots: their object backups are not re-applied over them."""
    return {r.source.key() for r in records if r.kind == "volume" and r.restore_phase == "Done"}


class DataRestore:
    def __init__(self, kube: Kube, providers: Providers, backups: BackupStore) -> None:
        self.kube = kube
        self.providers = providers
        self.backups = backups

    # ---------------------------------------------------------------------------- permissions

    def needs(self, records: list[SnapshotRecord]) -> list[Permission]:
        """What restoring the data asks of the restorer, beyond the object backups' own needs."""
        out: list[Permission] = []
        for snap in to_restore(records):
            if snap.kind != "volume":
                continue
            ns, claim = snap.source.namespace, snap.source.name
            out += [Permission(verb=v, resource="persistentvolumeclaims", namespace=ns, name=claim if v != "create"
                               else "") for v in ("delete", "create")]
            for ref in self._workloads(ns, {claim}):
                out.append(Permission(verb="patch", group="apps", resource=_plural(ref.kind), namespace=ns,
                                      name=ref.name))
            if snap.provider == "csi":
                out.append(Permission(verb="get", group="snapshot.storage.k8s.io", resource="volumesnapshots",
                                      namespace=ns, name=snap.name))
            elif snap.provider == "velero":  # the Restore is created, then read until Completed, as the restorer
                out += [Permission(verb=v, group="velero.io", resource="restores",
                                   namespace=self.providers.velero.namespace) for v in ("create", "get")]
            else:
                out.append(Permission(verb="create", resource="persistentvolumes"))
        unique: dict[str, Permission] = {p.describe(): p for p in out}
        return list(unique.values())

    # ---------------------------------------------------------------------------------- step

    def step(self, thread_id: str, records: list[SnapshotRecord], restorer: Identity) -> Progress:
        as_restorer = self.kube.as_user(restorer)
        by_name = {(r.name, r.source.key()): r for r in records}
        pending = to_restore(records)
        gone = [r for r in pending if r.state != "Ready"]
        if gone:
            failed = f"snapshot {gone[0].name} cannot be restored: it is {gone[0].state} ({gone[0].message})"
            return Progress(records, False, failed)
        for snap in [r for r in pending if r.kind == "db-instance"]:
            by_name[(snap.name, snap.source.key())] = self._db_step(thread_id, snap)
        for snap in [r for r in pending if r.kind == "azure-resource-group"]:
            by_name[(snap.name, snap.source.key())] = self._group_step(thread_id, snap)
        volumes = [r for r in pending if r.kind == "volume"]
        if volumes:
            for snap in self._volume_step(thread_id, volumes, as_restorer):
                by_name[(snap.name, snap.source.key())] = snap
        out = [by_name[(r.name, r.source.key())] for r in records]
        failed = next((f"{r.name}: {r.restore_message}" for r in out if r.restore_phase == "Failed"), "")
        waiting = [r for r in to_restore(out)]
        if not failed and not waiting and volumes:
            self._resume_workloads(thread_id, volumes, as_restorer)
        message = failed or "; ".join(f"{r.name}: {r.restore_message}" for r in waiting) or \
            "; ".join(f"{r.name}: {r.restore_message}" for r in out if r.restore_message)
        return Progress(out, not failed and not waiting, failed, message)

    # ------------------------------------------------------------------------------ databases

    def _db_step(self, thread_id: str, snap: SnapshotRecord) -> SnapshotRecord:
        rds = self.providers.rds
        if rds is None:
            return _at(snap, "Failed", "no AWS access is configured (AIOP_AWS) to restore the RDS instance")
        suffix = hashlib.sha256(thread_id.encode()).hexdigest()[:6]
        return _apply(snap, rds.restore_db(snap, suffix), "Restoring")

    def _group_step(self, thread_id: str, snap: SnapshotRecord) -> SnapshotRecord:
        """An Azure resource group: its exported template redeployed, incremental (the operator's identity)."""
        exports = self.providers.template
        if exports is None:
            return _at(snap, "Failed", "no Azure access is configured (AIOP_AZURE_SUBSCRIPTION_ID) to redeploy the "
                                       "resource group's template")
        return _apply(snap, exports.restore_group(snap, thread_id), "Restoring")

    # -------------------------------------------------------------------------------- volumes

    def _volume_step(self, thread_id: str, volumes: list[SnapshotRecord], as_restorer: Kube) -> list[SnapshotRecord]:
        phase = min(_order(v.restore_phase) for v in volumes)
        by_ns: dict[str, set[str]] = {}
        for v in volumes:
            by_ns.setdefault(v.source.namespace, set()).add(v.source.name)
        if phase <= _order("Quiescing"):
            stopped = []
            for ns, claims in by_ns.items():
                for ref in self._workloads(ns, claims):
                    stopped.append(self._quiesce(ref, as_restorer))
            users = [p for ns, claims in by_ns.items() for p in self._pods_using(ns, claims)]
            if users or phase < _order("Quiescing"):
                what = f"stopping {', '.join(s for s in stopped if s) or 'the pods'} using the claims"
                wait = f"; waiting for pod(s) {', '.join(users[:5])} to stop" if users else ""
                return [_at(v, "Quiescing", what + wait) for v in volumes]
            return [_at(v, "Saving", "no pod uses the claim any more") for v in volumes]
        if phase == _order("Saving"):
            saved = self._saved_claims(thread_id)
            out = []
            for v in volumes:
                claim = saved.get(v.source.key()) or self.kube.get("v1", "PersistentVolumeClaim", v.source.name,
                                                                   v.source.namespace)
                if claim is None and "claim" not in v.restore_detail:
                    out.append(_at(v, "Failed", f"claim {v.source.namespace}/{v.source.name} is gone and was not "
                                                "backed up, so it cannot be re-created"))
                    continue
                detail = {"claim": v.restore_detail.get("claim") or json.dumps(clean_for_backup(claim or {}))}
                out.append(_at(v, "Deleting", "recorded the claim to re-create", detail))
            return out
        if phase == _order("Deleting"):
            out, left = [], []
            for v in volumes:
                live = self.kube.get("v1", "PersistentVolumeClaim", v.source.name, v.source.namespace)
                if live is not None:
                    left.append(v.source.name)
                    if not (live.get("metadata") or {}).get("deletionTimestamp"):
                        as_restorer.delete("v1", "PersistentVolumeClaim", v.source.name, v.source.namespace)
                out.append(v)
            if left:
                return [_at(v, "Deleting", f"deleting the changed claim(s) {', '.join(sorted(left))}") for v in out]
            return [_at(v, "Provisioning", "the changed claims are gone") for v in out]
        out = []
        for v in volumes:
            if v.restore_phase != "Provisioning":
                out.append(v)
                continue
            provider = self.providers.get(v.provider)
            if provider is None:
                out.append(_at(v, "Failed", f"the {v.provider} snapshot provider is not configured any more"))
                continue
            saved = json.loads(v.restore_detail["claim"])
            out.append(_apply(v, provider.restore_claim(v, saved, as_restorer), "Provisioning"))
        return out

    def _saved_claims(self, thread_id: str) -> dict[str, dict[str, Any]]:
        backup = self.backups.load(thread_id)
        out = {}
        for obj in backup.objects if backup else []:
            if obj.get("kind") == "PersistentVolumeClaim":
                meta = obj.get("metadata") or {}
                out[ObjectRef(api_version="v1", kind="PersistentVolumeClaim", name=meta.get("name", ""),
                              namespace=meta.get("namespace", "")).key()] = obj
        return out

    def _workloads(self, namespace: str, claims: set[str]) -> list[ObjectRef]:
        """Deployments and StatefulSets in `namespace` whose pods mount one of `claims`."""
        out = []
        for api_version, kind, _plural_name in WORKLOAD_KINDS:
            for obj in self.kube.list(api_version, kind, namespace):
                obj.setdefault("kind", kind)
                spec = obj.get("spec") or {}
                replicas = int((obj.get("metadata", {}).get("annotations") or {}).get(REPLICAS_ANNOTATION)
                               or spec.get("replicas", 1) or 1)
                mounted = {c for c, _ in mounted_claims(obj, range(max(replicas, 1)))}
                if mounted & claims:
                    out.append(ObjectRef(api_version=api_version, kind=kind, name=obj["metadata"]["name"],
                                         namespace=namespace))
        return out

    def _quiesce(self, ref: ObjectRef, as_restorer: Kube) -> str:
        live = self.kube.get(ref.api_version, ref.kind, ref.name, ref.namespace) or {}
        replicas = int((live.get("spec") or {}).get("replicas", 1) or 0)
        annotations = (live.get("metadata") or {}).get("annotations") or {}
        if replicas == 0:
            return ""
        kept = annotations.get(REPLICAS_ANNOTATION) or str(replicas)
        as_restorer.merge_patch(ref.api_version, ref.kind, ref.name, ref.namespace,
                                {"metadata": {"annotations": {REPLICAS_ANNOTATION: kept}}, "spec": {"replicas": 0}})
        return f"{ref.kind} {ref.namespace}/{ref.name} (was {kept})"

    def _pods_using(self, namespace: str, claims: set[str]) -> list[str]:
        out = []
        for pod in self.kube.list("v1", "Pod", namespace):
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            used = {(v.get("persistentVolumeClaim") or {}).get("claimName") for v in (pod.get("spec") or {}).get(
                "volumes") or []}
            if used & claims:
                out.append(pod["metadata"]["name"])
        return out

    def _resume_workloads(self, thread_id: str, volumes: list[SnapshotRecord], as_restorer: Kube) -> None:
        """Scale back what restore stopped, except workloads the revert re-applies from the backup anyway."""
        backup = self.backups.load(thread_id)
        backed_up = {(o.get("kind"), (o.get("metadata") or {}).get("namespace"), (o.get("metadata") or {}).get("name"))
                     for o in (backup.objects if backup else [])}
        namespaces = {v.source.namespace for v in volumes}
        for ns in namespaces:
            for api_version, kind, _plural_name in WORKLOAD_KINDS:
                for obj in self.kube.list(api_version, kind, ns):
                    kept = ((obj.get("metadata") or {}).get("annotations") or {}).get(REPLICAS_ANNOTATION)
                    if kept is None or (kind, ns, obj["metadata"]["name"]) in backed_up:
                        continue
                    as_restorer.merge_patch(api_version, kind, obj["metadata"]["name"], ns,
                                            {"metadata": {"annotations": {REPLICAS_ANNOTATION: None}},
                                             "spec": {"replicas": int(kept)}})


_PHASES = ("", "Quiescing", "Saving", "Deleting", "Provisioning", "Done", "Failed")


def _order(phase: str) -> int:
    return _PHASES.index(phase) if phase in _PHASES else 0


def _plural(kind: str) -> str:
    return {"StatefulSet": "statefulsets", "Deployment": "deployments"}[kind]


def _at(snap: SnapshotRecord, phase: str, message: str, detail: dict[str, str] | None = None) -> SnapshotRecord:
    return snap.model_copy(update={"restore_phase": phase, "restore_message": message,
                                   "restore_detail": {**snap.restore_detail, **(detail or {})}})


def _apply(snap: SnapshotRecord, step: Step, working: str) -> SnapshotRecord:
    phase = "Failed" if step.failed else "Done" if step.done else working
    return _at(snap, phase, step.message, step.detail)
