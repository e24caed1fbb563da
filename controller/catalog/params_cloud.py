"""Parameters of the cloud security and access actions (`cloud_hardening.py`, `cloud_access.py`).

Same contract as `params.py`: what an AI backend must fill, `extra="forbid"`, names that follow the
cloud's own rules (S3 bucket names, IAM names and action names, storage account names, Entra ID
object ids), so a parameter cannot smuggle a path or a document into a manifest. IAM actions are
`service:Action` with wildcards; a bare `*` is allowed by the shape but makes the step high risk.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from controller.catalog.params import DNS1123_SUBDOMAIN, Namespace, Params

BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
IAM_NAME = r"^[\w+=,.@-]{1,64}$"
IAM_ACTION = r"^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$"
IAM_RESOURCE = r"^(\*|arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}|aws)?:[\w+=,.@*/:?-]+)$"
OIDC_ISSUER = r"^[a-z0-9.-]+(/[A-Za-z0-9._-]+)*$"
KMS_KEY = r"^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[\w/-]+|alias/[\w/-]+|[0-9a-f-]{36})$"
STORAGE_ACCOUNT = r"^[a-z0-9]{3,24}$"
RESOURCE_GROUP = r"^[-\w._()]{1,90}$"
GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

AzureRole = Literal["Reader", "Contributor", "Storage Account Contributor", "Storage Blob Data Reader",
                    "Storage Blob Data Contributor", "AcrPull"]


class S3BucketSettingsParams(Params):
    """Default encryption, versioning and the public access block of one existing bucket."""

    bucket: str = Field(pattern=BUCKET, description="The S3 bucket's name.")
    namespace: str = Namespace
    encryption: Literal["AES256", "aws:kms"] | None = Field(default=None, description="Default server-side encryption.")
    kms_key_id: str | None = Field(default=None, pattern=KMS_KEY, description="For aws:kms; default: the AWS managed key.")
    versioning: bool | None = None
    block_public_access: bool | None = Field(default=None, description="true: all four public access block settings on.")

    @model_validator(mode="after")
    def _something(self) -> S3BucketSettingsParams:
        if self.encryption is None and self.versioning is None and self.block_public_access is None:
            raise ValueError("say what to change: encryption, versioning or block_public_access")
        if self.kms_key_id and self.encryption != "aws:kms":
            raise ValueError("kms_key_id goes with encryption aws:kms")
        return self


class IamGrantParams(Params):
    """An inline policy on an existing IAM role: the smallest grant that fixes a missing permission."""

    role: str = Field(pattern=IAM_NAME, description="The IAM role's name.")
    namespace: str = Namespace
    policy_name: str = Field(pattern=IAM_NAME, description="The inline policy's name.")
    actions: list[str] = Field(min_length=1, max_length=20, description="IAM actions, e.g. s3:PutObject.")
    resources: list[str] = Field(min_length=1, max_length=20, description="Resource ARNs, e.g. arn:aws:s3:::invoices/*.")

    @model_validator(mode="after")
    def _shapes(self) -> IamGrantParams:
        _check_statement(self.actions, self.resources)
        return self


class IrsaRoleParams(Params):
    """A new IAM role that one ServiceAccount assumes (IRSA), with one policy of the given actions."""

    role: str = Field(pattern=IAM_NAME)
    namespace: str = Namespace
    service_account: str = Field(pattern=DNS1123_SUBDOMAIN, max_length=253)
    actions: list[str] = Field(min_length=1, max_length=20)
    resources: list[str] = Field(min_length=1, max_length=20)
    oidc_issuer: str | None = Field(default=None, pattern=OIDC_ISSUER, description="The cluster's OIDC issuer "
                                    "without https:// (default: read from EKS)")
    account_id: str | None = Field(default=None, pattern=r"^\d{12}$")

    @model_validator(mode="after")
    def _shapes(self) -> IrsaRoleParams:
        _check_statement(self.actions, self.resources)
        return self


class AzureRoleAssignmentParams(Params):
    """A built-in role for a managed identity on a storage account or a resource group (ASO RoleAssignment)."""

    namespace: str = Namespace
    client_id: str = Field(pattern=GUID, description="The managed identity's client id (Workload Identity).")
    role: AzureRole
    storage_account: str | None = Field(default=None, pattern=STORAGE_ACCOUNT)
    resource_group: str | None = Field(default=None, pattern=RESOURCE_GROUP)

    @model_validator(mode="after")
    def _one_scope(self) -> AzureRoleAssignmentParams:
        if (self.storage_account is None) == (self.resource_group is None):
            raise ValueError("give exactly one scope: storage_account or resource_group")
        return self


class StorageHardeningParams(Params):
    """Storage account hardening: no anonymous blob access, TLS 1.2, HTTPS only, optionally no public network."""

    name: str = Field(pattern=STORAGE_ACCOUNT, description="The storage account's name.")
    namespace: str = Namespace
    disallow_blob_public_access: bool = True
    minimum_tls_version: Literal["TLS1_2"] | None = "TLS1_2"
    https_only: bool = True
    disable_public_network_access: bool = False


def _check_statement(actions: list[str], resources: list[str]) -> None:
    import re

    for action in actions:
        if not re.match(IAM_ACTION, action):
            raise ValueError(f"{action!r} is not an IAM action (service:Action)")
    for resource in resources:
        if not re.match(IAM_RESOURCE, resource):
            raise ValueError(f"{resource!r} is not a resource ARN (or *)")


class RdsSettingsParams(Params):
    """Network exposure, automated backups and deletion protection of one existing RDS instance."""

    identifier: str = Field(pattern=r"^[a-zA-Z][a-zA-Z0-9-]{0,62}$", description="The DB instance identifier.")
    namespace: str = Namespace
    publicly_accessible: bool | None = None
    backup_retention_days: int | None = Field(default=None, ge=1, le=35)
    deletion_protection: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> RdsSettingsParams:
        if self.publicly_accessible is None and self.backup_retention_days is None and self.deletion_protection is None:
            raise ValueError("say what to change: publicly_accessible, backup_retention_days or deletion_protection")
        return self
