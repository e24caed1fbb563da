"""Cloud access for workloads through ACK and ASO: grant an IAM role what it lacks, give a ServiceAccount
its own IAM role (IRSA), and give a managed identity a built-in Azure role on a storage account or a
resource group.

Why these three: they are the fixes of "pod X cannot do Y in the cloud". A grant is an inline policy
naming exactly the actions and resources that were found missing (never a wildcard unless asked, and
then the step is high risk). A role the operator did not create is adopted by an ACK `Role` object that
repeats its current trust and policies (read from AWS) and adds the new inline policy, with
`deletion-policy: retain` so that restore never deletes a role someone else made. An IRSA role is new:
an ACK `Policy` and a `Role` trusting the cluster's OIDC provider for exactly that ServiceAccount; the
ServiceAccount's annotation is the `sa-aws-role` action. Azure role assignments are ASO
`RoleAssignment`s owned by the scope's ARM id; deleting one (restore) removes the assignment.

Pure apart from reads through the `ClusterReader` (and the cloud it carries).
"""

from __future__ import annotations

import json
from typing import Any

from controller.api.types import ObjectRef
from controller.catalog.base import (
    NOW_PLACEHOLDER,
    ActionSpec,
    Check,
    Rendered,
    Risk,
    describe_ref,
    k8s_name,
    live_object,
    nothing,
    ref,
)
from controller.catalog.cloud_hardening import (
    ACK_ADOPTION,
    ACK_ADOPTION_FIELDS,
    ACK_DELETION,
    adoption_note,
    managed_object,
)
from controller.catalog.params_cloud import AzureRoleAssignmentParams, IamGrantParams, IrsaRoleParams
from controller.cloud import azure_roles
from controller.cloud.policydocs import allow_document, irsa_trust
from controller.cloud.seam import CloudError, cloud_of
from controller.planning.types import ClusterReader
from renderer.manifests import render_manifest

IAM_API = "iam.services.k8s.aws/v1alpha1"
AUTHZ_API = "authorization.azure.com/v1api20220401"


def _doc(actions: list[str], resources: list[str], sid: str) -> str:
    return json.dumps(allow_document(actions, resources, sid), separators=(",", ":"))


def _broad(actions: list[str], resources: list[str]) -> bool:
    return any(a == "*" or a.endswith(":*") for a in actions) or "*" in resources


class GrantIamPermissions(ActionSpec[IamGrantParams]):
    def title(self, params: IamGrantParams, cluster: ClusterReader | None = None) -> str:
        return (f"Allow IAM role {params.role} {', '.join(params.actions)} on {', '.join(params.resources)} "
                f"(inline policy {params.policy_name}, ACK Role in {params.namespace})")

    def risk_of(self, params: IamGrantParams, cluster: ClusterReader | None = None) -> Risk:
        return "high" if _broad(params.actions, params.resources) else self.risk

    def targets(self, params: IamGrantParams, cluster: ClusterReader) -> list[ObjectRef]:
        obj = managed_object(cluster, IAM_API, "Role", params.namespace, params.role, "name")
        return [ref(IAM_API, "Role", obj["metadata"]["name"] if obj else k8s_name(params.role), params.namespace)]

    def render(self, params: IamGrantParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        target = self.targets(params, cluster)[0]
        if not target.name:
            return nothing(f"Cannot make a Kubernetes object name from role {params.role!r}.")
        document = _doc(params.actions, params.resources, params.policy_name)
        if live_object(cluster, target) is not None:
            manifest = render_manifest("iam-role-inline-policy", name=target.name, namespace=target.namespace,
                                       annotations={}, role=params.role, adopt=False,
                                       inline={params.policy_name: document})
            return Rendered(manifests=[manifest], notes=[f"{describe_ref(target)} manages the role: the inline "
                                                         "policy is added to it."])
        aws = cloud_of(cluster).aws
        if aws is None:
            return nothing(f"Role {params.role} is not managed by ACK in {params.namespace}, and the operator has no "
                           "AWS access configured (AIOP_AWS) to read it and adopt it safely.")
        try:
            live = aws.role(params.role)
        except CloudError as exc:
            return nothing(f"Cannot read IAM role {params.role}: {exc}")
        if live is None:
            return nothing(f"There is no IAM role {params.role} in AWS account {aws.account}.")
        inline = {p.name: json.dumps(p.document, separators=(",", ":")) for p in live.inline}
        if params.policy_name in inline:
            return nothing(f"Role {params.role} already has an inline policy {params.policy_name}; choose another name.")
        manifest = render_manifest(
            "iam-role-inline-policy", name=target.name, namespace=target.namespace,
            annotations={ACK_ADOPTION: "adopt-or-create", ACK_ADOPTION_FIELDS: json.dumps({"name": params.role}),
                         ACK_DELETION: "retain"},
            role=params.role, adopt=True, path=live.path, max_session_duration=live.max_session_duration,
            trust=json.dumps(live.trust, separators=(",", ":")), attached=[p.arn for p in live.attached],
            inline={**inline, params.policy_name: document})
        return Rendered(manifests=[manifest], notes=[adoption_note("ACK Role", f"Role {params.role}")])

    def checks(self, params: IamGrantParams, cluster: ClusterReader) -> list[Check]:
        document = _doc(params.actions, params.resources, params.policy_name)
        return [Check(ref=self.targets(params, cluster)[0],
                      expect={"spec": {"name": params.role, "inlinePolicies": {params.policy_name: document}}})]

    def restore(self, params: IamGrantParams, cluster: ClusterReader) -> str:
        if self.creates(params, cluster):
            return ("Revert the thread commit and delete the adopted Role object (deletion-policy retain: the role stays; "
                    f"remove the inline policy {params.policy_name} in a new plan if it must go).")
        return super().restore(params, cluster)


class CreateIrsaRole(ActionSpec[IrsaRoleParams]):
    def title(self, params: IrsaRoleParams, cluster: ClusterReader | None = None) -> str:
        return (f"Create IAM role {params.role} for ServiceAccount {params.namespace}/{params.service_account} (IRSA), "
                f"allowed {', '.join(params.actions)} on {', '.join(params.resources)} (ACK Role and Policy)")

    def risk_of(self, params: IrsaRoleParams, cluster: ClusterReader | None = None) -> Risk:
        return "high" if _broad(params.actions, params.resources) else self.risk

    def _names(self, params: IrsaRoleParams) -> tuple[str, str]:
        base = k8s_name(params.role)
        return base, k8s_name(f"{params.role}-policy")

    def targets(self, params: IrsaRoleParams, cluster: ClusterReader) -> list[ObjectRef]:
        role_object, policy_object = self._names(params)
        return [ref(IAM_API, "Role", role_object, params.namespace), ref(IAM_API, "Policy", policy_object, params.namespace)]

    def reads(self, params: IrsaRoleParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref("v1", "ServiceAccount", params.service_account, params.namespace)]

    def render(self, params: IrsaRoleParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        role_object, policy_object = self._names(params)
        if not role_object:
            return nothing(f"Cannot make a Kubernetes object name from role {params.role!r}.")
        aws = cloud_of(cluster).aws
        issuer, account = params.oidc_issuer, params.account_id
        try:
            if not issuer and aws is not None:
                issuers = aws.oidc_issuers()
                if len(issuers) == 1:
                    issuer = next(iter(issuers.values()))
                elif issuers:
                    return nothing("Several EKS clusters (" + ", ".join(sorted(issuers)) + "): say which cluster's "
                                   "OIDC issuer the role should trust (oidc_issuer).")
            if not account and aws is not None:
                account = aws.account
        except CloudError as exc:
            return nothing(f"Cannot read the EKS cluster's OIDC issuer: {exc}")
        if not issuer or not account:
            return nothing("The role's trust needs the cluster's OIDC issuer and the AWS account id; neither was given "
                           "and the operator has no AWS access configured to read them.")
        notes = []
        if live_object(cluster, self.reads(params, cluster)[0]) is None:
            notes.append(f"ServiceAccount {params.namespace}/{params.service_account} does not exist yet.")
        trust = json.dumps(irsa_trust(account, issuer, params.namespace, params.service_account), separators=(",", ":"))
        policy = render_manifest("iam-policy", name=policy_object, namespace=params.namespace,
                                 policy_name=f"{params.role}-policy",
                                 description=f"for {params.namespace}/{params.service_account} (ai-operator)",
                                 document=_doc(params.actions, params.resources, params.role))
        role = render_manifest("iam-role-irsa", name=role_object, namespace=params.namespace, role=params.role,
                               description=f"IRSA role of {params.namespace}/{params.service_account} (ai-operator)",
                               trust=trust, policy_object=policy_object)
        notes.append(f"Pods of {params.service_account} get the role after the ServiceAccount carries "
                     f"eks.amazonaws.com/role-arn: arn:aws:iam::{account}:role/{params.role}, and restart.")
        return Rendered(manifests=[policy, role], notes=notes)


class AssignAzureRole(ActionSpec[AzureRoleAssignmentParams]):
    def title(self, params: AzureRoleAssignmentParams, cluster: ClusterReader | None = None) -> str:
        scope = f"storage account {params.storage_account}" if params.storage_account else \
            f"resource group {params.resource_group}"
        return (f"Give managed identity {params.client_id} the Azure role {params.role} on {scope} "
                f"(ASO RoleAssignment in {params.namespace})")

    def risk_of(self, params: AzureRoleAssignmentParams, cluster: ClusterReader | None = None) -> Risk:
        return "high" if params.role == "Contributor" else self.risk

    def targets(self, params: AzureRoleAssignmentParams, cluster: ClusterReader) -> list[ObjectRef]:
        scope = params.storage_account or params.resource_group or ""
        name = k8s_name(f"{params.client_id[:8]}-{params.role}-{scope}")
        return [ref(AUTHZ_API, "RoleAssignment", name, params.namespace)]

    def render(self, params: AzureRoleAssignmentParams, cluster: ClusterReader,
               now: str = NOW_PLACEHOLDER) -> Rendered:
        azure = cloud_of(cluster).azure
        if azure is None:
            return nothing("A role assignment names the identity's principal id and the scope's resource id; the operator "
                           "has no Azure access configured (AIOP_AZURE_SUBSCRIPTION_ID) to look them up.")
        try:
            identity = azure.identity_by_client_id(params.client_id)
            if identity is None:
                return nothing(f"No user-assigned managed identity has client id {params.client_id} in subscription "
                               f"{azure.subscription}.")
            if params.storage_account:
                account = azure.storage_account(params.storage_account)
                if account is None:
                    return nothing(f"There is no storage account {params.storage_account} in subscription "
                                   f"{azure.subscription}.")
                scope = account.resource_id
            else:
                groups = {g.name.lower(): g for g in azure.resource_groups()}
                group = groups.get(str(params.resource_group).lower())
                if group is None:
                    return nothing(f"There is no resource group {params.resource_group} in subscription {azure.subscription}.")
                scope = group.resource_id
            held = [a for a in azure.role_assignments(identity.principal_id)
                    if a.role_name == params.role and a.scope.lower() == scope.lower()]
        except CloudError as exc:
            return nothing(f"Cannot read Azure: {exc}")
        if held:
            return nothing(f"Identity {identity.name} already has {params.role} on that scope.")
        target = self.targets(params, cluster)[0]
        manifest = render_manifest("azure-role-assignment", name=target.name, namespace=target.namespace, scope=scope,
                                   principal_id=identity.principal_id,
                                   role_definition=azure_roles.definition_id(params.role, azure.subscription))
        return Rendered(manifests=[manifest], notes=[f"Identity {identity.name} (principal {identity.principal_id}) "
                                                     f"gets {params.role} on {scope}."])


GRANT_IAM_PERMISSIONS = GrantIamPermissions(
    name="grant-iam-permissions", context="cloud-aws", params=IamGrantParams, risk="medium",
    description=("Add an inline policy to an existing IAM role (through an ACK Role) allowing exactly the given "
                 "actions on the given resource ARNs, e.g. s3:PutObject on arn:aws:s3:::invoices/*. Adopts the role "
                 "into ACK (retained on delete) when no Role object manages it yet."),
)
CREATE_IRSA_ROLE = CreateIrsaRole(
    name="create-irsa-role", context="cloud-aws", params=IrsaRoleParams, risk="medium",
    description=("Create an IAM role for one Kubernetes ServiceAccount (EKS IRSA) as ACK Role and Policy objects: "
                 "trust limited to that ServiceAccount through the cluster's OIDC provider, allowed the given "
                 "actions on the given resources. Annotate the ServiceAccount with sa-aws-role."),
)
ASSIGN_AZURE_ROLE = AssignAzureRole(
    name="assign-azure-role", context="cloud-azure", params=AzureRoleAssignmentParams, risk="medium",
    description=("Give a user-assigned managed identity (by client id, as in Workload Identity) a built-in Azure role "
                 "(Storage Blob Data Reader/Contributor, AcrPull, Reader...) on a storage account or a resource group, "
                 "as an Azure Service Operator RoleAssignment."),
)
ACTIONS: tuple[ActionSpec[Any], ...] = (GRANT_IAM_PERMISSIONS, CREATE_IRSA_ROLE, ASSIGN_AZURE_ROLE)
