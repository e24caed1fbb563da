"""The `cloud:` section of an eval scenario: what the fake AWS and Azure hold before the chat.

Why it is validated here, strictly: a scenario that is not valid must be refused with its file, the
field and what is wrong before anything runs (`controller/tools/scenario.py` loads it). The fakes
themselves (moto behind an IAM-simulation front; an Entra ID + ARM + Graph server) are test
infrastructure in `tests/cloud/`, like the sandbox is for Kubernetes; `fake_clouds()` starts them
from a source checkout and returns the settings that point the operator at them, with its own
identities (a web-identity token file exchanged at the fake STS / Entra ID, never a key).

The section is optional, so every scenario of `../shared/eval/README.md` stays valid unchanged.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from controller.cloud.azure_roles import BUILTIN

REPO = Path(__file__).resolve().parents[2]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------------------ AWS


class BucketSpec(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    region: str | None = None
    encryption: Literal["AES256", "aws:kms"] | None = None
    versioning: bool = False
    public_access_block: bool | None = Field(default=None, description="true: all four settings on; false: all off; "
                                                                       "absent: no configuration")
    policy: dict[str, Any] | None = None
    public_read_acl: bool = False


class PolicySpec(Strict):
    name: str
    document: dict[str, Any]


class RoleSpec(Strict):
    name: str
    service_account: str | None = Field(default=None, description="namespace/name trusted through the cluster's "
                                                                  "OIDC provider (IRSA)")
    trust: dict[str, Any] | None = None
    policies: list[str] = Field(default_factory=list, description="names from `policies`, or AWS managed ARNs")
    inline: dict[str, dict[str, Any]] = Field(default_factory=dict)


class DbSpec(Strict):
    identifier: str
    engine: str = "postgres"
    instance_class: str = "db.t3.micro"
    publicly_accessible: bool = False
    encrypted: bool = True
    backup_retention_days: int = 7


class VolumeSpec(Strict):
    name: str = ""
    size_gib: int = Field(default=10, ge=1)
    encrypted: bool = True
    snapshot: Literal["private", "public"] | None = None


class AlarmSpec(Strict):
    name: str
    metric: str = "CPUUtilization"
    namespace: str = "AWS/EC2"
    reason: str = "Threshold Crossed"


class NodeGroupSpec(Strict):
    cluster: str
    name: str
    node_role: str = Field(description="a role name from `roles`")
    desired: int = 2


class HubFindingSpec(Strict):
    title: str
    severity: Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL"] = "HIGH"
    resource: str


class AwsSpec(Strict):
    region: str = "us-east-1"
    buckets: list[BucketSpec] = Field(default_factory=list)
    policies: list[PolicySpec] = Field(default_factory=list)
    roles: list[RoleSpec] = Field(default_factory=list)
    db_instances: list[DbSpec] = Field(default_factory=list)
    volumes: list[VolumeSpec] = Field(default_factory=list)
    alarms: list[AlarmSpec] = Field(default_factory=list)
    node_groups: list[NodeGroupSpec] = Field(default_factory=list)
    security_hub: list[HubFindingSpec] | None = Field(default=None, description="absent: Security Hub not enabled")
    ack_role: str | None = Field(default=None, description="the role (from `roles`) the ACK controllers act as")

    @model_validator(mode="after")
    def _names(self) -> AwsSpec:
        roles = {r.name for r in self.roles}
        policies = {p.name for p in self.policies}
        for r in self.roles:
            for p in r.policies:
                if not p.startswith("arn:") and p not in policies:
                    raise ValueError(f"role {r.name}: policy {p!r} is neither in `policies` nor an ARN")
        if self.ack_role and self.ack_role not in roles:
            raise ValueError(f"ack_role {self.ack_role!r} is not in `roles`")
        for ng in self.node_groups:
            if ng.node_role not in roles:
                raise ValueError(f"node group {ng.name}: node_role {ng.node_role!r} is not in `roles`")
        return self


# ---------------------------------------------------------------------------------------- Azure


class GroupSpec(Strict):
    name: str
    location: str


class StorageSpec(Strict):
    name: str = Field(pattern=r"^[a-z0-9]{3,24}$")
    resource_group: str
    location: str = "westeurope"
    allow_blob_public_access: bool = False
    minimum_tls_version: Literal["TLS1_0", "TLS1_1", "TLS1_2", "TLS1_3"] = "TLS1_2"
    public_network_access: Literal["Enabled", "Disabled"] = "Enabled"
    https_only: bool = True


class IdentitySpec(Strict):
    name: str
    resource_group: str
    client_id: str
    location: str = "westeurope"


class ScopeSpec(Strict):
    """Exactly one of: the subscription, a resource group, a storage account (by name)."""

    subscription: bool = False
    resource_group: str | None = None
    storage_account: str | None = None

    @model_validator(mode="after")
    def _one(self) -> ScopeSpec:
        if sum([self.subscription, self.resource_group is not None, self.storage_account is not None]) != 1:
            raise ValueError("a scope names exactly one of subscription, resource_group, storage_account")
        return self


class AssignmentSpec(Strict):
    identity: str = Field(description="a name from `identities`")
    role: str
    scope: ScopeSpec


class AsoRoleSpec(Strict):
    role: str
    scope: ScopeSpec


class NodePoolSpec(Strict):
    cluster: str
    resource_group: str
    name: str
    count: int = 3
    vm_size: str = "Standard_D4s_v5"
    power_state: Literal["Running", "Stopped"] = "Running"
    provisioning_state: str = "Succeeded"


class DiskSpec(Strict):
    name: str
    resource_group: str
    size_gib: int = 32
    state: str = "Attached"
    network_access_policy: Literal["AllowAll", "AllowPrivate", "DenyAll"] = "AllowAll"


class DefenderSpec(Strict):
    storage_account: str
    title: str
    severity: Literal["High", "Medium", "Low"] = "High"


class AzureSpec(Strict):
    resource_groups: list[GroupSpec] = Field(default_factory=list)
    storage_accounts: list[StorageSpec] = Field(default_factory=list)
    identities: list[IdentitySpec] = Field(default_factory=list)
    role_assignments: list[AssignmentSpec] = Field(default_factory=list)
    aso_roles: list[AsoRoleSpec] = Field(default_factory=list, description="what ASO's identity may do")
    node_pools: list[NodePoolSpec] = Field(default_factory=list)
    disks: list[DiskSpec] = Field(default_factory=list)
    defender: list[DefenderSpec] = Field(default_factory=list)
    groups: dict[str, str] = Field(default_factory=dict, description="Entra ID group object id → display name")

    @model_validator(mode="after")
    def _names(self) -> AzureSpec:
        groups = {g.name for g in self.resource_groups}
        for a in self.storage_accounts:
            if a.resource_group not in groups:
                raise ValueError(f"storage account {a.name}: resource group {a.resource_group!r} is not in "
                                 "`resource_groups`")
        identities = {i.name for i in self.identities}
        accounts = {a.name for a in self.storage_accounts}
        for index, assignment in enumerate(self.role_assignments):
            if assignment.identity not in identities:
                raise ValueError(f"role_assignments[{index}]: identity {assignment.identity!r} is not in `identities`")
        grants: list[AssignmentSpec | AsoRoleSpec] = [*self.role_assignments, *self.aso_roles]
        for r in grants:
            if r.role not in BUILTIN:
                raise ValueError(f"role {r.role!r} is not a built-in role the fake knows ({', '.join(BUILTIN)})")
            if r.scope.resource_group and r.scope.resource_group not in groups:
                raise ValueError(f"role {r.role!r}: resource group {r.scope.resource_group!r} is not in "
                                 "`resource_groups`")
            if r.scope.storage_account and r.scope.storage_account not in accounts:
                raise ValueError(f"role {r.role!r}: storage account {r.scope.storage_account!r} is not in "
                                 "`storage_accounts`")
        for d in self.defender:
            if d.storage_account not in accounts:
                raise ValueError(f"defender: storage account {d.storage_account!r} is not in `storage_accounts`")
        return self


class CloudSpec(Strict):
    aws: AwsSpec | None = None
    azure: AzureSpec | None = None


def fixture_crds() -> list[dict[str, Any]]:
    """The CRDs of the cloud kinds the catalog renders (ACK IAM Role/Policy, ASO RoleAssignment/StorageAccount)."""
    import yaml

    return [yaml.safe_load(p.read_text()) for p in sorted((REPO / "tests" / "fixtures" / "crds").glob("*.yaml"))]


@contextlib.contextmanager
def fake_clouds(spec: CloudSpec, home: Path) -> Iterator[dict[str, Any]]:
    """Start and seed the fakes; yield the `settings.cloud` values that point the operator at them."""
    if not (REPO / "tests" / "cloud" / "seed.py").exists():
        raise RuntimeError("a scenario's `cloud:` section needs the fake clouds of a source checkout (tests/cloud/)")
    if str(REPO) not in sys.path:
        sys.path.append(str(REPO))  # `aiop eval` runs from anywhere; the fakes live beside the package
    from tests.cloud.seed import seeded_clouds

    with seeded_clouds(spec, home) as seeded:
        yield seeded.overrides
