"""Cloud permission checks before approval: a plan's manifests → what ACK's role and ASO's identity lack.

AWS through IAM policy simulation at the fake IAM front (the ACK role's real policies, read from moto);
Azure through the permissions API of the fake ARM server, called with ASO's own token.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from controller.catalog.registry import validate_call
from controller.cloud.graph import groups_line
from controller.cloud.needs import plan_needs
from controller.cloud.permissions import check_plan
from controller.cloud.seam import CloudAccess, CloudTransient, with_cloud
from controller.planning.memory_cluster import MemoryCluster
from controller.planning.types import ActionCall
from tests.cloud.conftest import BILLING_CLIENT, PLATFORM_GROUP
from tests.cloud.seed import SeededClouds

pytestmark = pytest.mark.xdist_group("cloud")


def rendered(access: CloudAccess, cluster: MemoryCluster, action: str, **params: Any) -> list[dict[str, Any]]:
    spec, p = validate_call(ActionCall(action=action, params=params))
    out = spec.render(p, with_cloud(cluster, access))
    assert out.manifests, out.notes
    return list(out.manifests)


def test_the_mapping_from_manifests_to_cloud_actions() -> None:
    live = MemoryCluster([{"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket",
                           "metadata": {"name": "old", "namespace": "ns"}, "spec": {"name": "old"}}]).get
    manifests = [
        {"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket", "metadata": {"name": "new", "namespace": "ns"},
         "spec": {"name": "new-bucket", "versioning": {"status": "Enabled"}}},
        {"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket", "metadata": {"name": "old", "namespace": "ns"},
         "spec": {"name": "old", "policy": "{}"}},
        {"apiVersion": "iam.services.k8s.aws/v1alpha1", "kind": "Policy", "metadata": {"name": "p", "namespace": "ns"},
         "spec": {"name": "reader", "policyDocument": "{}"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}},
        {"apiVersion": "resources.azure.com/v1api20200601", "kind": "ResourceGroup",
         "metadata": {"name": "rg-obj", "namespace": "ns"}, "spec": {"azureName": "RG_Data", "location": "x"}},
        {"apiVersion": "storage.azure.com/v1api20230101", "kind": "StorageAccount",
         "metadata": {"name": "acct", "namespace": "ns"}, "spec": {"owner": {"name": "rg-obj"}}},
    ]
    needs = [(n.action, n.resource) for n in plan_needs(manifests, live, account="111122223333", subscription="s1")]
    assert needs == [
        ("s3:CreateBucket", "arn:aws:s3:::new-bucket"), ("s3:PutBucketVersioning", "arn:aws:s3:::new-bucket"),
        ("s3:PutBucketPolicy", "arn:aws:s3:::old"),
        ("iam:CreatePolicy", "arn:aws:iam::111122223333:policy/reader"),
        ("Microsoft.Resources/subscriptions/resourceGroups/write", "/subscriptions/s1/resourceGroups/RG_Data"),
        ("Microsoft.Storage/storageAccounts/write",
         "/subscriptions/s1/resourceGroups/RG_Data/providers/Microsoft.Storage/storageAccounts/acct"),
    ]


def test_bucket_changes_within_the_ack_roles_rights_pass(access: CloudAccess) -> None:
    cluster = MemoryCluster()
    manifests = rendered(access, cluster, "secure-s3-bucket", bucket="invoices", namespace="billing",
                         encryption="AES256", block_public_access=True)
    check = check_plan(access, manifests, cluster.get)
    assert {n.action for n in check.needs} == {"s3:PutEncryptionConfiguration", "s3:PutBucketVersioning",
                                               "s3:PutBucketPublicAccessBlock", "s3:PutBucketPolicy"} - {
        "s3:PutBucketPolicy"}  # invoices has no policy
    assert check.missing == [] and check.notes == []


def test_an_iam_change_the_ack_role_may_not_make_is_missing_with_action_and_resource(access: CloudAccess) -> None:
    cluster = MemoryCluster()
    manifests = rendered(access, cluster, "grant-iam-permissions", role="billing-irsa", namespace="billing",
                         policy_name="invoices-write", actions=["s3:PutObject"], resources=["arn:aws:s3:::invoices/*"])
    check = check_plan(access, manifests, cluster.get)
    lines = check.missing_lines()
    assert ("iam:PutRolePolicy on arn:aws:iam::123456789012:role/billing-irsa (the ACK controller's role): "
            "no policy of the role allows it") in lines
    assert any(line.startswith("iam:UpdateAssumeRolePolicy on arn:aws:iam::123456789012:role/billing-irsa") for line in lines)
    assert "lacks permissions" in check.message()


def test_an_explicit_deny_names_the_policy(clouds: SeededClouds, access: CloudAccess) -> None:
    assert clouds.aws is not None
    iam = clouds.aws.admin("iam")
    iam.create_role(RoleName="ack-restricted", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    iam.put_role_policy(RoleName="ack-restricted", PolicyName="s3-all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    iam.put_role_policy(RoleName="ack-restricted", PolicyName="no-public-changes", PolicyDocument=json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Deny", "Action": "s3:PutBucketPublicAccessBlock", "Resource": "*"}]}))
    restricted = dataclasses.replace(access, ack_role_arn="arn:aws:iam::123456789012:role/ack-restricted")
    cluster = MemoryCluster()
    manifests = rendered(access, cluster, "secure-s3-bucket", bucket="audit-logs", namespace="ops",
                         block_public_access=False)
    try:
        check = check_plan(restricted, manifests, cluster.get)
    finally:
        for name in ("s3-all", "no-public-changes"):
            iam.delete_role_policy(RoleName="ack-restricted", PolicyName=name)
        iam.delete_role(RoleName="ack-restricted")
    assert check.missing_lines() == ["s3:PutBucketPublicAccessBlock on arn:aws:s3:::audit-logs (the ACK controller's "
                                     "role): explicitly denied by no-public-changes (role)"]


def test_azure_needs_are_checked_as_aso_at_the_resource_or_its_group(access: CloudAccess) -> None:
    cluster = MemoryCluster()
    allowed = rendered(access, cluster, "harden-storage-account", name="shopmedia", namespace="shop")
    assert check_plan(access, allowed, cluster.get).missing == []
    denied = rendered(access, cluster, "harden-storage-account", name="shopledger", namespace="shop")
    [line] = check_plan(access, denied, cluster.get).missing_lines()
    assert line.startswith("Microsoft.Storage/storageAccounts/write on /subscriptions/00000000-0000-0000-0000-0000000000a1"
                           "/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/shopledger "
                           "(Azure Service Operator's identity)")
    assignment = rendered(access, cluster, "assign-azure-role", namespace="shop", client_id=BILLING_CLIENT,
                          role="Storage Blob Data Contributor", storage_account="shopmedia")
    [line] = check_plan(access, assignment, cluster.get).missing_lines()
    assert line.startswith("Microsoft.Authorization/roleAssignments/write on ")


def test_what_cannot_be_checked_is_a_note_never_a_refusal(access: CloudAccess) -> None:
    new_group = [{"apiVersion": "resources.azure.com/v1api20200601", "kind": "ResourceGroup",
                  "metadata": {"name": "rg-new", "namespace": "shop"}, "spec": {"location": "westeurope"}}]
    check = check_plan(access, new_group, MemoryCluster().get)
    assert check.missing == [] and "does not exist yet" in check.notes[0]
    no_role = dataclasses.replace(access, ack_role_arn="")
    bucket = [{"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket",
               "metadata": {"name": "b", "namespace": "shop"}, "spec": {"name": "brand-new-bucket"}}]
    check = check_plan(no_role, bucket, MemoryCluster().get)
    assert check.missing == [] and "AIOP_ACK_ROLE_ARN" in check.notes[0]


def test_a_throttled_simulation_is_transient_not_missing(clouds: SeededClouds, access: CloudAccess) -> None:
    assert clouds.aws is not None
    bucket = [{"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket",
               "metadata": {"name": "b", "namespace": "shop"}, "spec": {"name": "brand-new-bucket"}}]
    clouds.aws.failures.extend([(503, "ServiceUnavailable")] * 5)
    try:
        with pytest.raises(CloudTransient):
            check_plan(access, bucket, MemoryCluster().get)
    finally:
        clouds.aws.failures.clear()
    assert check_plan(access, bucket, MemoryCluster().get).missing == []


def test_group_ids_become_the_names_people_know(access: CloudAccess) -> None:
    assert groups_line(access.directory, [PLATFORM_GROUP, "shop-devs"]) == \
        f"Entra ID groups: Platform Admins ({PLATFORM_GROUP}), shop-devs"
    assert groups_line(access.directory, ["shop-devs"]) is None
    assert groups_line(None, [PLATFORM_GROUP]) is None
