"""The cloud security and access actions: what they render, validated against the real CRDs.

The cluster is an in-memory `ClusterReader`; the cloud is the fake AWS (moto + the IAM front) and the
fake Azure (ARM over HTTPS), read through the operator's own `CloudAccess`. Manifests are checked
against the ACK IAM CRDs and ASO's StorageAccount/RoleAssignment schemas in tests/fixtures/crds
(closed, so a misspelled field fails), and the S3 Bucket CRD of ../shared/schemas.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from controller.catalog.base import CatalogError
from controller.catalog.registry import validate_call
from controller.cloud.seam import CloudAccess, with_cloud
from controller.planning.memory_cluster import MemoryCluster
from controller.planning.types import ActionCall
from tests.catalog.test_catalog_crds import _closed  # structural schemas closed: a misspelled field fails
from tests.cloud.conftest import BILLING_CLIENT

pytestmark = pytest.mark.xdist_group("cloud")

ROOT = Path(__file__).resolve().parents[2]
CRDS = {("s3.services.k8s.aws/v1alpha1", "Bucket"): ROOT.parent / "shared" / "schemas" / "ack" / "s3-buckets.yaml",
        ("iam.services.k8s.aws/v1alpha1", "Role"): ROOT / "tests/fixtures/crds/iam.services.k8s.aws_roles.yaml",
        ("iam.services.k8s.aws/v1alpha1", "Policy"): ROOT / "tests/fixtures/crds/iam.services.k8s.aws_policies.yaml",
        ("storage.azure.com/v1api20230101", "StorageAccount"):
            ROOT / "tests/fixtures/crds/storage.azure.com_storageaccounts.yaml",
        ("authorization.azure.com/v1api20220401", "RoleAssignment"):
            ROOT / "tests/fixtures/crds/authorization.azure.com_roleassignments.yaml",
        ("rds.services.k8s.aws/v1alpha1", "DBInstance"): ROOT / "tests/fixtures/crds/rds.services.k8s.aws_dbinstances.yaml"}


def assert_valid(manifest: dict[str, Any]) -> None:
    crd = yaml.safe_load(CRDS[(manifest["apiVersion"], manifest["kind"])].read_text())
    version = manifest["apiVersion"].split("/")[1]
    schema = next(v["schema"]["openAPIV3Schema"] for v in crd["spec"]["versions"] if v["name"] == version)
    jsonschema.validate(manifest, _closed(schema))


def plan(action: str, params: dict[str, Any], cluster: Any) -> tuple[Any, Any, Any]:
    spec, p = validate_call(ActionCall(action=action, params=params))
    return spec, p, spec.render(p, cluster)


def test_securing_an_unmanaged_bucket_adopts_it_with_its_whole_configuration(access: CloudAccess) -> None:
    cluster = with_cloud(MemoryCluster(), access)
    spec, p, rendered = plan("secure-s3-bucket", {"bucket": "invoices", "namespace": "billing",
                                                  "encryption": "AES256", "block_public_access": True}, cluster)
    [bucket] = rendered.manifests
    assert_valid(bucket)
    annotations = bucket["metadata"]["annotations"]
    assert annotations["services.k8s.aws/adoption-policy"] == "adopt-or-create"
    assert json.loads(annotations["services.k8s.aws/adoption-fields"]) == {"name": "invoices"}
    assert annotations["services.k8s.aws/deletion-policy"] == "retain"
    assert bucket["spec"]["encryption"]["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert bucket["spec"]["versioning"] == {"status": "Enabled"}  # kept from AWS
    assert bucket["spec"]["publicAccessBlock"] == {"blockPublicACLs": True, "ignorePublicACLs": True,
                                                   "blockPublicPolicy": True, "restrictPublicBuckets": True}
    assert any("Before: default encryption none" in n for n in rendered.notes)
    assert "retain" in spec.restore(p, cluster) and spec.creates(p, cluster)
    [check] = spec.checks(p, cluster)
    assert check.expect["spec"]["encryption"]["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"


def test_a_bucket_managed_by_ack_gets_only_the_change_on_its_own_object() -> None:
    managed = {"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket",
               "metadata": {"name": "invoice-store", "namespace": "billing"}, "spec": {"name": "invoices"}}
    cluster = MemoryCluster([managed])  # no cloud access needed
    spec, p, rendered = plan("secure-s3-bucket", {"bucket": "invoices", "namespace": "billing", "versioning": True},
                             cluster)
    [bucket] = rendered.manifests
    assert bucket["metadata"] == {"name": "invoice-store", "namespace": "billing"}
    assert bucket["spec"] == {"name": "invoices", "versioning": {"status": "Enabled"}}
    assert_valid(bucket)
    assert [r.name for r in spec.backup_targets(p, cluster)] == ["invoice-store"] and not spec.creates(p, cluster)


def test_without_cloud_access_an_unmanaged_resource_is_not_guessed() -> None:
    _spec, _p, rendered = plan("secure-s3-bucket", {"bucket": "invoices", "namespace": "billing",
                                                    "encryption": "AES256"}, MemoryCluster())
    assert rendered.empty and "no AWS access configured" in rendered.notes[0]
    _spec, _p, rendered = plan("harden-storage-account", {"name": "shopmedia", "namespace": "shop"}, MemoryCluster())
    assert rendered.empty and "AIOP_AZURE_SUBSCRIPTION_ID" in rendered.notes[0]


def test_unknown_cloud_resources_are_said_plainly(access: CloudAccess) -> None:
    cluster = with_cloud(MemoryCluster(), access)
    _s, _p, rendered = plan("secure-s3-bucket", {"bucket": "nope-bucket", "namespace": "x", "versioning": True}, cluster)
    assert rendered.notes == ["There is no S3 bucket nope-bucket in AWS account 123456789012."]
    _s, _p, rendered = plan("grant-iam-permissions", {"role": "ghost", "namespace": "x", "policy_name": "p",
                                                      "actions": ["s3:GetObject"], "resources": ["*"]}, cluster)
    assert rendered.notes == ["There is no IAM role ghost in AWS account 123456789012."]


def test_taking_a_database_off_the_internet_adopts_it_with_its_identity_fields(access: CloudAccess) -> None:
    cluster = with_cloud(MemoryCluster(), access)
    spec, p, rendered = plan("secure-rds-instance", {"identifier": "orders-db", "namespace": "shop",
                                                     "publicly_accessible": False}, cluster)
    [db] = rendered.manifests
    assert_valid(db)
    assert json.loads(db["metadata"]["annotations"]["services.k8s.aws/adoption-fields"]) == {
        "dbInstanceIdentifier": "orders-db"}
    s = db["spec"]
    assert (s["dbInstanceIdentifier"], s["engine"], s["dbInstanceClass"]) == ("orders-db", "postgres", "db.t3.micro")
    assert s["publiclyAccessible"] is False and s["storageEncrypted"] is False  # kept as it is: cannot change in place
    assert spec.risk_of(p, cluster) == "high"  # clients outside the VPC lose access
    assert any("Before: publicly accessible True" in n for n in rendered.notes)


def test_hardening_a_storage_account_adopts_it_detached_on_delete(access: CloudAccess) -> None:
    cluster = with_cloud(MemoryCluster(), access)
    spec, p, rendered = plan("harden-storage-account", {"name": "shopmedia", "namespace": "shop"}, cluster)
    [account] = rendered.manifests
    assert_valid(account)
    assert account["metadata"]["annotations"] == {"serviceoperator.azure.com/reconcile-policy": "detach-on-delete"}
    s = account["spec"]
    assert s["owner"] == {"armId": "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-shop"}
    assert (s["azureName"], s["location"], s["kind"], s["sku"]) == ("shopmedia", "westeurope", "StorageV2",
                                                                   {"name": "Standard_LRS"})
    assert s["allowBlobPublicAccess"] is False and s["minimumTlsVersion"] == "TLS1_2"
    assert s["supportsHttpsTrafficOnly"] is True and s["publicNetworkAccess"] == "Enabled"  # kept
    assert "TLS 1.2" in spec.title(p, cluster)


def test_granting_a_role_adopts_it_with_trust_and_policies_as_they_are(access: CloudAccess) -> None:
    cluster = with_cloud(MemoryCluster(), access)
    spec, p, rendered = plan("grant-iam-permissions", {
        "role": "billing-irsa", "namespace": "billing", "policy_name": "invoices-write",
        "actions": ["s3:PutObject"], "resources": ["arn:aws:s3:::invoices/*"]}, cluster)
    [role] = rendered.manifests
    assert_valid(role)
    assert role["spec"]["policies"] == ["arn:aws:iam::123456789012:policy/invoices-read"]
    trust = json.loads(role["spec"]["assumeRolePolicyDocument"])
    assert trust["Statement"][0]["Action"] == "sts:AssumeRoleWithWebIdentity"
    granted = json.loads(role["spec"]["inlinePolicies"]["invoices-write"])
    assert granted["Statement"][0] == {"Sid": "invoiceswrite", "Effect": "Allow", "Action": ["s3:PutObject"],
                                       "Resource": ["arn:aws:s3:::invoices/*"]}
    assert spec.risk_of(p, cluster) == "medium"
    _s, broad, _r = plan("grant-iam-permissions", {"role": "billing-irsa", "namespace": "billing", "policy_name": "all",
                                                   "actions": ["s3:*"], "resources": ["*"]}, cluster)
    assert spec.risk_of(broad, cluster) == "high"


def test_an_irsa_role_trusts_exactly_one_service_account(access: CloudAccess) -> None:
    cluster = with_cloud(MemoryCluster(), access)
    spec, p, rendered = plan("create-irsa-role", {"role": "reports-irsa", "namespace": "reports",
                                                  "service_account": "reports", "actions": ["s3:GetObject"],
                                                  "resources": ["arn:aws:s3:::audit-logs/*"]}, cluster)
    policy, role = rendered.manifests
    assert_valid(policy)
    assert_valid(role)
    assert role["spec"]["policyRefs"] == [{"from": {"name": policy["metadata"]["name"]}}]
    trust = json.loads(role["spec"]["assumeRolePolicyDocument"])
    [(key, subject)] = [(k, v) for k, v in trust["Statement"][0]["Condition"]["StringEquals"].items()
                        if k.endswith(":sub")]
    assert subject == "system:serviceaccount:reports:reports"
    assert key.startswith("oidc.eks.us-east-1.amazonaws.com/id/")  # the EKS cluster's issuer, read from AWS
    assert any("eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/reports-irsa" in n for n in rendered.notes)
    assert [t.kind for t in spec.creates(p, cluster)] == ["Role", "Policy"]


def test_an_azure_role_assignment_names_principal_scope_and_role_definition(access: CloudAccess) -> None:
    cluster = with_cloud(MemoryCluster(), access)
    _spec, _p, rendered = plan("assign-azure-role", {"namespace": "billing", "client_id": BILLING_CLIENT,
                                                     "role": "Storage Blob Data Contributor",
                                                     "storage_account": "shopmedia"}, cluster)
    [assignment] = rendered.manifests
    assert_valid(assignment)
    s = assignment["spec"]
    assert s["owner"]["armId"].endswith("/resourceGroups/rg-shop/providers/Microsoft.Storage/storageAccounts/shopmedia")
    assert s["roleDefinitionReference"]["armId"].endswith("/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe")
    assert s["principalType"] == "ServicePrincipal" and len(s["principalId"]) == 36
    _spec, _p, again = plan("assign-azure-role", {"namespace": "billing", "client_id": BILLING_CLIENT,
                                                  "role": "Storage Blob Data Reader", "storage_account": "shopmedia"},
                            cluster)
    assert again.empty and "already has Storage Blob Data Reader" in again.notes[0]


@pytest.mark.parametrize(("action", "params", "message"), [
    ("grant-iam-permissions", {"role": "r", "namespace": "n", "policy_name": "p", "actions": ["s3 put"],
                               "resources": ["*"]}, "is not an IAM action"),
    ("grant-iam-permissions", {"role": "r", "namespace": "n", "policy_name": "p", "actions": ["s3:GetObject"],
                               "resources": ["invoices"]}, "is not a resource ARN"),
    ("assign-azure-role", {"namespace": "n", "client_id": BILLING_CLIENT, "role": "Reader",
                           "storage_account": "a12", "resource_group": "rg"}, "exactly one scope"),
    ("assign-azure-role", {"namespace": "n", "client_id": BILLING_CLIENT, "role": "Owner",
                           "resource_group": "rg"}, "params.role"),
    ("secure-s3-bucket", {"bucket": "invoices", "namespace": "n"}, "say what to change"),
])
def test_bad_parameters_are_refused_with_the_field(action: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        validate_call(ActionCall(action=action, params=params))


def test_an_ack_iam_role_is_a_cloud_object_not_an_rbac_escalation() -> None:
    from controller.api.types import ObjectRef
    from controller.policy import PolicySettings, check_actions

    iam_role = ObjectRef(api_version="iam.services.k8s.aws/v1alpha1", kind="Role", name="billing-irsa", namespace="billing")
    rbac_role = ObjectRef(api_version="rbac.authorization.k8s.io/v1", kind="Role", name="admin", namespace="billing")
    assert check_actions([("grant-iam-permissions", [iam_role])], PolicySettings()) == ()
    [violation] = check_actions([("apply-manifest", [rbac_role])], PolicySettings())
    assert violation.rule == "rbac-escalation"
