"""The offline planner's cloud route: plain-words requests → answers from the fake clouds, or plans of
catalog calls. A table of requests, each checked for its route, the words of the answer and the calls."""

from __future__ import annotations

import json
from typing import Any

import pytest

from controller.api.types import Identity
from controller.cloud.seam import CloudAccess, with_cloud
from controller.planning.memory_cluster import MemoryCluster
from controller.planning.offline import cloud_text
from controller.planning.offline.cloud_questions import route
from controller.planning.offline.context import Ctx, Outcome
from controller.planning.offline.grounding import Grounder
from controller.planning.types import PlanningRequest
from tests.cloud.conftest import BILLING_CLIENT
from tests.cloud.test_troubleshoot import IRSA, account, deployment

pytestmark = pytest.mark.xdist_group("cloud")

ECR_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web:1.2"


def cluster() -> MemoryCluster:
    pulling = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "shop",
                                                                "labels": {"app": "web"}},
               "spec": {"containers": [{"name": "web", "image": ECR_IMAGE}]},
               "status": {"containerStatuses": [{"name": "web", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}}
    return MemoryCluster([deployment("billing", "billing", "billing"), account("billing", "billing", IRSA),
                          deployment("reports", "billing", "reports"), account("reports", "billing"), pulling])


def ask(text: str, access: CloudAccess | None, namespace: str = "billing",
        intent: str = "question") -> tuple[str, Outcome] | None:
    request = PlanningRequest(thread_id="t", turns=[text], requester=Identity(user="alice@example.com"),
                              namespace=namespace)
    reader = with_cloud(cluster(), access) if access is not None else cluster()
    ctx = Ctx(request=request, grounder=Grounder(reader), latest=text, values=[text], names=[text])
    return route(ctx, intent, reader)


def calls(outcome: Outcome) -> list[tuple[str, dict[str, Any]]]:
    return [(c.action, c.params) for c in outcome.actions]


CASES = [
    ("billing can't write to s3://invoices", "billing", "cloud-troubleshoot", ["billing-irsa", "s3:PutObject"],
     [("grant-iam-permissions", {"role": "billing-irsa", "actions": ["s3:PutObject"]})]),
    ("why do the billing pods get AccessDenied reading the invoices bucket?", "billing", "cloud-troubleshoot",
     ["IAM allows s3:GetObject"], []),
    ("which of our buckets are not encrypted?", "billing", "cloud-review", ["invoices has no default encryption"],
     [("secure-s3-bucket", {"bucket": "invoices", "encryption": "AES256"})]),
    ("is any storage account open to the internet?", "billing", "cloud-review",
     ["shopmedia allows anonymous blob access"], [("harden-storage-account", {"name": "shopmedia"})]),
    ("run a security review of our AWS account", "billing", "cloud-review", ["legacy-admin may do everything",
                                                                             "orders-db is publicly accessible"], None),
    ("enable default encryption on the invoices bucket", "billing", "cloud-harden", ["invoices"],
     [("secure-s3-bucket", {"bucket": "invoices", "encryption": "AES256", "namespace": "billing"})]),
    ("please block public access on the shop-assets bucket", "billing", "cloud-harden", ["shop-assets"],
     [("secure-s3-bucket", {"bucket": "shop-assets", "block_public_access": True})]),
    ("harden the storage account shopmedia", "billing", "cloud-harden", ["shopmedia"],
     [("harden-storage-account", {"name": "shopmedia", "disable_public_network_access": False})]),
    ("give billing write access to the invoices bucket", "billing", "cloud-grant", ["s3:PutObject"],
     [("grant-iam-permissions", {"role": "billing-irsa", "resources": ["arn:aws:s3:::invoices/*"]})]),
    (f"give {BILLING_CLIENT} Storage Blob Data Contributor on the storage account shopmedia", "billing", "cloud-grant",
     ["Storage Blob Data Contributor"], [("assign-azure-role", {"client_id": BILLING_CLIENT,
                                                                "storage_account": "shopmedia"})]),
    ("create an IAM role for service account reports that can read the audit-logs bucket", "billing", "cloud-irsa",
     ["reports"], [("create-irsa-role", {"service_account": "reports", "actions": ["s3:GetObject"],
                                         "resources": ["arn:aws:s3:::audit-logs/*"]})]),
    ("list our S3 buckets", "billing", "cloud-inventory", ["S3 bucket invoices", "S3 bucket audit-logs"], []),
    ("what IAM role does billing use?", "billing", "cloud-inventory", ["uses IAM role billing-irsa (invoices-read)"], []),
    ("which CloudWatch alarms are firing?", "billing", "cloud-inventory", ["alarm orders-db-cpu is in ALARM"], []),
    ("web pods in shop can't pull their image from ECR", "shop", "cloud-troubleshoot", ["node role eks-nodes lacks"],
     [("grant-iam-permissions", {"role": "eks-nodes", "policy_name": "ecr-pull"})]),
    ("move the orders-db RDS instance to db.r6g.large", "billing", "cloud-modify-db", ["orders-db", "db.r6g.large"],
     [("modify-rds-instance", {"identifier": "orders-db", "instance_class": "db.r6g.large", "namespace": "billing"})]),
    ("upgrade RDS orders-db to postgres 16.4 and give it 200 GiB of storage", "billing", "cloud-modify-db",
     ["engine version 16.4"], [("modify-rds-instance", {"identifier": "orders-db", "engine_version": "16.4",
                                                         "allocated_storage_gib": 200})]),
    ("resize our RDS instance to db.m6i.xlarge", "billing", "cloud-modify-db", ["Which RDS instance", "orders-db"], []),
]


@pytest.mark.parametrize(("text", "namespace", "intent", "mentions", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_cloud_requests_in_plain_words(access: CloudAccess, text: str, namespace: str, intent: str,
                                       mentions: list[str], expected: list[tuple[str, dict[str, Any]]] | None) -> None:
    routed = ask(text, access, namespace)
    assert routed is not None
    got_intent, outcome = routed
    assert got_intent == intent, outcome.answer
    for word in mentions:
        assert word in outcome.answer
    if expected is not None:
        got = calls(outcome)
        assert len(got) == len(expected), got
        for (action, params), (want_action, want) in zip(got, expected, strict=True):
            assert action == want_action and all(params[k] == v for k, v in want.items()), params


@pytest.mark.parametrize(("text", "intent"), [
    ("scale web in shop to 3", "scale"),
    ("Create an S3 bucket named 'backup-storage' in the us-west-1 region with versioning enabled", "create-s3-bucket"),
    ("Install Velero and schedule a nightly backup of the bi namespace to S3, so we can restore superset", "unsupported"),
    ("Hook the docs-renderer service account up to Azure Workload Identity with client id "
     "6f1c2a9e-3b7d-4c8e-9a05-2d4b7e1f8c36", "sa-azure-identity"),
    ("set up an Azure resource group named rg-payments-prod in northeurope", "create-azure-resource-group"),
])
def test_requests_that_are_not_ours_stay_with_the_intents(access: CloudAccess, text: str, intent: str) -> None:
    assert ask(text, access, intent=intent) is None


def test_without_cloud_access_it_says_so() -> None:
    routed = ask("which of our buckets are not encrypted?", None)
    assert routed is not None and "no access to it configured" in routed[1].answer and not routed[1].actions


@pytest.mark.parametrize(("text", "kind"), [
    ("billing gets 403 Forbidden from the bucket", "troubleshoot"),
    ("are our buckets public?", "review"),
    ("turn on versioning for the invoices bucket", "harden"),
    ("let the billing service write to s3://invoices", "grant"),
    ("how many storage accounts do we have", "inventory"),
    ("make a new IRSA role for the reports service account", "irsa"),
    ("change the billing RDS instance class to db.t4g.medium", "modify-db"),
    ("what instance class is our RDS database, db.t3.micro?", "inventory"),
])
def test_the_kind_of_a_cloud_request(text: str, kind: str) -> None:
    assert cloud_text.kind(text) == kind


def test_a_read_only_request_gets_no_fix(access: CloudAccess) -> None:
    request = PlanningRequest(thread_id="t", turns=["x"], requester=Identity(user="a@example.com"), namespace="billing")
    text = "don't change anything, just tell me which buckets are not encrypted"
    reader = with_cloud(cluster(), access)
    ctx = Ctx(request=request, grounder=Grounder(reader), latest=text, values=[text], names=[text])
    routed = route(ctx, "question", reader, read_only=True)
    assert routed is not None and routed[1].kind == "answer" and not routed[1].actions
    assert "invoices has no default encryption" in routed[1].answer


def test_cloud_text_is_redacted_before_it_is_stored(clouds: Any, access: CloudAccess) -> None:
    iam = clouds.aws.admin("iam")
    iam.create_role(RoleName="leaky-admin", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17",
                                                                                "Statement": []}))
    iam.put_role_policy(RoleName="leaky-admin", PolicyName="password=hunter2", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    try:
        routed = ask("which IAM roles in aws are risky?", access)
    finally:
        iam.delete_role_policy(RoleName="leaky-admin", PolicyName="password=hunter2")
        iam.delete_role(RoleName="leaky-admin")
    assert routed is not None and "IAM role leaky-admin may do everything" in routed[1].answer
    assert "hunter2" not in routed[1].answer and "hunter2" not in " ".join(routed[1].findings)
