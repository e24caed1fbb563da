"""The AWS and Azure readers against the fake clouds, wired from settings as the controller wires them.

AWS: moto in server mode (real HTTP, boto3's own signing and parsing) behind the IAM-simulation front;
the operator's credentials come from AssumeRoleWithWebIdentity at the fake STS with a token file.
Azure: the local Entra ID + ARM + Graph server over HTTPS; the credential is WorkloadIdentityCredential
exchanging a federated token file, the clients are the Azure SDK's management clients.
"""

from __future__ import annotations

import pytest

from controller.cloud.access import cloud_access
from controller.cloud.seam import CloudAccess, CloudError, CloudTransient
from controller.settings import load_settings
from tests.cloud.conftest import BILLING_CLIENT, PLATFORM_GROUP
from tests.cloud.seed import SeededClouds

pytestmark = pytest.mark.xdist_group("cloud")


def test_buckets_say_what_is_encrypted_versioned_blocked_and_public(access: CloudAccess) -> None:
    assert access.aws is not None
    buckets = {b.name: b for b in access.aws.buckets()}
    assert set(buckets) == {"invoices", "shop-assets", "audit-logs"}
    invoices, assets, audit = buckets["invoices"], buckets["shop-assets"], buckets["audit-logs"]
    assert invoices.encryption is None and invoices.versioning == "Enabled" and invoices.public_access_block is None
    assert assets.encryption == "AES256" and assets.public_access_block is not None
    assert not assets.public_access_block.complete
    assert assets.policy is not None and assets.policy["Statement"][0]["Principal"] == "*"
    assert audit.encryption == "aws:kms" and audit.public_access_block is not None and audit.public_access_block.complete
    assert access.aws.bucket("no-such-bucket") is None


def test_a_role_comes_with_its_trust_and_every_policy_document(access: CloudAccess) -> None:
    assert access.aws is not None
    role = access.aws.role("billing-irsa")
    assert role is not None and role.arn == "arn:aws:iam::123456789012:role/billing-irsa"
    assert role.trust["Statement"][0]["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert [p.name for p in role.attached] == ["invoices-read"]
    assert role.attached[0].document["Statement"][0]["Action"] == ["s3:GetObject", "s3:ListBucket"]
    assert access.aws.role("arn:aws:iam::123456789012:role/billing-irsa") == role
    assert access.aws.role("nobody") is None
    assert {"billing-irsa", "ack-controller", "legacy-admin"} <= {r.name for r in access.aws.roles()}


def test_the_operator_reads_as_the_web_identity_it_assumed(clouds: SeededClouds, access: CloudAccess) -> None:
    assert access.aws is not None
    assert access.aws.account == "123456789012"
    caller = access.aws.client("sts").get_caller_identity()["Arn"]  # type: ignore[attr-defined]
    assert caller.startswith("arn:aws:sts::123456789012:assumed-role/aiop-operator/")


def test_eks_rds_ec2_cloudwatch_and_security_hub(access: CloudAccess) -> None:
    aws = access.aws
    assert aws is not None
    [ng] = aws.node_groups()
    assert (ng.cluster, ng.name, ng.desired) == ("prod", "general", 3) and ng.node_role.endswith("role/eks-nodes")
    dbs = {d.identifier: d for d in aws.db_instances()}
    assert dbs["orders-db"].publicly_accessible and not dbs["orders-db"].encrypted
    assert not dbs["ledger-db"].publicly_accessible and dbs["ledger-db"].encrypted
    volumes = {v.name: v for v in aws.volumes()}
    assert not volumes["data-0"].encrypted and volumes["data-1"].encrypted
    [snap] = aws.snapshots()
    assert snap.public and not snap.encrypted
    [alarm] = aws.alarms()
    assert alarm.name == "orders-db-cpu" and alarm.state == "ALARM"
    [hub] = aws.security_hub()
    assert hub.severity == "high" and hub.resource == "arn:aws:s3:::shop-assets"


def test_policy_simulation_answers_per_action_and_resource(clouds: SeededClouds, access: CloudAccess) -> None:
    assert access.aws is not None
    role = "arn:aws:iam::123456789012:role/billing-irsa"
    decisions = access.aws.simulate(role, ["s3:GetObject", "s3:PutObject"], ["arn:aws:s3:::invoices/*"])
    by_action = {d.action: d for d in decisions}
    assert by_action["s3:GetObject"].allowed
    assert by_action["s3:GetObject"].matched[0].source_policy == "invoices-read"
    assert by_action["s3:PutObject"].decision == "implicitDeny"
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                                                     "Resource": "arn:aws:s3:::invoices/*"}]}
    [denied] = access.aws.simulate(role, ["s3:GetObject"], ["arn:aws:s3:::invoices/*"], deny)
    assert denied.decision == "explicitDeny" and denied.matched[0].source_type == "resource"
    assert clouds.aws is not None and clouds.aws.simulations[-1].resource_policy == deny


def test_simulation_of_an_unknown_role_is_a_clear_error_and_throttling_is_transient(clouds: SeededClouds,
                                                                                    access: CloudAccess) -> None:
    assert access.aws is not None and clouds.aws is not None
    with pytest.raises(CloudError, match="NoSuchEntity") as error:
        access.aws.simulate("arn:aws:iam::123456789012:role/ghost", ["s3:GetObject"], ["*"])
    assert not isinstance(error.value, CloudTransient)
    clouds.aws.failures.extend([(400, "Throttling")] * 5)  # more than boto3's retries
    try:
        with pytest.raises(CloudTransient, match="Throttling"):
            access.aws.simulate("arn:aws:iam::123456789012:role/billing-irsa", ["s3:GetObject"], ["*"])
    finally:
        clouds.aws.failures.clear()


def test_azure_storage_identities_and_role_assignments(access: CloudAccess) -> None:
    azure = access.azure
    assert azure is not None
    assert {g.name for g in azure.resource_groups()} == {"rg-shop", "rg-data"}
    media = azure.storage_account("shopmedia")
    assert media is not None and media.resource_group == "rg-shop"
    assert media.allow_blob_public_access is True and media.minimum_tls_version == "TLS1_0"
    ledger = azure.storage_account("shopledger")
    assert ledger is not None and ledger.allow_blob_public_access is False and ledger.minimum_tls_version == "TLS1_2"
    identity = azure.identity_by_client_id(BILLING_CLIENT.upper())
    assert identity is not None and identity.name == "billing-id"
    [assignment] = azure.role_assignments(identity.principal_id)
    assert assignment.role_name == "Storage Blob Data Reader" and assignment.scope.endswith("/shopmedia")
    assert assignment.permissions[0].data_actions == (
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",)


def test_azure_node_pools_disks_and_defender(access: CloudAccess) -> None:
    azure = access.azure
    assert azure is not None
    pools = {p.name: p for p in azure.node_pools()}
    assert pools["system"].count == 3 and pools["gpu"].power_state == "Stopped"
    [disk] = azure.disks()
    assert disk.state == "Unattached" and disk.network_access_policy == "AllowAll"
    [finding] = azure.defender()
    assert finding.severity == "high" and finding.resource.endswith("/storageAccounts/shopmedia")


def test_aso_permissions_come_from_the_permissions_api_as_aso(clouds: SeededClouds, access: CloudAccess) -> None:
    assert access.aso is not None and clouds.azure is not None
    sets = access.aso.permissions(clouds.azure.rg_id("rg-shop"))
    assert any("Microsoft.Storage/storageAccounts/*" in s.actions for s in sets)
    assert access.aso.permissions(clouds.azure.rg_id("rg-data")) == []
    from controller.cloud.seam import CloudNotFound

    with pytest.raises(CloudNotFound, match="ResourceGroupNotFound"):
        access.aso.permissions(clouds.azure.rg_id("rg-missing"))
    # the calls were made with ASO's token, not the operator's
    asked = [p for m, path, p in clouds.azure.seen if path.endswith("/permissions")]
    assert asked and all(p != clouds.azure.principals[clouds.overrides["azure_client_id"].lower()] for p in asked)


def test_group_names_through_graph(access: CloudAccess) -> None:
    assert access.directory is not None
    names = access.directory.group_names([PLATFORM_GROUP, "shop-devs", "0b9f1c2d-0000-4000-8000-000000000000"])
    assert names == {PLATFORM_GROUP: "Platform Admins"}


def test_azure_throttling_is_transient_and_a_bad_identity_is_an_error(clouds: SeededClouds,
                                                                      access: CloudAccess) -> None:
    assert clouds.azure is not None
    from controller.cloud.azure import AzureReader, make_credential

    flaky = AzureReader(make_credential(clouds.azure.tenant, clouds.overrides["azure_client_id"],
                                        clouds.overrides["azure_federated_token_file"], clouds.azure.url,
                                        clouds.azure.ca_bundle),
                        clouds.azure.subscription, clouds.azure.url, clouds.azure.ca_bundle, retry_total=0)
    clouds.azure.faults.append(("storageAccounts", 503))
    with pytest.raises(CloudTransient, match="503"):
        flaky.storage_accounts()
    assert [a.name for a in flaky.storage_accounts()] == ["shopmedia", "shopledger"]  # healed
    env = clouds.env()
    env["AIOP_AZURE_CLIENT_ID"] = "9a9a9a9a-0000-4000-8000-000000000000"  # no such application
    stranger = cloud_access(load_settings(env))
    assert stranger.azure is not None
    with pytest.raises(CloudError, match="could not authenticate"):
        stranger.azure.resource_groups()
