"""Who a workload is: ServiceAccount cloud identity (EKS IRSA, AKS Workload Identity) and namespaced RBAC.

Why cloud identity is two annotations and a label, not credentials: on EKS the pod identity webhook
gives pods of a ServiceAccount annotated `eks.amazonaws.com/role-arn` a web identity token for that
role; on AKS the Workload Identity webhook does the same for pods labelled
`azure.workload.identity/use: "true"` whose ServiceAccount carries `azure.workload.identity/client-id`.
No secret is written anywhere. Both webhooks act when a pod starts, so the plan says which workloads
must restart (the Azure action changes their pod template, which restarts them).

Why a Role needs the rights it grants: the API server refuses to create a Role (or bind one) holding
permissions the requester does not have (RBAC escalation prevention). The plan lists every rule as a
permission the requester must hold, so the SubjectAccessReviews say "missing" before anything runs,
exactly where the API server would refuse. Only namespaced Roles can be made or bound; ClusterRoles
stay out of the catalog.
"""

from __future__ import annotations

from typing import Any

from controller.api.types import ObjectRef, Permission
from controller.catalog.base import (
    NOW_PLACEHOLDER,
    ActionSpec,
    Check,
    Rendered,
    Risk,
    describe_ref,
    live_object,
    missing,
    nothing,
    ref,
    unique_permissions,
)
from controller.catalog.params_everyday import (
    AwsRoleParams,
    AzureIdentityParams,
    RoleBindingParams,
    RoleParams,
    RoleRule,
)
from controller.planning.types import ClusterReader
from renderer.manifests import render_manifest

APPS = "apps/v1"
RBAC = "rbac.authorization.k8s.io/v1"
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
AZURE_CLIENT_ID = "azure.workload.identity/client-id"
AZURE_TENANT_ID = "azure.workload.identity/tenant-id"
AZURE_USE_LABEL = "azure.workload.identity/use"


def users_of_account(cluster: ClusterReader, account: str, namespace: str) -> list[str]:
    """Deployments whose pods run as the ServiceAccount."""
    out = []
    for obj in cluster.list(APPS, "Deployment", namespace):
        spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        if spec.get("serviceAccountName", spec.get("serviceAccount", "default")) == account:
            out.append(str(obj["metadata"]["name"]))
    return out


def _account_manifest(name: str, namespace: str, annotations: dict[str, str]) -> dict[str, Any]:
    return render_manifest("object-metadata", api_version="v1", kind="ServiceAccount", name=name,
                           namespace=namespace, labels={}, annotations=dict(sorted(annotations.items())))


class AwsRole(ActionSpec[AwsRoleParams]):
    def title(self, params: AwsRoleParams, cluster: ClusterReader | None = None) -> str:
        return f"Let ServiceAccount {params.namespace}/{params.name} assume IAM role {params.role_arn} (IRSA)"

    def targets(self, params: AwsRoleParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref("v1", "ServiceAccount", params.name, params.namespace)]

    def extra_permissions(self, params: AwsRoleParams, cluster: ClusterReader) -> list[Permission]:
        return [Permission(verb="list", group="apps", resource="deployments", namespace=params.namespace)]

    def render(self, params: AwsRoleParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        r = self.targets(params, cluster)[0]
        notes = ["The role's trust policy must allow this ServiceAccount through the cluster's OIDC provider "
                 f"(system:serviceaccount:{params.namespace}:{params.name}); that is set in AWS IAM, not here."]
        if live_object(cluster, r) is None:
            notes.insert(0, f"{describe_ref(r)} does not exist yet: it is created with the annotation.")
        users = users_of_account(cluster, params.name, params.namespace)
        if users:
            notes.append("Pods get the role when they start: restart " + ", ".join(users) + " after this change.")
        else:
            notes.append("No Deployment runs as this ServiceAccount yet (set serviceAccountName to use it).")
        return Rendered(manifests=[_account_manifest(params.name, params.namespace, {IRSA_ANNOTATION: params.role_arn})],
                        notes=notes)

    def checks(self, params: AwsRoleParams, cluster: ClusterReader) -> list[Check]:
        return [Check(ref=self.targets(params, cluster)[0],
                      expect={"metadata": {"annotations": {IRSA_ANNOTATION: params.role_arn}}})]


class AzureIdentity(ActionSpec[AzureIdentityParams]):
    def title(self, params: AzureIdentityParams, cluster: ClusterReader | None = None) -> str:
        pods = f" and label the pods of {', '.join(params.workloads)}" if params.workloads else ""
        return (f"Connect ServiceAccount {params.namespace}/{params.name} to Azure Workload Identity "
                f"(client id {params.client_id}){pods}")

    def targets(self, params: AzureIdentityParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref("v1", "ServiceAccount", params.name, params.namespace),
                *(ref(APPS, "Deployment", w, params.namespace) for w in params.workloads)]

    def render(self, params: AzureIdentityParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        account = self.targets(params, cluster)[0]
        annotations = {AZURE_CLIENT_ID: params.client_id}
        if params.tenant_id:
            annotations[AZURE_TENANT_ID] = params.tenant_id
        manifests = [_account_manifest(params.name, params.namespace, annotations)]
        notes = ["The managed identity (or app registration) needs a federated credential for "
                 f"system:serviceaccount:{params.namespace}:{params.name}; that is set in Azure, not here."]
        if live_object(cluster, account) is None:
            notes.insert(0, f"{describe_ref(account)} does not exist yet: it is created with the annotation.")
        for workload in params.workloads:
            w = ref(APPS, "Deployment", workload, params.namespace)
            if live_object(cluster, w) is None:
                return missing(w)
            manifests.append(render_manifest("workload-pod-identity", api_version=APPS, kind="Deployment",
                                             name=workload, namespace=params.namespace,
                                             labels={AZURE_USE_LABEL: "true"}, service_account=params.name))
        if params.workloads:
            notes.append(f"The pods of {', '.join(params.workloads)} are replaced so the webhook injects the token.")
        else:
            notes.append("No Deployment was named: pods need the label azure.workload.identity/use=\"true\" and this "
                         "ServiceAccount to get the identity.")
        return Rendered(manifests=manifests, notes=notes)


def rule_wire(rule: RoleRule) -> dict[str, Any]:
    out: dict[str, Any] = {"apiGroups": list(rule.api_groups), "resources": list(rule.resources),
                           "verbs": list(rule.verbs)}
    if rule.resource_names:
        out["resourceNames"] = list(rule.resource_names)
    return out


def rule_permissions(rules: list[dict[str, Any]], namespace: str) -> list[Permission]:
    """What the requester must hold to create (or bind) a Role with these rules: each verb on each resource."""
    perms = []
    for rule in rules:
        names = rule.get("resourceNames") or [""]
        for group in rule.get("apiGroups") or [""]:
            for resource in rule.get("resources") or []:
                base, _, sub = str(resource).partition("/")
                for verb in rule.get("verbs") or []:
                    for name in names:
                        perms.append(Permission(verb=verb, group=group, resource=base, subresource=sub,
                                                namespace=namespace, name=name))
    return unique_permissions(perms)


def _broad(rules: list[dict[str, Any]]) -> bool:
    return any("*" in (r.get("verbs") or []) or "*" in (r.get("resources") or []) or "secrets" in (r.get("resources") or [])
               for r in rules)


class CreateRole(ActionSpec[RoleParams]):
    def title(self, params: RoleParams, cluster: ClusterReader | None = None) -> str:
        grants = "; ".join(f"{', '.join(r.verbs)} {', '.join(r.resources)}" for r in params.rules)
        return f"Create Role {params.namespace}/{params.name} allowing {grants}"

    def risk_of(self, params: RoleParams, cluster: ClusterReader | None = None) -> Risk:
        return "high" if _broad([rule_wire(r) for r in params.rules]) else self.risk

    def targets(self, params: RoleParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(RBAC, "Role", params.name, params.namespace)]

    def extra_permissions(self, params: RoleParams, cluster: ClusterReader) -> list[Permission]:
        return rule_permissions([rule_wire(r) for r in params.rules], params.namespace)

    def render(self, params: RoleParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        notes = ["The Role grants nothing until it is bound (create-rolebinding)."]
        if live_object(cluster, self.targets(params, cluster)[0]) is not None:
            notes.append(f"Role {params.name} exists already: its rules are replaced by these.")
        manifest = render_manifest("role", name=params.name, namespace=params.namespace,
                                   rules=[rule_wire(r) for r in params.rules])
        return Rendered(manifests=[manifest], notes=notes)


def subjects(params: RoleBindingParams) -> list[dict[str, str]]:
    out = [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": u} for u in params.users]
    out += [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": g} for g in params.groups]
    out += [{"kind": "ServiceAccount", "name": s, "namespace": params.namespace} for s in params.service_accounts]
    return out


class CreateRoleBinding(ActionSpec[RoleBindingParams]):
    def title(self, params: RoleBindingParams, cluster: ClusterReader | None = None) -> str:
        who = ", ".join([*params.users, *(f"group {g}" for g in params.groups),
                         *(f"ServiceAccount {s}" for s in params.service_accounts)])
        return f"Bind Role {params.namespace}/{params.role} to {who} (RoleBinding {params.name})"

    def targets(self, params: RoleBindingParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(RBAC, "RoleBinding", params.name, params.namespace)]

    def reads(self, params: RoleBindingParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(RBAC, "Role", params.role, params.namespace)]

    def _role(self, params: RoleBindingParams, cluster: ClusterReader) -> dict[str, Any] | None:
        return live_object(cluster, self.reads(params, cluster)[0])

    def risk_of(self, params: RoleBindingParams, cluster: ClusterReader | None = None) -> Risk:
        role = self._role(params, cluster) if cluster is not None else None
        return "high" if role is None or _broad(list(role.get("rules") or [])) else self.risk

    def extra_permissions(self, params: RoleBindingParams, cluster: ClusterReader) -> list[Permission]:
        role = self._role(params, cluster)
        return rule_permissions(list((role or {}).get("rules") or []), params.namespace)

    def render(self, params: RoleBindingParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        role_ref = self.reads(params, cluster)[0]
        role = self._role(params, cluster)
        if role is None:
            return nothing(f"There is no {describe_ref(role_ref)} to bind (only namespaced Roles can be bound).")
        existing = live_object(cluster, self.targets(params, cluster)[0])
        if existing is not None and (existing.get("roleRef") or {}).get("name") != params.role:
            return nothing(f"RoleBinding {params.name} exists already for another role; a binding's role cannot "
                           "change (choose another name).")
        grants = "; ".join(f"{', '.join(r.get('verbs') or [])} {', '.join(r.get('resources') or [])}"
                           for r in role.get("rules") or [])
        manifest = render_manifest("rolebinding", name=params.name, namespace=params.namespace, role=params.role,
                                   subjects=subjects(params))
        return Rendered(manifests=[manifest], notes=[f"They get, in {params.namespace} only: {grants or 'nothing'}."])


SA_AWS_ROLE = AwsRole(
    name="sa-aws-role", context="cloud-aws", params=AwsRoleParams, risk="medium",
    description=("EKS IRSA: let a ServiceAccount's pods assume an AWS IAM role (the eks.amazonaws.com/role-arn "
                 "annotation). The role's trust policy is managed in AWS."),
)
SA_AZURE_IDENTITY = AzureIdentity(
    name="sa-azure-identity", context="cloud-azure", params=AzureIdentityParams, risk="medium",
    description=("AKS Workload Identity: annotate a ServiceAccount with the managed identity's client id and label "
                 "the pods of the Deployments that use it (azure.workload.identity/use: \"true\")."),
)
CREATE_ROLE = CreateRole(
    name="create-role", context="security", params=RoleParams, risk="medium",
    description=("Create a namespaced RBAC Role with rules (API groups, resources, verbs). The requester must hold "
                 "every permission it grants."),
)
CREATE_ROLEBINDING = CreateRoleBinding(
    name="create-rolebinding", context="security", params=RoleBindingParams, risk="medium",
    description=("Bind a namespaced Role to users, groups or ServiceAccounts of the namespace (a RoleBinding). "
                 "ClusterRoles cannot be bound by this operator."),
)
ACTIONS: tuple[ActionSpec[Any], ...] = (SA_AWS_ROLE, SA_AZURE_IDENTITY, CREATE_ROLE, CREATE_ROLEBINDING)
