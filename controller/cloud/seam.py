"""The one seam between the operator and the clouds: what may be read, and how it reaches planners.

Why Protocols declared here: planners, the catalog, AI tools and the engine consume cloud reads;
`aws.py` and `azure.py` implement them with boto3 and the Azure SDK, and tests run those adapters
against local servers speaking the real wire protocols. Nothing outside the adapters imports an SDK.

How the cloud reaches a planner: a planner is given a `ClusterReader`; `with_cloud(reader, access)`
wraps it so that `cloud_of(reader)` returns the `CloudAccess`. A reader without one (no cloud
configured, or an older caller) simply has no cloud: planners say so instead of guessing.

Errors, drawn once:
    CloudError              a read or check that failed for good (denied, not configured)
    ├── CloudNotFound       the resource (or the scope asked about) does not exist
    └── CloudTransient      throttled, 5xx, timeout, unreachable: retry later, never a refusal
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any, Protocol

from controller.cloud.model import (
    Alarm,
    Bucket,
    DbInstance,
    Decision,
    Disk,
    IamRole,
    ManagedIdentity,
    NodeGroup,
    NodePool,
    PermissionSet,
    ProviderFinding,
    ResourceGroup,
    RoleAssignment,
    Snapshot,
    StorageAccount,
    Volume,
)


class CloudError(Exception):
    """A cloud read or check failed for good; the message says what and where."""


class CloudNotFound(CloudError):
    """The resource, or the scope a check was asked at, does not exist."""


class CloudTransient(CloudError):
    """Throttling, a 5xx, a timeout or an unreachable endpoint: try again later."""


class AwsReads(Protocol):
    """Read-only AWS, as the operator's IRSA role. `None` / `[]` when a thing does not exist."""

    region: str

    @property
    def account(self) -> str: ...

    def caller_arn(self) -> str: ...  # who the operator acts as (STS GetCallerIdentity)

    def buckets(self) -> builtins.list[Bucket]: ...
    def bucket(self, name: str) -> Bucket | None: ...
    def roles(self) -> builtins.list[IamRole]: ...
    def role(self, name_or_arn: str) -> IamRole | None: ...
    def trusts(self) -> dict[str, dict[str, Any]]: ...
    def node_groups(self) -> builtins.list[NodeGroup]: ...
    def oidc_issuers(self) -> dict[str, str]: ...
    def db_instances(self) -> builtins.list[DbInstance]: ...
    def volumes(self) -> builtins.list[Volume]: ...
    def snapshots(self) -> builtins.list[Snapshot]: ...
    def alarms(self) -> builtins.list[Alarm]: ...
    def security_hub(self) -> builtins.list[ProviderFinding]: ...

    def simulate(self, principal_arn: str, actions: builtins.list[str], resources: builtins.list[str],
                 resource_policy: dict[str, Any] | None = None) -> builtins.list[Decision]: ...


class AzureReads(Protocol):
    """Read-only Azure (one subscription), as the operator's Workload Identity."""

    subscription: str

    def resource_groups(self) -> builtins.list[ResourceGroup]: ...
    def storage_accounts(self) -> builtins.list[StorageAccount]: ...
    def storage_account(self, name: str) -> StorageAccount | None: ...
    def identities(self) -> builtins.list[ManagedIdentity]: ...
    def identity_by_client_id(self, client_id: str) -> ManagedIdentity | None: ...
    def role_assignments(self, principal_id: str) -> builtins.list[RoleAssignment]: ...
    def node_pools(self) -> builtins.list[NodePool]: ...
    def disks(self) -> builtins.list[Disk]: ...
    def defender(self) -> builtins.list[ProviderFinding]: ...


class AzurePermissions(Protocol):
    """`Microsoft.Authorization/permissions` of one identity (ASO's, or the operator's own), at an existing scope."""

    def permissions(self, scope: str) -> builtins.list[PermissionSet]: ...


class Directory(Protocol):
    """Entra ID: group object ids → display names (Microsoft Graph)."""

    def group_names(self, ids: builtins.list[str]) -> dict[str, str]: ...


@dataclass(frozen=True)
class CloudAccess:
    """Everything cloud the operator may use; any part is None when it is not configured."""

    aws: AwsReads | None = None
    azure: AzureReads | None = None
    directory: Directory | None = None
    #: the role the ACK controllers act as (IRSA), checked with SimulatePrincipalPolicy
    ack_role_arn: str = ""
    #: ASO's identity, as seen through the permissions API
    aso: AzurePermissions | None = None
    #: the operator's own Azure identity, as seen through the permissions API (`aiop doctor`)
    own_permissions: AzurePermissions | None = None

    @property
    def empty(self) -> bool:
        return self.aws is None and self.azure is None and self.directory is None


NO_CLOUD = CloudAccess()


class WithCloud:
    """A `ClusterReader` that also carries the cloud; every cluster read goes to the wrapped reader."""

    def __init__(self, reader: Any, cloud: CloudAccess) -> None:
        self._reader = reader
        self.cloud = cloud

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self._reader.get(api_version, kind, name, namespace)
        return result

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             label_selector: str | None = None) -> builtins.list[dict[str, Any]]:
        result: builtins.list[dict[str, Any]] = self._reader.list(api_version, kind, namespace, label_selector)
        return result

    def logs(self, namespace: str, pod: str, container: str | None = None, previous: bool = False,
             tail_lines: int = 50) -> str:
        return str(self._reader.logs(namespace, pod, container, previous, tail_lines))

    def events(self, namespace: str, involved_name: str | None = None) -> builtins.list[dict[str, Any]]:
        result: builtins.list[dict[str, Any]] = self._reader.events(namespace, involved_name)
        return result


def with_cloud(reader: Any, cloud: CloudAccess | None) -> Any:
    """The reader, carrying `cloud` when there is one (unchanged otherwise)."""
    if cloud is None or cloud.empty:
        return reader
    return WithCloud(reader, cloud)


def cloud_of(reader: Any) -> CloudAccess:
    """The cloud a reader carries; `NO_CLOUD` when it carries none."""
    cloud = getattr(reader, "cloud", None)
    return cloud if isinstance(cloud, CloudAccess) else NO_CLOUD
