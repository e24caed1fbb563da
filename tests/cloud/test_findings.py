"""Security findings: the rules as a table over literal resources, then a whole review of the fake clouds."""

from __future__ import annotations

import pytest

from controller.cloud import findings as rules
from controller.cloud.model import (
    Bucket,
    DbInstance,
    IamRole,
    PolicyDoc,
    PublicAccessBlock,
    Remediation,
    StorageAccount,
)
from controller.cloud.review import review_aws, review_azure
from controller.cloud.seam import CloudAccess

pytestmark = pytest.mark.xdist_group("cloud")

PUBLIC_POLICY = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
                                "Resource": "arn:aws:s3:::site/*"}]}
FULL_BLOCK = PublicAccessBlock(True, True, True, True)


@pytest.mark.parametrize(("bucket", "expected"), [
    (Bucket("site", encryption="AES256", versioning="Enabled", public_access_block=None, policy=PUBLIC_POLICY),
     [("high", "is public through its bucket policy")]),
    (Bucket("site", encryption="AES256", versioning="Enabled", public_access_block=FULL_BLOCK, policy=PUBLIC_POLICY),
     []),  # the block neutralises the public policy
    (Bucket("site", encryption="AES256", versioning="Enabled", public_acl=True,
            public_access_block=PublicAccessBlock(True, False, True, True)),
     [("high", "is public through its ACL")]),
    (Bucket("data", encryption=None, versioning="Suspended", public_access_block=FULL_BLOCK),
     [("medium", "has no default encryption"), ("low", "is not versioned")]),
    (Bucket("data", encryption="aws:kms", versioning="Enabled", public_access_block=PublicAccessBlock(True, True)),
     [("medium", "does not block public access")]),
    (Bucket("data", encryption="aws:kms", versioning="Enabled", public_access_block=FULL_BLOCK), []),
])
def test_bucket_rules(bucket: Bucket, expected: list[tuple[str, str]]) -> None:
    found = rules.bucket_findings(bucket, "shop")
    assert [(f.severity, f.title.split(bucket.name, 1)[1].strip()) for f in found] == expected


def test_conditional_or_narrow_policies_are_not_called_public_or_admin() -> None:
    conditional = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                  "Resource": "arn:aws:s3:::site/*",
                                  "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}
    found = rules.bucket_findings(Bucket("site", encryption="AES256", versioning="Enabled", policy=conditional), "ns")
    assert [f.title for f in found] == ["S3 bucket site does not block public access"]
    narrow = IamRole("app", "arn:aws:iam::1:role/app", attached=(PolicyDoc("p", {"Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}, "arn:aws:iam::1:policy/p"),))
    assert rules.role_findings(narrow) == []
    admin = IamRole("ops", "arn:aws:iam::1:role/ops", inline=(PolicyDoc("root", {"Statement": {
        "Effect": "Allow", "Action": ["*"], "Resource": "*"}}),))
    [finding] = rules.role_findings(admin)
    assert finding.severity == "critical" and "inline policy root allows * on *" in finding.evidence


def test_storage_and_database_rules_and_merged_remediations() -> None:
    weak = StorageAccount("media", "rg", "westeurope", allow_blob_public_access=True, minimum_tls_version="TLS1_0",
                          https_only=False, public_network_access="Disabled")
    found = rules.storage_findings(weak, "shop")
    assert sorted(f.severity for f in found) == ["high", "high", "medium"]
    assert rules.remediations(found) == [Remediation("harden-storage-account", {"name": "media", "namespace": "shop"})]
    db = rules.db_findings(DbInstance("orders", "postgres", "available", publicly_accessible=True, encrypted=False,
                                      backup_retention_days=0), "shop")
    assert [f.severity for f in db] == ["high", "high", "medium"]
    assert db[1].remediation is None and "snapshot" in db[1].advice  # encryption cannot be turned on in place
    assert rules.remediations(db) == [Remediation("secure-rds-instance", {
        "identifier": "orders", "namespace": "shop", "publicly_accessible": False, "backup_retention_days": 7})]
    bucket = rules.bucket_findings(Bucket("data", encryption=None, versioning=None), "shop")
    assert rules.remediations(bucket) == [Remediation("secure-s3-bucket", {
        "bucket": "data", "namespace": "shop", "block_public_access": True, "encryption": "AES256",
        "versioning": True})]


def test_reviewing_the_fake_aws_account(access: CloudAccess) -> None:
    assert access.aws is not None
    review = review_aws(access.aws, "shop")
    titles = [(f.severity, f.title) for f in review.findings]
    assert titles[0] == ("critical", "IAM role legacy-admin may do everything (*:*)")
    for expected in [("high", "S3 bucket shop-assets is public through its bucket policy"),
                     ("high", "RDS instance orders-db is publicly accessible"),
                     ("high", "RDS instance orders-db is not encrypted at rest"),
                     ("high", "S3 general purpose buckets should block public access"),
                     ("medium", "S3 bucket invoices has no default encryption"),
                     ("medium", "S3 bucket invoices does not block public access"),
                     ("low", "S3 bucket shop-assets is not versioned")]:
        assert expected in titles
    assert not any("audit-logs" in t or "ledger-db" in t for _s, t in titles)
    assert any(t.startswith("EBS snapshot") and s == "high" for s, t in titles)
    assert review.gaps == [] and review.looked_at["S3 buckets"] == 3
    hub = next(f for f in review.findings if f.source == "AWS Security Hub")
    assert hub.resource == "arn:aws:s3:::shop-assets"
    fixes = rules.remediations(review.findings)
    assert {f.params["bucket"] for f in fixes if f.action == "secure-s3-bucket"} == {"invoices", "shop-assets"}
    assert Remediation("secure-rds-instance", {"identifier": "orders-db", "namespace": "shop",
                                               "publicly_accessible": False}) in fixes


def test_reviewing_the_fake_azure_subscription(access: CloudAccess) -> None:
    assert access.azure is not None
    review = review_azure(access.azure, "shop")
    titles = [(f.severity, f.title) for f in review.findings]
    assert ("high", "Storage account shopmedia allows anonymous blob access") in titles
    assert ("medium", "Storage account shopmedia accepts TLS below 1.2") in titles
    assert ("high", "Storage account public access should be disallowed") in titles  # Defender for Cloud
    assert not any("shopledger" in t and s in ("high", "medium") for s, t in titles)
    assert rules.remediations(review.findings) == [Remediation("harden-storage-account",
                                                               {"name": "shopmedia", "namespace": "shop"})]


def test_a_part_that_cannot_be_read_is_named_not_hidden(clouds, access: CloudAccess) -> None:  # type: ignore[no-untyped-def]
    assert access.azure is not None
    from controller.cloud.azure import AzureReader

    reader = access.azure
    assert isinstance(reader, AzureReader)
    flaky = AzureReader(reader.clients.credential, reader.subscription, clouds.azure.url, clouds.azure.ca_bundle,
                        retry_total=0)
    clouds.azure.faults.append(("Microsoft.Compute/disks", 503))
    review = review_azure(flaky, "shop")
    assert review.gaps and review.gaps[0].startswith("managed disks: not read this time")
    assert any("shopmedia" in f.title for f in review.findings)
