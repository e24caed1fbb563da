"""Troubleshooting across the boundary against the fake clouds: workload → ServiceAccount → identity → decision.

Kubernetes is an in-memory cluster; the decisions come from IAM policy simulation at the fake IAM
front (with the bucket policy) and from the role definitions the fake ARM server serves.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from controller.cloud.seam import CloudAccess
from controller.cloud.troubleshoot import blob_access, ecr_pull, s3_access, workload_of
from controller.planning.memory_cluster import MemoryCluster
from tests.cloud.conftest import BILLING_CLIENT
from tests.cloud.seed import SeededClouds

pytestmark = pytest.mark.xdist_group("cloud")


def deployment(name: str, namespace: str, account: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name, **(labels or {})}},
                                  "spec": {"serviceAccountName": account,
                                           "containers": [{"name": name, "image": "ghcr.io/acme/billing:1.0"}]}}}}


def account(name: str, namespace: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}}}


IRSA = {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/billing-irsa"}


def billing(annotations: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> tuple[Any, Any]:
    cluster = MemoryCluster([deployment("billing", "billing", "billing", labels), account("billing", "billing", annotations)])
    w = workload_of(cluster, "Deployment", "billing", "billing")
    assert w is not None and w.service_account == "billing"
    return cluster, w


def test_a_role_that_may_only_read_gets_exactly_the_missing_write(access: CloudAccess) -> None:
    assert access.aws is not None
    cluster, w = billing(IRSA)
    d = s3_access(cluster, access.aws, w, "invoices", "write")
    assert "uses IAM role billing-irsa" in d.answer
    assert "invoices-read allows s3:GetObject, s3:ListBucket on arn:aws:s3:::invoices, arn:aws:s3:::invoices/*" in d.answer
    assert "nothing allows s3:PutObject on arn:aws:s3:::invoices/*" in d.answer
    [fix] = d.fixes
    assert (fix.action, fix.params) == ("grant-iam-permissions", {
        "role": "billing-irsa", "namespace": "billing", "policy_name": "invoices-write", "actions": ["s3:PutObject"],
        "resources": ["arn:aws:s3:::invoices/*"]})
    read = s3_access(cluster, access.aws, w, "invoices", "read")
    assert "IAM allows s3:GetObject" in read.answer and read.fixes == []


def test_a_missing_annotation_is_fixed_with_the_role_that_already_trusts_the_account(access: CloudAccess) -> None:
    assert access.aws is not None
    cluster, w = billing()
    d = s3_access(cluster, access.aws, w, "invoices", "write")
    assert "has no eks.amazonaws.com/role-arn annotation" in d.answer and "billing-irsa already trusts" in d.answer
    [fix] = d.fixes
    assert (fix.action, fix.params) == ("sa-aws-role", {"name": "billing", "namespace": "billing",
                                                        "role_arn": "arn:aws:iam::123456789012:role/billing-irsa"})


def test_no_trusting_role_means_a_new_irsa_role(access: CloudAccess) -> None:
    assert access.aws is not None
    cluster = MemoryCluster([deployment("reports", "analytics", "reports"), account("reports", "analytics")])
    w = workload_of(cluster, "Deployment", "reports", "analytics")
    assert w is not None
    [fix] = s3_access(cluster, access.aws, w, "audit-logs", "read").fixes
    assert fix.action == "create-irsa-role" and fix.params["service_account"] == "reports"
    assert fix.params["actions"] == ["s3:GetObject"] and fix.params["resources"] == ["arn:aws:s3:::audit-logs/*"]


def test_a_wrong_role_or_an_unknown_bucket_is_said_plainly(access: CloudAccess) -> None:
    assert access.aws is not None
    cluster, w = billing({"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/billing-old"})
    d = s3_access(cluster, access.aws, w, "invoices", "write")
    assert "names IAM role arn:aws:iam::123456789012:role/billing-old, which does not exist" in d.answer
    assert d.fixes[0].params["role_arn"].endswith("role/billing-irsa")
    assert "There is no S3 bucket invoice in AWS account" in s3_access(cluster, access.aws, w, "invoice", "write").answer


def test_a_bucket_policy_that_denies_is_named_and_no_grant_is_proposed(clouds: SeededClouds,
                                                                      access: CloudAccess) -> None:
    assert access.aws is not None and clouds.aws is not None
    s3 = clouds.aws.admin("s3")
    s3.create_bucket(Bucket="locked-exports")
    s3.put_bucket_policy(Bucket="locked-exports", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "NoWrites", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::locked-exports/*"}]}))
    try:
        cluster, w = billing(IRSA)
        d = s3_access(cluster, access.aws, w, "locked-exports", "write")
    finally:
        s3.delete_bucket_policy(Bucket="locked-exports")
        s3.delete_bucket(Bucket="locked-exports")
    assert "explicitly denied by the bucket policy of locked-exports (denies s3:PutObject" in d.answer
    assert d.fixes == []


def test_ecr_pulls_check_the_node_roles(access: CloudAccess) -> None:
    assert access.aws is not None
    d = ecr_pull(access.aws, "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web:1.2", "shop")
    assert d is not None and "node role eks-nodes lacks ecr:GetAuthorizationToken" in d.answer
    [fix] = d.fixes
    assert fix.params["role"] == "eks-nodes" and "ecr:BatchGetImage" in fix.params["actions"]
    assert ecr_pull(access.aws, "nginx:1.27", "shop") is None


def test_azure_blob_writes_need_a_data_role_the_identity_lacks(access: CloudAccess) -> None:
    assert access.azure is not None
    cluster, w = billing({"azure.workload.identity/client-id": BILLING_CLIENT}, {"azure.workload.identity/use": "true"})
    d = blob_access(cluster, access.azure, w, "shopmedia", "write")
    assert "holds Storage Blob Data Reader on shopmedia" in d.answer
    [fix] = d.fixes
    assert fix.params == {"namespace": "billing", "client_id": BILLING_CLIENT, "role": "Storage Blob Data Contributor",
                          "storage_account": "shopmedia"}
    read = blob_access(cluster, access.azure, w, "shopmedia", "read")
    assert "which allows read on blobs" in read.answer and read.fixes == []


def test_azure_without_the_pod_label_or_annotation(access: CloudAccess) -> None:
    assert access.azure is not None
    cluster, w = billing({"azure.workload.identity/client-id": BILLING_CLIENT})
    read = blob_access(cluster, access.azure, w, "shopmedia", "read")
    assert "lack the label azure.workload.identity/use" in read.answer
    cluster, w = billing()
    assert "no azure.workload.identity/client-id annotation" in blob_access(cluster, access.azure, w, "shopmedia",
                                                                             "read").answer
