"""What the operator reads from AWS and Azure, as frozen data.

Why our own shapes instead of the SDKs' objects: boto3 answers dicts in AWS's wire casing, the Azure
SDK answers model objects with enums; planners, findings and AI tools want one small, stable shape
per resource that says what matters for troubleshooting and security (is it encrypted, is it public,
who may do what). Adapters build these; everything downstream is pure and testable from literals.
`to_data()` gives the JSON-able form the AI tools send (after redaction).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["critical", "high", "medium", "low"]
SEVERITY_ORDER: dict[str, int] = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def to_data(value: Any) -> Any:
    """A dataclass (or a list of them) as plain JSON-able data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [to_data(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_data(v) for k, v in value.items()}
    return value


# ------------------------------------------------------------------------------------------ AWS


@dataclass(frozen=True)
class PublicAccessBlock:
    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False

    @property
    def complete(self) -> bool:
        return all((self.block_public_acls, self.ignore_public_acls, self.block_public_policy,
                    self.restrict_public_buckets))


@dataclass(frozen=True)
class Bucket:
    name: str
    region: str = ""
    encryption: str | None = None  # "AES256", "aws:kms", "aws:kms:dsse"; None: no default encryption rule
    kms_key: str = ""
    versioning: str | None = None  # "Enabled", "Suspended"; None: never enabled
    public_access_block: PublicAccessBlock | None = None
    policy: dict[str, Any] | None = None
    public_acl: bool = False  # the ACL grants AllUsers / AuthenticatedUsers

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.name}"


@dataclass(frozen=True)
class PolicyDoc:
    """One IAM policy: managed (with an ARN) or inline (name only), with its document."""

    name: str
    document: dict[str, Any]
    arn: str = ""


@dataclass(frozen=True)
class IamRole:
    name: str
    arn: str
    trust: dict[str, Any] = field(default_factory=dict)
    attached: tuple[PolicyDoc, ...] = ()
    inline: tuple[PolicyDoc, ...] = ()
    path: str = "/"
    description: str = ""
    max_session_duration: int = 3600

    @property
    def account(self) -> str:
        return self.arn.split(":")[4] if self.arn.count(":") >= 5 else ""


@dataclass(frozen=True)
class NodeGroup:
    cluster: str
    name: str
    status: str
    node_role: str
    desired: int = 0
    minimum: int = 0
    maximum: int = 0
    instance_types: tuple[str, ...] = ()
    health: tuple[str, ...] = ()  # "code: message" of each health issue


@dataclass(frozen=True)
class DbInstance:
    identifier: str
    engine: str
    status: str
    instance_class: str = ""
    publicly_accessible: bool = False
    encrypted: bool = False
    backup_retention_days: int = 0
    multi_az: bool = False
    arn: str = ""
    deletion_protection: bool = False


@dataclass(frozen=True)
class Volume:
    volume_id: str
    size_gib: int
    state: str
    encrypted: bool
    volume_type: str = ""
    zone: str = ""
    attached_to: tuple[str, ...] = ()
    name: str = ""


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    volume_id: str
    encrypted: bool
    state: str
    public: bool = False
    description: str = ""


@dataclass(frozen=True)
class Alarm:
    name: str
    state: str
    reason: str = ""
    metric: str = ""
    namespace: str = ""
    dimensions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderFinding:
    """A finding from the cloud's own security service (AWS Security Hub, Defender for Cloud)."""

    source: str
    identifier: str
    title: str
    severity: str
    resource: str
    status: str = ""
    description: str = ""


@dataclass(frozen=True)
class MatchedStatement:
    source_policy: str
    source_type: str  # role | user | group | aws-managed | user-managed | resource | none


@dataclass(frozen=True)
class Decision:
    """One action on one resource, as IAM policy simulation evaluated it."""

    action: str
    resource: str
    decision: str  # allowed | implicitDeny | explicitDeny
    matched: tuple[MatchedStatement, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"


# ---------------------------------------------------------------------------------------- Azure


@dataclass(frozen=True)
class ResourceGroup:
    name: str
    location: str
    resource_id: str = ""
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StorageAccount:
    name: str
    resource_group: str
    location: str
    resource_id: str = ""
    kind: str = ""
    sku: str = ""
    allow_blob_public_access: bool | None = None  # None: not set (the API default is false since 2023-11)
    minimum_tls_version: str = ""  # TLS1_0 | TLS1_1 | TLS1_2 | TLS1_3
    public_network_access: str = ""  # Enabled | Disabled | SecuredByPerimeter
    https_only: bool = True
    network_default_action: str = ""  # Allow | Deny
    shared_key_access: bool | None = None


@dataclass(frozen=True)
class ManagedIdentity:
    name: str
    resource_group: str
    client_id: str
    principal_id: str
    resource_id: str = ""


@dataclass(frozen=True)
class PermissionSet:
    """Azure RBAC: what one role (or one entry of the permissions API) grants."""

    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoleAssignment:
    assignment_id: str
    scope: str
    principal_id: str
    role_definition_id: str
    role_name: str = ""
    permissions: tuple[PermissionSet, ...] = ()


@dataclass(frozen=True)
class NodePool:
    cluster: str
    resource_group: str
    name: str
    count: int
    vm_size: str
    mode: str = ""
    provisioning_state: str = ""
    power_state: str = ""


@dataclass(frozen=True)
class Disk:
    name: str
    resource_group: str
    size_gib: int
    state: str  # Attached | Unattached | Reserved ...
    resource_id: str = ""
    encryption: str = ""  # EncryptionAtRestWithPlatformKey | ...CustomerKey | ...
    network_access_policy: str = ""  # AllowAll | AllowPrivate | DenyAll
    public_network_access: str = ""


# ------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Remediation:
    """A catalog call that fixes a finding (it goes through approval, git and restore like any plan)."""

    action: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Finding:
    severity: Severity
    title: str
    resource: str
    evidence: str
    cloud: Literal["aws", "azure"]
    source: str = "operator check"
    remediation: Remediation | None = None
    advice: str = ""  # what to do when the catalog cannot express the fix

    def line(self) -> str:
        fix = " (a fix is proposed)" if self.remediation else (f" {self.advice}" if self.advice else "")
        return f"{self.severity.upper()}: {self.title} — {self.evidence}{fix}"


@dataclass(frozen=True)
class CloudNeed:
    """One cloud action on one resource that an ACK/ASO manifest makes its controller perform."""

    cloud: Literal["aws", "azure"]
    action: str
    resource: str  # an ARN, or an Azure resource id (scope)
    why: str = ""  # e.g. "Bucket shop/invoices: default encryption"
    check_scope: str = ""  # Azure: the existing scope the permissions API is asked at ("" = resource)

    def describe(self) -> str:
        who = "the ACK controller's role" if self.cloud == "aws" else "Azure Service Operator's identity"
        return f"{self.action} on {self.resource} ({who})"
