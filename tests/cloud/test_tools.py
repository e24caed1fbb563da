"""The read-only cloud tools offered to AI backends, run against the fake clouds: shapes, decisions, redaction."""

from __future__ import annotations

import json

import jsonschema
import pytest

from controller.cloud.seam import CloudAccess, with_cloud
from controller.cloud.tools import CLOUD_TOOLS, run_cloud_tool
from controller.planning.memory_cluster import MemoryCluster
from tests.cloud.conftest import BILLING_CLIENT
from tests.cloud.seed import SeededClouds

pytestmark = pytest.mark.xdist_group("cloud")


def test_the_tool_schemas_are_valid_json_schemas() -> None:
    for tool in CLOUD_TOOLS:
        jsonschema.Draft202012Validator.check_schema(tool["schema"])
        assert tool["schema"]["additionalProperties"] is False and tool["description"]


def test_list_read_check_and_review(access: CloudAccess) -> None:
    reader = with_cloud(MemoryCluster(), access)
    listed = run_cloud_tool("cloud_list", {"cloud": "aws", "kind": "buckets"}, reader)
    assert listed["count"] == 3 and {b["name"] for b in listed["items"]} == {"invoices", "shop-assets", "audit-logs"}
    role = run_cloud_tool("cloud_read", {"cloud": "aws", "kind": "role", "name": "billing-irsa"}, reader)
    assert role["attached"][0]["name"] == "invoices-read"
    decisions = run_cloud_tool("cloud_check_access", {"role": "billing-irsa", "actions": ["s3:GetObject", "s3:PutObject"],
                                                      "resource": "arn:aws:s3:::invoices/*"}, reader)
    assert [(d["action"], d["decision"]) for d in decisions] == [("s3:GetObject", "allowed"),
                                                                 ("s3:PutObject", "implicitDeny")]
    identity = run_cloud_tool("cloud_read", {"cloud": "azure", "kind": "identity", "name": BILLING_CLIENT}, reader)
    assert identity["role_assignments"][0]["role_name"] == "Storage Blob Data Reader"
    review = run_cloud_tool("cloud_review", {"cloud": "azure"}, reader, namespace="shop")
    assert any("shopmedia allows anonymous blob access" in line for line in review["findings"])
    assert {"action": "harden-storage-account", "params": {"name": "shopmedia", "namespace": "shop"}} in review["fixes"]


def test_mistakes_come_back_as_text(access: CloudAccess) -> None:
    reader = with_cloud(MemoryCluster(), access)
    assert run_cloud_tool("cloud_list", {"cloud": "aws", "kind": "disks"}, reader).startswith("disks is not a aws kind")
    assert run_cloud_tool("cloud_read", {"cloud": "aws", "kind": "bucket"}, reader) == "missing argument 'name'"
    assert run_cloud_tool("cloud_read", {"cloud": "aws", "kind": "bucket", "name": "nope-nope"}, reader) == \
        "no bucket nope-nope"
    assert run_cloud_tool("cloud_list", {"cloud": "aws", "kind": "buckets"}, MemoryCluster()) == \
        "no aws access is configured for the operator"


def test_what_the_tools_return_is_redacted(clouds: SeededClouds, access: CloudAccess) -> None:
    assert clouds.aws is not None
    iam = clouds.aws.admin("iam")
    iam.create_role(RoleName="leaky", Description="db password=hunter2 key AKIAABCDEFGHIJKLMNOP",
                    AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    try:
        role = run_cloud_tool("cloud_read", {"cloud": "aws", "kind": "role", "name": "leaky"},
                              with_cloud(MemoryCluster(), access))
    finally:
        iam.delete_role(RoleName="leaky")
    assert "hunter2" not in json.dumps(role) and "AKIAABCDEFGHIJKLMNOP" not in json.dumps(role)
    assert "[REDACTED]" in role["description"]


def test_an_ai_planner_reads_the_cloud_through_the_tools(access: CloudAccess) -> None:
    """A scripted model (at the ChatClient seam) reads a role, then answers; the tool result it got is the live role."""
    from controller.api.types import Identity
    from controller.backends.agent import ChatBackend
    from controller.planning.types import PlanningRequest
    from tests.backends.fakes import ScriptedChat, reply

    chat = ScriptedChat([reply(("cloud_read", {"cloud": "aws", "kind": "role", "name": "billing-irsa"})),
                         reply(("respond", {"kind": "answer", "answer": "billing-irsa may only read invoices."}))])
    backend = ChatBackend("scripted", chat, max_retries=0)
    request = PlanningRequest(thread_id="t", turns=["what may billing do in S3?"],
                              requester=Identity(user="alice@example.com"), namespace="billing")
    result = backend.propose(request, with_cloud(MemoryCluster(), access))
    assert result.kind == "answer" and "may only read" in result.answer
    offered = chat.seen[0][2]
    assert {"cloud_list", "cloud_read", "cloud_check_access", "cloud_review"} <= set(offered)
    tool_result = next(m for m in chat.seen[1][1] if m.role == "tool")
    assert "invoices-read" in tool_result.text and "arn:aws:iam::123456789012:role/billing-irsa" in tool_result.text
