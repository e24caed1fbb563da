"""Cloud resources as Kubernetes objects: ACK S3 buckets, Azure Service Operator resource groups and
storage accounts.

Why controllers instead of SDK calls: GitOps. A bucket declared as an ACK `Bucket` is committed,
reviewed, synced and reverted like any other manifest, and the cloud controller (running with its
own IRSA / Workload Identity) does the API calls; the operator never holds cloud credentials for
these changes. Restore deletes the object, and the cloud controller deletes the cloud resource
(a non-empty S3 bucket is refused by AWS, which protects the data).

Field names follow the real CRDs: ACK s3-controller `Bucket` (spec.name, spec.versioning.status,
spec.encryption.rules[].applyServerSideEncryptionByDefault.sseAlgorithm, the region as the
`services.k8s.aws/region` annotation) and ASO v2 (`spec.azureName`, `spec.location`, and for a
storage account `spec.owner.name`: the ResourceGroup *object's* name in the same namespace).
"""

from __future__ import annotations

import re
from typing import Any

from controller.api.types import ObjectRef
from controller.catalog.base import (
    NOW_PLACEHOLDER,
    ActionSpec,
    AtRisk,
    Rendered,
    k8s_name,
    live_object,
    nothing,
    ref,
)
from controller.catalog.data_risk import aso_at_risk
from controller.catalog.params import (
    DNS1123_SUBDOMAIN,
    AzureResourceGroupParams,
    AzureStorageAccountParams,
    S3BucketParams,
)
from controller.planning.types import ClusterReader
from renderer.manifests import render_manifest

S3_API = "s3.services.k8s.aws/v1alpha1"
RG_API = "resources.azure.com/v1api20200601"
STORAGE_API = "storage.azure.com/v1api20230101"
REGION_ANNOTATION = "services.k8s.aws/region"

# Enums of the ASO StorageAccount v1api20230101 spec.
STORAGE_KINDS = ("BlobStorage", "BlockBlobStorage", "FileStorage", "Storage", "StorageV2")
STORAGE_SKUS = ("Premium_LRS", "Premium_ZRS", "Standard_GRS", "Standard_GZRS", "Standard_LRS",
                "Standard_RAGRS", "Standard_RAGZRS", "Standard_ZRS")


def bucket_object_name(bucket: str) -> str:
    """The Bucket object's name: the bucket name when it is a valid object name (it usually is)."""
    return bucket if re.match(DNS1123_SUBDOMAIN, bucket) else k8s_name(bucket, 253)


def resource_group_object_name(azure_name: str) -> str:
    """Azure allows `RG_Shop(dev)`; Kubernetes names do not: `rg-shop-dev`, azureName keeps the original."""
    return k8s_name(azure_name)


class CreateS3Bucket(ActionSpec[S3BucketParams]):
    def title(self, params: S3BucketParams, cluster: ClusterReader | None = None) -> str:
        extras = [x for x, on in (("versioning", params.versioning), ("AES256 encryption", params.encryption)) if on]
        where = f" in {params.region}" if params.region else ""
        with_ = f" with {' and '.join(extras)}" if extras else ""
        return f"Create S3 bucket {params.name}{where}{with_} (ACK Bucket in {params.namespace})"

    def targets(self, params: S3BucketParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(S3_API, "Bucket", bucket_object_name(params.name), params.namespace)]

    def render(self, params: S3BucketParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        notes = ["S3 bucket names are global: if another AWS account owns this name, ACK reports it in the "
                 "Bucket's status and nothing is created."]
        if not params.region:
            notes.append("No region given: the ACK controller's default region is used.")
        if live_object(cluster, self.targets(params, cluster)[0]) is not None:
            notes.append(f"A Bucket object {params.name} exists already in {params.namespace}: it is updated.")
        manifest = render_manifest("s3-bucket", name=bucket_object_name(params.name), namespace=params.namespace,
                                   region=params.region or "", bucket_name=params.name,
                                   versioning=params.versioning, encryption=params.encryption)
        return Rendered(manifests=[manifest], notes=notes)


class CreateAzureResourceGroup(ActionSpec[AzureResourceGroupParams]):
    def title(self, params: AzureResourceGroupParams, cluster: ClusterReader | None = None) -> str:
        return f"Create Azure resource group {params.name} in {params.location} (ASO ResourceGroup)"

    def targets(self, params: AzureResourceGroupParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(RG_API, "ResourceGroup", resource_group_object_name(params.name), params.namespace)]

    def render(self, params: AzureResourceGroupParams, cluster: ClusterReader,
               now: str = NOW_PLACEHOLDER) -> Rendered:
        object_name = resource_group_object_name(params.name)
        if not object_name:
            return nothing(f"Cannot make a Kubernetes object name from {params.name!r}.")
        notes = ["Restore deletes the ResourceGroup object, and Azure Service Operator deletes the resource "
                 "group in Azure with everything in it."]
        manifest = render_manifest("azure-resource-group", name=object_name, namespace=params.namespace,
                                   azure_name=params.name, location=params.location)
        return Rendered(manifests=[manifest], notes=notes)


class CreateAzureStorageAccount(ActionSpec[AzureStorageAccountParams]):
    def title(self, params: AzureStorageAccountParams, cluster: ClusterReader | None = None) -> str:
        return (f"Create Azure storage account {params.name} ({params.kind}, {params.sku}) in {params.location}, "
                f"resource group {params.resource_group} (ASO StorageAccount)")

    def targets(self, params: AzureStorageAccountParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(STORAGE_API, "StorageAccount", params.name, params.namespace)]

    def reads(self, params: AzureStorageAccountParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(RG_API, "ResourceGroup", resource_group_object_name(params.resource_group), params.namespace)]

    def render(self, params: AzureStorageAccountParams, cluster: ClusterReader,
               now: str = NOW_PLACEHOLDER) -> Rendered:
        if params.kind not in STORAGE_KINDS:
            return nothing(f"Storage account kind {params.kind!r} is not one of {', '.join(STORAGE_KINDS)}.")
        if params.sku not in STORAGE_SKUS:
            return nothing(f"SKU {params.sku!r} is not one of {', '.join(STORAGE_SKUS)}.")
        owner = resource_group_object_name(params.resource_group)
        if not owner:
            return nothing(f"Cannot make a Kubernetes object name from {params.resource_group!r}.")
        notes = ["Storage account names are global across Azure; a taken name is reported in the object's status."]
        if live_object(cluster, self.reads(params, cluster)[0]) is None:
            notes.append(f"There is no ResourceGroup object {owner} in {params.namespace}: Azure Service Operator "
                         "waits until one exists (create it with create-azure-resource-group first).")
        manifest = render_manifest("azure-storage-account", name=params.name, namespace=params.namespace,
                                   azure_name=params.name, location=params.location, account_kind=params.kind,
                                   sku=params.sku, owner=owner)
        return Rendered(manifests=[manifest], notes=notes)


    def data_at_risk(self, params: AzureStorageAccountParams, cluster: ClusterReader) -> list[AtRisk]:
        """An existing account is changed, not created: its resource group's template is exported first."""
        return aso_at_risk(cluster, self.targets(params, cluster)[0],
                           f"Azure Service Operator changes the existing storage account {params.name}")


CREATE_S3_BUCKET = CreateS3Bucket(
    name="create-s3-bucket", context="cloud-aws", params=S3BucketParams, risk="medium",
    description=("Create an AWS S3 bucket (object storage) as an ACK Bucket resource, in a region, optionally "
                 "with versioning and default server-side encryption (AES256)."),
)
CREATE_AZURE_RESOURCE_GROUP = CreateAzureResourceGroup(
    name="create-azure-resource-group", context="cloud-azure", params=AzureResourceGroupParams, risk="medium",
    description="Create an Azure resource group in a location (region) as an Azure Service Operator ResourceGroup.",
)
CREATE_AZURE_STORAGE_ACCOUNT = CreateAzureStorageAccount(
    name="create-azure-storage-account", context="cloud-azure", params=AzureStorageAccountParams, risk="medium",
    description=("Create an Azure storage account (blob/file storage) in a resource group as an Azure Service "
                 "Operator StorageAccount, with a kind (StorageV2...) and SKU (Standard_LRS...)."),
)
ACTIONS: tuple[ActionSpec[Any], ...] = (CREATE_S3_BUCKET, CREATE_AZURE_RESOURCE_GROUP, CREATE_AZURE_STORAGE_ACCOUNT)
