"""Which cloud actions, on which resources, a plan's manifests make ACK and ASO perform. Pure.

Why from the manifests and not from the catalog actions: whatever produced an ACK or ASO object — a
catalog action, `apply-manifest` from an AI, a remediation — the cloud controller will make the same
API calls for it, so the check before approval looks at exactly the bytes that will be applied. The
mapping follows the controllers: a new object is a Create call, each security-relevant field of an
existing (or adopted) one is its Put/Update call, with the resource's ARN or Azure resource id.
Kinds without a cloud side give no needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.cloud.model import CloudNeed

LiveGet = Callable[[str, str, str, str | None], dict[str, Any] | None]

ADOPTION = "services.k8s.aws/adoption-policy"
REGION = "services.k8s.aws/region"

S3_FIELDS = {"encryption": "s3:PutEncryptionConfiguration", "versioning": "s3:PutBucketVersioning",
             "publicAccessBlock": "s3:PutBucketPublicAccessBlock", "policy": "s3:PutBucketPolicy",
             "tagging": "s3:PutBucketTagging", "lifecycle": "s3:PutLifecycleConfiguration",
             "logging": "s3:PutBucketLogging", "acl": "s3:PutBucketAcl"}
ROLE_FIELDS = {"inlinePolicies": "iam:PutRolePolicy", "policies": "iam:AttachRolePolicy",
               "policyRefs": "iam:AttachRolePolicy", "tags": "iam:TagRole",
               "permissionsBoundary": "iam:PutRolePermissionsBoundary"}


def _new(manifest: dict[str, Any], live: LiveGet) -> bool:
    """Whether the cloud resource will be created: no object yet, and no adoption of an existing one."""
    meta = manifest.get("metadata") or {}
    if (meta.get("annotations") or {}).get(ADOPTION) in ("adopt", "adopt-or-create"):
        return False
    return live(manifest["apiVersion"], manifest["kind"], meta.get("name", ""), meta.get("namespace")) is None


def aws_needs(manifest: dict[str, Any], live: LiveGet, account: str, region: str) -> list[CloudNeed]:
    kind, spec = manifest.get("kind"), manifest.get("spec") or {}
    group = str(manifest.get("apiVersion", "")).split("/")[0]
    meta = manifest.get("metadata") or {}
    where = f"{kind} {meta.get('namespace', '')}/{meta.get('name', '')}"
    new = _new(manifest, live)
    out: list[CloudNeed] = []
    if group == "s3.services.k8s.aws" and kind == "Bucket":
        arn = f"arn:aws:s3:::{spec.get('name') or meta.get('name')}"
        if new:
            out.append(CloudNeed("aws", "s3:CreateBucket", arn, f"{where}: create"))
        out += [CloudNeed("aws", action, arn, f"{where}: {field}") for field, action in S3_FIELDS.items() if field in spec]
    elif group == "iam.services.k8s.aws" and kind == "Role":
        arn = f"arn:aws:iam::{account}:role{spec.get('path') or '/'}{spec.get('name') or meta.get('name')}"
        if new:
            out.append(CloudNeed("aws", "iam:CreateRole", arn, f"{where}: create"))
        elif "assumeRolePolicyDocument" in spec:
            out.append(CloudNeed("aws", "iam:UpdateAssumeRolePolicy", arn, f"{where}: trust policy"))
        out += [CloudNeed("aws", action, arn, f"{where}: {field}") for field, action in ROLE_FIELDS.items()
                if spec.get(field)]
    elif group == "iam.services.k8s.aws" and kind == "Policy":
        arn = f"arn:aws:iam::{account}:policy{spec.get('path') or '/'}{spec.get('name') or meta.get('name')}"
        action = "iam:CreatePolicy" if new else "iam:CreatePolicyVersion"
        out.append(CloudNeed("aws", action, arn, f"{where}: {'create' if new else 'policy document'}"))
    elif group == "rds.services.k8s.aws" and kind == "DBInstance":
        db_region = (meta.get("annotations") or {}).get(REGION) or region
        arn = f"arn:aws:rds:{db_region}:{account}:db:{spec.get('dbInstanceIdentifier') or meta.get('name')}"
        action = "rds:CreateDBInstance" if new else "rds:ModifyDBInstance"
        out.append(CloudNeed("aws", action, arn, f"{where}: {'create' if new else 'modify'}"))
    # dedupe (policies and policyRefs are both AttachRolePolicy)
    return list({(n.action, n.resource): n for n in out}.values())


def _resource_group(manifest: dict[str, Any], plan: list[dict[str, Any]], live: LiveGet) -> str:
    """The Azure resource group of an ASO resource: its owner's ARM id, or the ResourceGroup object it names."""
    owner = (manifest.get("spec") or {}).get("owner") or {}
    arm = str(owner.get("armId") or "")
    if "/resourceGroups/" in arm or "/resourcegroups/" in arm.lower():
        parts = arm.split("/")
        return parts[[p.lower() for p in parts].index("resourcegroups") + 1]
    name = owner.get("name")
    namespace = (manifest.get("metadata") or {}).get("namespace")
    for obj in plan:
        if obj.get("kind") == "ResourceGroup" and (obj.get("metadata") or {}).get("name") == name:
            return str((obj.get("spec") or {}).get("azureName") or name)
    group = live("resources.azure.com/v1api20200601", "ResourceGroup", str(name or ""), namespace) if name else None
    return str(((group or {}).get("spec") or {}).get("azureName") or name or "")


def azure_needs(manifest: dict[str, Any], plan: list[dict[str, Any]], live: LiveGet,
                subscription: str) -> list[CloudNeed]:
    kind, spec = manifest.get("kind"), manifest.get("spec") or {}
    group = str(manifest.get("apiVersion", "")).split("/")[0]
    meta = manifest.get("metadata") or {}
    where = f"{kind} {meta.get('namespace', '')}/{meta.get('name', '')}"
    sub = f"/subscriptions/{subscription}"
    azure_name = str(spec.get("azureName") or meta.get("name", ""))
    if group == "resources.azure.com" and kind == "ResourceGroup":
        scope = f"{sub}/resourceGroups/{azure_name}"
        return [CloudNeed("azure", "Microsoft.Resources/subscriptions/resourceGroups/write", scope, f"{where}: write",
                          check_scope=scope)]
    if group == "storage.azure.com" and kind == "StorageAccount":
        rg = f"{sub}/resourceGroups/{_resource_group(manifest, plan, live)}"
        resource = f"{rg}/providers/Microsoft.Storage/storageAccounts/{azure_name}"
        return [CloudNeed("azure", "Microsoft.Storage/storageAccounts/write", resource, f"{where}: write",
                          check_scope=resource)]
    if group == "authorization.azure.com" and kind == "RoleAssignment":
        scope = str((spec.get("owner") or {}).get("armId") or "")
        return [CloudNeed("azure", "Microsoft.Authorization/roleAssignments/write", scope, f"{where}: assign",
                          check_scope=scope)]
    return []


def plan_needs(manifests: list[dict[str, Any]], live: LiveGet, *, account: str = "", region: str = "",
               subscription: str = "") -> list[CloudNeed]:
    """Every cloud need of a plan, in manifest order, without duplicates."""
    out: list[CloudNeed] = []
    for manifest in manifests:
        out += aws_needs(manifest, live, account, region)
        out += azure_needs(manifest, manifests, live, subscription)
    return list({(n.cloud, n.action, n.resource): n for n in out}.values())
