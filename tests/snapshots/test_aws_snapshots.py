"""RDS DB snapshots before an ACK DBInstance change and EBS snapshots of a claim's volume, through boto3.

AWS is moto in server mode (`ThreadedMotoServer`, real HTTP, boto3's own signing and parsing, started
here) behind the tests' front (tests/cloud/aws_fake.py); the operator's credentials come from a
web-identity exchange at moto's STS, as IRSA does. The Kubernetes API is the sandbox with ACK's real
DBInstance CRD; no ACK controller runs, so after the plan is applied the test plays ACK and makes the
change in (fake) AWS itself. The backend is scripted; git, the forge, kopf and the client are real.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from controller.api.constants import Phase
from controller.tools import bootstrap
from controller.tools.cloud_fakes import CloudSpec, fixture_crds
from tests.cloud.seed import SeededClouds, seeded_clouds
from tests.engine.conftest import ALICE, Loop, start_loop
from tests.snapshots import objects as o
from tests.snapshots.test_csi_restore import claim, plan, status

pytestmark = pytest.mark.timeout(240)


def rights() -> list[dict[str, Any]]:
    """Alice may change ACK DBInstances in shop, and create PersistentVolumes (restoring a cloud volume)."""
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "dba", "namespace": "shop"},
         "rules": [{"apiGroups": ["rds.services.k8s.aws"], "resources": ["*"],
                    "verbs": ["get", "list", "create", "update", "patch", "delete"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "dba", "namespace": "shop"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "dba"},
         "subjects": [{"kind": "User", "name": ALICE.user, "apiGroup": "rbac.authorization.k8s.io"}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "volume-restorer"},
         "rules": [{"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["get", "list", "create"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "volume-restorer"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "volume-restorer"},
         "subjects": [{"kind": "User", "name": ALICE.user, "apiGroup": "rbac.authorization.k8s.io"}]}]


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededClouds]:
    spec = CloudSpec.model_validate({"aws": {"db_instances": [{"identifier": "orders-db", "instance_class": "db.t3.micro"}],
                                             "volumes": [{"name": "pg-data", "size_gib": 8}]}})
    with seeded_clouds(spec, tmp_path_factory.mktemp("aws")) as seeded:
        yield seeded


@pytest.fixture(scope="module")
def loop(aws: SeededClouds, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    env = aws.env()
    yield from start_loop(tmp_path_factory.mktemp("aiop-aws"), env=env, extra_crds=fixture_crds(),
                          extra_objects=[*o.storage_rights(ALICE.user), *rights()])


def db(aws: SeededClouds, identifier: str) -> dict[str, Any] | None:
    assert aws.aws is not None
    found = [d for d in aws.aws.admin("rds").describe_db_instances()["DBInstances"]
             if d["DBInstanceIdentifier"] == identifier]
    return found[0] if found else None


def test_rds_snapshot_before_an_ack_change_and_restore_from_it(loop: Loop, aws: SeededClouds) -> None:
    assert aws.aws is not None
    bootstrap.create_object(loop.kube, {
        "apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBInstance",
        "metadata": {"name": "orders-db", "namespace": "shop"},
        "spec": {"dbInstanceIdentifier": "orders-db", "dbInstanceClass": "db.t3.micro", "engine": "postgres"}})
    loop.backend.enqueue(plan("modify-rds-instance", identifier="orders-db", namespace="shop",
                              instance_class="db.r6g.large", engine_version="16.3"))
    loop.client.say("shop", "orders", "upgrade orders-db to postgres 16.3 on db.r6g.large", ALICE)
    obj = loop.client.wait_settled("shop", "orders")
    planned = status(obj)["revisions"][-1]["snapshots"]
    assert [(p["provider"], p["cloudId"], p["required"]) for p in planned] == [("aws-rds", "orders-db", True)]
    assert "snapshot RDS instance orders-db (RDS DB snapshot manual)" in status(obj)["messages"][-1]["text"]

    loop.client.approve("shop", "orders", ALICE)
    obj = loop.client.wait_settled("shop", "orders")
    assert status(obj)["phase"] == Phase.AWAITING_RATING, status(obj)["conditions"]
    snap = status(obj)["execution"]["snapshots"][0]
    assert snap["state"] == "Ready" and snap["handle"].startswith("arn:aws:rds:")
    described = aws.aws.admin("rds").describe_db_snapshots(DBSnapshotIdentifier=snap["name"])["DBSnapshots"][0]
    assert described["DBInstanceIdentifier"] == "orders-db" and described["Status"] == "available"
    managed = loop.kube.get("rds.services.k8s.aws/v1alpha1", "DBInstance", "orders-db", "shop") or {}
    assert managed["spec"]["dbInstanceClass"] == "db.r6g.large" and managed["spec"]["engineVersion"] == "16.3"
    # ACK would now change the instance: the test plays it
    aws.aws.admin("rds").modify_db_instance(DBInstanceIdentifier="orders-db", DBInstanceClass="db.r6g.large",
                                            EngineVersion="16.3", ApplyImmediately=True)

    loop.client.restore("shop", "orders", ALICE)
    obj = loop.client.wait_settled("shop", "orders")
    assert status(obj)["phase"] == Phase.RESTORED, status(obj)["conditions"]
    restored = db(aws, "orders-db")
    assert restored is not None and restored["DBInstanceClass"] == "db.t3.micro"
    aside = [d for d in aws.aws.admin("rds").describe_db_instances()["DBInstances"]
             if d["DBInstanceIdentifier"].startswith("orders-db-pre-restore-")]
    assert len(aside) == 1 and aside[0]["DBInstanceClass"] == "db.r6g.large"
    managed = loop.kube.get("rds.services.k8s.aws/v1alpha1", "DBInstance", "orders-db", "shop") or {}
    assert managed["spec"]["dbInstanceClass"] == "db.t3.micro" and "engineVersion" not in managed["spec"]
    said = " ".join(m["text"] for m in status(obj)["messages"][-3:])
    assert "restored from DB snapshot" in said and aside[0]["DBInstanceIdentifier"] in said


def test_ebs_snapshot_of_a_claim_and_restore_to_a_new_volume(loop: Loop, aws: SeededClouds) -> None:
    assert aws.aws is not None
    ec2 = aws.aws.admin("ec2")
    volume = next(v for v in ec2.describe_volumes()["Volumes"]
                  if any(t["Key"] == "Name" and t["Value"] == "pg-data" for t in v.get("Tags") or []))
    bootstrap.create_object(loop.kube, {
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-pg-data"},
        "spec": {"capacity": {"storage": "8Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                 "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": volume["VolumeId"]},
                 "claimRef": {"namespace": "shop", "name": "pg-data"}}})
    body = o.claim("pg-data", size="8Gi", storage_class="")
    body["spec"]["volumeName"] = "pv-pg-data"
    bootstrap.create_object(loop.kube, body)
    deadline = time.monotonic() + 20
    while claim(loop, "pg-data").get("status", {}).get("phase") != "Bound" and time.monotonic() < deadline:
        time.sleep(0.1)
    loop.backend.enqueue(plan("delete-object", api_version="v1", kind="PersistentVolumeClaim", name="pg-data",
                              namespace="shop"))
    loop.client.say("shop", "drop", "delete the pg-data claim", ALICE)
    obj = loop.client.wait_settled("shop", "drop")
    planned = status(obj)["revisions"][-1]["snapshots"]
    assert [(p["provider"], p["cloudId"]) for p in planned] == [("aws-ebs", volume["VolumeId"])]
    assert "no VolumeSnapshotClass for driver ebs.csi.aws.com" not in planned[0]["note"]
    loop.client.approve("shop", "drop", ALICE)
    obj = loop.client.wait_settled("shop", "drop")
    assert status(obj)["phase"] == Phase.AWAITING_RATING, status(obj)["conditions"]
    snap = status(obj)["execution"]["snapshots"][0]
    found = ec2.describe_snapshots(SnapshotIds=[snap["handle"]])["Snapshots"][0]
    assert found["VolumeId"] == volume["VolumeId"] and found["State"] == "completed"
    assert loop.kube.get("v1", "PersistentVolumeClaim", "pg-data", "shop") is None

    loop.client.restore("shop", "drop", ALICE)
    obj = loop.client.wait_settled("shop", "drop")
    assert status(obj)["phase"] == Phase.RESTORED, status(obj)["conditions"]
    restored = claim(loop, "pg-data")
    assert restored["status"]["phase"] == "Bound"
    pv = loop.kube.get("v1", "PersistentVolume", restored["spec"]["volumeName"]) or {}
    new_volume = pv["spec"]["csi"]["volumeHandle"]
    assert pv["spec"]["csi"]["driver"] == "ebs.csi.aws.com" and new_volume != volume["VolumeId"]
    made = ec2.describe_volumes(VolumeIds=[new_volume])["Volumes"][0]
    assert made["SnapshotId"] == snap["handle"] and made["AvailabilityZone"] == volume["AvailabilityZone"]
