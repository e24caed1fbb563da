"""Fixtures: one seeded fake AWS and Azure for the session (tests undo what they change), and the operator's `CloudAccess` to them.

The spec below is what a small shop's accounts look like: an invoices bucket without encryption or a
public access block, a public assets bucket, a billing IRSA role that may only read invoices, an ACK
controller role that may manage buckets but not IAM, a public unencrypted RDS instance, an `*:*`
role; on Azure a storage account open to blob public access with TLS 1.0, a workload identity with
read-only blob access, ASO allowed to write storage accounts in one resource group.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.cloud.access import cloud_access
from controller.cloud.seam import CloudAccess
from controller.settings import load_settings
from controller.tools.cloud_fakes import CloudSpec
from tests.cloud.seed import SeededClouds, seeded_clouds

BILLING_CLIENT = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
PLATFORM_GROUP = "3b1f6c2a-9d4e-4f8a-b7c6-5e4d3c2b1a09"

SPEC = {
    "aws": {
        "buckets": [
            {"name": "invoices", "versioning": True},
            {"name": "shop-assets", "encryption": "AES256", "public_access_block": False,
             "policy": {"Version": "2012-10-17", "Statement": [{"Sid": "PublicRead", "Effect": "Allow",
                                                                 "Principal": "*", "Action": "s3:GetObject",
                                                                 "Resource": "arn:aws:s3:::shop-assets/*"}]}},
            {"name": "audit-logs", "encryption": "aws:kms", "versioning": True, "public_access_block": True},
        ],
        "policies": [
            {"name": "invoices-read", "document": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                 "Resource": ["arn:aws:s3:::invoices", "arn:aws:s3:::invoices/*"]}]}},
            {"name": "ack-s3", "document": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}},
            {"name": "everything", "document": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"}]}},
        ],
        "roles": [
            {"name": "billing-irsa", "service_account": "billing/billing", "policies": ["invoices-read"]},
            {"name": "ack-controller", "service_account": "ack-system/ack-s3-controller", "policies": ["ack-s3"]},
            {"name": "legacy-admin", "policies": ["everything"]},
            {"name": "eks-nodes", "policies": ["arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"]},
        ],
        "db_instances": [{"identifier": "orders-db", "publicly_accessible": True, "encrypted": False},
                         {"identifier": "ledger-db"}],
        "volumes": [{"name": "data-0", "encrypted": False, "snapshot": "public"}, {"name": "data-1"}],
        "alarms": [{"name": "orders-db-cpu", "metric": "CPUUtilization", "namespace": "AWS/RDS"}],
        "node_groups": [{"cluster": "prod", "name": "general", "node_role": "eks-nodes", "desired": 3}],
        "security_hub": [{"title": "S3 general purpose buckets should block public access", "severity": "HIGH",
                          "resource": "arn:aws:s3:::shop-assets"}],
        "ack_role": "ack-controller",
    },
    "azure": {
        "resource_groups": [{"name": "rg-shop", "location": "westeurope"},
                            {"name": "rg-data", "location": "northeurope"}],
        "storage_accounts": [
            {"name": "shopmedia", "resource_group": "rg-shop", "allow_blob_public_access": True,
             "minimum_tls_version": "TLS1_0"},
            {"name": "shopledger", "resource_group": "rg-data", "location": "northeurope"},
        ],
        "identities": [{"name": "billing-id", "resource_group": "rg-shop", "client_id": BILLING_CLIENT}],
        "role_assignments": [{"identity": "billing-id", "role": "Storage Blob Data Reader",
                              "scope": {"storage_account": "shopmedia"}}],
        "aso_roles": [{"role": "Storage Account Contributor", "scope": {"resource_group": "rg-shop"}}],
        "node_pools": [{"cluster": "aks-prod", "resource_group": "rg-shop", "name": "system", "count": 3},
                       {"cluster": "aks-prod", "resource_group": "rg-shop", "name": "gpu", "count": 0,
                        "power_state": "Stopped"}],
        "disks": [{"name": "pvc-orders", "resource_group": "rg-shop", "state": "Unattached"}],
        "defender": [{"storage_account": "shopmedia", "title": "Storage account public access should be disallowed"}],
        "groups": {PLATFORM_GROUP: "Platform Admins"},
    },
}


@pytest.fixture(scope="session")
def clouds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededClouds]:
    home: Path = tmp_path_factory.mktemp("clouds")
    with seeded_clouds(CloudSpec.model_validate(SPEC), home) as seeded:
        yield seeded


@pytest.fixture(scope="session")
def access(clouds: SeededClouds) -> CloudAccess:
    """The operator's own wiring, from settings, exactly as the controller builds it."""
    env = clouds.env()
    return cloud_access(load_settings(env))
