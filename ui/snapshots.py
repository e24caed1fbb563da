"""What the page says about the snapshots a thread took before its change (issue 14).

Why a module of its own: a restore that brings data back is only safe to press when the person can
see, before confirming, which claim or database comes back from which snapshot, which one cannot
(deleted after the retention period, failed), and what that means for the restore as a whole; while
it runs they need each snapshot's step; afterwards, how long the snapshots are kept and whether
someone asked to keep them. All of it is a function of `status.execution.snapshots[]`, `spec.keepSnapshots`
and the retention setting, so it is pure text here (tested as tables) and `app.py`/`views.py` only
lay it out.

What the controller does, which these sentences must match (`controller/engine/data_restore.py`): only
snapshots a change was applied after (`used`) are restored; if one of them is not Ready the whole restore
fails before anything is touched; claims come back first (workloads stopped, claim deleted and re-created
from the snapshot), then the revert commit and the object backups; retention deletes a closed thread's
snapshots `AIOP_SNAPSHOT_GRACE_HOURS` after it closed unless `spec.keepSnapshots` (never during a restore).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from controller.api.types import ConversationStatus, ExecutionRecord, Links, SnapshotRecord

SNAPSHOT_KIND = {"csi": "VolumeSnapshot", "velero": "Velero Backup", "aws-ebs": "EBS snapshot",
                 "aws-rds": "RDS DB snapshot", "azure-disk": "Azure disk snapshot",
                 "azure-template": "exported ARM template"}

# restorePhase -> what it means for the person (data_restore.py's steps; "Restoring" is an RDS instance's or
# a resource group's)
RESTORE_STEPS = {"": "waiting to start", "Quiescing": "stopping the workloads that use it",
                 "Saving": "recording the claim to re-create", "Deleting": "removing the changed claim",
                 "Provisioning": "re-creating it from the snapshot",
                 "Restoring": "restoring it from the snapshot", "Done": "back",
                 "Failed": "failed"}

NOT_READY = {"Pending": "was never ready", "Failed": "failed", "Deleted": "was deleted"}


def clock(stamp: str) -> str:
    """`2026-01-01T02:14:07Z` -> `2026-01-01 02:14 UTC` (left as it is when it is not a timestamp)."""
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _kind(snap: SnapshotRecord) -> str:
    return SNAPSHOT_KIND.get(snap.provider, snap.provider)


def _data(snap: SnapshotRecord) -> str:
    if snap.kind == "db-instance":
        return f"RDS instance {snap.cloud_id or snap.source.name}"
    if snap.kind == "azure-resource-group":
        return f"Azure resource group {snap.cloud_id or snap.source.name}"
    return f"PVC {snap.source.namespace}/{snap.source.name}"


def _snapshot(snap: SnapshotRecord) -> str:
    """`VolumeSnapshot `aiop-shop-t-pgdata` (csi-hostpath, 1Gi, ready 2026-01-01 10:00 UTC)`."""
    handle = f" = {snap.handle}" if snap.provider in ("aws-ebs", "azure-disk") and snap.handle else ""
    when = (f"ready {clock(snap.ready_at)}" if snap.ready_at
            else f"requested {clock(snap.requested_at)}" if snap.requested_at else "")
    detail = ", ".join(p for p in (snap.snapshot_class, snap.size, when) if p)
    return f"{_kind(snap)} `{snap.name}`{handle}" + (f" ({detail})" if detail else "")


def _unavailable(snap: SnapshotRecord) -> str:
    """Why a snapshot cannot be used: `was deleted on …`, `failed: <the provider's words>`, `was never ready`."""
    text = NOT_READY.get(snap.state, snap.state.lower())
    if snap.state == "Deleted" and snap.deleted_at:
        text += f" on {clock(snap.deleted_at)}"
    if snap.message and snap.state != "Deleted":
        text += f": {snap.message}"
    return text


def _records(status: ConversationStatus) -> list[SnapshotRecord]:
    return list(status.execution.snapshots) if status.execution is not None else []


def restore_brings_back(status: ConversationStatus) -> list[str]:
    """Per snapshot, what a restore does with it, one line each (for the confirmation).

    `PVC shop/pgdata ← VolumeSnapshot `…` (class, size, ready …)` for what comes back; a snapshot a restore
    needs but that is gone or failed says so; one no change was applied after says the data is left alone.
    """
    lines = []
    for snap in _records(status):
        if snap.restore_phase == "Done":
            lines.append(f"{_data(snap)}: already back from {_snapshot(snap)}")
        elif not snap.used:
            lines.append(f"{_data(snap)}: left as it is — no change was applied after its {_kind(snap)} "
                         f"`{snap.name}` was taken" + ("" if snap.state == "Ready" else f" (it {_unavailable(snap)})"))
        elif snap.state != "Ready":
            lines.append(f"{_data(snap)} **cannot come back**: its {_kind(snap)} `{snap.name}` {_unavailable(snap)}")
        else:
            lines.append(f"{_data(snap)} ← {_snapshot(snap)}")
    return lines


def restore_blocked(status: ConversationStatus) -> bool:
    """A snapshot the restore needs is gone or failed: the controller refuses the whole restore."""
    return any(s.used and s.restore_phase != "Done" and s.state != "Ready" for s in _records(status))


def _objects(record: ExecutionRecord | None) -> list[str]:
    if record is None:
        return []
    refs = [(m.get("kind", ""), (m.get("metadata") or {}).get("namespace"), (m.get("metadata") or {}).get("name"))
            for m in record.manifests] + [(d.kind, d.namespace, d.name) for d in record.deletes]
    return list(dict.fromkeys(f"{kind} {'/'.join(p for p in (namespace, name) if p)}" for kind, namespace, name in refs))


def _revert(links: Links, record: ExecutionRecord | None) -> str:
    pre_chat = (record.pre_chat_commit if record is not None else "") or links.pre_chat_commit
    where = f" on branch `{links.branch}`" if links.branch else " on its branch"
    back = f" back to `{pre_chat[:12]}`, the commit before this chat" if pre_chat else ""
    return f"a revert commit{where}{back}"


def restore_question(status: ConversationStatus) -> str:
    """The restore confirmation: what comes back from which snapshot, then the commit and the objects."""
    lines = restore_brings_back(status)
    if not lines:
        return ("Restore reverts this thread's commit on its branch (a new revert commit) and re-applies the "
                "backups taken before the change. Continue?")
    used = [s for s in _records(status) if s.used and s.restore_phase != "Done"]
    how = []
    if any(s.kind == "volume" for s in used):
        how.append("the workloads that mount these claims stop while each claim is deleted and re-created "
                   "from its snapshot, then start again")
    if any(s.kind == "db-instance" for s in used):
        how.append("a changed RDS instance is renamed aside and kept, and the snapshot is restored under its name")
    if any(s.kind == "azure-resource-group" for s in used):
        how.append("a resource group's exported template is redeployed (incremental: what was added since stays)")
    objects = _objects(status.execution)
    listed = ", ".join(objects[:8]) + (f" and {len(objects) - 8} more" if len(objects) > 8 else "")
    text = ("Restore brings back the state before this chat.\n\n"
            "**1. Data, from the snapshots taken before the change**"
            + (f" ({'; '.join(how)})" if how else "") + ":\n\n"
            + "\n".join(f"- {line}" for line in lines) + "\n\n"
            + f"**2. The commit:** {_revert(status.links, status.execution)}.\n\n"
            + "**3. The objects:** "
            + (f"the ones this change wrote ({listed}) go back to their backup, except claims re-created from a "
               "snapshot; the ones it created are deleted.\n\n" if objects
               else "re-applied from the backups taken before the change.\n\n"))
    if restore_blocked(status):
        text += ("**As things stand this restore will fail**: the controller restores only while every snapshot "
                 "taken before a change is still there, and otherwise stops before touching anything — no claim, "
                 "commit or object is restored. Restore by hand instead (revert the commit, re-apply the objects, "
                 "bring the data back from another backup).\n\n")
    return text + "Continue?"


def restore_progress(status: ConversationStatus) -> list[str]:
    """Where each snapshot's restore is, once one has started: `PVC shop/data: re-creating it … — <controller>`."""
    snaps = [s for s in _records(status) if s.used]
    if not any(s.restore_phase for s in snaps):
        return []
    return [f"{_data(s)}: {RESTORE_STEPS.get(s.restore_phase, s.restore_phase)}"
            + (f" — {s.restore_message}" if s.restore_message else "") for s in snaps]


def held(status: ConversationStatus) -> list[str]:
    """Every snapshot the thread took and where it stands: `PVC shop/pgdata ← VolumeSnapshot `…` (…): ready`."""
    out = []
    for snap in _records(status):
        state = "ready" if snap.state == "Ready" else _unavailable(snap)
        out.append(f"{_data(snap)} ← {_snapshot(snap)}: {state}")
    return out


@dataclass(frozen=True)
class Retention:
    """How long a thread's snapshots stay, and whether the page offers to keep them."""

    text: str
    offer_keep: bool  # some snapshot is still there: keeping it means something


def _hours(hours: float) -> str:
    return f"{hours:g} hour{'' if hours == 1 else 's'}"


def retention(status: ConversationStatus, keep: bool, grace_hours: float) -> Retention | None:
    """What happens to the snapshots: kept, deleted at a time, or N hours after the thread closes."""
    snaps = _records(status)
    if not snaps:
        return None
    live = [s for s in snaps if s.state != "Deleted"]
    if not live:
        last = max((s.deleted_at for s in snaps), default="")
        return Retention("The snapshots taken before the change were deleted"
                         + (f" (last on {clock(last)})" if last else "") + ": the thread was closed and its "
                         "retention period had passed.", offer_keep=False)
    one = len(live) == 1
    count, stay, be, them = (("1 snapshot", "stays", "is", "it") if one
                             else (f"{len(live)} snapshots", "stay", "are", "them"))
    if keep:
        return Retention(f"**Kept**: the {count} taken before the change {stay} after the thread closes, until "
                         f"someone turns this off ({them} {'keeps' if one else 'keep'} costing storage). Turned off, {them} "
                         f"{be} deleted {_hours(grace_hours)} after the thread closes — at once if that time has "
                         "passed.",
                         offer_keep=True)
    expires = sorted(s.expires_at for s in live if s.expires_at)
    if expires:
        return Retention(f"The thread is closed: the {count} taken before the change will be deleted on "
                         f"{clock(expires[-1])}, at the end of the retention period (never while a restore runs). "
                         f"Keep {them} to stop that.", offer_keep=True)
    return Retention(f"The {count} taken before the change {stay} while a restore is possible, and {be} deleted "
                     f"{_hours(grace_hours)} after the thread closes (completed with its pull requests merged or "
                     f"closed, or restored). Keep {them} to stop that.", offer_keep=True)
