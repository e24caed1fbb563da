"""What the page says about a thread's snapshots (ui/snapshots.py), as tables over `status` as the controller
writes it: the restore confirmation, each snapshot's restore step, and how long the snapshots are kept."""

from __future__ import annotations

import pytest

from ui.config import load_config
from ui.model import ThreadView
from ui.snapshots import (
    clock,
    held,
    restore_blocked,
    restore_brings_back,
    restore_progress,
    restore_question,
    retention,
)

pytestmark = pytest.mark.timeout(30)
CLAIM_SOURCE = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": "shop"}
RDS = {"kind": "db-instance", "cloudId": "orders-db", "name": "aiop-shop-t-orders-db", "size": "20Gi",
       "snapshotClass": "", "source": {"apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBInstance",
                                       "name": "orders", "namespace": "shop"}}


def snapshot(claim: str, provider: str = "csi", **fields: object) -> dict:
    """A `status.execution.snapshots[]` entry as the controller writes it (wire names)."""
    return {"name": f"aiop-shop-t-{claim}", "provider": provider, "kind": "volume",
            "source": {**CLAIM_SOURCE, "name": claim}, "size": "1Gi", "snapshotClass": "csi-hostpath",
            "state": "Ready", "used": True, "requestedAt": "2026-01-01T02:13:58Z", "readyAt": "2026-01-01T02:14:07Z",
            **fields}


def thread(phase: str, *snaps: dict, keep: bool | None = None, **execution: object) -> ThreadView:
    record = {"revision": 1, "digest": "sha256:" + "a" * 64, "fieldManager": "aiop-shop-t-r1",
              "executedBy": {"user": "alice@example.com"}, "snapshots": list(snaps), **execution}
    spec: dict = {"requester": {"user": "alice@example.com"}, "turns": [{"text": "grow pgdata"}]}
    if keep is not None:
        spec["keepSnapshots"] = keep
    return ThreadView.of({
        "metadata": {"name": "t", "namespace": "shop", "resourceVersion": "7"}, "spec": spec,
        "status": {"phase": phase, "processedTurns": 1, "threadId": "shop-t", "hasBackup": True,
                   "execution": record,
                   "links": {"branch": "aiop/shop-t", "preChatCommit": "0123456789abcdef0123"}}})


@pytest.mark.parametrize(("stamp", "shown"), [
    ("2026-01-01T02:14:07Z", "2026-01-01 02:14 UTC"),
    ("2026-01-01T03:14:07+01:00", "2026-01-01 02:14 UTC"),
    ("", ""),
    ("soon", "soon"),
])
def test_times_are_shown_in_utc_to_the_minute(stamp: str, shown: str) -> None:
    assert clock(stamp) == shown


@pytest.mark.parametrize(("snap", "line"), [
    (snapshot("pgdata"),
     "PVC shop/pgdata ← VolumeSnapshot `aiop-shop-t-pgdata` (csi-hostpath, 1Gi, ready 2026-01-01 02:14 UTC)"),
    (snapshot("media", "velero", name="aiop-shop-t-shop", size="12 items", snapshotClass="", readyAt=""),
     "PVC shop/media ← Velero Backup `aiop-shop-t-shop` (12 items, requested 2026-01-01 02:13 UTC)"),
    (snapshot("ebsdata", "aws-ebs", handle="snap-0123", snapshotClass=""),
     "PVC shop/ebsdata ← EBS snapshot `aiop-shop-t-ebsdata` = snap-0123 (1Gi, ready 2026-01-01 02:14 UTC)"),
    (snapshot("azdata", "azure-disk", handle="/subscriptions/s/snapshots/x", snapshotClass="", size="4Gi"),
     "PVC shop/azdata ← Azure disk snapshot `aiop-shop-t-azdata` = /subscriptions/s/snapshots/x "
     "(4Gi, ready 2026-01-01 02:14 UTC)"),
    (snapshot("orders", "aws-rds", **RDS),
     "RDS instance orders-db ← RDS DB snapshot `aiop-shop-t-orders-db` (20Gi, ready 2026-01-01 02:14 UTC)"),
    (snapshot("rg", "azure-template", kind="azure-resource-group", cloudId="shop-rg", name="aiop-shop-t-rg-shop-rg",
              snapshotClass="ARM template", size="", source={"apiVersion": "storage.azure.com/v1api20230101",
                                                             "kind": "StorageAccount", "name": "shopdata",
                                                             "namespace": "shop"}),
     "Azure resource group shop-rg ← exported ARM template `aiop-shop-t-rg-shop-rg` (ARM template, ready "
     "2026-01-01 02:14 UTC)"),
    (snapshot("gone", state="Deleted", deletedAt="2026-01-09T10:00:00Z"),
     "PVC shop/gone **cannot come back**: its VolumeSnapshot `aiop-shop-t-gone` was deleted on 2026-01-09 10:00 UTC"),
    (snapshot("bad", state="Failed", message="quota exceeded"),
     "PVC shop/bad **cannot come back**: its VolumeSnapshot `aiop-shop-t-bad` failed: quota exceeded"),
    (snapshot("unused", used=False),
     "PVC shop/unused: left as it is — no change was applied after its VolumeSnapshot `aiop-shop-t-unused` was taken"),
    (snapshot("stuck", used=False, state="Pending", readyAt=""),
     "PVC shop/stuck: left as it is — no change was applied after its VolumeSnapshot `aiop-shop-t-stuck` was "
     "taken (it was never ready)"),
    (snapshot("again", restorePhase="Done"),
     "PVC shop/again: already back from VolumeSnapshot `aiop-shop-t-again` (csi-hostpath, 1Gi, ready "
     "2026-01-01 02:14 UTC)"),
])
def test_the_confirmation_says_what_comes_back_from_which_snapshot(snap: dict, line: str) -> None:
    assert restore_brings_back(thread("AwaitingRating", snap).status) == [line]


@pytest.mark.parametrize(("snap", "blocked"), [
    (snapshot("a"), False),
    (snapshot("a", state="Deleted"), True),                  # needed and gone: the controller refuses the restore
    (snapshot("a", state="Failed"), True),
    (snapshot("a", state="Deleted", used=False), False),     # nothing was changed after it: not needed
    (snapshot("a", state="Deleted", restorePhase="Done"), False),  # already back
])
def test_a_needed_snapshot_that_is_gone_blocks_the_restore(snap: dict, blocked: bool) -> None:
    view = thread("Completed", snap)
    text = restore_question(view.status)
    assert restore_blocked(view.status) is blocked
    assert ("As things stand this restore will fail" in text) is blocked


def test_the_whole_confirmation_data_then_commit_then_objects() -> None:
    manifests = [{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "pgdata", "namespace": "shop"}}]
    deletes = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "old", "namespace": "shop"}]
    view = thread("AwaitingRating", snapshot("pgdata"), snapshot("orders", "aws-rds", **RDS), manifests=manifests,
                  deletes=deletes)
    assert restore_question(view.status) == (
        "Restore brings back the state before this chat.\n\n"
        "**1. Data, from the snapshots taken before the change** (the workloads that mount these claims stop while "
        "each claim is deleted and re-created from its snapshot, then start again; a changed RDS instance is "
        "renamed aside and kept, and the snapshot is restored under its name):\n\n"
        "- PVC shop/pgdata ← VolumeSnapshot `aiop-shop-t-pgdata` (csi-hostpath, 1Gi, ready 2026-01-01 02:14 UTC)\n"
        "- RDS instance orders-db ← RDS DB snapshot `aiop-shop-t-orders-db` (20Gi, ready 2026-01-01 02:14 UTC)\n\n"
        "**2. The commit:** a revert commit on branch `aiop/shop-t` back to `0123456789ab`, the commit before "
        "this chat.\n\n"
        "**3. The objects:** the ones this change wrote (PersistentVolumeClaim shop/pgdata, ConfigMap shop/old) go "
        "back to their backup, except claims re-created from a snapshot; the ones it created are deleted.\n\n"
        "Continue?")


def test_without_snapshots_the_question_is_as_it_always_was() -> None:
    assert restore_question(thread("AwaitingRating").status) == (
        "Restore reverts this thread's commit on its branch (a new revert commit) and re-applies the backups "
        "taken before the change. Continue?")


@pytest.mark.parametrize(("snaps", "lines"), [
    ([snapshot("a"), snapshot("b", "velero")], []),  # no restore has started: nothing to show
    ([snapshot("a", restorePhase="Quiescing", restoreMessage="stopping Deployment ledger using the claims"),
      snapshot("c", used=False)],
     ["PVC shop/a: stopping the workloads that use it — stopping Deployment ledger using the claims"]),
    ([snapshot("a", restorePhase="Deleting", restoreMessage="deleting the changed claim(s) a"),
      snapshot("b", restorePhase="Provisioning",
               restoreMessage="waiting for claim shop/b to be provisioned from VolumeSnapshot aiop-shop-t-b")],
     ["PVC shop/a: removing the changed claim — deleting the changed claim(s) a",
      "PVC shop/b: re-creating it from the snapshot — waiting for claim shop/b to be provisioned from "
      "VolumeSnapshot aiop-shop-t-b"]),
    ([snapshot("a", restorePhase="Saving"), snapshot("b", "velero")],
     ["PVC shop/a: recording the claim to re-create", "PVC shop/b: waiting to start"]),
    ([snapshot("orders", "aws-rds", restorePhase="Restoring", restoreMessage="orders-db is creating", **RDS)],
     ["RDS instance orders-db: restoring it from the snapshot — orders-db is creating"]),
    ([snapshot("a", restorePhase="Done", restoreMessage="claim shop/a is bound"),
      snapshot("b", restorePhase="Failed", restoreMessage="the csi snapshot provider is not configured any more")],
     ["PVC shop/a: back — claim shop/a is bound",
      "PVC shop/b: failed — the csi snapshot provider is not configured any more"]),
])
def test_restore_progress_per_snapshot(snaps: list[dict], lines: list[str]) -> None:
    assert restore_progress(thread("Restoring", *snaps).status) == lines


@pytest.mark.parametrize(("snaps", "keep", "grace", "says", "offered"), [
    ([], False, 168.0, None, False),  # nothing snapshotted: no retention, no toggle
    ([snapshot("a")], False, 168.0, "The 1 snapshot taken before the change stays while a restore is possible, and "
     "is deleted 168 hours after the thread closes", True),
    ([snapshot("a"), snapshot("b")], False, 1.0, "are deleted 1 hour after the thread closes", True),
    ([snapshot("a", expiresAt="2026-01-08T02:14:07Z")], False, 168.0,
     "The thread is closed: the 1 snapshot taken before the change will be deleted on 2026-01-08 02:14 UTC", True),
    ([snapshot("a"), snapshot("b", state="Deleted")], True, 24.0,
     "**Kept**: the 1 snapshot taken before the change stays after the thread closes", True),
    ([snapshot("a", state="Deleted", deletedAt="2026-01-08T02:15:00Z")], False, 168.0,
     "The snapshots taken before the change were deleted (last on 2026-01-08 02:15 UTC)", False),
])
def test_retention_says_how_long_snapshots_stay(snaps: list[dict], keep: bool, grace: float, says: str | None,
                                                offered: bool) -> None:
    view = thread("Completed", *snaps, keep=keep)
    assert view.keep_snapshots is keep
    found = retention(view.status, view.keep_snapshots, grace)
    if says is None:
        assert found is None
        return
    assert found is not None and says in found.text and found.offer_keep is offered


def test_the_thread_lists_every_snapshot_and_its_state() -> None:
    view = thread("Completed", snapshot("a"), snapshot("b", state="Pending", readyAt=""),
                  snapshot("c", state="Deleted", deletedAt="2026-01-08T02:15:00Z"))
    assert held(view.status) == [
        "PVC shop/a ← VolumeSnapshot `aiop-shop-t-a` (csi-hostpath, 1Gi, ready 2026-01-01 02:14 UTC): ready",
        "PVC shop/b ← VolumeSnapshot `aiop-shop-t-b` (csi-hostpath, 1Gi, requested 2026-01-01 02:13 UTC): was never ready",
        "PVC shop/c ← VolumeSnapshot `aiop-shop-t-c` (csi-hostpath, 1Gi, ready 2026-01-01 02:14 UTC): was deleted on "
        "2026-01-08 02:15 UTC"]


def test_the_retention_shown_is_the_controllers_setting() -> None:
    assert load_config({}).snapshot_grace_hours == 168.0
    assert load_config({"AIOP_SNAPSHOT_GRACE_HOURS": "24"}).snapshot_grace_hours == 24.0
    with pytest.raises(ValueError, match="AIOP_SNAPSHOT_GRACE_HOURS"):
        load_config({"AIOP_SNAPSHOT_GRACE_HOURS": "-1"})
