"""AWS snapshots through boto3: RDS DB snapshots before an ACK DBInstance change, EBS snapshots of volumes.

Why boto3 and not ACK for the snapshot itself: the snapshot is the operator's safety step, taken before
anything of the plan runs (ACK applies the plan), with the operator pod's own IRSA role and the
least-privilege policy of charts/README.md (`rds:CreateDBSnapshot`, `ec2:CreateSnapshot`, ...).

- RDS: `CreateDBSnapshot` named `aiop-<thread>-<instance>` (idempotent: an existing snapshot of that name
  is the one), ready when `available`. Restore keeps the instance's identifier, so clients keep their
  endpoint: the changed instance is renamed aside (`<id>-pre-restore-<n>`, kept for a person to delete),
  then `RestoreDBInstanceFromDBSnapshot` under the original identifier with the class, exposure and
  Multi-AZ the instance had when the snapshot was taken.
- EBS (a claim whose volume is an EBS volume, when no VolumeSnapshotClass serves its driver):
  `CreateSnapshot` tagged with its name, ready when `completed`. Restore creates a volume from it in the
  original zone, then a PersistentVolume for that volume and the claim bound to it (as the restorer).

Errors: throttling, 5xx and unreachable endpoints are transient; everything else AWS refuses is a
`SnapshotError` naming the call.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from controller.adapters.kube import Kube
from controller.adapters.snapshots.base import (
    TAG_SOURCE,
    TAG_THREAD,
    SnapshotError,
    SnapshotRequest,
    SnapshotStatus,
    Step,
)
from controller.adapters.snapshots.volumes import static_volume_claim
from controller.api.types import SnapshotRecord
from controller.cloud.aws import CLIENT_CONFIG, TRANSIENT_CODES

EBS_DRIVER = "ebs.csi.aws.com"
TAG_NAME = "aiop.dev/snapshot"


def rds_snapshot_id(name: str) -> str:
    """RDS identifiers: letters, digits and single hyphens, starting with a letter, at most 255."""
    out = "-".join(p for p in name.split("-") if p)[:255].rstrip("-")
    return out if out[:1].isalpha() else f"aiop-{out}"[:255]


class AwsCalls:
    """boto3 clients of the operator's session (created on first use) and one error mapping."""

    def __init__(self, session: Any, region: str = "", endpoint_url: str = "") -> None:
        self.session = session
        self.region = region
        self.endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service, region_name=self.region or None,
                                                         endpoint_url=self.endpoint_url or None, config=CLIENT_CONFIG)
        return self._clients[service]

    def _call(self, service: str, op: str, what: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client(service), op)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            message = exc.response.get("Error", {}).get("Message", "")
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            raise SnapshotError(f"AWS {op} ({what}): {code}: {message}",
                                transient=code in TRANSIENT_CODES or status >= 500 or status == 429, code=code) from exc
        except (ConnectionError, HTTPClientError) as exc:
            raise SnapshotError(f"AWS {op} ({what}): cannot reach the endpoint ({exc})", transient=True) from exc
        except BotoCoreError as exc:
            raise SnapshotError(f"AWS {op} ({what}): {exc}") from exc

class RdsSnapshots(AwsCalls):
    """RDS DB snapshots of the instances ACK DBInstance objects name."""

    name = "aws-rds"

    def _one(self, op: str, key: str, value: str, items: str, missing: str) -> dict[str, Any] | None:
        """The one item a describe call names, or None when AWS says it does not exist (`missing`)."""
        try:
            found = self._call("rds", op, value, **{key: value})
        except SnapshotError as exc:
            if exc.code == missing:
                return None
            raise
        listed = found.get(items) or []
        return listed[0] if listed else None

    def _db(self, identifier: str) -> dict[str, Any] | None:
        return self._one("describe_db_instances", "DBInstanceIdentifier", identifier, "DBInstances",
                         "DBInstanceNotFound")

    def _db_snapshot(self, snapshot_id: str) -> dict[str, Any] | None:
        return self._one("describe_db_snapshots", "DBSnapshotIdentifier", snapshot_id, "DBSnapshots",
                         "DBSnapshotNotFound")

    def take(self, req: SnapshotRequest) -> SnapshotStatus:
        snap_id = rds_snapshot_id(req.name)
        found = self._db_snapshot(snap_id)
        detail: dict[str, str] = {}
        if found is None:
            db = self._db(req.cloud_id)
            if db is None:
                return SnapshotStatus("Failed", f"there is no RDS instance {req.cloud_id}")
            detail = {"instanceClass": str(db.get("DBInstanceClass", "")),
                      "publiclyAccessible": str(bool(db.get("PubliclyAccessible"))).lower(),
                      "multiAZ": str(bool(db.get("MultiAZ"))).lower(),
                      "engineVersion": str(db.get("EngineVersion", "")),
                      "subnetGroup": str((db.get("DBSubnetGroup") or {}).get("DBSubnetGroupName", ""))}
            try:
                self._call("rds", "create_db_snapshot", req.cloud_id, DBInstanceIdentifier=req.cloud_id,
                           DBSnapshotIdentifier=snap_id,
                           Tags=[{"Key": TAG_THREAD, "Value": req.thread_id}, {"Key": TAG_SOURCE, "Value": req.cloud_id}])
            except SnapshotError as exc:
                if exc.code != "DBSnapshotAlreadyExists":
                    raise
            found = self._db_snapshot(snap_id)
        status = self._db_status(found)
        return SnapshotStatus(status.state, status.message, status.handle, status.size, detail)

    def status(self, record: SnapshotRecord) -> SnapshotStatus:
        return self._db_status(self._db_snapshot(rds_snapshot_id(record.name)))

    @staticmethod
    def _db_status(found: dict[str, Any] | None) -> SnapshotStatus:
        if found is None:
            return SnapshotStatus("Missing", "the RDS DB snapshot does not exist")
        state = str(found.get("Status", ""))
        handle = str(found.get("DBSnapshotArn") or found.get("DBSnapshotIdentifier", ""))
        size = f"{found.get('AllocatedStorage')}Gi" if found.get("AllocatedStorage") else ""
        if state == "available":
            return SnapshotStatus("Ready", "available", handle, size)
        if state in ("failed", "incompatible-restore", "incompatible-parameters", "deleting"):
            return SnapshotStatus("Failed", f"the RDS DB snapshot is {state}", handle, size)
        progress = found.get("PercentProgress")
        return SnapshotStatus("Pending", f"the RDS DB snapshot is {state or 'creating'}"
                              + (f" ({progress}%)" if progress is not None else ""), handle, size)

    def delete(self, record: SnapshotRecord) -> None:
        try:
            self._call("rds", "delete_db_snapshot", record.name, DBSnapshotIdentifier=rds_snapshot_id(record.name))
        except SnapshotError as exc:
            if exc.code != "DBSnapshotNotFound":
                raise

    def restore_db(self, record: SnapshotRecord, thread_short: str) -> Step:
        """One step: rename the changed instance aside, restore the snapshot under the identifier, wait."""
        ident, detail = record.cloud_id, dict(record.restore_detail)
        snap_id = rds_snapshot_id(record.name)
        aside = detail.get("renamedTo") or f"{ident}-pre-restore-{thread_short}"[:63].rstrip("-")
        if not detail.get("restoreStarted"):
            current = self._db(ident)
            if current is not None and not detail.get("renamedTo"):
                self._call("rds", "modify_db_instance", ident, DBInstanceIdentifier=ident,
                           NewDBInstanceIdentifier=aside, ApplyImmediately=True)
                return Step(False, f"renamed the changed RDS instance {ident} to {aside} (kept; delete it when done)",
                            {"renamedTo": aside})
            if current is not None:
                return Step(False, f"waiting for RDS instance {ident} to be renamed to {aside}")
            kwargs: dict[str, Any] = {"DBInstanceIdentifier": ident, "DBSnapshotIdentifier": snap_id,
                                      "Tags": [{"Key": TAG_SOURCE, "Value": ident}]}
            if detail.get("instanceClass"):
                kwargs["DBInstanceClass"] = detail["instanceClass"]
            if detail.get("publiclyAccessible"):
                kwargs["PubliclyAccessible"] = detail["publiclyAccessible"] == "true"
            if detail.get("multiAZ"):
                kwargs["MultiAZ"] = detail["multiAZ"] == "true"
            if detail.get("subnetGroup"):
                kwargs["DBSubnetGroupName"] = detail["subnetGroup"]
            self._call("rds", "restore_db_instance_from_db_snapshot", ident, **kwargs)
            return Step(False, f"restoring RDS instance {ident} from DB snapshot {snap_id}", {"restoreStarted": "yes"})
        db = self._db(ident)
        state = str((db or {}).get("DBInstanceStatus", "missing"))
        if state != "available":
            return Step(False, f"waiting for the restored RDS instance {ident} ({state})")
        kept = f"; the changed instance is kept as {detail['renamedTo']}" if detail.get("renamedTo") else ""
        return Step(True, f"RDS instance {ident} restored from DB snapshot {snap_id}{kept}")

class EbsSnapshots(AwsCalls):
    """EBS snapshots of the volumes behind claims (EBS CSI driver), when no VolumeSnapshotClass serves it."""

    name = "aws-ebs"

    def _ebs_snapshot(self, name: str) -> dict[str, Any] | None:
        found = self._call("ec2", "describe_snapshots", name, OwnerIds=["self"],
                           Filters=[{"Name": f"tag:{TAG_NAME}", "Values": [name]}]).get("Snapshots") or []
        return found[0] if found else None

    def take(self, req: SnapshotRequest) -> SnapshotStatus:
        found = self._ebs_snapshot(req.name)
        detail: dict[str, str] = {}
        if found is None:
            volumes = self._call("ec2", "describe_volumes", req.cloud_id, VolumeIds=[req.cloud_id]).get("Volumes") or []
            if not volumes:
                return SnapshotStatus("Failed", f"there is no EBS volume {req.cloud_id}")
            detail = {"zone": str(volumes[0].get("AvailabilityZone", "")),
                      "volumeType": str(volumes[0].get("VolumeType", ""))}
            tags = [{"Key": TAG_NAME, "Value": req.name}, {"Key": TAG_THREAD, "Value": req.thread_id},
                    {"Key": TAG_SOURCE, "Value": f"{req.source.namespace}/{req.source.name}"}]
            found = self._call("ec2", "create_snapshot", req.cloud_id, VolumeId=req.cloud_id,
                               Description=f"ai-operator thread {req.thread_id}: {req.source.namespace}/{req.source.name}",
                               TagSpecifications=[{"ResourceType": "snapshot", "Tags": tags}])
        status = self._ebs_status(found)
        return SnapshotStatus(status.state, status.message, status.handle, status.size, detail)

    def status(self, record: SnapshotRecord) -> SnapshotStatus:
        return self._ebs_status(self._ebs_snapshot(record.name))

    @staticmethod
    def _ebs_status(found: dict[str, Any] | None) -> SnapshotStatus:
        if found is None:
            return SnapshotStatus("Missing", "the EBS snapshot does not exist")
        state, handle = str(found.get("State", "")), str(found.get("SnapshotId", ""))
        size = f"{found.get('VolumeSize')}Gi" if found.get("VolumeSize") else ""
        if state == "completed":
            return SnapshotStatus("Ready", "completed", handle, size)
        if state in ("error", "recoverable"):
            return SnapshotStatus("Failed", f"the EBS snapshot is in state {state}: {found.get('StateMessage', '')}",
                                  handle, size)
        return SnapshotStatus("Pending", f"the EBS snapshot is {state} ({found.get('Progress', '0%')})", handle, size)

    def delete(self, record: SnapshotRecord) -> None:
        if record.handle:
            try:
                self._call("ec2", "delete_snapshot", record.handle, SnapshotId=record.handle)
            except SnapshotError as exc:
                if exc.code != "InvalidSnapshot.NotFound":
                    raise

    def restore_claim(self, record: SnapshotRecord, saved_claim: dict[str, Any], as_restorer: Kube) -> Step:
        """A volume from the snapshot in the original zone, a PersistentVolume for it, the claim bound to it."""
        detail = dict(record.restore_detail)
        volume_id = detail.get("volumeId", "")
        if not volume_id:
            created = self._call("ec2", "create_volume", record.handle, SnapshotId=record.handle,
                                 AvailabilityZone=detail.get("zone") or f"{self.region or 'us-east-1'}a",
                                 VolumeType=detail.get("volumeType") or "gp3",
                                 TagSpecifications=[{"ResourceType": "volume", "Tags": [
                                     {"Key": TAG_NAME, "Value": record.name},
                                     {"Key": TAG_SOURCE, "Value": f"{record.source.namespace}/{record.source.name}"}]}])
            return Step(False, f"created EBS volume {created['VolumeId']} from snapshot {record.handle}",
                        {"volumeId": str(created["VolumeId"])})
        volumes = self._call("ec2", "describe_volumes", volume_id, VolumeIds=[volume_id]).get("Volumes") or []
        state = str(volumes[0].get("State", "")) if volumes else "missing"
        if state not in ("available", "in-use"):
            return Step(False, f"waiting for EBS volume {volume_id} ({state})")
        size = f"{volumes[0].get('Size')}Gi"
        return static_volume_claim(record, saved_claim, as_restorer, EBS_DRIVER, volume_id, size,
                                   {"topology.kubernetes.io/zone": detail.get("zone", "")})

