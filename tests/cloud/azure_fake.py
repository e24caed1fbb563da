"""A local Azure: Entra ID's token endpoint, Azure Resource Manager and Microsoft Graph, over HTTPS.

Shaped after the REST API references of the calls the operator makes (only the fields it reads, in
the documented JSON casing, `{"value": [...]}` lists, `{"error": {"code", "message"}}` errors):
- Entra ID: `POST /{tenant}/oauth2/v2.0/token` (client credentials with a federated `client_assertion`,
  as Workload Identity sends it) → a bearer token for the client id's service principal;
- ARM (every call needs `api-version`, else 400 `MissingApiVersionParameter`; a bearer token for the
  ARM audience, else 401 `AuthenticationFailed`): resource groups, storage accounts
  (Microsoft.Storage), user-assigned identities (Microsoft.ManagedIdentity), role assignments with
  `$filter=principalId eq '…'` and role definitions by id (Microsoft.Authorization), the permissions API
  (`…/providers/Microsoft.Authorization/permissions` at a resource group or resource: the caller's
  own actions/notActions/dataActions, computed from its role assignments at that scope or above; 404
  `ResourceGroupNotFound`/`ResourceNotFound` when the scope does not exist), AKS managed clusters and
  agent pools, managed disks (Microsoft.Compute), Defender for Cloud assessments (Microsoft.Security);
- Graph: `POST /v1.0/directoryObjects/getByIds` (types: group) → `{"value": [{"@odata.type", id, displayName}]}`;
- writes (issue 14, managed-disk snapshots): `PUT` and `DELETE` of `Microsoft.Compute/snapshots/{name}` and
  `Microsoft.Compute/disks/{name}` as ARM long-running operations — the PUT answers 202 (200 for an existing
  one) with the resource in `provisioningState: Creating` and `Azure-AsyncOperation` and `Location` headers
  (with `Retry-After`), as the Compute REST reference documents them; polling that URL
  answers `{"status": "InProgress"}` once, then `Succeeded`, and the resource is `Succeeded` (a snapshot's
  `completionPercent` 100); DELETE answers 202 the same way and the resource is gone when the operation
  succeeded. `createOption: Copy` must name an existing disk or snapshot (else 404 `ResourceNotFound`), and
  `location` is required (400 `LocationRequired`). A single resource is read back by its id. Role
  assignments are not enforced on these writes;
- a resource group's template and its redeploy (issue 14, before an ASO change), shaped after the REST
  references "Resource Groups - Export Template" and "Deployments - Create Or Update":
  `POST /subscriptions/{s}/resourcegroups/{rg}/exportTemplate` with `{"resources": ["*"], "options": "…"}`
  (options a CSV of IncludeParameterDefaultValue, IncludeComments, SkipResourceNameParameterization,
  SkipAllParameterization, else 400 `InvalidRequestContent`; 404 `ResourceGroupNotFound`) answers 202 with
  `Location` and `Retry-After`; that URL answers 202 once, then 200 `{"template": {...}, "error": null}` — the
  group's resources as they were at the POST, each with `type`, `apiVersion`, `name` (a parameter with its
  default value), `location`, `sku`/`kind`/`tags` and the `properties` that are not read-only. An export
  error set with `export_errors[rg]` comes back in `error` with the template, as ARM reports resources it could
  not export. `PUT /subscriptions/{s}/resourcegroups/{rg}/providers/Microsoft.Resources/deployments/{name}`
  with `properties.mode` `Incremental` (`Complete` is refused: not modelled) and `properties.template`
  answers 201 (200 for an existing deployment) with `provisioningState: Accepted` and `Azure-AsyncOperation`
  (`…/deployments/{name}/operationStatuses/{id}`): `Running` once, then `Succeeded`, and only then each
  template resource is put into the group with the template's properties (an existing one keeps only its
  read-only properties beside them: incremental redeploy re-applies every property, and leaves resources the
  template does not name alone); an unresolvable name or a type outside the group fails the deployment with
  `InvalidTemplate`. The deployment is read back by its id.

The built-in role definitions carry their documented ids and permissions (the table of
`controller/cloud/azure_roles.py`: Owner, Contributor, Reader, Storage Blob Data Reader/Contributor,
Storage Account Contributor, AcrPull, User Access Administrator). Custom roles (`add_custom_role`, as
"Role Definitions - Create Or Update" makes one: `type: CustomRole`, assignable at the subscription) are
served by id and count in the permissions API like built-in ones.
Faults can be injected per path fragment (an HTTP status, once each) to test transient handling.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from aiohttp import web

from controller.cloud.azure_roles import BUILTIN
from sandbox.certs import ensure_certs
from tests.cloud.arm_templates import EXPORT_OPTIONS, NOT_EXPORTED, READ_ONLY, export_template, resolve_name
from tests.cloud.server import BackgroundServer

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000a1"
TENANT = "00000000-0000-0000-0000-0000000000t1"

def _role_json(name: str) -> dict[str, Any]:
    guid, perms = BUILTIN[name]
    return {"id": guid, "actions": list(perms.actions), "notActions": list(perms.not_actions),
            "dataActions": list(perms.data_actions), "notDataActions": list(perms.not_data_actions)}


BUILTIN_ROLES: dict[str, dict[str, Any]] = {name: _role_json(name) for name in BUILTIN}


def role_definition_id(role: str, subscription: str = SUBSCRIPTION) -> str:
    return f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{BUILTIN_ROLES[role]['id']}"


@dataclass
class FakeAzure:
    home: Path
    subscription: str = SUBSCRIPTION
    tenant: str = TENANT
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # lower-case id -> ARM JSON
    assignments: list[dict[str, Any]] = field(default_factory=list)
    principals: dict[str, str] = field(default_factory=dict)  # client id -> principal (object) id
    groups: dict[str, str] = field(default_factory=dict)  # group object id -> display name
    faults: list[tuple[str, int]] = field(default_factory=list)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)  # async operation id -> state
    export_errors: dict[str, dict[str, str]] = field(default_factory=dict)  # rg (lower) -> {code, message}
    custom_roles: dict[str, dict[str, Any]] = field(default_factory=dict)  # role name -> role JSON (id, actions...)
    seen: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, principal)
    _tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # token -> (principal, audience)

    # ------------------------------------------------------------------------------- lifecycle

    def start(self) -> FakeAzure:
        self.certs = ensure_certs(self.home)
        self._server = BackgroundServer(self._handle, self.certs.server_context()).start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeAzure:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def ca_bundle(self) -> str:
        return str(self.certs.ca_cert)

    # --------------------------------------------------------------------------------- seeding

    def rg_id(self, rg: str) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{rg}"

    def _put(self, resource: dict[str, Any]) -> dict[str, Any]:
        self.resources[resource["id"].lower()] = resource
        return resource

    def add_resource_group(self, name: str, location: str, tags: dict[str, str] | None = None) -> dict[str, Any]:
        return self._put({"id": self.rg_id(name), "name": name, "type": "Microsoft.Resources/resourceGroups",
                          "location": location, "tags": tags or {}, "properties": {"provisioningState": "Succeeded"}})

    def add_storage_account(self, name: str, rg: str, location: str, *, kind: str = "StorageV2",
                            sku: str = "Standard_LRS", **properties: Any) -> dict[str, Any]:
        props = {"provisioningState": "Succeeded", "supportsHttpsTrafficOnly": True, "minimumTlsVersion": "TLS1_2",
                 "allowBlobPublicAccess": False, "publicNetworkAccess": "Enabled",
                 "networkAcls": {"defaultAction": "Allow", "bypass": "AzureServices"}, **properties}
        return self._put({"id": f"{self.rg_id(rg)}/providers/Microsoft.Storage/storageAccounts/{name}", "name": name,
                          "type": "Microsoft.Storage/storageAccounts", "location": location, "kind": kind,
                          "sku": {"name": sku, "tier": sku.split("_")[0]}, "properties": props})

    def add_identity(self, name: str, rg: str, location: str, client_id: str = "", principal_id: str = "") -> dict[str, Any]:
        client_id = client_id or str(uuid.uuid4())
        principal_id = principal_id or str(uuid.uuid4())
        self.principals[client_id.lower()] = principal_id
        return self._put({"id": f"{self.rg_id(rg)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
                          "name": name, "type": "Microsoft.ManagedIdentity/userAssignedIdentities", "location": location,
                          "properties": {"tenantId": self.tenant, "clientId": client_id, "principalId": principal_id}})

    def add_app(self, client_id: str, principal_id: str = "") -> str:
        """A service principal that can get tokens (the operator's identity) without a managed identity resource."""
        principal_id = principal_id or str(uuid.uuid4())
        self.principals[client_id.lower()] = principal_id
        return principal_id

    def add_custom_role(self, name: str, actions: list[str], not_actions: list[str] | None = None) -> str:
        """A custom role definition (as `az role definition create` makes one); assign it by name."""
        guid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.subscription}/{name}"))
        self.custom_roles[name] = {"id": guid, "actions": list(actions), "notActions": list(not_actions or []),
                                   "dataActions": [], "notDataActions": []}
        return guid

    def _roles(self) -> dict[str, dict[str, Any]]:
        return {**BUILTIN_ROLES, **self.custom_roles}

    def assign(self, principal_id: str, role: str, scope: str) -> dict[str, Any]:
        assignment_id = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
        definition = (f"/subscriptions/{self.subscription}/providers/Microsoft.Authorization/roleDefinitions/"
                      f"{self.custom_roles[role]['id']}" if role in self.custom_roles
                      else role_definition_id(role, self.subscription))
        entry = {"id": assignment_id, "name": assignment_id.rsplit("/", 1)[1],
                 "type": "Microsoft.Authorization/roleAssignments",
                 "properties": {"scope": scope, "principalId": principal_id, "principalType": "ServicePrincipal",
                                "roleDefinitionId": definition}}
        self.assignments.append(entry)
        return entry

    def add_aks(self, name: str, rg: str, location: str, pools: list[dict[str, Any]]) -> None:
        cluster = self._put({"id": f"{self.rg_id(rg)}/providers/Microsoft.ContainerService/managedClusters/{name}",
                             "name": name, "type": "Microsoft.ContainerService/managedClusters", "location": location,
                             "properties": {"provisioningState": "Succeeded", "kubernetesVersion": "1.30"}})
        for pool in pools:
            self._put({"id": f"{cluster['id']}/agentPools/{pool['name']}", "name": pool["name"],
                       "type": "Microsoft.ContainerService/managedClusters/agentPools",
                       "properties": {"count": pool.get("count", 3), "vmSize": pool.get("vm_size", "Standard_D4s_v5"),
                                      "mode": pool.get("mode", "User"),
                                      "provisioningState": pool.get("provisioning_state", "Succeeded"),
                                      "powerState": {"code": pool.get("power_state", "Running")}}})

    def add_disk(self, name: str, rg: str, location: str, size_gib: int, state: str = "Attached",
                 network_access_policy: str = "AllowAll", public_network_access: str = "Enabled") -> dict[str, Any]:
        return self._put({"id": f"{self.rg_id(rg)}/providers/Microsoft.Compute/disks/{name}", "name": name,
                          "type": "Microsoft.Compute/disks", "location": location,
                          "properties": {"diskSizeGB": size_gib, "diskState": state,
                                         "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
                                         "networkAccessPolicy": network_access_policy,
                                         "publicNetworkAccess": public_network_access,
                                         "provisioningState": "Succeeded"}})

    def add_assessment(self, resource_id: str, name: str, title: str, status: str = "Unhealthy",
                       severity: str = "High", description: str = "") -> None:
        self._put({"id": f"{resource_id}/providers/Microsoft.Security/assessments/{name}", "name": name,
                   "type": "Microsoft.Security/assessments",
                   "properties": {"displayName": title, "status": {"code": status, "description": description},
                                  "resourceDetails": {"Source": "Azure", "Id": resource_id},
                                  "metadata": {"displayName": title, "severity": severity,
                                               "assessmentType": "BuiltIn"}}})

    # ------------------------------------------------------------------------------- the server

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = unquote(request.rel_url.raw_path)
        principal = ""
        for fragment, status in list(self.faults):
            if fragment.lower() in path.lower():
                self.faults.remove((fragment, status))
                code, message = _FAULTS.get(status, ("ServerBusy" if status >= 500 else "BadRequest", "injected fault"))
                return _error(status, code, message.format(scope=re.sub(r"/exportTemplate$", "", path, flags=re.I)))
        if request.method == "POST" and path.endswith("/oauth2/v2.0/token"):
            return self._token(parse_qs((await request.read()).decode()))
        auth = request.headers.get("Authorization", "")
        principal, audience = self._tokens.get(auth.removeprefix("Bearer "), ("", ""))
        self.seen.append((request.method, path, principal))
        if not principal:
            return _error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing "
                                                       "or has an invalid token.")
        if path.startswith("/v1.0/"):
            if "graph" not in audience and audience != self.url:
                return _error(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
            return await self._graph(request, path)
        if "api-version" not in request.query:
            return _error(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is "
                                                             "required for all requests.")
        # --- writes and long-running operations (managed-disk snapshots)
        if "/providers/microsoft.compute/asyncoperations/" in path.lower():
            return self._operation(path.rsplit("/", 1)[1])
        if request.method == "GET" and re.search(r"/(operationresults|operationstatuses)/[^/]+$", path, re.I):
            return self._arm_operation(path.rsplit("/", 1)[1])
        if request.method == "POST" and _EXPORT.match(path):
            return self._export(_EXPORT.match(path).group("rg"), await request.json(),  # type: ignore[union-attr]
                                str(request.url.origin()))
        if request.method == "PUT" and _DEPLOYMENT.match(path):
            return self._deploy(path, await request.json(), str(request.url.origin()))
        if request.method in ("PUT", "DELETE") and _COMPUTE_WRITE.match(path):
            body = await request.json() if request.method == "PUT" else {}
            return self._compute_write(request.method, path, body, str(request.url.origin()))
        if request.method == "GET" and path.lower().rstrip("/") in self.resources:
            return web.json_response(self.resources[path.lower().rstrip("/")])
        # --- end writes
        if request.method != "GET":
            return _error(405, "MethodNotAllowed", f"{request.method} is not served by this fake")
        return self._arm(path, dict(request.query), principal)

    def _token(self, form: dict[str, list[str]]) -> web.Response:
        client_id = (form.get("client_id") or [""])[0].lower()
        assertion = (form.get("client_assertion") or [""])[0]
        scope = (form.get("scope") or [""])[0]
        if not assertion or client_id not in self.principals:
            return web.json_response({"error": "invalid_client", "error_description":
                                      f"AADSTS700016: Application with identifier '{client_id}' was not found."},
                                     status=400)
        token = f"fake-{uuid.uuid4().hex}"
        self._tokens[token] = (self.principals[client_id], scope.removesuffix("/.default"))
        return web.json_response({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                                  "access_token": token})

    def _list(self, resource_type: str, under: str = "") -> web.Response:
        prefix = under.lower()
        value = [r for r in self.resources.values()
                 if r["type"].lower() == resource_type.lower() and r["id"].lower().startswith(prefix)]
        return web.json_response({"value": value})

    def _arm(self, path: str, query: dict[str, str], principal: str) -> web.Response:
        sub = f"/subscriptions/{self.subscription}".lower()
        low = path.lower().rstrip("/")
        if not low.startswith(sub):
            return _error(404, "SubscriptionNotFound", f"The subscription '{path.split('/')[2]}' could not be found.")
        rest = low[len(sub):]
        if low.endswith("/providers/microsoft.authorization/permissions"):
            return self._permissions(path[: -len("/providers/Microsoft.Authorization/permissions")], principal)
        if rest == "/resourcegroups":
            return self._list("Microsoft.Resources/resourceGroups")
        simple = {"/providers/microsoft.storage/storageaccounts": "Microsoft.Storage/storageAccounts",
                  "/providers/microsoft.managedidentity/userassignedidentities":
                      "Microsoft.ManagedIdentity/userAssignedIdentities",
                  "/providers/microsoft.containerservice/managedclusters": "Microsoft.ContainerService/managedClusters",
                  "/providers/microsoft.compute/disks": "Microsoft.Compute/disks",
                  "/providers/microsoft.security/assessments": "Microsoft.Security/assessments"}
        if rest in simple:
            return self._list(simple[rest])
        if rest == "/providers/microsoft.authorization/roleassignments":
            match = re.search(r"principalId eq '([^']+)'", query.get("$filter", ""), re.I)
            value = [a for a in self.assignments if not match or a["properties"]["principalId"] == match.group(1)]
            return web.json_response({"value": value})
        if re.fullmatch(r"/providers/microsoft\.authorization/roledefinitions/[0-9a-f-]+", rest):
            return self._role_definition(rest.rsplit("/", 1)[1])
        if low.endswith("/agentpools"):
            return self._list("Microsoft.ContainerService/managedClusters/agentPools", path[: -len("/agentPools")])
        return _error(404, "NotFound", f"No route for {path} in the fake Azure Resource Manager.")

    def _compute_write(self, method: str, path: str, body: dict[str, Any], origin: str) -> web.Response:
        """A PUT or DELETE of a snapshot or disk, answered as an ARM long-running operation."""
        key = path.lower().rstrip("/")
        op = uuid.uuid4().hex
        location = path.split("/providers/")[0].split("/resourceGroups/")[0]
        headers = {"Azure-AsyncOperation": f"{origin}{location}/providers/Microsoft.Compute/asyncOperations/{op}"
                                           "?api-version=2024-03-02", "Retry-After": "1"}
        if method == "DELETE":
            if key not in self.resources:
                return web.Response(status=204)
            self.operations[op] = {"polls": 1, "done": lambda: self.resources.pop(key, None)}
            return web.Response(status=202, headers={**headers, "Location": headers["Azure-AsyncOperation"]})
        if not body.get("location"):
            return _error(400, "LocationRequired", "The location property is required for this definition.")
        props = dict(body.get("properties") or {})
        creation = props.get("creationData") or {}
        source = self.resources.get(str(creation.get("sourceResourceId", "")).lower())
        if creation.get("createOption") == "Copy" and source is None:
            return _error(404, "ResourceNotFound", f"The Resource '{creation.get('sourceResourceId')}' was not found.")
        kind = "Microsoft.Compute/snapshots" if "/snapshots/" in key else "Microsoft.Compute/disks"
        size = ((source or {}).get("properties") or {}).get("diskSizeGB") or props.get("diskSizeGB") or 32
        resource = {"id": path, "name": path.rsplit("/", 1)[1], "type": kind, "location": body["location"],
                    "tags": body.get("tags") or {}, **({"sku": body["sku"]} if body.get("sku") else {}),
                    **({"zones": body["zones"]} if body.get("zones") else {}),
                    "properties": {**props, "diskSizeGB": size, "provisioningState": "Creating",
                                   "timeCreated": "2026-01-01T00:00:00Z"}}
        existed = key in self.resources
        self.resources[key] = resource

        def done() -> None:
            resource["properties"]["provisioningState"] = "Succeeded"
            if kind == "Microsoft.Compute/snapshots" and props.get("incremental"):
                resource["properties"]["completionPercent"] = 100.0
        self.operations[op] = {"polls": 1, "done": done}
        return web.json_response(resource, status=200 if existed else 202,
                                 headers={**headers, "Location": headers["Azure-AsyncOperation"]})

    def _operation(self, op: str) -> web.Response:
        """An Azure-AsyncOperation status: InProgress for the first poll(s), then Succeeded."""
        state = self.operations.get(op)
        if state is None:
            return _error(404, "NotFound", f"The operation {op} was not found.")
        if state["polls"] > 0:
            state["polls"] -= 1
            return web.json_response({"name": op, "status": "InProgress", "startTime": "2026-01-01T00:00:00Z"},
                                     headers={"Retry-After": "1"})
        finish = state.pop("done", None)
        if finish is not None:
            finish()
        return web.json_response({"name": op, "status": "Succeeded", "startTime": "2026-01-01T00:00:00Z",
                                  "endTime": "2026-01-01T00:00:01Z"})

    # ------------------------------------------------------------- export template and redeploy

    def _export(self, rg: str, body: dict[str, Any], origin: str) -> web.Response:
        """`Resource Groups - Export Template`: 202 + Location; the template is taken now, served when polled."""
        group = self.resources.get(self.rg_id(rg).lower())
        if group is None:
            return _error(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
        options = [o.strip() for o in str(body.get("options") or "").split(",") if o.strip()]
        unknown = [o for o in options if o not in EXPORT_OPTIONS]
        if unknown or not isinstance(body.get("resources"), list):
            return _error(400, "InvalidRequestContent", f"The request content was invalid: options {unknown} or "
                                                        "resources (an array of ids, or ['*']).")
        wanted = [str(r).lower() for r in body["resources"]]
        prefix = f"{self.rg_id(rg)}/providers/".lower()
        chosen = [r for key, r in sorted(self.resources.items())
                  if key.startswith(prefix) and ("*" in wanted or key in wanted)
                  and r["type"].lower() not in NOT_EXPORTED]
        template = export_template(chosen, options)
        error = self.export_errors.get(rg.lower())
        op = uuid.uuid4().hex
        self.operations[op] = {"polls": 1, "result": {"template": template, "error": error}}
        where = f"{origin}/subscriptions/{self.subscription}/providers/Microsoft.Resources/locations/" \
                f"{group['location']}/operationresults/{op}?api-version=2025-04-01"
        return web.Response(status=202, headers={"Location": where, "Retry-After": "1"})

    def _deploy(self, path: str, body: dict[str, Any], origin: str) -> web.Response:
        """`Deployments - Create Or Update` at a resource group: 201 + Azure-AsyncOperation, applied when done."""
        match = _DEPLOYMENT.match(path)
        assert match is not None
        rg, name = match.group("rg"), match.group("name")
        if self.rg_id(rg).lower() not in self.resources:
            return _error(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
        props = body.get("properties") or {}
        if props.get("mode") not in ("Incremental", "Complete") or not isinstance(props.get("template"), dict):
            return _error(400, "InvalidRequestContent", "properties.mode (Incremental or Complete) and "
                                                        "properties.template are required.")
        if props["mode"] == "Complete":
            return _error(400, "InvalidRequestContent", "Complete mode is not served by this fake.")
        key = f"{self.rg_id(rg)}/providers/Microsoft.Resources/deployments/{name}"
        existed = key.lower() in self.resources
        deployment: dict[str, Any] = {"id": key, "name": name, "type": "Microsoft.Resources/deployments",
                                      "properties": {"mode": "Incremental", "provisioningState": "Accepted",
                                                     "timestamp": "2026-01-01T00:00:00Z",
                                                     "correlationId": str(uuid.uuid4())}}
        self.resources[key.lower()] = deployment
        template, parameters = props["template"], props.get("parameters") or {}
        op = uuid.uuid4().hex

        def done() -> dict[str, Any] | None:
            failure = self._apply_template(rg, template, parameters, deployment)
            deployment["properties"]["provisioningState"] = "Failed" if failure else "Succeeded"
            if failure:
                deployment["properties"]["error"] = failure
            return failure
        self.operations[op] = {"polls": 1, "done": done, "running": "Running"}
        status = f"{origin}{key}/operationStatuses/{op}?api-version=2026-06-01"
        return web.json_response(deployment, status=200 if existed else 201,
                                 headers={"Azure-AsyncOperation": status, "Retry-After": "1"})

    def _apply_template(self, rg: str, template: dict[str, Any], parameters: dict[str, Any],
                        deployment: dict[str, Any]) -> dict[str, Any] | None:
        """Put every resource of the template into the group (incremental); an error body when one cannot be."""
        values = {k: (v or {}).get("defaultValue") for k, v in (template.get("parameters") or {}).items()}
        values.update({k: (v or {}).get("value") for k, v in parameters.items()})
        made = []
        for res in template.get("resources") or []:
            name = resolve_name(str(res.get("name", "")), values)
            rtype = str(res.get("type", ""))
            if not name or "/" not in rtype or rtype.lower() in NOT_EXPORTED:
                return {"code": "InvalidTemplate", "message": f"Deployment template validation failed: the "
                                                              f"resource '{rtype}/{res.get('name')}' cannot be "
                                                              "resolved or deployed at a resource group."}
            rid = f"{self.rg_id(rg)}/providers/{rtype}/{name}"
            old = self.resources.get(rid.lower()) or {}
            kept = {k: v for k, v in (old.get("properties") or {}).items() if k in READ_ONLY}
            new = {"id": old.get("id", rid), "name": name, "type": rtype, "location": res.get("location"),
                   **{k: res[k] for k in ("sku", "kind", "tags", "zones") if k in res},
                   "properties": {**(res.get("properties") or {}), **kept}}
            self.resources[rid.lower()] = new
            made.append({"id": rid})
        deployment["properties"]["outputResources"] = made
        return None

    def _arm_operation(self, op: str) -> web.Response:
        """A Location (export: 202, then 200 and the result) or Azure-AsyncOperation (deployment) poll."""
        state = self.operations.get(op)
        if state is None:
            return _error(404, "NotFound", f"The operation {op} was not found.")
        if "result" in state:
            if state["polls"] > 0:
                state["polls"] -= 1
                return web.Response(status=202, headers={"Retry-After": "1"})
            return web.json_response(state["result"])
        if state["polls"] > 0:
            state["polls"] -= 1
            return web.json_response({"status": state["running"]}, headers={"Retry-After": "1"})
        if "done" in state:
            state["failure"] = state.pop("done")()
        failure = state.get("failure")
        if failure:
            return web.json_response({"status": "Failed", "error": failure})
        return web.json_response({"status": "Succeeded"})

    def _role_definition(self, guid: str) -> web.Response:
        for name, role in self._roles().items():
            if role["id"] == guid:
                custom = name in self.custom_roles
                return web.json_response({
                    "id": f"/subscriptions/{self.subscription}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
                    "name": guid, "type": "Microsoft.Authorization/roleDefinitions",
                    "properties": {"roleName": name, "type": "CustomRole" if custom else "BuiltInRole",
                                   "assignableScopes": [f"/subscriptions/{self.subscription}"] if custom else ["/"],
                                   "permissions": [{"actions": role.get("actions", []),
                                                    "notActions": role.get("notActions", []),
                                                    "dataActions": role.get("dataActions", []),
                                                    "notDataActions": role.get("notDataActions", [])}]}})
        return _error(404, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{guid}' does not exist.")

    def _permissions(self, scope: str, principal: str) -> web.Response:
        """What the *caller* may do at `scope`: its role assignments at the scope or any parent scope."""
        low = scope.lower().replace("//", "/")
        if low not in self.resources:
            rg = re.search(r"/resourcegroups/([^/]+)", low)
            if rg and self.rg_id(rg.group(1)).lower() not in self.resources:
                return _error(404, "ResourceGroupNotFound", f"Resource group '{rg.group(1)}' could not be found.")
            return _error(404, "ResourceNotFound", f"The Resource '{scope}' was not found.")
        value = []
        for a in self.assignments:
            props = a["properties"]
            if props["principalId"] != principal or not (low + "/").startswith(props["scope"].lower().rstrip("/") + "/"):
                continue
            guid = props["roleDefinitionId"].rsplit("/", 1)[1]
            role = next(r for r in self._roles().values() if r["id"] == guid)
            value.append({"actions": role.get("actions", []), "notActions": role.get("notActions", []),
                          "dataActions": role.get("dataActions", []), "notDataActions": role.get("notDataActions", [])})
        return web.json_response({"value": value})

    async def _graph(self, request: web.Request, path: str) -> web.Response:
        if request.method == "POST" and path == "/v1.0/directoryObjects/getByIds":
            body = await request.json()
            ids = body.get("ids") or []
            if len(ids) > 1000:
                return _error(400, "Request_BadRequest", "Too many ids: at most 1000.")
            value = [{"@odata.type": "#microsoft.graph.group", "id": i, "displayName": self.groups[i]}
                     for i in ids if i in self.groups]
            return web.json_response({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects",
                                      "value": value})
        return _error(404, "Request_ResourceNotFound", f"Resource '{path}' does not exist.")


_COMPUTE_WRITE = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Compute/"
                            r"(snapshots|disks)/[^/]+/?$", re.I)


_EXPORT = re.compile(r"^/subscriptions/[^/]+/resourcegroups/(?P<rg>[^/]+)/exportTemplate/?$", re.I)
_DEPLOYMENT = re.compile(r"^/subscriptions/[^/]+/resourcegroups/(?P<rg>[^/]+)/providers/Microsoft\.Resources/"
                         r"deployments/(?P<name>[^/]+)/?$", re.I)
_FAULTS = {403: ("AuthorizationFailed", "The client does not have authorization to perform action "
                                        "'Microsoft.Resources/subscriptions/resourceGroups/exportTemplate/action' over "
                                        "scope '{scope}' or the scope is invalid."),
           429: ("TooManyRequests", "injected fault")}


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)
