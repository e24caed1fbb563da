"""A restored cloud volume as Kubernetes sees it: a PersistentVolume for the disk and the claim bound to it.

Why shared: an EBS volume and an Azure managed disk restored from their snapshots come back the same
way when no CSI snapshot class serves their driver — a statically provisioned PersistentVolume naming
the new volume (`csi.volumeHandle`), pinned to the volume's zone, and the claim re-created with its old
name and request, pre-bound to that volume (`spec.volumeName`), so the workload finds it where it was.
Both are created as the person who pressed restore.
"""

from __future__ import annotations

from typing import Any

from controller.adapters.kube import Kube
from controller.adapters.snapshots.base import Step, claim_for_restore
from controller.api.types import SnapshotRecord


def static_volume_claim(record: SnapshotRecord, saved_claim: dict[str, Any], as_restorer: Kube, driver: str,
                        handle: str, size: str, topology: dict[str, str]) -> Step:
    """A PersistentVolume for a restored cloud volume and the claim pre-bound to it; done once Bound."""
    ns, name = record.source.namespace, record.source.name
    claim = claim_for_restore(saved_claim)
    spec: dict[str, Any] = claim["spec"]  # type: ignore[assignment]
    pv_name = record.name[:253]
    if as_restorer.get("v1", "PersistentVolume", pv_name) is None:
        pv_spec: dict[str, Any] = {
            "capacity": {"storage": size}, "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
            "persistentVolumeReclaimPolicy": "Retain", "storageClassName": spec.get("storageClassName", ""),
            "volumeMode": spec.get("volumeMode", "Filesystem"), "csi": {"driver": driver, "volumeHandle": handle},
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": ns, "name": name}}
        terms = [{"key": k, "operator": "In", "values": [v]} for k, v in topology.items() if v]
        if terms:
            pv_spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": terms}]}}
        as_restorer.create({"apiVersion": "v1", "kind": "PersistentVolume",
                            "metadata": {"name": pv_name, "labels": {"aiop.dev/restored-from": record.name[:63]}},
                            "spec": pv_spec})
        return Step(False, f"created PersistentVolume {pv_name} for {handle}", {"volume": pv_name})
    live = as_restorer.get("v1", "PersistentVolumeClaim", name, ns)
    if live is None:
        spec["volumeName"] = pv_name
        as_restorer.create(claim)
        return Step(False, f"created claim {ns}/{name} bound to PersistentVolume {pv_name}")
    if (live.get("spec") or {}).get("volumeName") != pv_name:
        return Step(False, f"claim {ns}/{name} exists and is not bound to the restored volume {pv_name}", failed=True)
    if (live.get("status") or {}).get("phase") != "Bound":
        return Step(False, f"waiting for claim {ns}/{name} to bind to {pv_name}")
    return Step(True, f"claim {ns}/{name} is bound to {pv_name} ({handle}), restored from snapshot {record.handle}",
                {"volume": pv_name})
