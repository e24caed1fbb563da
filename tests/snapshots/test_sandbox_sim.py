"""The sandbox's simulated CSI snapshot controller and Velero, with the real CRDs installed.

What a real cluster shows (external-snapshotter and Velero docs): a VolumeSnapshot of a bound claim gets
a VolumeSnapshotContent and becomes readyToUse with a restoreSize; a claim with that snapshot as its
dataSource is provisioned with the data the volume had; a snapshot of a driver without a snapshotter
never becomes ready; a missing class is an error in status; a claim from a snapshot that is not ready
stays Pending (ProvisioningFailed) and binds once it is. Velero: a Backup without a storage location fails
validation; with one it completes, and a Restore brings back the claims that are gone, with their data.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.adapters.kube import Kube, load_api_client
from controller.tools import bootstrap
from sandbox.server import SandboxServer
from tests.snapshots import objects as o

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[SandboxServer, Kube]]:
    with SandboxServer(port=0, home=tmp_path / "home") as server:
        kube = Kube(load_api_client(str(server.kubeconfig_path)))
        bootstrap.install_crds(kube, o.snapshot_crds() + o.velero_crds())
        bootstrap.create_object(kube, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
        yield server, kube


def wait_for(kube: Kube, api: str, kind: str, name: str, ns: str | None, test: Any, what: str) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        obj = kube.get(api, kind, name, ns)
        if obj is not None and test(obj):
            return obj
        time.sleep(0.1)
    raise AssertionError(f"{kind} {ns}/{name}: {what}; last seen {obj}")


def run(server: SandboxServer, pod: str, *command: str) -> str:
    """`kubectl exec` in the simulated cluster (on the server's loop: no API call may be made in there)."""
    assert server.simulator is not None
    sim = server.simulator
    return str(server.call(lambda: sim.exec("shop", pod, "", list(command))).stdout)


def read(server: SandboxServer, pod: str, path: str) -> str:
    return run(server, pod, "cat", path)


def pod_of(kube: Kube, app: str) -> str:
    pods = [p for p in kube.list("v1", "Pod", "shop", label_selector=f"app={app}")
            if not p["metadata"].get("deletionTimestamp")]
    return str(pods[0]["metadata"]["name"])


def test_snapshot_becomes_ready_and_a_claim_restores_its_data(cluster: tuple[SandboxServer, Kube]) -> None:
    server, kube = cluster
    for obj in (o.snapshot_class(), o.claim("data"), o.writer("app", "data", "v1")):
        bootstrap.create_object(kube, obj)
    wait_for(kube, "v1", "PersistentVolumeClaim", "data", "shop", lambda c: c["status"]["phase"] == "Bound", "bound")
    wait_for(kube, "apps/v1", "Deployment", "app", "shop", lambda d: d["status"].get("readyReplicas") == 1, "ready")
    assert read(server, pod_of(kube, "app"), "/data/version") == "v1\n"
    kube.create({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                 "metadata": {"name": "before", "namespace": "shop"},
                 "spec": {"volumeSnapshotClassName": "csi-hostpath", "source": {"persistentVolumeClaimName": "data"}}})
    snap = wait_for(kube, "snapshot.storage.k8s.io/v1", "VolumeSnapshot", "before", "shop",
                    lambda s: (s.get("status") or {}).get("readyToUse") is True, "ready to use")
    assert snap["status"]["restoreSize"] == "1Gi"
    content = kube.get("snapshot.storage.k8s.io/v1", "VolumeSnapshotContent",
                       snap["status"]["boundVolumeSnapshotContentName"])
    assert content is not None and content["spec"]["driver"] == o.DRIVER and content["status"]["readyToUse"]
    # the volume changes after the snapshot; a claim from the snapshot has the data as it was
    run(server, pod_of(kube, "app"), "sh", "-c", "echo v2 > /data/version")
    restored = o.claim("data-restored")
    restored["spec"]["dataSource"] = {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "before"}
    bootstrap.create_object(kube, restored)
    bootstrap.create_object(kube, o.writer("reader", "data-restored", "never-written"))
    wait_for(kube, "apps/v1", "Deployment", "reader", "shop", lambda d: d["status"].get("readyReplicas") == 1, "ready")
    assert read(server, pod_of(kube, "reader"), "/data/version") == "v1\n"
    assert read(server, pod_of(kube, "app"), "/data/version") == "v2\n"
    # deleting the snapshot deletes its content (deletionPolicy Delete)
    kube.delete("snapshot.storage.k8s.io/v1", "VolumeSnapshot", "before", "shop")
    wait_for(kube, "v1", "Namespace", "shop", None,
             lambda _: kube.get("snapshot.storage.k8s.io/v1", "VolumeSnapshotContent", content["metadata"]["name"])
             is None, "content deleted")


def test_not_ready_and_failed_snapshots(cluster: tuple[SandboxServer, Kube]) -> None:
    server, kube = cluster
    foreign = "pd.csi.storage.gke.io"  # no StorageClass provisions with it here: no snapshotter runs for it
    bootstrap.create_object(kube, o.snapshot_class("gke-pd", foreign, default=False))
    bootstrap.create_object(kube, {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-pd"},
                                   "spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"],
                                            "storageClassName": "", "csi": {"driver": foreign, "volumeHandle": "vol-1"},
                                            "claimRef": {"namespace": "shop", "name": "pd-data"}}})
    pd = o.claim("pd-data", size="2Gi", storage_class="")
    pd["spec"]["volumeName"] = "pv-pd"
    bootstrap.create_object(kube, pd)
    wait_for(kube, "v1", "PersistentVolumeClaim", "pd-data", "shop", lambda c: c["status"]["phase"] == "Bound", "bound")
    for name, cls, source in (("stuck", "gke-pd", "pd-data"), ("no-class", "missing", "pd-data"),
                              ("no-claim", "gke-pd", "nothing")):
        kube.create({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                     "metadata": {"name": name, "namespace": "shop"},
                     "spec": {"volumeSnapshotClassName": cls, "source": {"persistentVolumeClaimName": source}}})
    assert server.simulator is not None
    server.simulator.advance(3600)
    stuck = kube.get("snapshot.storage.k8s.io/v1", "VolumeSnapshot", "stuck", "shop")
    assert stuck is not None and stuck["status"]["readyToUse"] is False and "error" not in stuck["status"]
    assert stuck["status"]["boundVolumeSnapshotContentName"].startswith("snapcontent-")
    no_class = kube.get("snapshot.storage.k8s.io/v1", "VolumeSnapshot", "no-class", "shop")
    assert no_class is not None and '"missing" not found' in no_class["status"]["error"]["message"]
    no_claim = kube.get("snapshot.storage.k8s.io/v1", "VolumeSnapshot", "no-claim", "shop")
    assert no_claim is not None and '"nothing" not found' in no_claim["status"]["error"]["message"]
    # a claim from a snapshot that is not ready stays Pending, saying why
    waiting = o.claim("from-stuck", size="2Gi")
    waiting["spec"]["dataSource"] = {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "stuck"}
    bootstrap.create_object(kube, waiting)
    claim = kube.get("v1", "PersistentVolumeClaim", "from-stuck", "shop")
    assert claim is not None and claim["status"]["phase"] == "Pending"
    events = [e["message"] for e in kube.list("v1", "Event", "shop") if e["involvedObject"]["name"] == "from-stuck"]
    assert any("snapshot stuck is not Ready" in m for m in events), events


def test_claim_waits_for_its_snapshot_then_binds(cluster: tuple[SandboxServer, Kube]) -> None:
    server, kube = cluster
    assert server.simulator is not None
    server.call(lambda: setattr(server.simulator, "behaviour", server.simulator.behaviour.model_copy(
        update={"timing": server.simulator.behaviour.timing.model_copy(update={"snapshot_seconds": 30})})))
    for c in server.simulator.controllers:
        c.behaviour = server.simulator.behaviour
    bootstrap.create_object(kube, o.snapshot_class())
    bootstrap.create_object(kube, o.claim("data"))
    kube.create({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                 "metadata": {"name": "slow", "namespace": "shop"}, "spec": {"source": {"persistentVolumeClaimName": "data"}}})
    restored = o.claim("copy")
    restored["spec"]["dataSource"] = {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "slow"}
    bootstrap.create_object(kube, restored)
    assert (kube.get("v1", "PersistentVolumeClaim", "copy", "shop") or {})["status"]["phase"] == "Pending"
    server.simulator.advance(31)
    wait_for(kube, "v1", "PersistentVolumeClaim", "copy", "shop", lambda c: c["status"]["phase"] == "Bound",
             "bound once the snapshot (default class, 30 s to cut) is ready")


def test_velero_backup_and_restore(cluster: tuple[SandboxServer, Kube]) -> None:
    server, kube = cluster
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "velero"}})
    backup = {"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": "first", "namespace": "velero"},
              "spec": {"includedNamespaces": ["shop"], "includedResources": ["persistentvolumeclaims",
                                                                             "persistentvolumes"]}}
    kube.create(backup)
    failed = kube.get("velero.io/v1", "Backup", "first", "velero")
    assert failed is not None and failed["status"]["phase"] == "FailedValidation"
    assert "the default 'default' wasn't found" in failed["status"]["validationErrors"][0]
    for obj in [*o.storage_location()[1:], o.claim("data"), o.writer("app", "data", "v1")]:
        bootstrap.create_object(kube, obj)
    wait_for(kube, "apps/v1", "Deployment", "app", "shop", lambda d: d["status"].get("readyReplicas") == 1, "ready")
    kube.create({**backup, "metadata": {"name": "second", "namespace": "velero"}})
    done = wait_for(kube, "velero.io/v1", "Backup", "second", "velero",
                    lambda b: b["status"]["phase"] == "Completed", "completed")
    assert done["status"]["volumeSnapshotsCompleted"] == 1 and done["status"]["expiration"]
    run(server, pod_of(kube, "app"), "sh", "-c", "echo v2 > /data/version")
    kube.merge_patch("apps/v1", "Deployment", "app", "shop", {"spec": {"replicas": 0}})
    wait_for(kube, "v1", "Namespace", "shop", None, lambda _: not kube.list("v1", "Pod", "shop"), "pods gone")
    kube.delete("v1", "PersistentVolumeClaim", "data", "shop")
    wait_for(kube, "v1", "Namespace", "shop", None, lambda _: kube.get("v1", "PersistentVolumeClaim", "data", "shop")
             is None, "claim gone")
    kube.create({"apiVersion": "velero.io/v1", "kind": "Restore", "metadata": {"name": "back", "namespace": "velero"},
                 "spec": {"backupName": "second", "includedNamespaces": ["shop"], "restorePVs": True}})
    restore = wait_for(kube, "velero.io/v1", "Restore", "back", "velero",
                       lambda r: r["status"]["phase"] == "Completed", "completed")
    assert restore["status"]["warnings"] == 0
    claim = wait_for(kube, "v1", "PersistentVolumeClaim", "data", "shop", lambda c: c["status"]["phase"] == "Bound",
                     "restored and bound")
    assert claim["metadata"]["labels"]["velero.io/restore-name"] == "back"
    volume = kube.get("v1", "PersistentVolume", claim["spec"]["volumeName"]) or {}
    assert volume["metadata"]["labels"]["velero.io/restore-name"] == "back"  # Velero's labels on the volume too,
    assert volume["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == o.DRIVER  # and its own kept
    kube.merge_patch("apps/v1", "Deployment", "app", "shop", {"spec": {"replicas": 1}})
    wait_for(kube, "apps/v1", "Deployment", "app", "shop", lambda d: d["status"].get("readyReplicas") == 1, "ready")
    assert read(server, pod_of(kube, "app"), "/data/version") == "v1\n"
    kube.create({"apiVersion": "velero.io/v1", "kind": "DeleteBackupRequest",
                 "metadata": {"name": "drop", "namespace": "velero"}, "spec": {"backupName": "second"}})
    assert kube.get("velero.io/v1", "Backup", "second", "velero") is None
