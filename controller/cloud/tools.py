"""Read-only cloud tools for AI backends: JSON schemas to offer, and the function that runs a call.

Why these four: an AI planner needs to see what exists (`cloud_list`), look at one thing closely — a
bucket's settings, a role's trust and policy documents, a storage account, an identity's role
assignments — (`cloud_read`), ask what the cloud decides ("may role X do s3:PutObject on Y?":
`cloud_check_access`, IAM policy simulation), and get the security findings (`cloud_review`). None of
them changes anything; changes are catalog actions only.

Everything returned is passed through `controller.redact` (a key in a tag or a policy condition never
reaches a prompt) and capped, and errors come back as text for the model, never as exceptions.
The cloud is the one the planner's `ClusterReader` carries (`cloud_of`), i.e. the operator's own
read-only cloud identity.
"""

from __future__ import annotations

from typing import Any

from controller.cloud.model import to_data
from controller.cloud.review import review_aws, review_azure
from controller.cloud.seam import CloudError, cloud_of
from controller.redact import redact_value

MAX_ITEMS = 30
AWS_KINDS = ("buckets", "roles", "db_instances", "volumes", "snapshots", "alarms", "node_groups", "security_hub")
AZURE_KINDS = ("resource_groups", "storage_accounts", "identities", "node_pools", "disks", "defender")


def _obj(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


CLOUD_TOOLS: list[dict[str, Any]] = [
    {"name": "cloud_list",
     "description": "List cloud resources of one kind, read-only, with their security-relevant settings. AWS kinds: "
                    + ", ".join(AWS_KINDS) + ". Azure kinds: " + ", ".join(AZURE_KINDS) + ".",
     "schema": _obj({"cloud": {"enum": ["aws", "azure"]}, "kind": {"enum": [*AWS_KINDS, *AZURE_KINDS]}},
                    ["cloud", "kind"])},
    {"name": "cloud_read",
     "description": "Read one cloud resource: an S3 bucket (encryption, versioning, public access block, policy), an "
                    "IAM role (trust policy, attached and inline policy documents), a storage account, or a managed "
                    "identity by client id (with its role assignments).",
     "schema": _obj({"cloud": {"enum": ["aws", "azure"]},
                     "kind": {"enum": ["bucket", "role", "storage_account", "identity"]},
                     "name": {"type": "string", "maxLength": 256}}, ["cloud", "kind", "name"])},
    {"name": "cloud_check_access",
     "description": "Ask AWS whether an IAM role may perform actions on a resource (IAM policy simulation, with the "
                    "bucket policy for S3 resources). Answers allowed / implicitDeny / explicitDeny per action.",
     "schema": _obj({"role": {"type": "string", "maxLength": 256},
                     "actions": {"type": "array", "items": {"type": "string", "maxLength": 128}, "maxItems": 10},
                     "resource": {"type": "string", "maxLength": 512}}, ["role", "actions", "resource"])},
    {"name": "cloud_review",
     "description": "Security findings of a cloud (public or unencrypted storage, weak TLS, public databases, roles "
                    "with *:*, Security Hub / Defender findings), most severe first, with the catalog fix when there "
                    "is one.",
     "schema": _obj({"cloud": {"enum": ["aws", "azure"]}}, ["cloud"])},
]
CLOUD_TOOL_NAMES = frozenset(t["name"] for t in CLOUD_TOOLS)


def run_cloud_tool(name: str, args: dict[str, Any], reader: Any, namespace: str = "") -> Any:
    """The redacted, capped result of one read-only cloud tool call (errors as text)."""
    try:
        data = _run(name, args, reader, namespace)
    except KeyError as exc:
        return f"missing argument {exc}"
    except CloudError as exc:
        return f"the cloud read failed: {exc}"
    return redact_value(data)


def _run(name: str, args: dict[str, Any], reader: Any, namespace: str) -> Any:
    cloud = cloud_of(reader)
    which = str(args.get("cloud", "aws"))
    if name == "cloud_check_access":
        which = "aws"
    source: Any = cloud.aws if which == "aws" else cloud.azure
    if source is None:
        return f"no {which} access is configured for the operator"
    if name == "cloud_list":
        kind = str(args["kind"])
        if kind not in (AWS_KINDS if which == "aws" else AZURE_KINDS):
            return f"{kind} is not a {which} kind; choose one of {', '.join(AWS_KINDS if which == 'aws' else AZURE_KINDS)}"
        items = getattr(source, kind)()
        return {"count": len(items), "items": to_data(items[:MAX_ITEMS])}
    if name == "cloud_read":
        return _read(source, which, str(args["kind"]), str(args["name"]))
    if name == "cloud_check_access":
        role = source.role(str(args["role"]))
        if role is None:
            return f"no IAM role {args['role']}"
        resource = str(args["resource"])
        policy = None
        if resource.startswith("arn:aws:s3:::"):
            bucket = source.bucket(resource.removeprefix("arn:aws:s3:::").split("/", 1)[0])
            policy = bucket.policy if bucket is not None else None
        decisions = source.simulate(role.arn, [str(a) for a in args["actions"]][:10], [resource], policy)
        return [{"action": d.action, "resource": d.resource, "decision": d.decision,
                 "matched": [f"{m.source_policy} ({m.source_type})" for m in d.matched]} for d in decisions]
    if name == "cloud_review":
        review = review_aws(source, namespace) if which == "aws" else review_azure(source, namespace)
        return {"findings": [f.line() for f in review.findings[:MAX_ITEMS]],
                "fixes": [{"action": f.remediation.action, "params": f.remediation.params}
                          for f in review.findings if f.remediation is not None][:MAX_ITEMS],
                "not_checked": review.gaps}
    return f"unknown cloud tool {name}"


def _read(source: Any, which: str, kind: str, name: str) -> Any:
    if which == "aws" and kind == "bucket":
        item = source.bucket(name)
    elif which == "aws" and kind == "role":
        item = source.role(name)
    elif which == "azure" and kind == "storage_account":
        item = source.storage_account(name)
    elif which == "azure" and kind == "identity":
        identity = source.identity_by_client_id(name)
        if identity is None:
            return f"no managed identity with client id {name}"
        return {"identity": to_data(identity), "role_assignments": to_data(source.role_assignments(identity.principal_id))}
    else:
        return f"{kind} is not readable on {which}"
    return to_data(item) if item is not None else f"no {kind} {name}"
