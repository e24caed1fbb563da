"""Retention rules of `Snapshots.retain`, as a table: what is deleted once a thread is closed, and what never is.

Pure apart from the provider's `delete`, which a recording provider stands in for (the CSI and Velero
deletes themselves are covered end to end in test_velero_retention.py). Covers what the end-to-end tests
cannot time: a snapshot whose restore is in progress is never deleted, even long past its expiry.
"""

from __future__ import annotations

import pytest

from controller.adapters.snapshots.select import Providers
from controller.api.types import ObjectRef, SnapshotRecord
from controller.engine.snapshots import Snapshots

CLOSED = "2026-12-01T00:00:00Z"
BEFORE_GRACE = "2026-12-01T01:59:59Z"
AFTER_GRACE = "2026-12-01T02:00:00Z"


class RecordingProvider:
    def __init__(self) -> None:
        self.deleted: list[str] = []

    def delete(self, record: SnapshotRecord) -> None:
        self.deleted.append(record.name)


def _snapshots() -> tuple[Snapshots, RecordingProvider]:
    csi = RecordingProvider()
    return Snapshots(None, Providers(csi=csi, velero=RecordingProvider()), grace_hours=2), csi  # type: ignore[arg-type]


def _record(**fields: object) -> SnapshotRecord:
    base: dict[str, object] = {"name": "aiop-t-pgdata", "provider": "csi", "kind": "volume", "state": "Ready",
                               "handle": "snapcontent-1", "used": True,
                               "source": ObjectRef(api_version="v1", kind="PersistentVolumeClaim", name="pgdata",
                                                   namespace="shop")}
    return SnapshotRecord.model_validate({**base, **fields})


@pytest.mark.parametrize("phase", ["Quiescing", "Saving", "Deleting", "Provisioning", "Renaming", "Restoring"])
def test_a_snapshot_a_restore_in_progress_needs_is_never_deleted(phase: str) -> None:
    snapshots, csi = _snapshots()
    [out] = snapshots.retain([_record(restore_phase=phase)], CLOSED, keep=False, now="2027-06-01T00:00:00Z")
    assert out.state == "Ready" and csi.deleted == []


def test_expiry_is_the_grace_after_closing_and_then_the_snapshot_goes() -> None:
    snapshots, csi = _snapshots()
    [waiting] = snapshots.retain([_record()], CLOSED, keep=False, now=BEFORE_GRACE)
    assert waiting.state == "Ready" and waiting.expires_at == AFTER_GRACE and csi.deleted == []
    [gone] = snapshots.retain([waiting], CLOSED, keep=False, now=AFTER_GRACE)
    assert gone.state == "Deleted" and gone.deleted_at == AFTER_GRACE and csi.deleted == ["aiop-t-pgdata"]


def test_a_finished_restore_no_longer_holds_its_snapshot() -> None:
    snapshots, csi = _snapshots()
    [out] = snapshots.retain([_record(restore_phase="Done")], CLOSED, keep=False, now=AFTER_GRACE)
    assert out.state == "Deleted" and csi.deleted == ["aiop-t-pgdata"]


def test_kept_snapshots_lose_their_expiry_and_stay() -> None:
    snapshots, csi = _snapshots()
    [out] = snapshots.retain([_record(expires_at=AFTER_GRACE)], CLOSED, keep=True, now="2027-06-01T00:00:00Z")
    assert out.state == "Ready" and out.expires_at == "" and csi.deleted == []


def test_a_failed_snapshot_that_made_nothing_is_marked_deleted_without_a_call() -> None:
    snapshots, csi = _snapshots()
    [out] = snapshots.retain([_record(state="Failed", handle="")], CLOSED, keep=False, now=AFTER_GRACE)
    assert out.state == "Deleted" and csi.deleted == []


def test_an_unconfigured_provider_is_said_not_ignored() -> None:
    snapshots, _csi = _snapshots()
    [out] = snapshots.retain([_record(provider="aws-rds", kind="db-instance")], CLOSED, keep=False, now=AFTER_GRACE)
    assert out.state == "Ready" and "aws-rds is not configured" in out.message
