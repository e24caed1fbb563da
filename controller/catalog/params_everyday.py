"""Parameters of the everyday actions (issue 13): Ingress, CronJob, Job, Pod, StatefulSet, PVC,
securityContext, env vars, probes, Service selectors, cloud identity, namespaced RBAC, egress, canary.

Why apart from `params.py`: the same contract (pydantic, `extra="forbid"`, Kubernetes name rules so a
parameter cannot smuggle a path, a selector or YAML into a manifest), but these models are many and
grew together; keeping them in their own module keeps both files readable.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from controller.catalog.params import (
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    IMAGE,
    LABEL_VALUE,
    QUANTITY,
    Name,
    Namespace,
    Params,
    WorkloadKind,
    _check_labels,
)

HOSTNAME = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
HTTP_PATH = r"^/[A-Za-z0-9/._~%!$&'()*+,;=:@-]*$"
ENV_NAME = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
CRON_FIELD = r"[0-9*/,\-A-Za-z?LW#]+"
CRON = rf"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|{CRON_FIELD}( {CRON_FIELD}){{4}})$"
ROLE_ARN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]+$"
UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
CIDR = r"^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$"
RESOURCE_NAME = r"^(\*|[a-z][a-z0-9.-]*(/[a-z]+)?)$"
API_GROUP = r"^(\*|[a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$"
SUBJECT_NAME = r"^[A-Za-z0-9@._:+-]{1,253}$"
REDACTED = "[REDACTED]"

AccessMode = Literal["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]
Verb = Literal["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*"]
Command: Any = Field(default_factory=list, max_length=64, description="The command, one word per item.")


def _read_write_once() -> list[AccessMode]:
    return ["ReadWriteOnce"]


def _no_redacted(value: str) -> str:
    if REDACTED in value:
        raise ValueError("holds a redacted secret: keep credentials in a Secret and reference it instead")
    return value


def _words(value: list[str]) -> list[str]:
    for word in value:
        if len(word) > 1024 or "\n" in word:
            raise ValueError("each word is one line of at most 1024 characters")
        _no_redacted(word)
    return value


class IngressParams(Params):
    name: str = Name
    namespace: str = Namespace
    host: str | None = Field(default=None, pattern=HOSTNAME, max_length=253, description="None: every host.")
    path: str = Field(default="/", pattern=HTTP_PATH, max_length=1024)
    path_type: Literal["Prefix", "Exact", "ImplementationSpecific"] = "Prefix"
    service: str = Field(pattern=DNS1123_LABEL, max_length=63, description="The backend Service.")
    port: int | None = Field(default=None, ge=1, le=65535, description="Default: the Service's only/first port.")
    tls_secret: str | None = Field(default=None, pattern=DNS1123_SUBDOMAIN, max_length=253)
    ingress_class: str | None = Field(default=None, pattern=DNS1123_SUBDOMAIN, max_length=253)


class CronJobParams(Params):
    name: str = Field(pattern=DNS1123_LABEL, min_length=1, max_length=52)  # the Job name suffix needs 11
    namespace: str = Namespace
    schedule: str = Field(pattern=CRON, max_length=128, description="Cron format, e.g. '30 2 * * *'.")
    image: str = Field(pattern=IMAGE, max_length=512)
    command: list[str] = Command
    args: list[str] = Field(default_factory=list, max_length=64)
    time_zone: str | None = Field(default=None, pattern=r"^[A-Za-z_]+(/[A-Za-z_+-]+)*$", max_length=64)
    concurrency_policy: Literal["Allow", "Forbid", "Replace"] = "Forbid"
    restart_policy: Literal["OnFailure", "Never"] = "OnFailure"

    _cmd = field_validator("command", "args")(_words)


class SuspendCronJobParams(Params):
    name: str = Name
    namespace: str = Namespace
    suspend: bool = Field(default=True, description="true pauses the schedule, false resumes it.")


class JobParams(Params):
    name: str = Field(pattern=DNS1123_LABEL, min_length=1, max_length=63)
    namespace: str = Namespace
    image: str = Field(pattern=IMAGE, max_length=512)
    command: list[str] = Command
    args: list[str] = Field(default_factory=list, max_length=64)
    backoff_limit: int = Field(default=2, ge=0, le=20)
    ttl_seconds_after_finished: int | None = Field(default=None, ge=0, le=604800)

    _cmd = field_validator("command", "args")(_words)


class PodParams(Params):
    name: str = Field(pattern=DNS1123_LABEL, min_length=1, max_length=63)
    namespace: str = Namespace
    image: str = Field(pattern=IMAGE, max_length=512)
    command: list[str] = Command
    args: list[str] = Field(default_factory=list, max_length=64)
    port: int | None = Field(default=None, ge=1, le=65535)
    restart_policy: Literal["Always", "OnFailure", "Never"] = "Never"

    _cmd = field_validator("command", "args")(_words)


class StatefulSetParams(Params):
    name: str = Field(pattern=DNS1123_LABEL, min_length=1, max_length=52)
    namespace: str = Namespace
    image: str = Field(pattern=IMAGE, max_length=512)
    replicas: int = Field(default=1, ge=0, le=1000)
    port: int | None = Field(default=None, ge=1, le=65535)
    command: list[str] = Command
    storage: str | None = Field(default=None, pattern=QUANTITY, description="Size of each pod's volume; None: none.")
    storage_class: str | None = Field(default=None, pattern=DNS1123_SUBDOMAIN, max_length=253)
    mount_path: str = Field(default="/data", pattern=r"^/[A-Za-z0-9/._-]*$", max_length=1024)
    access_modes: list[AccessMode] = Field(default_factory=_read_write_once, min_length=1)

    _cmd = field_validator("command")(_words)


class PvcParams(Params):
    name: str = Name
    namespace: str = Namespace
    size: str = Field(pattern=QUANTITY, description="e.g. 20Gi")
    storage_class: str | None = Field(default=None, pattern=DNS1123_SUBDOMAIN, max_length=253,
                                      description="None: the cluster's default StorageClass.")
    access_modes: list[AccessMode] = Field(default_factory=_read_write_once, min_length=1, max_length=4)


class ExpandPvcParams(Params):
    name: str = Name
    namespace: str = Namespace
    size: str = Field(pattern=QUANTITY, description="The new, larger request, e.g. 60Gi.")


class HardenParams(Params):
    """Set a restrictive securityContext on every container (or the named ones) of a workload."""

    kind: WorkloadKind = "Deployment"
    name: str = Name
    namespace: str = Namespace
    containers: list[str] = Field(default_factory=list, description="Default: every container.")
    run_as_non_root: bool = True
    allow_privilege_escalation: bool = False
    drop_all_capabilities: bool = True
    read_only_root_filesystem: bool = Field(default=False, description="Only when asked: many apps write to /tmp.")
    run_as_user: int | None = Field(default=None, ge=1, le=2147483647)


class EnvParams(Params):
    kind: WorkloadKind = "Deployment"
    name: str = Name
    namespace: str = Namespace
    container: str | None = Field(default=None, pattern=DNS1123_LABEL)
    env: dict[str, str] = Field(min_length=1, max_length=64, description="Variable name -> value.")

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for key, val in value.items():
            if not re.match(ENV_NAME, key):
                raise ValueError(f"invalid environment variable name {key!r}")
            _no_redacted(val)
            if len(val) > 32768:
                raise ValueError(f"the value of {key} is longer than 32768 characters")
        return value


class RemoveEnvParams(Params):
    kind: WorkloadKind = "Deployment"
    name: str = Name
    namespace: str = Namespace
    container: str | None = Field(default=None, pattern=DNS1123_LABEL)
    names: list[str] = Field(min_length=1, max_length=64)

    @field_validator("names")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        bad = [n for n in value if not re.match(ENV_NAME, n)]
        if bad:
            raise ValueError(f"invalid environment variable names {bad}")
        return value


class ProbeParams(Params):
    kind: WorkloadKind = "Deployment"
    name: str = Name
    namespace: str = Namespace
    container: str | None = Field(default=None, pattern=DNS1123_LABEL)
    probe: Literal["readiness", "liveness", "startup"] = "readiness"
    port: int = Field(ge=1, le=65535, description="The port the probe should check (a port the container listens on).")
    path: str | None = Field(default=None, pattern=HTTP_PATH, max_length=1024)


class ServiceSelectorParams(Params):
    name: str = Field(pattern=DNS1123_LABEL, max_length=63, description="The Service.")
    namespace: str = Namespace
    selector: dict[str, str] = Field(min_length=1, max_length=16)

    _selector = field_validator("selector")(_check_labels)


class AwsRoleParams(Params):
    """EKS IAM Roles for Service Accounts: the ServiceAccount's `eks.amazonaws.com/role-arn` annotation."""

    name: str = Field(pattern=DNS1123_SUBDOMAIN, max_length=253, description="The ServiceAccount.")
    namespace: str = Namespace
    role_arn: str = Field(pattern=ROLE_ARN, max_length=2048)


class AzureIdentityParams(Params):
    """AKS Workload Identity: the ServiceAccount's client-id annotation and the pod label on its workloads."""

    name: str = Field(pattern=DNS1123_SUBDOMAIN, max_length=253, description="The ServiceAccount.")
    namespace: str = Namespace
    client_id: str = Field(pattern=UUID)
    tenant_id: str | None = Field(default=None, pattern=UUID)
    workloads: list[str] = Field(default_factory=list, max_length=20,
                                 description="Deployments to run with this ServiceAccount and the pod label.")

    @field_validator("workloads")
    @classmethod
    def _workloads(cls, value: list[str]) -> list[str]:
        bad = [w for w in value if not re.match(DNS1123_SUBDOMAIN, w)]
        if bad:
            raise ValueError(f"invalid Deployment names {bad}")
        return value


class RoleRule(Params):
    api_groups: list[str] = Field(default_factory=lambda: [""], max_length=16)
    resources: list[str] = Field(min_length=1, max_length=32)
    verbs: list[Verb] = Field(min_length=1, max_length=9)
    resource_names: list[str] = Field(default_factory=list, max_length=32)

    @field_validator("api_groups")
    @classmethod
    def _groups(cls, value: list[str]) -> list[str]:
        bad = [g for g in value if not re.match(API_GROUP, g)]
        if bad:
            raise ValueError(f"invalid API groups {bad}")
        return value

    @field_validator("resources")
    @classmethod
    def _resources(cls, value: list[str]) -> list[str]:
        bad = [r for r in value if not re.match(RESOURCE_NAME, r)]
        if bad:
            raise ValueError(f"invalid resources {bad}")
        return value


class RoleParams(Params):
    name: str = Name
    namespace: str = Namespace
    rules: list[RoleRule] = Field(min_length=1, max_length=32)


class RoleBindingParams(Params):
    """Bind a namespaced Role (never a ClusterRole) to users, groups or ServiceAccounts of the namespace."""

    name: str = Name
    namespace: str = Namespace
    role: str = Field(pattern=DNS1123_SUBDOMAIN, max_length=253)
    users: list[str] = Field(default_factory=list, max_length=32)
    groups: list[str] = Field(default_factory=list, max_length=32)
    service_accounts: list[str] = Field(default_factory=list, max_length=32)

    @field_validator("users", "groups")
    @classmethod
    def _subjects(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not re.match(SUBJECT_NAME, s) or s.startswith("system:")]
        if bad:
            raise ValueError(f"invalid subjects {bad} (system: identities cannot be bound)")
        return value

    @field_validator("service_accounts")
    @classmethod
    def _accounts(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not re.match(DNS1123_SUBDOMAIN, s)]
        if bad:
            raise ValueError(f"invalid ServiceAccount names {bad}")
        return value

    @model_validator(mode="after")
    def _someone(self) -> RoleBindingParams:
        if not (self.users or self.groups or self.service_accounts):
            raise ValueError("name at least one user, group or ServiceAccount to bind")
        return self


class EgressParams(Params):
    """Restrict where pods may connect to: only the given destination (and DNS), or nowhere."""

    namespace: str = Namespace
    app: str | None = Field(default=None, pattern=LABEL_VALUE, description="app label of the pods; None: all pods.")
    to_namespace: str | None = Field(default=None, pattern=DNS1123_LABEL)
    to_app: str | None = Field(default=None, pattern=LABEL_VALUE)
    to_cidr: str | None = Field(default=None, pattern=CIDR)
    port: int | None = Field(default=None, ge=1, le=65535)
    allow_dns: bool = True
    policy_name: str | None = Field(default=None, pattern=DNS1123_SUBDOMAIN, max_length=253)


class CanaryParams(Params):
    """A canary Deployment next to a stable one; the Service's selector sends traffic to both, by replicas."""

    name: str = Field(pattern=DNS1123_LABEL, max_length=56, description="The stable Deployment.")
    namespace: str = Namespace
    image: str = Field(pattern=IMAGE, max_length=512)
    container: str | None = Field(default=None, pattern=DNS1123_LABEL)
    canary_replicas: int | None = Field(default=None, ge=1, le=100)
    weight: int | None = Field(default=None, ge=1, le=99, description="Percent of the pods (so of the traffic).")
