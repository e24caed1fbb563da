"""The cloud rights the snapshot providers need, as data, and the check of them (`aiop doctor`).

Why one module: the AWS policy and the Azure custom role that README.md ("Snapshots before risky
changes", **Rights**) tells an admin to attach are these two documents, and `aiop doctor` checks the
controller's own identity against exactly them. A test compares the README's JSON with these and
every boto3 call of `aws.py` with the AWS actions, so the documentation, the providers and the check
cannot drift apart.

How each cloud is asked (the cloud decides, this module only reads its answer):
- AWS: the controller's principal from STS `GetCallerIdentity` (an assumed-role ARN names the role,
  without its path: `AIOP_AWS_ROLE_ARN` gives the full ARN when it names the same role), then IAM
  `SimulatePrincipalPolicy` of the policy's actions. `ec2:CreateTags` is granted only under a condition
  (`ec2:CreateAction`), which a simulation without context values cannot satisfy: it is not simulated.
- Azure: the permissions API (`Microsoft.Authorization/permissions`) as the controller, at each resource
  group snapshots are taken in (the API has no subscription-wide form), matched with Actions/NotActions.

Nothing here raises: a cloud that cannot be asked (throttled, unreachable, refused) is a failing
verdict that says so, and a refused *check* call says the check is inconclusive and which right it needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from controller.cloud.model import Decision
from controller.cloud.policydocs import as_list, azure_permits, statements
from controller.cloud.seam import AzurePermissions, CloudError, CloudNotFound, CloudTransient

POLICY_DOC = "the least-privilege policy in charts/README.md (README.md, Snapshots before risky changes, Rights)"

AWS_POLICY: dict[str, Any] = {"Version": "2012-10-17", "Statement": [
    {"Sid": "EbsSnapshots", "Effect": "Allow", "Resource": "*",
     "Action": ["ec2:DescribeVolumes", "ec2:DescribeSnapshots", "ec2:CreateSnapshot", "ec2:CreateVolume",
                "ec2:DeleteSnapshot"]},
    {"Sid": "EbsTagsOnCreate", "Effect": "Allow", "Resource": "*", "Action": "ec2:CreateTags",
     "Condition": {"StringEquals": {"ec2:CreateAction": ["CreateSnapshot", "CreateVolume"]}}},
    {"Sid": "RdsSnapshots", "Effect": "Allow", "Resource": "*",
     "Action": ["rds:DescribeDBInstances", "rds:DescribeDBSnapshots", "rds:CreateDBSnapshot",
                "rds:AddTagsToResource", "rds:DeleteDBSnapshot", "rds:ModifyDBInstance",
                "rds:RestoreDBInstanceFromDBSnapshot"]}]}

AZURE_ROLE: dict[str, Any] = {
    "Name": "ai-operator snapshots", "IsCustom": True,
    "Description": "Managed-disk snapshots and resource-group template exports before changes, and their restore",
    "Actions": ["Microsoft.Compute/disks/read", "Microsoft.Compute/disks/write",
                "Microsoft.Compute/snapshots/read", "Microsoft.Compute/snapshots/write",
                "Microsoft.Compute/snapshots/delete", "Microsoft.Compute/locations/DiskOperations/read",
                "Microsoft.Resources/subscriptions/resourceGroups/exportTemplate/action",
                "Microsoft.Resources/deployments/write", "Microsoft.Resources/deployments/read",
                "Microsoft.Resources/deployments/operationstatuses/read"],
    "NotActions": [], "AssignableScopes": ["/subscriptions/<subscription id>"]}

_ASSUMED_ROLE = re.compile(r"^arn:(?P<partition>[^:]+):sts::(?P<account>\d+):assumed-role/(?P<role>[^/]+)/.+$")


def aws_actions(*, conditional: bool = False) -> list[str]:
    """The policy's actions: those granted without a condition (what a simulation can check), or the others."""
    return [str(a) for st in statements(AWS_POLICY) if bool(st.get("Condition")) == conditional
            for a in as_list(st.get("Action"))]


def azure_actions() -> list[str]:
    return [str(a) for a in AZURE_ROLE["Actions"]]


def role_arn(caller_arn: str, configured_role_arn: str = "") -> str:
    """The IAM principal behind an STS caller ARN: an assumed role's role ARN, anything else as it is.

    STS leaves out a role's path; the configured role ARN (with its path) is used when it names the same role.
    """
    match = _ASSUMED_ROLE.match(caller_arn)
    if not match:
        return caller_arn
    if configured_role_arn.rsplit("/", 1)[-1] == match["role"] and f":{match['account']}:" in configured_role_arn:
        return configured_role_arn
    return f"arn:{match['partition']}:iam::{match['account']}:role/{match['role']}"


@dataclass(frozen=True)
class Verdict:
    """One cloud's answer, in the words of a doctor line."""

    ok: bool
    detail: str
    fix: str = ""


class CallerSimulation(Protocol):
    """What the AWS check needs of `controller.cloud.aws.AwsReader`."""

    def caller_arn(self) -> str: ...
    def simulate(self, principal_arn: str, actions: list[str], resources: list[str],
                 resource_policy: dict[str, Any] | None = None) -> list[Decision]: ...


def denied_lines(decisions: Iterable[Decision]) -> list[str]:
    """`ec2:CreateSnapshot: implicitDeny`, with the denying policies of an explicit deny."""
    out = []
    for d in decisions:
        if d.allowed:
            continue
        by = f" by {', '.join(m.source_policy for m in d.matched)}" if d.decision == "explicitDeny" and d.matched else ""
        out.append(f"{d.action}: {d.decision}{by}")
    return out


def check_aws(aws: CallerSimulation, configured_role_arn: str = "") -> Verdict:
    """The controller's own principal, simulated for every unconditional action of `AWS_POLICY`."""
    try:
        caller = aws.caller_arn()
    except CloudError as exc:
        return Verdict(False, f"AWS: cannot tell who the controller is (STS GetCallerIdentity): {exc}",
                       _retry_or_credentials(exc))
    principal = role_arn(caller, configured_role_arn)
    actions = aws_actions()
    try:
        decisions = aws.simulate(principal, actions, ["*"])
    except CloudTransient as exc:
        return Verdict(False, f"AWS: the simulation of {principal} failed: {exc}", "try again: AWS throttled or "
                                                                                     "could not be reached")
    except CloudError as exc:
        if "AccessDenied" in str(exc):
            return Verdict(False, f"AWS: inconclusive, {principal} may not simulate its own policies ({exc})",
                           f"to let doctor check, allow iam:SimulatePrincipalPolicy on {principal}; "
                           f"else compare its policies with {POLICY_DOC} by hand")
        if "NoSuchEntity" in str(exc):
            return Verdict(False, f"AWS: IAM does not know {principal} ({exc})",
                           "set AIOP_AWS_ROLE_ARN to the role's full ARN (with its path)")
        return Verdict(False, f"AWS: the simulation of {principal} failed: {exc}", "")
    denied = denied_lines(decisions)
    answered = {d.action.lower() for d in decisions}
    denied += [f"{a}: not evaluated" for a in actions if a.lower() not in answered]
    if denied:
        return Verdict(False, f"AWS: {principal} is denied {'; '.join(denied)}",
                       f"attach {POLICY_DOC} to this role: EBS and RDS snapshots fail before any change without it")
    skipped = ", ".join(aws_actions(conditional=True))
    return Verdict(True, f"AWS: {principal} may make all {len(actions)} EBS and RDS snapshot calls"
                         + (f" ({skipped} is conditional and not simulated)" if skipped else ""))


def check_azure(azure: AzurePermissions, scopes: list[str]) -> Verdict:
    """The controller's permissions at each resource group, against every action of `AZURE_ROLE`."""
    if not scopes:
        return Verdict(True, "Azure: no resource group to check (no managed disk is visible to the controller; "
                             "AIOP_SNAPSHOT_AZURE_RESOURCE_GROUPS names them)")
    lacking, failed, fixes = [], [], []
    for scope in scopes:
        group = scope.rsplit("/", 1)[-1]
        try:
            sets = azure.permissions(scope)
        except CloudNotFound as exc:
            failed.append(f"resource group {group} does not exist ({exc})")
            fixes.append("name existing groups in AIOP_SNAPSHOT_AZURE_RESOURCE_GROUPS")
            continue
        except CloudTransient as exc:
            failed.append(f"cannot read the permissions at {group}: {exc}")
            fixes.append("try again: Azure throttled or could not be reached")
            continue
        except CloudError as exc:
            if "HTTP 403" in str(exc):
                failed.append(f"inconclusive at {group}, the controller may not read its own permissions there ({exc})")
                fixes.append("to let doctor check, grant Microsoft.Authorization/permissions/read (in Reader) "
                             "at the group")
            else:
                failed.append(f"cannot read the permissions at {group}: {exc}")
            continue
        missing = [a for a in azure_actions() if not azure_permits(sets, a)]
        if missing:
            lacking.append(f"{group} lacks {', '.join(missing)}")
    if lacking:
        fixes.insert(0, f"assign the custom role \"{AZURE_ROLE['Name']}\" of {POLICY_DOC} to the controller's "
                        "identity on these groups")
    if lacking or failed:
        return Verdict(False, "Azure: " + "; ".join([*lacking, *failed]), "; ".join(dict.fromkeys(fixes)))
    names = ", ".join(s.rsplit("/", 1)[-1] for s in scopes)
    return Verdict(True, f"Azure: all {len(azure_actions())} snapshot actions granted at {names}")


def _retry_or_credentials(exc: CloudError) -> str:
    return ("try again: AWS throttled or could not be reached" if isinstance(exc, CloudTransient)
            else "check the controller's IRSA role (AIOP_AWS_ROLE_ARN, the web identity token)")
