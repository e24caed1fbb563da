"""Troubleshooting across the boundary: a workload → its ServiceAccount → its cloud identity → what that
identity may do on the resource → the missing piece, in plain words, with a fix as catalog calls.

Why one chain per cloud, walked step by step: "billing can't write to s3://invoices" has a handful of
causes and each step rules one out — no ServiceAccount annotation (pods fall back to the node's role),
a role that does not exist or does not trust this ServiceAccount, a bucket policy that denies, or
simply no policy that allows the action. The answer names the step that fails and shows the evidence
(which policy allows what), and the fix changes only that: an annotation, an inline grant of exactly
the missing action on exactly that resource, a built-in Azure role on exactly that account. The
decision itself is AWS's (IAM policy simulation, with the bucket policy) and Azure's (role
definitions), not a guess. Image pulls from ECR are the same question asked for the node role.

Kubernetes is read through the planner's `ClusterReader` (as the requester, redacted); the cloud
through the seam. No I/O of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from controller.cloud import azure_roles
from controller.cloud.model import IamRole, Remediation
from controller.cloud.policydocs import (
    action_matches,
    as_list,
    azure_permits,
    describe_statement,
    resource_matches,
    statements,
    trusts_service_account,
    web_identity_subjects,
)
from controller.cloud.seam import AwsReads, AzureReads, CloudError

IRSA = "eks.amazonaws.com/role-arn"
AZURE_CLIENT = "azure.workload.identity/client-id"
AZURE_USE = "azure.workload.identity/use"
S3_ACTIONS = {"write": "s3:PutObject", "read": "s3:GetObject", "delete": "s3:DeleteObject", "list": "s3:ListBucket"}
BLOB_ACTIONS = {"write": azure_roles.BLOB_WRITE, "read": azure_roles.BLOB_READ,
                "delete": "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
                "list": azure_roles.BLOB_READ}
ECR_IMAGE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repo>[^:@]+)")
ECR_PULL = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


@dataclass
class Diagnosis:
    answer: str
    findings: list[str] = field(default_factory=list)
    fixes: list[Remediation] = field(default_factory=list)


@dataclass(frozen=True)
class Workload:
    kind: str
    name: str
    namespace: str
    service_account: str
    pod_labels: dict[str, str]


def workload_of(cluster: Any, kind: str, name: str, namespace: str) -> Workload | None:
    api = "apps/v1" if kind in ("Deployment", "StatefulSet", "DaemonSet") else "batch/v1"
    obj = cluster.get(api, kind, name, namespace)
    if obj is None:
        return None
    template = (obj.get("spec") or {}).get("template") or {}
    spec = template.get("spec") or {}
    return Workload(kind, name, namespace, str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"),
                    dict((template.get("metadata") or {}).get("labels") or {}))


def _sa(cluster: Any, w: Workload) -> dict[str, Any] | None:
    result: dict[str, Any] | None = cluster.get("v1", "ServiceAccount", w.service_account, w.namespace)
    return result


def _allowing(role: IamRole, resource: str, service: str) -> list[str]:
    """What the role's policies allow on this resource for this service, in words."""
    out = []
    for policy in (*role.attached, *role.inline):
        for st in statements(policy.document):
            if st.get("Effect") != "Allow":
                continue
            on_service = any(str(a).lower().startswith(service + ":") or a in ("*", "*:*") for a in as_list(st.get("Action")))
            near = any(resource_matches(str(r), resource) or str(resource).startswith(str(r).split("*")[0])
                       for r in as_list(st.get("Resource")))
            if on_service and near:
                out.append(f"{policy.name} {describe_statement(st)}")
    return out


def _trusting_roles(aws: AwsReads, w: Workload) -> list[str]:
    """ARNs of the roles whose trust policy lets this workload's ServiceAccount assume them."""
    return sorted(arn for arn, trust in aws.trusts().items()
                  if trusts_service_account(trust, w.namespace, w.service_account))


# ------------------------------------------------------------------------------------------ AWS


def s3_access(cluster: Any, aws: AwsReads, w: Workload, bucket: str, verb: str) -> Diagnosis:
    """Why `w` cannot `verb` (write/read/delete/list) objects in `bucket`, and the fix."""
    action = S3_ACTIONS.get(verb, "s3:PutObject")
    target = f"arn:aws:s3:::{bucket}" if action == "s3:ListBucket" else f"arn:aws:s3:::{bucket}/*"
    who = f"{w.kind} {w.namespace}/{w.name}"
    sa = _sa(cluster, w)
    if sa is None:
        return Diagnosis(f"{who} runs as ServiceAccount {w.service_account}, which does not exist (or you may not read "
                         "it), so its pods cannot start with any AWS identity.")
    role_arn = ((sa.get("metadata") or {}).get("annotations") or {}).get(IRSA, "")
    try:
        live_bucket = aws.bucket(bucket)
        if live_bucket is None:
            return Diagnosis(f"There is no S3 bucket {bucket} in AWS account {aws.account}: {who} cannot {verb} to a "
                             "bucket that does not exist (check the name and the account).")
        if not role_arn:
            return _no_irsa(aws, w, who, action, target)
        role = aws.role(role_arn)
        if role is None:
            return Diagnosis(f"ServiceAccount {w.namespace}/{w.service_account} of {who} names IAM role {role_arn}, "
                             "which does not exist, so its pods get no AWS credentials.",
                             [f"missing role: {role_arn}"], _annotation_fix(aws, w))
        if not trusts_service_account(role.trust, w.namespace, w.service_account):
            subjects = ", ".join(web_identity_subjects(role.trust)) or "no ServiceAccount"
            return Diagnosis(f"IAM role {role.name} does not trust ServiceAccount {w.namespace}/{w.service_account} "
                             f"(its trust policy lets {subjects} assume it), so the pods cannot assume it. Add "
                             f"system:serviceaccount:{w.namespace}:{w.service_account} to the role's trust policy.",
                             [f"trust: {role.name} does not trust {w.namespace}/{w.service_account}"])
        [decision] = aws.simulate(role.arn, [action], [target], live_bucket.policy)
    except CloudError as exc:
        return Diagnosis(f"I could not read what I need from AWS to answer: {exc}")
    allowed = _allowing(role, target, "s3")
    evidence = ("; ".join(allowed) if allowed else f"none of {role.name}'s policies mention this bucket")
    if decision.decision == "explicitDeny":
        sources = [m for m in decision.matched]
        in_bucket = any(m.source_type == "resource" for m in sources)
        denied = [st for st in statements(live_bucket.policy) if st.get("Effect") == "Deny"
                  and any(action_matches(str(a), action) for a in as_list(st.get("Action")))] if in_bucket else []
        where = (f"the bucket policy of {bucket} ({describe_statement(denied[0])})" if denied
                 else ", ".join(f"{m.source_policy} ({m.source_type})" for m in sources))
        return Diagnosis(f"{who} uses IAM role {role.name}, and {action} on {target} is explicitly denied by {where}. "
                         "An explicit deny wins over any allow: change that statement (a grant would not help).",
                         [f"denied: {action} on {target} by {where}"])
    if decision.allowed:
        extra = (f" The bucket is encrypted with {live_bucket.encryption}: the role also needs kms:GenerateDataKey "
                 "and kms:Decrypt on its KMS key, which the key policy must allow too."
                 if live_bucket.encryption == "aws:kms" else "")
        return Diagnosis(f"{who} uses IAM role {role.name}, and IAM allows {action} on {target} "
                         f"({evidence}), also with the bucket policy.{extra} Check the pod's errors and events: "
                         "the request may come from another identity (a missing annotation before a restart) or be "
                         "blocked outside IAM (an SCP, a VPC endpoint policy).", [f"allowed: {action} on {target}"])
    grant = Remediation("grant-iam-permissions", {"role": role.name, "namespace": w.namespace,
                                                  "policy_name": f"{bucket}-{verb}"[:64], "actions": [action],
                                                  "resources": [target]})
    return Diagnosis(f"{who} runs as ServiceAccount {w.service_account}, which uses IAM role {role.name}. That role may "
                     f"not {verb} objects in {bucket}: {evidence}; nothing allows {action} on {target}, and the bucket "
                     f"policy does not grant it either. The fix adds exactly {action} on {target} to {role.name}.",
                     [f"missing: {action} on {target} for role {role.name}"], [grant])


def _annotation_fix(aws: AwsReads, w: Workload) -> list[Remediation]:
    roles = _trusting_roles(aws, w)
    if len(roles) != 1:
        return []
    return [Remediation("sa-aws-role", {"name": w.service_account, "namespace": w.namespace, "role_arn": roles[0]})]


def _no_irsa(aws: AwsReads, w: Workload, who: str, action: str, target: str) -> Diagnosis:
    fix = _annotation_fix(aws, w)
    base = (f"ServiceAccount {w.namespace}/{w.service_account} of {who} has no {IRSA} annotation, so its pods get no "
            "IAM role of their own and fall back to the node's role.")
    if fix:
        return Diagnosis(base + f" IAM role {fix[0].params['role_arn'].rsplit('/', 1)[1]} already trusts this "
                         "ServiceAccount: the fix annotates it (the pods pick the role up when they restart).",
                         ["missing: IRSA annotation"], fix)
    role = f"{w.namespace}-{w.service_account}"[:64]
    return Diagnosis(base + f" No role trusts it yet: the fix creates IAM role {role} allowed {action} on {target}, "
                     "then annotate the ServiceAccount with it.", ["missing: IRSA role and annotation"],
                     [Remediation("create-irsa-role", {"role": role, "namespace": w.namespace,
                                                       "service_account": w.service_account, "actions": [action],
                                                       "resources": [target]})])


def ecr_pull(aws: AwsReads, image: str, namespace: str) -> Diagnosis | None:
    """Why nodes cannot pull an ECR image: the node groups' roles and the ECR read actions they lack."""
    match = ECR_IMAGE.match(image)
    if match is None:
        return None
    repo_arn = f"arn:aws:ecr:{match['region']}:{match['account']}:repository/{match['repo']}"
    try:
        groups = aws.node_groups()
        lacking: list[tuple[str, list[str]]] = []
        for role_arn in sorted({g.node_role for g in groups}):
            missing = [d.action for d in aws.simulate(role_arn, ["ecr:GetAuthorizationToken"], ["*"]) if not d.allowed]
            missing += [d.action for d in aws.simulate(role_arn, list(ECR_PULL), [repo_arn]) if not d.allowed]
            if missing:
                lacking.append((role_arn, missing))
    except CloudError as exc:
        return Diagnosis(f"I could not read the node roles from AWS: {exc}")
    if not groups:
        return Diagnosis(f"{image} is in ECR, but I see no EKS node groups in this account to check their roles.")
    if not lacking:
        return Diagnosis(f"The node roles may pull {image} (ecr:GetAuthorizationToken, {', '.join(ECR_PULL)}); check "
                         f"that the tag exists and that the repository policy of {match['repo']} allows this account.")
    fixes = []
    lines = []
    for role_arn, missing in lacking:
        name = role_arn.rsplit("/", 1)[1]
        lines.append(f"node role {name} lacks {', '.join(missing)}")
        fixes.append(Remediation("grant-iam-permissions", {
            "role": name, "namespace": namespace, "policy_name": "ecr-pull",
            "actions": ["ecr:GetAuthorizationToken", *ECR_PULL], "resources": ["*"]}))
    return Diagnosis(f"The kubelet pulls {image} with the node's IAM role, and " + "; ".join(lines) + ". The fix lets "
                     "the node roles read ECR (the AmazonEC2ContainerRegistryReadOnly actions).", lines, fixes)


# ---------------------------------------------------------------------------------------- Azure


def blob_access(cluster: Any, azure: AzureReads, w: Workload, account_name: str, verb: str) -> Diagnosis:
    """Why `w` cannot `verb` blobs in a storage account: its Workload Identity and role assignments."""
    data_action = BLOB_ACTIONS.get(verb, azure_roles.BLOB_WRITE)
    who = f"{w.kind} {w.namespace}/{w.name}"
    sa = _sa(cluster, w)
    if sa is None:
        return Diagnosis(f"{who} runs as ServiceAccount {w.service_account}, which does not exist (or you may not read it).")
    client_id = ((sa.get("metadata") or {}).get("annotations") or {}).get(AZURE_CLIENT, "")
    if not client_id:
        return Diagnosis(f"ServiceAccount {w.namespace}/{w.service_account} of {who} has no {AZURE_CLIENT} annotation, "
                         "so its pods get no Azure identity (Workload Identity). Annotate it with the managed "
                         "identity's client id.", ["missing: Workload Identity annotation"])
    notes = []
    if w.pod_labels.get(AZURE_USE) != "true":
        notes.append(f"the pods lack the label {AZURE_USE}: \"true\", so the webhook injects no token")
    try:
        account = azure.storage_account(account_name)
        if account is None:
            return Diagnosis(f"There is no storage account {account_name} in subscription {azure.subscription}.")
        identity = azure.identity_by_client_id(client_id)
        if identity is None:
            return Diagnosis(f"ServiceAccount {w.namespace}/{w.service_account} names client id {client_id}, but no "
                             f"user-assigned managed identity in subscription {azure.subscription} has it.")
        assignments = azure.role_assignments(identity.principal_id)
    except CloudError as exc:
        return Diagnosis(f"I could not read what I need from Azure to answer: {exc}")
    covering = [a for a in assignments if (account.resource_id.lower() + "/").startswith(a.scope.lower().rstrip("/") + "/")]
    held = ", ".join(f"{a.role_name} on {a.scope.rsplit('/', 1)[-1]}" for a in covering) or "no role on it"
    if azure_permits([p for a in covering for p in a.permissions], data_action, data=True):
        extra = (" The account's public network access is disabled: pods reach it only through a private endpoint."
                 if account.public_network_access == "Disabled" else "")
        label = ("; but " + "; ".join(notes)) if notes else ""
        return Diagnosis(f"Identity {identity.name} of {who} holds {held}, which allows {verb} on blobs{label}.{extra}",
                         [f"allowed: {data_action}"] + [f"label: {n}" for n in notes])
    role = azure_roles.smallest_role_for(data_action)
    fixes = [Remediation("assign-azure-role", {"namespace": w.namespace, "client_id": client_id, "role": role,
                                               "storage_account": account.name})] if role else []
    label = (" Also " + "; ".join(notes) + ".") if notes else ""
    return Diagnosis(f"{who} uses managed identity {identity.name} (client id {client_id}), which holds {held}: that does "
                     f"not allow {verb} on blobs ({data_action}). The fix gives it {role} on storage account "
                     f"{account.name}.{label}", [f"missing: {data_action} for {identity.name}"], fixes)
