"""Cloud security findings: what is read → what is wrong, how badly, the evidence, and a fix. Pure.

Why rules of our own next to Security Hub and Defender for Cloud: those services are often not
enabled, and when they are, their findings do not say how to fix things through GitOps. The rules
here are the ones a platform team checks first (CIS-style): storage that anyone can read, data at
rest without encryption, weak TLS, databases on the internet, roles that may do everything. Where the
catalog can express the fix, the finding carries it as a catalog call, so it goes through approval,
git and restore like any plan; otherwise it says what to do.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from controller.cloud.model import (
    SEVERITY_ORDER,
    Bucket,
    DbInstance,
    Disk,
    Finding,
    IamRole,
    ProviderFinding,
    Remediation,
    Severity,
    Snapshot,
    StorageAccount,
    Volume,
)
from controller.cloud.policydocs import (
    describe_statement,
    is_admin_statement,
    is_public_statement,
    statements,
)

TLS_OK = ("TLS1_2", "TLS1_3")


def _bucket_fix(bucket: str, namespace: str, **change: Any) -> Remediation:
    return Remediation("secure-s3-bucket", {"bucket": bucket, "namespace": namespace, **change})


def bucket_findings(b: Bucket, namespace: str) -> list[Finding]:
    out: list[Finding] = []
    block = b.public_access_block
    blocks_policy = bool(block and block.block_public_policy and block.restrict_public_buckets)
    public = [st for st in statements(b.policy) if is_public_statement(st)]
    if public and not blocks_policy:
        out.append(Finding("high", f"S3 bucket {b.name} is public through its bucket policy", b.arn,
                           "the policy " + describe_statement(public[0]) + ", and no public access block stops it",
                           "aws", remediation=_bucket_fix(b.name, namespace, block_public_access=True)))
    if b.public_acl and not (block and block.ignore_public_acls):
        out.append(Finding("high", f"S3 bucket {b.name} is public through its ACL", b.arn,
                           "the ACL grants AllUsers or AuthenticatedUsers", "aws",
                           remediation=_bucket_fix(b.name, namespace, block_public_access=True)))
    if not (block and block.complete) and not public and not b.public_acl:
        missing = "no public access block" if block is None else "a partial public access block"
        out.append(Finding("medium", f"S3 bucket {b.name} does not block public access", b.arn,
                           f"{missing}: a future policy or ACL could make it public", "aws",
                           remediation=_bucket_fix(b.name, namespace, block_public_access=True)))
    if not b.encryption:
        out.append(Finding("medium", f"S3 bucket {b.name} has no default encryption", b.arn,
                           "no server-side encryption rule: objects uploaded without one are stored unencrypted",
                           "aws", remediation=_bucket_fix(b.name, namespace, encryption="AES256")))
    if b.versioning != "Enabled":
        out.append(Finding("low", f"S3 bucket {b.name} is not versioned", b.arn,
                           f"versioning {b.versioning or 'never enabled'}: overwritten or deleted objects are gone",
                           "aws", remediation=_bucket_fix(b.name, namespace, versioning=True)))
    return out


def role_findings(role: IamRole) -> list[Finding]:
    for policy in (*role.attached, *role.inline):
        for st in statements(policy.document):
            if is_admin_statement(st):
                kind = "attached policy" if policy.arn else "inline policy"
                return [Finding("critical", f"IAM role {role.name} may do everything (*:*)", role.arn,
                                f"its {kind} {policy.name} {describe_statement(st)}", "aws",
                                advice=f"Replace {policy.name} with a policy of the actions the role needs.")]
    return []


def db_findings(d: DbInstance, namespace: str) -> list[Finding]:
    out = []
    if d.publicly_accessible:
        out.append(Finding("high", f"RDS instance {d.identifier} is publicly accessible", d.arn or d.identifier,
                           "PubliclyAccessible is true: it has a public DNS name and address", "aws",
                           remediation=Remediation("secure-rds-instance", {"identifier": d.identifier,
                                                                           "namespace": namespace,
                                                                           "publicly_accessible": False}),
                           advice="Clients outside the VPC lose access: reach it from inside the VPC."))
    if not d.encrypted:
        out.append(Finding("high", f"RDS instance {d.identifier} is not encrypted at rest", d.arn or d.identifier,
                           "StorageEncrypted is false", "aws",
                           advice="Encryption cannot be turned on in place: restore an encrypted copy of a snapshot."))
    if d.backup_retention_days == 0:
        out.append(Finding("medium", f"RDS instance {d.identifier} keeps no automated backups", d.arn or d.identifier,
                           "BackupRetentionPeriod is 0", "aws",
                           remediation=Remediation("secure-rds-instance", {"identifier": d.identifier,
                                                                           "namespace": namespace,
                                                                           "backup_retention_days": 7})))
    return out


def volume_findings(volumes: Iterable[Volume], snapshots: Iterable[Snapshot]) -> list[Finding]:
    out = []
    for v in volumes:
        if not v.encrypted:
            label = f"{v.volume_id} ({v.name})" if v.name else v.volume_id
            out.append(Finding("medium", f"EBS volume {label} is not encrypted", v.volume_id,
                               f"{v.size_gib} GiB {v.volume_type or ''} volume, {v.state}".replace("  ", " "), "aws",
                               advice="Copy a snapshot with encryption on and replace the volume."))
    for s in snapshots:
        if s.public:
            out.append(Finding("high", f"EBS snapshot {s.snapshot_id} is public", s.snapshot_id,
                               f"anyone may create a volume from it (of {s.volume_id})", "aws",
                               advice="Remove the 'all' group from its createVolumePermission."))
    return out


def storage_findings(a: StorageAccount, namespace: str) -> list[Finding]:
    out = []
    fix = Remediation("harden-storage-account", {"name": a.name, "namespace": namespace})
    if a.allow_blob_public_access:
        out.append(Finding("high", f"Storage account {a.name} allows anonymous blob access", a.resource_id or a.name,
                           "allowBlobPublicAccess is true: any container set to public can be read by anyone",
                           "azure", remediation=fix))
    if a.minimum_tls_version and a.minimum_tls_version not in TLS_OK:
        out.append(Finding("medium", f"Storage account {a.name} accepts TLS below 1.2", a.resource_id or a.name,
                           f"minimumTlsVersion is {a.minimum_tls_version}", "azure", remediation=fix))
    if not a.https_only:
        out.append(Finding("high", f"Storage account {a.name} accepts plain HTTP", a.resource_id or a.name,
                           "supportsHttpsTrafficOnly is false", "azure", remediation=fix))
    if a.public_network_access == "Enabled" and a.network_default_action != "Deny":
        out.append(Finding("low", f"Storage account {a.name} is reachable from any network", a.resource_id or a.name,
                           "publicNetworkAccess Enabled and the firewall's default action is Allow", "azure",
                           advice="Restrict it to your networks or private endpoints (harden-storage-account with "
                                  "disable_public_network_access once nothing outside needs it)."))
    return out


def disk_findings(disks: Iterable[Disk]) -> list[Finding]:
    return [Finding("low", f"Managed disk {d.name} can be exported from any network", d.resource_id or d.name,
                    "networkAccessPolicy AllowAll: a SAS URI for the disk works from anywhere", "azure",
                    advice="Set networkAccessPolicy to DenyAll or AllowPrivate.")
            for d in disks if d.network_access_policy == "AllowAll"]


def provider_findings(items: Iterable[ProviderFinding], cloud: str) -> list[Finding]:
    levels: dict[str, Severity] = {"critical": "critical", "high": "high", "medium": "medium", "low": "low",
                                   "informational": "low"}
    return [Finding(levels.get(p.severity.lower(), "medium"), p.title, p.resource, p.description or p.title,
                    "aws" if cloud == "aws" else "azure", source=p.source)
            for p in items]


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first; one finding per (title, resource)."""
    unique = {(f.title, f.resource): f for f in findings}
    return sorted(unique.values(), key=lambda f: (SEVERITY_ORDER[f.severity], f.cloud, f.title))


def remediations(findings: Iterable[Finding]) -> list[Remediation]:
    """The catalog calls that fix the findings, one per resource (the changes for one bucket merged)."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for f in findings:
        if f.remediation is None:
            continue
        params = f.remediation.params
        key = (f.remediation.action, str(params.get("bucket") or params.get("name") or params.get("identifier")))
        merged.setdefault(key, {}).update(f.remediation.params)
    return [Remediation(action, params) for (action, _), params in merged.items()]


def summary(findings: list[Finding]) -> str:
    if not findings:
        return "no findings"
    counts = {s: sum(f.severity == s for f in findings) for s in SEVERITY_ORDER}
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n)
