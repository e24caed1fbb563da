"""Snapshot before the change, restore that brings the data back: the real controller, CSI VolumeSnapshots.

The Kubernetes API is the sandbox with the real external-snapshotter CRDs installed; its simulated cluster
plays the snapshot controller and the driver's snapshotter (a VolumeSnapshot of a bound claim becomes
readyToUse, a claim with a snapshot `dataSource` is provisioned with the files the volume had). The AI
backend is scripted at the `Backend` seam; git, the forge, kopf and the client are real. Data is written
and read inside the pods (`kubectl exec` through the simulated kubelet), so "the data came back" is what
the pod sees, not a field.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from controller.api.constants import Phase
from controller.api.types import Identity
from controller.planning.types import ActionCall, PlanningResult
from controller.tools import bootstrap
from tests.engine.conftest import ALICE, Loop, start_loop
from tests.snapshots import objects as o

pytestmark = pytest.mark.timeout(240)
FOREIGN = "pd.csi.storage.gke.io"  # a driver no StorageClass of the sandbox provisions with: no snapshotter cuts it
ERIN = Identity(user="erin@example.com", groups=["devs"])  # may edit shop and restore, may not read VolumeSnapshots


def erin() -> list[dict[str, Any]]:
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "editor-erin", "namespace": "shop"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "editor"},
               "subjects": [{"kind": "User", "name": ERIN.user, "apiGroup": "rbac.authorization.k8s.io"}]}
    return [binding, *bootstrap.conversation_rights(ERIN.user, "shop")]


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    extra = [o.snapshot_class(), o.snapshot_class("gke-pd", FOREIGN, default=False), *o.storage_rights(ALICE.user),
             *erin()]
    yield from start_loop(tmp_path_factory.mktemp("aiop-csi"), env={"AIOP_SNAPSHOT_TIMEOUT": "10"},
                          extra_crds=o.snapshot_crds(), extra_objects=extra)


def plan(action: str, **params: Any) -> PlanningResult:
    return PlanningResult(kind="plan", answer=f"{action}.", actions=[ActionCall(action=action, params=params)])


def status(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("status") or {}


def applied(loop: Loop, thread: str, text: str, planned: PlanningResult) -> dict[str, Any]:
    """Alice asks, the backend answers with `planned`, she approves it; the thread once it settled."""
    loop.backend.enqueue(planned)
    loop.client.say("shop", thread, text, ALICE)
    loop.client.wait_settled("shop", thread)
    loop.client.approve("shop", thread, ALICE)
    return loop.client.wait_settled("shop", thread)


def ready(loop: Loop, kind: str, name: str, replicas: int = 1, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        obj = loop.kube.get("apps/v1", kind, name, "shop") or {}
        if (obj.get("status") or {}).get("readyReplicas", 0) == replicas and \
                (obj.get("status") or {}).get("updatedReplicas", replicas) == replicas:
            return
        time.sleep(0.2)
    raise AssertionError(f"{kind} {name} not ready with {replicas} replicas: {obj.get('status')}")


def pods(loop: Loop, app: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in loop.kube.list("v1", "Pod", "shop", label_selector=f"app={app}")
                  if not p["metadata"].get("deletionTimestamp"))


def run(loop: Loop, pod: str, *command: str) -> str:
    sim = loop.server.simulator
    assert sim is not None
    return str(loop.server.call(lambda: sim.exec("shop", pod, "", list(command))).stdout)


def claim(loop: Loop, name: str) -> dict[str, Any]:
    obj = loop.kube.get("v1", "PersistentVolumeClaim", name, "shop")
    assert obj is not None, name
    return obj


def test_expand_a_volume_then_restore_brings_its_data_and_size_back(loop: Loop) -> None:
    for obj in (o.claim("pgdata", size="1Gi"), o.writer("ledger", "pgdata", "v1")):
        bootstrap.create_object(loop.kube, obj)
    ready(loop, "Deployment", "ledger")
    loop.backend.enqueue(plan("expand-pvc", name="pgdata", namespace="shop", size="2Gi"))
    loop.client.say("shop", "grow", "grow pgdata to 2Gi", ALICE)
    obj = loop.client.wait_settled("shop", "grow")
    revision = status(obj)["revisions"][-1]
    assert status(obj)["phase"] == Phase.AWAITING_APPROVAL
    assert revision["snapshots"][0]["provider"] == "csi" and revision["snapshots"][0]["snapshotClass"] == "csi-hostpath"
    assert "Before running:\n- snapshot PVC shop/pgdata (1Gi, VolumeSnapshotClass csi-hostpath)" in \
        status(obj)["messages"][-1]["text"]
    assert loop.kube.list("snapshot.storage.k8s.io/v1", "VolumeSnapshot", "shop") == []  # nothing before approval

    loop.client.approve("shop", "grow", ALICE)
    obj = loop.client.wait_settled("shop", "grow")
    assert status(obj)["phase"] == Phase.AWAITING_RATING, status(obj)["conditions"]
    record = status(obj)["execution"]
    snap = record["snapshots"][0]
    assert snap["name"] == "aiop-shop-grow-pgdata" and snap["state"] == "Ready" and snap["used"] is True
    assert snap["readyAt"] <= record["syncStarted"]  # ready before anything was applied
    volume_snapshot = loop.kube.get("snapshot.storage.k8s.io/v1", "VolumeSnapshot", snap["name"], "shop")
    assert volume_snapshot is not None and volume_snapshot["status"]["restoreSize"] == "1Gi"
    assert claim(loop, "pgdata")["spec"]["resources"]["requests"]["storage"] == "2Gi"
    import git

    head = git.Repo(loop.settings.local_repo).commit(status(obj)["links"]["branch"])
    notes = head.tree / f"{status(obj)['links']['folder']}/backup/snapshots.yaml"
    assert "aiop-shop-grow-pgdata" in notes.data_stream.read().decode()

    run(loop, pods(loop, "ledger")[0], "sh", "-c", "echo v2-corrupted > /data/version")
    loop.client.restore("shop", "grow", ALICE)
    obj = loop.client.wait_settled("shop", "grow")
    assert status(obj)["phase"] == Phase.RESTORED, status(obj)["conditions"]
    restored = claim(loop, "pgdata")
    assert restored["spec"]["dataSource"] == {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot",
                                              "name": "aiop-shop-grow-pgdata"}
    assert restored["spec"]["resources"]["requests"]["storage"] == "1Gi"  # the pre-chat claim, from the backup
    ready(loop, "Deployment", "ledger")
    deployment = loop.kube.get("apps/v1", "Deployment", "ledger", "shop") or {}
    assert "aiop.dev/restore-replicas" not in (deployment["metadata"].get("annotations") or {})
    assert run(loop, pods(loop, "ledger")[0], "cat", "/data/version") == "v1\n"
    assert status(obj)["execution"]["snapshots"][0]["restorePhase"] == "Done"
    assert any("came back from their snapshots" in m["text"] for m in status(obj)["messages"])


def test_statefulset_upgrade_with_two_replicas_restores_both_claims(loop: Loop) -> None:
    bootstrap.create_object(loop.kube, o.database("pg", replicas=2, image="postgres:16"))
    ready(loop, "StatefulSet", "pg", 2)
    for i in range(2):
        run(loop, f"pg-{i}", "sh", "-c", f"echo pg16-data-{i} > /var/lib/postgresql/data/PG_VERSION")
    loop.backend.enqueue(plan("set-image", kind="StatefulSet", name="pg", namespace="shop", image="postgres:17"))
    loop.client.say("shop", "upgrade", "upgrade pg to postgres 17", ALICE)
    obj = loop.client.wait_settled("shop", "upgrade")
    planned = status(obj)["revisions"][-1]["snapshots"]
    assert sorted(p["source"]["name"] for p in planned) == ["data-pg-0", "data-pg-1"]
    loop.client.approve("shop", "upgrade", ALICE)
    obj = loop.client.wait_settled("shop", "upgrade")
    assert status(obj)["phase"] == Phase.AWAITING_RATING, status(obj)["conditions"]
    ready(loop, "StatefulSet", "pg", 2)
    for i in range(2):  # the "upgrade" rewrites the data files
        run(loop, f"pg-{i}", "sh", "-c", f"echo pg17-data-{i} > /var/lib/postgresql/data/PG_VERSION")

    loop.client.restore("shop", "upgrade", ALICE)
    obj = loop.client.wait_settled("shop", "upgrade")
    assert status(obj)["phase"] == Phase.RESTORED, status(obj)["conditions"]
    sts = loop.kube.get("apps/v1", "StatefulSet", "pg", "shop") or {}
    assert sts["spec"]["replicas"] == 2
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == "postgres:16"
    for i in range(2):
        source = claim(loop, f"data-pg-{i}")["spec"]["dataSource"]
        assert source["kind"] == "VolumeSnapshot" and source["name"] == f"aiop-shop-upgrade-data-pg-{i}"
    ready(loop, "StatefulSet", "pg", 2)
    for i in range(2):
        assert run(loop, f"pg-{i}", "cat", "/var/lib/postgresql/data/PG_VERSION") == f"pg16-data-{i}\n"


def _static_claim(loop: Loop, name: str, handle: str, driver: str = FOREIGN) -> None:
    bootstrap.create_object(loop.kube, {
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"pv-{name}"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                 "csi": {"driver": driver, "volumeHandle": handle}, "claimRef": {"namespace": "shop", "name": name}}})
    body = o.claim(name, storage_class="")
    body["spec"]["volumeName"] = f"pv-{name}"
    bootstrap.create_object(loop.kube, body)
    deadline = time.monotonic() + 20
    while claim(loop, name).get("status", {}).get("phase") != "Bound" and time.monotonic() < deadline:
        time.sleep(0.1)


def test_a_snapshot_never_ready_fails_the_thread_before_any_change(loop: Loop) -> None:
    """The GKE PD driver has no snapshotter in this cluster: the VolumeSnapshot is never ready; after
    AIOP_SNAPSHOT_TIMEOUT the thread fails, says why, and the claim is unchanged."""
    _static_claim(loop, "pddata", "vol-0abc")
    loop.backend.enqueue(plan("delete-object", api_version="v1", kind="PersistentVolumeClaim", name="pddata",
                              namespace="shop"))
    loop.client.say("shop", "stuck", "delete pddata", ALICE)
    obj = loop.client.wait_settled("shop", "stuck")
    revision = status(obj)["revisions"][-1]
    assert revision["snapshots"][0]["required"] is True and revision["snapshots"][0]["snapshotClass"] == "gke-pd"
    loop.client.approve("shop", "stuck", ALICE)
    obj = loop.client.wait_settled("shop", "stuck", timeout=60)
    assert status(obj)["phase"] == Phase.FAILED
    synced = next(c for c in status(obj)["conditions"] if c["type"] == "Synced")
    assert "not ready after 10s" in synced["message"] and "Nothing was applied" in synced["message"]
    assert "waiting for the CSI driver" in synced["message"]
    assert claim(loop, "pddata")["metadata"].get("deletionTimestamp") is None


def test_a_failed_snapshot_fails_the_thread_with_the_controllers_words(loop: Loop) -> None:
    """The test plays the snapshot controller: it writes `status.error` on the thread's VolumeSnapshot."""
    _static_claim(loop, "pddata2", "vol-0def")
    loop.backend.enqueue(plan("delete-object", api_version="v1", kind="PersistentVolumeClaim", name="pddata2",
                              namespace="shop"))
    loop.client.say("shop", "broken", "delete pddata2", ALICE)
    loop.client.wait_settled("shop", "broken")
    loop.client.approve("shop", "broken", ALICE)
    deadline = time.monotonic() + 30
    snap = None
    while snap is None and time.monotonic() < deadline:
        snap = loop.kube.get("snapshot.storage.k8s.io/v1", "VolumeSnapshot", "aiop-shop-broken-pddata2", "shop")
        time.sleep(0.1)
    assert snap is not None
    snap["status"] = {**(snap.get("status") or {}), "readyToUse": False,
                      "error": {"message": "rpc error: code = Internal desc = quota exceeded", "time": "2026-01-01T00:00:00Z"}}
    loop.kube.replace(snap, subresource="status")
    obj = loop.client.wait_settled("shop", "broken", timeout=60)
    assert status(obj)["phase"] == Phase.FAILED
    synced = next(c for c in status(obj)["conditions"] if c["type"] == "Synced")
    assert "quota exceeded" in synced["message"] and "Nothing was applied" in synced["message"]
    assert claim(loop, "pddata2")["metadata"].get("deletionTimestamp") is None


def test_a_delete_that_cannot_be_snapshotted_is_not_offered(loop: Loop) -> None:
    """Deleting a claim needs a snapshot first; with no provider for its driver the step is not offered."""
    _static_claim(loop, "nfsdata", "share-1", driver="nfs.csi.k8s.io")
    loop.backend.enqueue(plan("delete-object", api_version="v1", kind="PersistentVolumeClaim", name="nfsdata",
                              namespace="shop"))
    loop.client.say("shop", "nfs", "delete nfsdata", ALICE)
    obj = loop.client.wait_settled("shop", "nfs")
    revision = status(obj)["revisions"][-1]
    assert revision["mutating"] is False and status(obj)["phase"] != Phase.AWAITING_APPROVAL
    assert "needs a snapshot first and none can be taken" in revision["answer"]
    assert "no VolumeSnapshotClass for driver nfs.csi.k8s.io" in revision["answer"]


def test_restore_asks_the_restorer_for_the_rights_the_data_restore_uses(loop: Loop) -> None:
    """Erin may edit shop and press restore, but may not read VolumeSnapshots: restore is refused up front,
    naming what is missing, and nothing is touched."""
    bootstrap.create_object(loop.kube, o.claim("orders", size="1Gi"))
    applied(loop, "grow-orders", "grow orders to 2Gi", plan("expand-pvc", name="orders", namespace="shop", size="2Gi"))
    loop.client.restore("shop", "grow-orders", ERIN)
    obj = loop.client.wait_settled("shop", "grow-orders")
    assert status(obj)["phase"] == Phase.AWAITING_RATING
    refused = next(c for c in status(obj)["conditions"] if c["type"] == "Restored")
    assert refused["reason"] == "RestoreUnauthorized"
    assert 'get volumesnapshots "aiop-shop-grow-orders-orders" (snapshot.storage.k8s.io) in namespace shop' in \
        refused["message"]
    assert claim(loop, "orders")["spec"]["resources"]["requests"]["storage"] == "2Gi"


def test_a_controller_restarted_in_the_middle_of_a_data_restore_finishes_it(loop: Loop) -> None:
    for obj in (o.claim("journal", size="1Gi"), o.writer("journal", "journal", "j1")):
        bootstrap.create_object(loop.kube, obj)
    ready(loop, "Deployment", "journal")
    applied(loop, "journal-up", "upgrade journal", plan("set-image", name="journal", namespace="shop", image="busybox:1.37"))
    ready(loop, "Deployment", "journal")
    run(loop, pods(loop, "journal")[0], "sh", "-c", "echo j2 > /data/version")
    loop.client.restore("shop", "journal-up", ALICE)
    deadline = time.monotonic() + 60
    phase = ""
    while time.monotonic() < deadline and phase not in ("Saving", "Deleting", "Provisioning"):
        snaps = status(loop.client.get("shop", "journal-up") or {}).get("execution", {}).get("snapshots") or [{}]
        phase = snaps[0].get("restorePhase", "")
        time.sleep(0.05)
    assert phase in ("Saving", "Deleting", "Provisioning"), phase
    loop.restart_controller()  # killed mid-way: the new one resumes from the record in status
    obj = loop.client.wait_settled("shop", "journal-up")
    assert status(obj)["phase"] == Phase.RESTORED, status(obj)["conditions"]
    ready(loop, "Deployment", "journal")
    assert run(loop, pods(loop, "journal")[0], "cat", "/data/version") == "j1\n"
    assert claim(loop, "journal")["spec"]["dataSource"]["name"] == "aiop-shop-journal-up-journal"
