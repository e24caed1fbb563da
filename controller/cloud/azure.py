"""Read-only Azure through the Azure SDK's management clients, as the operator pod's Workload Identity.

Why the SDK's credential chain: on AKS the Workload Identity webhook sets `AZURE_CLIENT_ID`,
`AZURE_TENANT_ID`, `AZURE_FEDERATED_TOKEN_FILE` and `AZURE_AUTHORITY_HOST`, and `DefaultAzureCredential`
exchanges the projected token for an Entra ID token; no secret is ever configured. When the settings
name tenant, client and token file themselves (tests; a second identity such as ASO's, federated to
the operator's ServiceAccount), the same exchange is done with `WorkloadIdentityCredential`.
`base_url` points the clients at another ARM endpoint (the tests' local server), `connection_verify`
names its CA.

Errors: 429, 5xx and connection failures are `CloudTransient`; anything else Azure refuses is a
`CloudError` naming the call. "Does not exist" answers are `None`.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from controller.cloud.model import (
    Disk,
    ManagedIdentity,
    NodePool,
    PermissionSet,
    ProviderFinding,
    ResourceGroup,
    RoleAssignment,
    StorageAccount,
)
from controller.cloud.seam import CloudError, CloudNotFound, CloudTransient

ARM = "https://management.azure.com"
# name -> (module, class): imported on first use, so a controller without Azure never loads them
CLIENTS = {"resource": ("azure.mgmt.resource.resources", "ResourceManagementClient"),
           "deployments": ("azure.mgmt.resource.deployments", "DeploymentsMgmtClient"),
           "storage": ("azure.mgmt.storage", "StorageManagementClient"),
           "msi": ("azure.mgmt.msi", "ManagedServiceIdentityClient"),
           "authorization": ("azure.mgmt.authorization", "AuthorizationManagementClient"),
           "aks": ("azure.mgmt.containerservice", "ContainerServiceClient"),
           "compute": ("azure.mgmt.compute", "ComputeManagementClient"),
           "security": ("azure.mgmt.security", "SecurityCenter")}
T = TypeVar("T")
_RG = re.compile(r"/resourceGroups/([^/]+)", re.I)
_RESOURCE = re.compile(r"^/subscriptions/[^/]+/resourceGroups/(?P<rg>[^/]+)/providers/(?P<ns>[^/]+)/(?P<path>.+)$", re.I)


def make_credential(tenant_id: str = "", client_id: str = "", token_file: str = "", authority: str = "",
                    ca_bundle: str = "") -> TokenCredential:
    """`WorkloadIdentityCredential` when the settings name the identity, else `DefaultAzureCredential`."""
    if client_id and tenant_id and token_file:
        from azure.identity import WorkloadIdentityCredential

        kwargs: dict[str, Any] = {"tenant_id": tenant_id, "client_id": client_id, "token_file_path": token_file}
        if authority:
            kwargs.update(authority=authority, disable_instance_discovery=True)
        if ca_bundle:
            kwargs["connection_verify"] = ca_bundle
        return WorkloadIdentityCredential(**kwargs)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(workload_identity_client_id=client_id or None,
                                  managed_identity_client_id=client_id or None)


def resource_group_of(resource_id: str) -> str:
    match = _RG.search(resource_id or "")
    return match.group(1) if match else ""


def _failure(call: str, exc: Exception) -> CloudError:
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return CloudTransient(f"Azure {call}: cannot reach the endpoint ({exc})")
    if isinstance(exc, ClientAuthenticationError):
        return CloudError(f"Azure {call}: could not authenticate: {str(exc).splitlines()[0]}")
    if isinstance(exc, HttpResponseError):
        status = exc.status_code or 0
        code = getattr(exc.error, "code", "") if exc.error else ""
        text = f"Azure {call}: HTTP {status} {code}: {exc.message.splitlines()[0] if exc.message else ''}".strip()
        if status == 404:
            return CloudNotFound(text)
        return CloudTransient(text) if status >= 500 or status == 429 else CloudError(text)
    return CloudError(f"Azure {call}: {exc}")


class _Clients:
    """The management clients, created lazily with the same credential, endpoint and CA."""

    def __init__(self, credential: TokenCredential, subscription: str, base_url: str, ca_bundle: str,
                 retry_total: int) -> None:
        self.credential = credential
        self.subscription = subscription
        self.base_url = base_url.rstrip("/") or ARM
        self.kwargs: dict[str, Any] = {"base_url": self.base_url, "credential_scopes": [self.base_url + "/.default"],
                                       "retry_total": retry_total}
        if ca_bundle:
            self.kwargs["connection_verify"] = ca_bundle
        self._made: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        if name not in self._made:
            self._made[name] = self._make(name)
        return self._made[name]

    def _make(self, name: str) -> Any:
        module, cls = CLIENTS[name]
        client = getattr(importlib.import_module(module), cls)
        return client(self.credential, self.subscription, **self.kwargs)


def _run(call: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except (HttpResponseError, ServiceRequestError, ServiceResponseError, ClientAuthenticationError) as exc:
        raise _failure(call, exc) from exc


def _all(call: str, pages: Callable[[], Iterable[Any]]) -> list[Any]:
    return _run(call, lambda: list(pages()))


def _enum(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


class AzureReader:
    """`AzureReads` over the management clients of one subscription."""

    def __init__(self, credential: TokenCredential, subscription: str, base_url: str = "", ca_bundle: str = "",
                 retry_total: int = 3) -> None:
        self.subscription = subscription
        self.clients = _Clients(credential, subscription, base_url, ca_bundle, retry_total)
        self._roles: dict[str, tuple[str, tuple[PermissionSet, ...]]] = {}

    def resource_groups(self) -> list[ResourceGroup]:
        return [ResourceGroup(name=g.name, location=g.location, resource_id=g.id, tags=dict(g.tags or {}))
                for g in _all("resourceGroups list", self.clients.get("resource").resource_groups.list)]

    def storage_accounts(self) -> list[StorageAccount]:
        out = []
        for a in _all("storageAccounts list", self.clients.get("storage").storage_accounts.list):
            rules = a.network_rule_set
            out.append(StorageAccount(
                name=a.name, resource_group=resource_group_of(a.id), location=a.location, resource_id=a.id,
                kind=_enum(a.kind), sku=_enum(a.sku.name) if a.sku else "",
                allow_blob_public_access=a.allow_blob_public_access, minimum_tls_version=_enum(a.minimum_tls_version),
                public_network_access=_enum(a.public_network_access),
                https_only=a.enable_https_traffic_only is not False,
                network_default_action=_enum(rules.default_action) if rules else "",
                shared_key_access=a.allow_shared_key_access))
        return out

    def storage_account(self, name: str) -> StorageAccount | None:
        return next((a for a in self.storage_accounts() if a.name.lower() == name.lower()), None)

    def identities(self) -> list[ManagedIdentity]:
        return [ManagedIdentity(name=i.name, resource_group=resource_group_of(i.id), client_id=str(i.client_id or ""),
                                principal_id=str(i.principal_id or ""), resource_id=i.id)
                for i in _all("userAssignedIdentities list",
                              self.clients.get("msi").user_assigned_identities.list_by_subscription)]

    def identity_by_client_id(self, client_id: str) -> ManagedIdentity | None:
        return next((i for i in self.identities() if i.client_id.lower() == client_id.lower()), None)

    def role_assignments(self, principal_id: str) -> list[RoleAssignment]:
        auth = self.clients.get("authorization")
        raw = _all("roleAssignments list", lambda: auth.role_assignments.list_for_subscription(
            filter=f"principalId eq '{principal_id}'"))
        out = []
        for r in raw:
            name, perms = self._role(str(r.role_definition_id))
            out.append(RoleAssignment(assignment_id=r.id, scope=r.scope, principal_id=str(r.principal_id),
                                      role_definition_id=str(r.role_definition_id), role_name=name, permissions=perms))
        return out

    def _role(self, definition_id: str) -> tuple[str, tuple[PermissionSet, ...]]:
        if definition_id not in self._roles:
            auth = self.clients.get("authorization")
            try:
                d = _run("roleDefinitions get", lambda: auth.role_definitions.get_by_id(definition_id))
            except CloudError:
                self._roles[definition_id] = (definition_id.rsplit("/", 1)[-1], ())
            else:
                self._roles[definition_id] = (d.role_name, tuple(_permission_set(p) for p in d.permissions or []))
        return self._roles[definition_id]

    def node_pools(self) -> list[NodePool]:
        aks = self.clients.get("aks")
        out = []
        for cluster in _all("managedClusters list", aks.managed_clusters.list):
            rg = resource_group_of(cluster.id)
            for p in _all("agentPools list", functools.partial(aks.agent_pools.list, rg, cluster.name)):
                out.append(NodePool(cluster=cluster.name, resource_group=rg, name=p.name, count=int(p.count or 0),
                                    vm_size=str(p.vm_size or ""), mode=_enum(p.mode),
                                    provisioning_state=str(p.provisioning_state or ""),
                                    power_state=_enum(p.power_state.code) if p.power_state else ""))
        return out

    def disks(self) -> list[Disk]:
        return [Disk(name=d.name, resource_group=resource_group_of(d.id), size_gib=int(d.disk_size_gb or 0),
                     state=_enum(d.disk_state), resource_id=d.id,
                     encryption=_enum(d.encryption.type) if d.encryption else "",
                     network_access_policy=_enum(d.network_access_policy),
                     public_network_access=_enum(d.public_network_access))
                for d in _all("disks list", self.clients.get("compute").disks.list)]

    def defender(self) -> list[ProviderFinding]:
        """Unhealthy Defender for Cloud assessments; `[]` when Defender is not enabled (no assessments)."""
        security = self.clients.get("security")
        raw = _all("assessments list", lambda: security.assessments.list(scope=f"/subscriptions/{self.subscription}"))
        out = []
        for a in raw:
            status = _enum(a.status.code) if a.status else ""
            if status.lower() != "unhealthy":
                continue
            severity = _enum(a.metadata.severity).lower() if a.metadata else ""
            resource = a.id.split("/providers/Microsoft.Security/assessments/")[0]
            out.append(ProviderFinding(source="Microsoft Defender for Cloud", identifier=a.name,
                                       title=str(a.display_name or a.name), severity=severity or "medium",
                                       resource=resource, status=status,
                                       description=str(getattr(a.status, "description", "") or "")))
        return out


def _permission_set(p: Any) -> PermissionSet:
    return PermissionSet(actions=tuple(p.actions or ()), not_actions=tuple(p.not_actions or ()),
                         data_actions=tuple(p.data_actions or ()), not_data_actions=tuple(p.not_data_actions or ()))


class AzurePermissionReader:
    """`Microsoft.Authorization/permissions` as one identity (ASO's): what it may do at a scope."""

    def __init__(self, credential: TokenCredential, subscription: str, base_url: str = "", ca_bundle: str = "",
                 retry_total: int = 3) -> None:
        self.clients = _Clients(credential, subscription, base_url, ca_bundle, retry_total)

    def permissions(self, scope: str) -> list[PermissionSet]:
        """The identity's permissions at a resource group or resource id (the scope must exist)."""
        perms = self.clients.get("authorization").permissions
        match = _RESOURCE.match(scope)
        if match:
            path = match["path"].split("/")
            if len(path) < 2 or len(path) % 2:
                raise CloudError(f"Azure permissions: {scope!r} is not a resource id")
            parent, resource_type, name = "/".join(path[:-2]), path[-2], path[-1]
            raw = _all("permissions list", lambda: perms.list_for_resource(
                match["rg"], match["ns"], parent, resource_type, name))
        else:
            rg = resource_group_of(scope)
            if not rg:
                raise CloudError(f"Azure permissions: {scope!r} is not a resource group or resource id")
            raw = _all("permissions list", lambda: perms.list_for_resource_group(rg))
        return [_permission_set(p) for p in raw]

