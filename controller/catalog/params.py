"""The parameters of every catalog action: the exact shape an AI backend must fill.

These pydantic models are the contract between planners (the offline one and any AI backend) and
the rest of the operator. `extra="forbid"` everywhere: a backend that invents a field is refused with
an error that names the field. Names follow Kubernetes rules, so a parameter cannot smuggle a path,
a selector or YAML into a manifest.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|Pi|Ei|M|G|T|P|E)?$"
IMAGE = r"^[a-zA-Z0-9][a-zA-Z0-9._/:@-]*$"
LABEL_KEY = r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
CONFIG_KEY = r"^[-._a-zA-Z0-9]+$"

Name = Field(pattern=DNS1123_SUBDOMAIN, min_length=1, max_length=253)
Namespace = Field(pattern=DNS1123_LABEL, min_length=1, max_length=63)


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_labels(value: dict[str, str]) -> dict[str, str]:
    import re

    for key, val in value.items():
        if not re.match(LABEL_KEY, key) or len(key) > 317:
            raise ValueError(f"invalid label key {key!r}")
        if not re.match(LABEL_VALUE, val) or len(val) > 63:
            raise ValueError(f"invalid label value {val!r} for key {key!r}")
    return value


WorkloadKind = Literal["Deployment", "StatefulSet"]
WORKLOAD_KINDS: tuple[str, ...] = get_args(WorkloadKind)


class ScaleParams(Params):
    kind: WorkloadKind = "Deployment"
    name: str = Name
    namespace: str = Namespace
    replicas: int = Field(ge=0, le=1000)


class RestartParams(Params):
    kind: WorkloadKind = "Deployment"
    name: str = Name
    namespace: str = Namespace


class RollbackParams(Params):
    name: str = Name
    namespace: str = Namespace
    to_revision: int | None = Field(default=None, ge=1, description="Default: the previous revision.")


class SetImageParams(Params):
    kind: WorkloadKind = "Deployment"
    name: str = Name
    namespace: str = Namespace
    container: str | None = Field(default=None, pattern=DNS1123_LABEL, description="Default: the only container.")
    image: str = Field(pattern=IMAGE, max_length=512)


class ResourceValues(Params):
    cpu: str | None = Field(default=None, pattern=QUANTITY)
    memory: str | None = Field(default=None, pattern=QUANTITY)


class SetResourcesParams(Params):
    kind: WorkloadKind = "Deployment"
    name: str = Name
    namespace: str = Namespace
    container: str | None = Field(default=None, pattern=DNS1123_LABEL)
    requests: ResourceValues = ResourceValues()
    limits: ResourceValues = ResourceValues()


class QuotaValues(Params):
    pods: int | None = Field(default=None, ge=0)
    cpu: str | None = Field(default=None, pattern=QUANTITY, description="requests.cpu")
    memory: str | None = Field(default=None, pattern=QUANTITY, description="requests.memory")
    limits_cpu: str | None = Field(default=None, pattern=QUANTITY)
    limits_memory: str | None = Field(default=None, pattern=QUANTITY)
    services: int | None = Field(default=None, ge=0)
    configmaps: int | None = Field(default=None, ge=0)
    persistentvolumeclaims: int | None = Field(default=None, ge=0)


class CreateNamespaceParams(Params):
    name: str = Field(pattern=DNS1123_LABEL, min_length=1, max_length=63)
    labels: dict[str, str] = Field(default_factory=dict)
    quota: QuotaValues | None = None

    _labels = field_validator("labels")(_check_labels)


class ConfigMapKeyParams(Params):
    name: str = Name
    namespace: str = Namespace
    key: str = Field(pattern=CONFIG_KEY, max_length=253)
    value: str = Field(max_length=65536)


class LabelsParams(Params):
    """Add or remove labels and annotations on one object."""

    api_version: str = "apps/v1"
    kind: str = "Deployment"
    name: str = Name
    namespace: str | None = Field(default=None, pattern=DNS1123_LABEL)
    labels: dict[str, str] = Field(default_factory=dict)
    remove_labels: list[str] = Field(default_factory=list)
    annotations: dict[str, str] = Field(default_factory=dict)
    remove_annotations: list[str] = Field(default_factory=list)

    _labels = field_validator("labels")(_check_labels)


class HpaParams(Params):
    kind: WorkloadKind = "Deployment"
    name: str = Field(pattern=DNS1123_SUBDOMAIN, description="The workload to scale.")
    namespace: str = Namespace
    min_replicas: int = Field(default=1, ge=1, le=1000)
    max_replicas: int = Field(ge=1, le=1000)
    cpu_utilization: int | None = Field(default=80, ge=1, le=100)
    memory_utilization: int | None = Field(default=None, ge=1, le=100)


class PdbParams(Params):
    name: str = Field(pattern=DNS1123_SUBDOMAIN, description="The workload to protect.")
    namespace: str = Namespace
    min_available: int | str | None = 1
    max_unavailable: int | str | None = None


class ExposeParams(Params):
    name: str = Field(pattern=DNS1123_SUBDOMAIN, description="The Deployment to expose.")
    namespace: str = Namespace
    port: int = Field(ge=1, le=65535)
    target_port: int | None = Field(default=None, ge=1, le=65535, description="Default: the container port.")
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    service_name: str | None = Field(default=None, pattern=DNS1123_LABEL)


class DenyIngressParams(Params):
    namespace: str = Namespace


class AllowIngressParams(Params):
    namespace: str = Namespace
    to_app: str | None = Field(default=None, pattern=LABEL_VALUE, description="app label of the pods allowed into")
    from_namespace: str | None = Field(default=None, pattern=DNS1123_LABEL)
    from_app: str | None = Field(default=None, pattern=LABEL_VALUE)
    port: int | None = Field(default=None, ge=1, le=65535)
    policy_name: str | None = Field(default=None, pattern=DNS1123_SUBDOMAIN, max_length=253,
                                    description="Default: a name derived from the other parameters.")


class S3BucketParams(Params):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    namespace: str = Namespace
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")
    versioning: bool = False
    encryption: bool = False


class AzureResourceGroupParams(Params):
    name: str = Field(pattern=r"^[-\w._()]{1,90}$")
    namespace: str = Namespace
    location: str = Field(pattern=r"^[a-z0-9]+$")


class AzureStorageAccountParams(Params):
    name: str = Field(pattern=r"^[a-z0-9]{3,24}$")
    namespace: str = Namespace
    resource_group: str = Field(pattern=r"^[-\w._()]{1,90}$")
    location: str = Field(pattern=r"^[a-z0-9]+$")
    sku: str = "Standard_LRS"
    kind: str = "StorageV2"


class DeleteParams(Params):
    """Delete one named object. Exists so that policy can see, name and refuse broad deletes."""

    api_version: str
    kind: str
    name: str = Field(min_length=1, max_length=253)
    namespace: str | None = None


class ReadSecretParams(Params):
    """Reading a Secret's contents. Never runs: the policy refuses it; declared so it can be named."""

    name: str = Field(min_length=1, max_length=253)
    namespace: str | None = None
