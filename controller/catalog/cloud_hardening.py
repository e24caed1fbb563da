"""Cloud security settings through ACK and ASO: S3 bucket encryption/versioning/public access block, RDS
exposure/backups/deletion protection, and storage account hardening (no anonymous blob access, TLS 1.2,
HTTPS only, optionally no public network).

Why through the cloud controllers: the fix of a security finding must go through approval, git and
restore like any other change; the operator never writes to the cloud itself.

Two cases per resource:
- managed already (an ACK `Bucket` / ASO `StorageAccount` object names it in the namespace): the plan
  applies only the changed fields to that object; restore re-applies the saved object, and the cloud
  controller puts the old settings back;
- not managed yet: the plan *adopts* it — the object carries the complete current configuration, read
  from the cloud through `cloud_of(cluster)`, plus the change (ACK `adopt-or-create`, ASO adopts by
  default), and is marked to leave the cloud resource in place when the object is deleted (ACK
  `deletion-policy: retain`, ASO `reconcile-policy: detach-on-delete`). Restore then deletes the object
  only: the resource stays, with the new settings. The plan says so, and shows the old values.

Pure apart from reads through the `ClusterReader` (and the cloud it carries).
"""

from __future__ import annotations

import json
from typing import Any

from controller.api.types import ObjectRef
from controller.catalog.base import (
    NOW_PLACEHOLDER,
    ActionSpec,
    AtRisk,
    Check,
    Rendered,
    Risk,
    describe_ref,
    k8s_name,
    live_object,
    nothing,
    ref,
)
from controller.catalog.data_risk import aso_at_risk, resource_group_at_risk
from controller.catalog.params_cloud import RdsSettingsParams, S3BucketSettingsParams, StorageHardeningParams
from controller.cloud.model import Bucket, StorageAccount
from controller.cloud.seam import CloudError, cloud_of
from controller.planning.types import ClusterReader
from renderer.manifests import render_manifest

S3_API = "s3.services.k8s.aws/v1alpha1"
STORAGE_API = "storage.azure.com/v1api20230101"
RDS_API = "rds.services.k8s.aws/v1alpha1"
ACK_ADOPTION = "services.k8s.aws/adoption-policy"
ACK_ADOPTION_FIELDS = "services.k8s.aws/adoption-fields"
ACK_DELETION = "services.k8s.aws/deletion-policy"
ACK_REGION = "services.k8s.aws/region"
ASO_RECONCILE = "serviceoperator.azure.com/reconcile-policy"


def managed_object(cluster: ClusterReader, api_version: str, kind: str, namespace: str, cloud_name: str,
                   field: str) -> dict[str, Any] | None:
    """The object in `namespace` whose `spec.<field>` (or, failing that, its own name) is the cloud name."""
    for obj in cluster.list(api_version, kind, namespace):
        spec = obj.get("spec") or {}
        if spec.get(field) == cloud_name or (not spec.get(field) and obj["metadata"]["name"] == cloud_name):
            return obj
    return None


def adoption_note(kind: str, what: str) -> str:
    return (f"{what} is not managed through a {kind} object yet: the plan adopts it with its complete current "
            "configuration. Restore deletes the object only; the cloud resource stays, with the new settings.")


# ------------------------------------------------------------------------------------------ S3


def _sse(algorithm: str, kms_key: str) -> dict[str, str]:
    out = {"sseAlgorithm": algorithm}
    if kms_key:
        out["kmsMasterKeyID"] = kms_key
    return out


def _pab(on: bool) -> dict[str, bool]:
    return {"blockPublicACLs": on, "ignorePublicACLs": on, "blockPublicPolicy": on, "restrictPublicBuckets": on}


class SecureS3Bucket(ActionSpec[S3BucketSettingsParams]):
    def _changes(self, p: S3BucketSettingsParams) -> list[str]:
        out = []
        if p.encryption:
            out.append(f"default encryption {p.encryption}")
        if p.versioning is not None:
            out.append("versioning " + ("on" if p.versioning else "suspended"))
        if p.block_public_access is not None:
            out.append("block all public access" if p.block_public_access else "allow public access settings")
        return out

    def title(self, params: S3BucketSettingsParams, cluster: ClusterReader | None = None) -> str:
        return f"S3 bucket {params.bucket}: {', '.join(self._changes(params))} (ACK Bucket in {params.namespace})"

    def _object(self, p: S3BucketSettingsParams, cluster: ClusterReader) -> dict[str, Any] | None:
        return managed_object(cluster, S3_API, "Bucket", p.namespace, p.bucket, "name")

    def targets(self, params: S3BucketSettingsParams, cluster: ClusterReader) -> list[ObjectRef]:
        obj = self._object(params, cluster)
        name = obj["metadata"]["name"] if obj else k8s_name(params.bucket, 253)
        return [ref(S3_API, "Bucket", name, params.namespace)]

    def render(self, params: S3BucketSettingsParams, cluster: ClusterReader,
               now: str = NOW_PLACEHOLDER) -> Rendered:
        target = self.targets(params, cluster)[0]
        sse = _sse(params.encryption, params.kms_key_id or "") if params.encryption else None
        versioning = None if params.versioning is None else ("Enabled" if params.versioning else "Suspended")
        pab = None if params.block_public_access is None else _pab(params.block_public_access)
        if live_object(cluster, target) is not None:
            manifest = render_manifest("s3-bucket-settings", name=target.name, namespace=target.namespace,
                                       annotations={}, bucket=params.bucket, encryption=sse, versioning=versioning,
                                       public_access_block=pab, policy="")
            return Rendered(manifests=[manifest], notes=[f"{describe_ref(target)} manages the bucket: only the "
                                                         "changed settings are applied."])
        aws = cloud_of(cluster).aws
        if aws is None:
            return nothing(f"Bucket {params.bucket} is not managed by ACK in {params.namespace}, and the operator has "
                           "no AWS access configured (AIOP_AWS) to read its settings and adopt it safely.")
        try:
            live = aws.bucket(params.bucket)
        except CloudError as exc:
            return nothing(f"Cannot read bucket {params.bucket}: {exc}")
        if live is None:
            return nothing(f"There is no S3 bucket {params.bucket} in AWS account {aws.account}.")
        manifest = render_manifest(
            "s3-bucket-settings", name=target.name, namespace=target.namespace,
            annotations={ACK_ADOPTION: "adopt-or-create", ACK_ADOPTION_FIELDS: json.dumps({"name": params.bucket}),
                         ACK_DELETION: "retain", ACK_REGION: live.region},
            bucket=params.bucket,
            encryption=sse or (_sse(live.encryption, live.kms_key) if live.encryption else None),
            versioning=versioning or live.versioning,
            public_access_block=pab or (_live_pab(live)),
            policy=json.dumps(live.policy, sort_keys=True) if live.policy else "")
        return Rendered(manifests=[manifest], notes=[adoption_note("ACK Bucket", f"Bucket {params.bucket}"),
                                                     _before(live)])

    def checks(self, params: S3BucketSettingsParams, cluster: ClusterReader) -> list[Check]:
        spec: dict[str, Any] = {"name": params.bucket}
        if params.encryption:
            spec["encryption"] = {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": params.encryption}}]}
        if params.versioning is not None:
            spec["versioning"] = {"status": "Enabled" if params.versioning else "Suspended"}
        if params.block_public_access is not None:
            spec["publicAccessBlock"] = _pab(params.block_public_access)
        return [Check(ref=self.targets(params, cluster)[0], expect={"spec": spec})]

    def restore(self, params: S3BucketSettingsParams, cluster: ClusterReader) -> str:
        if self.creates(params, cluster):
            return ("Revert the thread commit and delete the adopted Bucket object (deletion-policy retain: the bucket "
                    "and its data stay, with the new settings; the old ones are in the plan's notes).")
        return super().restore(params, cluster)


def _live_pab(live: Bucket) -> dict[str, bool] | None:
    b = live.public_access_block
    if b is None:
        return None
    return {"blockPublicACLs": b.block_public_acls, "ignorePublicACLs": b.ignore_public_acls,
            "blockPublicPolicy": b.block_public_policy, "restrictPublicBuckets": b.restrict_public_buckets}


def _before(live: Bucket) -> str:
    block = live.public_access_block
    return (f"Before: default encryption {live.encryption or 'none'}, versioning {live.versioning or 'never enabled'}, "
            f"public access block {'complete' if block and block.complete else 'partial' if block else 'none'}"
            f"{', a bucket policy' if live.policy else ''}.")


# ------------------------------------------------------------------------------------- Azure


class HardenStorageAccount(ActionSpec[StorageHardeningParams]):
    def _settings(self, p: StorageHardeningParams) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if p.disallow_blob_public_access:
            out["allowBlobPublicAccess"] = False
        if p.minimum_tls_version:
            out["minimumTlsVersion"] = p.minimum_tls_version
        if p.https_only:
            out["supportsHttpsTrafficOnly"] = True
        if p.disable_public_network_access:
            out["publicNetworkAccess"] = "Disabled"
        return out

    def title(self, params: StorageHardeningParams, cluster: ClusterReader | None = None) -> str:
        words = {"allowBlobPublicAccess": "no anonymous blob access", "minimumTlsVersion": "TLS 1.2 at least",
                 "supportsHttpsTrafficOnly": "HTTPS only", "publicNetworkAccess": "no public network access"}
        what = ", ".join(words[k] for k in self._settings(params))
        return f"Harden storage account {params.name}: {what} (ASO StorageAccount in {params.namespace})"

    def targets(self, params: StorageHardeningParams, cluster: ClusterReader) -> list[ObjectRef]:
        obj = managed_object(cluster, STORAGE_API, "StorageAccount", params.namespace, params.name, "azureName")
        return [ref(STORAGE_API, "StorageAccount", obj["metadata"]["name"] if obj else params.name, params.namespace)]

    def render(self, params: StorageHardeningParams, cluster: ClusterReader,
               now: str = NOW_PLACEHOLDER) -> Rendered:
        settings = self._settings(params)
        if not settings:
            return nothing("Nothing to harden: every setting was turned off.")
        target = self.targets(params, cluster)[0]
        if live_object(cluster, target) is not None:
            manifest = render_manifest("azure-storage-hardening", name=target.name, namespace=target.namespace,
                                       annotations={}, adopt=False, settings=settings)
            return Rendered(manifests=[manifest])
        azure = cloud_of(cluster).azure
        if azure is None:
            return nothing(f"Storage account {params.name} is not managed by Azure Service Operator in "
                           f"{params.namespace}, and the operator has no Azure access configured "
                           "(AIOP_AZURE_SUBSCRIPTION_ID) to read it and adopt it safely.")
        try:
            live = azure.storage_account(params.name)
        except CloudError as exc:
            return nothing(f"Cannot read storage account {params.name}: {exc}")
        if live is None:
            return nothing(f"There is no storage account {params.name} in subscription {azure.subscription}.")
        manifest = render_manifest(
            "azure-storage-hardening", name=target.name, namespace=target.namespace,
            annotations={ASO_RECONCILE: "detach-on-delete"}, adopt=True, azure_name=live.name, location=live.location,
            account_kind=live.kind or "StorageV2", sku=live.sku or "Standard_LRS",
            owner_arm_id=f"/subscriptions/{azure.subscription}/resourceGroups/{live.resource_group}",
            settings={**_kept(live), **settings})
        return Rendered(manifests=[manifest], notes=[adoption_note("ASO StorageAccount", f"Storage account {live.name}"),
                                                     _account_before(live)])

    def checks(self, params: StorageHardeningParams, cluster: ClusterReader) -> list[Check]:
        return [Check(ref=self.targets(params, cluster)[0], expect={"spec": self._settings(params)})]

    def data_at_risk(self, params: StorageHardeningParams, cluster: ClusterReader) -> list[AtRisk]:
        """The account's resource group: its ARM template is exported before ASO changes the account."""
        target = self.targets(params, cluster)[0]
        why = f"Azure Service Operator changes storage account {params.name}'s settings"
        if live_object(cluster, target) is not None:
            return aso_at_risk(cluster, target, why)
        azure = cloud_of(cluster).azure
        try:
            live = azure.storage_account(params.name) if azure is not None else None
        except CloudError:
            return []  # render says why the account cannot be read; nothing runs then
        return resource_group_at_risk(target, live.resource_group, why) if live is not None else []

    def restore(self, params: StorageHardeningParams, cluster: ClusterReader) -> str:
        if self.creates(params, cluster):
            return ("Revert the thread commit and delete the adopted StorageAccount object (detach-on-delete: the "
                    "account and its data stay), then redeploy the resource group's exported template "
                    "(incremental), which puts the account's old settings back.")
        return super().restore(params, cluster)


def _kept(live: StorageAccount) -> dict[str, Any]:
    """Settings of the live account the adopting spec must repeat, so adoption changes nothing else."""
    out: dict[str, Any] = {}
    if live.allow_blob_public_access is not None:
        out["allowBlobPublicAccess"] = live.allow_blob_public_access
    if live.minimum_tls_version in ("TLS1_0", "TLS1_1", "TLS1_2"):
        out["minimumTlsVersion"] = live.minimum_tls_version
    if live.public_network_access in ("Enabled", "Disabled"):
        out["publicNetworkAccess"] = live.public_network_access
    out["supportsHttpsTrafficOnly"] = live.https_only
    return out


def _account_before(live: StorageAccount) -> str:
    return (f"Before: anonymous blob access {'allowed' if live.allow_blob_public_access else 'disallowed'}, "
            f"minimum TLS {live.minimum_tls_version or 'unset'}, HTTPS only {live.https_only}, "
            f"public network access {live.public_network_access or 'unset'}.")


# -------------------------------------------------------------------------------------------- RDS


class SecureRdsInstance(ActionSpec[RdsSettingsParams]):
    def _settings(self, p: RdsSettingsParams) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if p.publicly_accessible is not None:
            out["publiclyAccessible"] = p.publicly_accessible
        if p.backup_retention_days is not None:
            out["backupRetentionPeriod"] = p.backup_retention_days
        if p.deletion_protection is not None:
            out["deletionProtection"] = p.deletion_protection
        return out

    def title(self, params: RdsSettingsParams, cluster: ClusterReader | None = None) -> str:
        words = {"publiclyAccessible": "publicly accessible", "backupRetentionPeriod": "backups (days)",
                 "deletionProtection": "deletion protection"}
        what = ", ".join(f"{words[k]} {v}" for k, v in self._settings(params).items())
        return f"RDS instance {params.identifier}: {what} (ACK DBInstance in {params.namespace})"

    def risk_of(self, params: RdsSettingsParams, cluster: ClusterReader | None = None) -> Risk:
        # taking a database off the internet cuts every client that reaches it from outside the VPC
        return "high" if params.publicly_accessible is False else self.risk

    def targets(self, params: RdsSettingsParams, cluster: ClusterReader) -> list[ObjectRef]:
        obj = managed_object(cluster, RDS_API, "DBInstance", params.namespace, params.identifier, "dbInstanceIdentifier")
        name = obj["metadata"]["name"] if obj else k8s_name(params.identifier)
        return [ref(RDS_API, "DBInstance", name, params.namespace)]

    def render(self, params: RdsSettingsParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        target = self.targets(params, cluster)[0]
        settings = self._settings(params)
        if live_object(cluster, target) is not None:
            return Rendered(manifests=[render_manifest("rds-instance-settings", name=target.name,
                                                       namespace=target.namespace, annotations={},
                                                       identifier=params.identifier, settings=settings)])
        aws = cloud_of(cluster).aws
        if aws is None:
            return nothing(f"RDS instance {params.identifier} is not managed by ACK in {params.namespace}, and the "
                           "operator has no AWS access configured (AIOP_AWS) to read it and adopt it safely.")
        try:
            live = next((d for d in aws.db_instances() if d.identifier == params.identifier), None)
        except CloudError as exc:
            return nothing(f"Cannot read RDS instance {params.identifier}: {exc}")
        if live is None:
            return nothing(f"There is no RDS instance {params.identifier} in AWS account {aws.account}.")
        kept = {"dbInstanceClass": live.instance_class, "engine": live.engine, "storageEncrypted": live.encrypted,
                "multiAZ": live.multi_az, "publiclyAccessible": live.publicly_accessible,
                "backupRetentionPeriod": live.backup_retention_days, "deletionProtection": live.deletion_protection}
        manifest = render_manifest(
            "rds-instance-settings", name=target.name, namespace=target.namespace,
            annotations={ACK_ADOPTION: "adopt-or-create",
                         ACK_ADOPTION_FIELDS: json.dumps({"dbInstanceIdentifier": params.identifier}),
                         ACK_DELETION: "retain"},
            identifier=params.identifier, settings={**kept, **settings})
        before = (f"Before: publicly accessible {live.publicly_accessible}, backups {live.backup_retention_days} days, "
                  f"deletion protection {live.deletion_protection}.")
        return Rendered(manifests=[manifest], notes=[adoption_note("ACK DBInstance", f"RDS instance {live.identifier}"),
                                                     before])

    def checks(self, params: RdsSettingsParams, cluster: ClusterReader) -> list[Check]:
        return [Check(ref=self.targets(params, cluster)[0], expect={"spec": self._settings(params)})]

    def data_at_risk(self, params: RdsSettingsParams, cluster: ClusterReader) -> list[AtRisk]:
        return [AtRisk("db-instance", self.targets(params, cluster)[0], "ACK changes the instance's settings",
                       cloud_id=params.identifier)]

    def restore(self, params: RdsSettingsParams, cluster: ClusterReader) -> str:
        if self.creates(params, cluster):
            return ("Revert the thread commit and delete the adopted DBInstance object (deletion-policy retain: the "
                    "database stays, with the new settings; the old ones are in the plan's notes).")
        return super().restore(params, cluster)


SECURE_S3_BUCKET = SecureS3Bucket(
    name="secure-s3-bucket", context="cloud-aws", params=S3BucketSettingsParams, risk="medium",
    description=("Change an existing S3 bucket's security settings through an ACK Bucket: default server-side "
                 "encryption (AES256 or aws:kms), versioning, and the public access block. Adopts the bucket into "
                 "ACK (retained on delete) when no Bucket object manages it yet."),
)
HARDEN_STORAGE_ACCOUNT = HardenStorageAccount(
    name="harden-storage-account", context="cloud-azure", params=StorageHardeningParams, risk="medium",
    description=("Harden an existing Azure storage account through an Azure Service Operator StorageAccount: "
                 "disallow anonymous blob access, minimum TLS 1.2, HTTPS only, optionally disable public network "
                 "access. Adopts the account into ASO (detach-on-delete) when no object manages it yet."),
)
SECURE_RDS_INSTANCE = SecureRdsInstance(
    name="secure-rds-instance", context="cloud-aws", params=RdsSettingsParams, risk="medium",
    description=("Change an existing RDS DB instance through an ACK DBInstance: take it off the internet "
                 "(publicly_accessible false), set automated backup retention days, or deletion protection. Adopts "
                 "the instance into ACK (retained on delete) when no DBInstance object manages it yet."),
)
ACTIONS: tuple[ActionSpec[Any], ...] = (SECURE_S3_BUCKET, HARDEN_STORAGE_ACCOUNT, SECURE_RDS_INSTANCE)
