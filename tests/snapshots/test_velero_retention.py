"""Velero as the snapshot engine, and retention of a thread's snapshots once it is closed.

The sandbox has Velero's real CRDs and a storage location `default` that is Available; its simulated
cluster plays Velero's server (Backup and Restore phases, the claims' files kept and restored) and the
CSI snapshot controller. The claim here is on `local-path` (rancher.io/local-path), a driver with no
VolumeSnapshotClass, so the operator picks Velero. The backend is scripted; git, the local forge, kopf
and the kubernetes client are real. `AIOP_SNAPSHOT_GRACE_HOURS=0`: a closed thread's snapshots go at the
next look.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from controller.adapters.forge import LocalForge
from controller.api.constants import Phase
from controller.api.types import Identity
from controller.tools import bootstrap
from tests.engine.conftest import ALICE, Loop, reconcile_now, start_loop
from tests.snapshots import objects as o
from tests.snapshots.test_csi_restore import applied, claim, plan, pods, ready, run, status

pytestmark = pytest.mark.timeout(240)


VIC = Identity(user="vic@example.com", groups=["devs"])  # may edit shop, restore, and create Velero Restores only


def vic() -> list[dict[str, Any]]:
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "restore-creator", "namespace": "velero"},
            "rules": [{"apiGroups": ["velero.io"], "resources": ["restores"], "verbs": ["create"]}]}
    bindings = [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                 "metadata": {"name": f"vic-{role_name}", "namespace": ns},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
                 "subjects": [{"kind": "User", "name": VIC.user, "apiGroup": "rbac.authorization.k8s.io"}]}
                for role_name, ns in (("restore-creator", "velero"), ("storage-editor", "shop"), ("editor", "shop"))]
    return [role, *bindings, *bootstrap.conversation_rights(VIC.user, "shop")]


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    velero_rights = [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "restorer", "namespace": "velero"},
         "rules": [{"apiGroups": ["velero.io"], "resources": ["restores"], "verbs": ["get", "list", "create"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "restorer", "namespace": "velero"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "restorer"},
         "subjects": [{"kind": "User", "name": ALICE.user, "apiGroup": "rbac.authorization.k8s.io"}]}]
    extra = [o.snapshot_class(), *o.storage_location(), *velero_rights, *o.storage_rights(ALICE.user), *vic()]
    yield from start_loop(tmp_path_factory.mktemp("aiop-velero"), env={"AIOP_SNAPSHOT_GRACE_HOURS": "0"},
                          extra_crds=o.snapshot_crds() + o.velero_crds(), extra_objects=extra)


def look_again(loop: Loop, name: str, until: Any) -> dict[str, Any]:
    """Reconcile the thread now (as the Completed thread's follow timer would), until `until(first snapshot)`;
    a reconcile already running for it makes this one wait for it."""
    deadline = time.monotonic() + 30
    obj = loop.client.get("shop", name) or {}
    while time.monotonic() < deadline:
        reconcile_now(loop.services, obj)
        obj = loop.client.get("shop", name) or {}
        if until(status(obj)["execution"]["snapshots"][0]):
            return obj
        time.sleep(0.3)
    raise AssertionError(f"{name}: {status(obj)['execution']['snapshots']}")


def test_image_change_backed_up_by_velero_and_restored_from_it(loop: Loop) -> None:
    for obj in (o.claim("media", storage_class="local-path"), o.writer("media", "media", "v1")):
        bootstrap.create_object(loop.kube, obj)
    ready(loop, "Deployment", "media")
    loop.backend.enqueue(plan("set-image", name="media", namespace="shop", image="busybox:1.37"))
    loop.client.say("shop", "media-up", "upgrade media to busybox 1.37", ALICE)
    obj = loop.client.wait_settled("shop", "media-up")
    planned = status(obj)["revisions"][-1]["snapshots"]
    assert [(p["provider"], p["snapshotClass"], p["name"]) for p in planned] == [
        ("velero", "default", "aiop-shop-media-up-shop")]
    assert "no VolumeSnapshotClass for driver rancher.io/local-path" not in planned[0]["note"]
    loop.client.approve("shop", "media-up", ALICE)
    obj = loop.client.wait_settled("shop", "media-up")
    assert status(obj)["phase"] == Phase.AWAITING_RATING, status(obj)["conditions"]
    backup = loop.kube.get("velero.io/v1", "Backup", "aiop-shop-media-up-shop", "velero")
    assert backup is not None and backup["status"]["phase"] == "Completed"
    assert backup["spec"]["includedNamespaces"] == ["shop"] and backup["spec"]["snapshotVolumes"] is True
    ready(loop, "Deployment", "media")
    run(loop, pods(loop, "media")[0], "sh", "-c", "echo migrated-by-1.37 > /data/version")

    loop.client.restore("shop", "media-up", ALICE)
    obj = loop.client.wait_settled("shop", "media-up")
    assert status(obj)["phase"] == Phase.RESTORED, status(obj)["conditions"]
    restore = loop.kube.get("velero.io/v1", "Restore", "restore-aiop-shop-media-up-shop", "velero")
    assert restore is not None and restore["status"]["phase"] == "Completed"
    assert restore["spec"]["backupName"] == "aiop-shop-media-up-shop"
    assert claim(loop, "media")["metadata"]["labels"]["velero.io/restore-name"] == restore["metadata"]["name"]
    deployment = loop.kube.get("apps/v1", "Deployment", "media", "shop") or {}
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.36"
    ready(loop, "Deployment", "media")
    assert run(loop, pods(loop, "media")[0], "cat", "/data/version") == "v1\n"

    # Restored: the thread is closed, no restore can need the backup any more; grace 0 -> deleted
    obj = look_again(loop, "media-up", lambda s: s["state"] == "Deleted")
    assert loop.kube.get("velero.io/v1", "Backup", "aiop-shop-media-up-shop", "velero") is None
    request = loop.kube.list("velero.io/v1", "DeleteBackupRequest", "velero")
    assert [r["spec"]["backupName"] for r in request] == ["aiop-shop-media-up-shop"]


def test_snapshots_stay_while_a_restore_is_possible_and_go_once_the_pull_request_is_merged(loop: Loop) -> None:
    bootstrap.create_object(loop.kube, o.claim("cache", size="1Gi"))
    applied(loop, "grow-cache", "grow cache to 3Gi", plan("expand-pvc", name="cache", namespace="shop", size="3Gi"))
    loop.client.rate("shop", "grow-cache", ALICE, 100)
    obj = loop.client.wait_settled("shop", "grow-cache")
    assert status(obj)["phase"] == Phase.COMPLETED
    # the pull request is open: a restore is still possible, the snapshot stays
    obj = look_again(loop, "grow-cache", lambda s: True)
    snap = status(obj)["execution"]["snapshots"][0]
    assert snap["provider"] == "csi" and snap["state"] == "Ready" and not snap.get("expiresAt")
    assert loop.kube.get("snapshot.storage.k8s.io/v1", "VolumeSnapshot", snap["name"], "shop") is not None

    LocalForge(loop.settings.local_repo).merge(status(obj)["links"]["pullRequests"][0]["number"])
    obj = look_again(loop, "grow-cache", lambda s: s["state"] == "Deleted")
    snap = status(obj)["execution"]["snapshots"][0]
    assert snap["state"] == "Deleted" and snap["deletedAt"] and snap["expiresAt"]
    assert loop.kube.get("snapshot.storage.k8s.io/v1", "VolumeSnapshot", snap["name"], "shop") is None
    assert "Deleted the snapshots taken before the change" in status(obj)["messages"][-1]["text"]


def test_a_person_can_keep_the_snapshots(loop: Loop) -> None:
    bootstrap.create_object(loop.kube, o.claim("keepme", size="1Gi"))
    applied(loop, "keep", "grow keepme to 2Gi", plan("expand-pvc", name="keepme", namespace="shop", size="2Gi"))
    loop.client.rate("shop", "keep", ALICE, 100)
    obj = loop.client.wait_settled("shop", "keep")
    loop.kube.as_user(ALICE).merge_patch("aiop.dev/v1alpha1", "AIConversation", "keep", "shop",
                                         {"spec": {"keepSnapshots": True}})
    LocalForge(loop.settings.local_repo).merge(status(obj)["links"]["pullRequests"][0]["number"])
    obj = loop.client.wait_settled("shop", "keep")
    obj = look_again(loop, "keep", lambda s: True)
    assert status(obj)["links"]["pullRequests"][0]["state"] == "merged"
    snap = status(obj)["execution"]["snapshots"][0]
    assert snap["state"] == "Ready" and not snap.get("expiresAt")
    assert loop.kube.get("snapshot.storage.k8s.io/v1", "VolumeSnapshot", snap["name"], "shop") is not None


def test_restore_asks_for_reading_the_velero_restore_too(loop: Loop) -> None:
    """Vic may create Velero Restores but not read them: restore would create one and then never see it
    finish, with the claim already deleted; so it is refused up front, naming the missing right."""
    for obj in (o.claim("photos", storage_class="local-path"), o.writer("photos", "photos", "p1")):
        bootstrap.create_object(loop.kube, obj)
    ready(loop, "Deployment", "photos")
    obj = applied(loop, "photos-up", "upgrade photos", plan("set-image", name="photos", namespace="shop",
                                                           image="busybox:1.37"))
    assert [s["provider"] for s in status(obj)["execution"]["snapshots"]] == ["velero"]
    loop.client.restore("shop", "photos-up", VIC)
    obj = loop.client.wait_settled("shop", "photos-up")
    refused = next(c for c in status(obj)["conditions"] if c["type"] == "Restored")
    assert refused["reason"] == "RestoreUnauthorized"
    assert "get restores (velero.io) in namespace velero" in refused["message"]
    assert "create restores" not in refused["message"]
    assert claim(loop, "photos")["metadata"].get("deletionTimestamp") is None
    restores = loop.kube.list("velero.io/v1", "Restore", "velero")
    assert all(r["spec"]["backupName"] != "aiop-shop-photos-up-shop" for r in restores)  # nothing was started
