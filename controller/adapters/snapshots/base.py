"""What every snapshot provider speaks: a request, a status, a restore step, and one error with a kind.

Why plain data: the engine decides *what* to snapshot (the plan's data at risk, approved with it) and
*when* (after the backup, before the first change); a provider knows only how its engine does it —
a CSI VolumeSnapshot, a Velero Backup, an RDS DB snapshot or EBS snapshot through boto3, an Azure
managed-disk snapshot through the Azure SDK. Taking is idempotent by name (one snapshot per thread
and source), so a controller killed mid-way takes nothing twice; reading status never blocks.

Restore is a sequence of small idempotent steps, each returning whether it is done, so the engine can
take one step per reconcile, record it, and resume after a restart.

    Exception
     └── SnapshotError   .transient: throttled, 5xx, unreachable (retried, never a failure)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from controller.api.types import ObjectRef

State = Literal["Pending", "Ready", "Failed", "Missing"]
LABEL_SNAPSHOT_THREAD = "aiop.dev/thread"
TAG_THREAD = "aiop.dev/thread"
TAG_SOURCE = "aiop.dev/source"


class SnapshotError(Exception):
    """A snapshot call that failed; `transient` ones are retried by the reconciler."""

    def __init__(self, message: str, transient: bool = False, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.code = code  # the cloud's error code (DBSnapshotNotFound, ...), when there is one


@dataclass(frozen=True)
class SnapshotRequest:
    """Take one snapshot: of `source` (a claim, or the ACK object naming `cloud_id`), named `name`."""

    name: str
    thread_id: str
    kind: Literal["volume", "db-instance", "azure-resource-group"]
    source: ObjectRef
    cloud_id: str = ""
    snapshot_class: str = ""


@dataclass(frozen=True)
class SnapshotStatus:
    """Where a snapshot is: `Ready` with its handle and size, `Failed` with why, `Missing` (never taken or gone)."""

    state: State
    message: str = ""
    handle: str = ""
    size: str = ""
    detail: dict[str, str] = field(default_factory=dict)  # what a later restore needs (e.g. the instance class)


@dataclass(frozen=True)
class Step:
    """One restore step: done or not yet, what it did or waits for, and what to remember."""

    done: bool
    message: str
    detail: dict[str, str] = field(default_factory=dict)
    failed: bool = False


def snapshot_name(prefix: str, thread_id: str, source: str, limit: int = 253) -> str:
    """`aiop-<thread>-<source>`, a DNS-1123 subdomain within `limit` characters (hash-shortened when long)."""
    import hashlib

    full = re.sub(r"[^a-z0-9-]+", "-", f"{prefix}-{thread_id}-{source}".lower()).strip("-")
    full = re.sub(r"-{2,}", "-", full)
    if len(full) <= limit:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:10]
    return f"{full[: limit - 11].rstrip('-')}-{digest}"


def claim_for_restore(saved: dict[str, object]) -> dict[str, object]:
    """A claim to re-create from a saved one: same name, labels and request; no binding, no server fields."""
    meta = dict(saved.get("metadata") or {})  # type: ignore[call-overload]
    spec = dict(saved.get("spec") or {})  # type: ignore[call-overload]
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if not k.startswith(("pv.kubernetes.io/", "volume.beta.kubernetes.io/", "volume.kubernetes.io/",
                                        "kubectl.kubernetes.io/last-applied"))}
    out_meta: dict[str, object] = {"name": meta.get("name"), "namespace": meta.get("namespace")}
    if meta.get("labels"):
        out_meta["labels"] = dict(meta["labels"])
    if annotations:
        out_meta["annotations"] = annotations
    out_spec = {k: v for k, v in spec.items() if k in ("accessModes", "resources", "storageClassName", "volumeMode")}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": out_meta, "spec": out_spec}
