"""Cloud permissions, checked before a plan is shown: may the identity that will act do what it needs?

Kubernetes RBAC on the ACK/ASO kinds stays the gate for the person. But the person's plan is carried
out in the cloud by the ACK controllers (their IRSA role) and Azure Service Operator (its identity),
and a plan they cannot carry out would be approved, committed and synced only to fail in the
controller's status. So each need of the plan (`needs.py`) is checked as that identity:
- AWS: IAM policy simulation (`SimulatePrincipalPolicy`) of the ACK role, per resource ARN; an explicit
  deny says which policy denies;
- Azure: `Microsoft.Authorization/permissions` read *as ASO's identity* at the resource (or its resource
  group when the resource does not exist yet), matched with Azure's Actions/NotActions rules.

A need that cannot be checked (no ACK role configured, a resource group that does not exist yet) is a
note, never a refusal. A transient failure (`CloudTransient`) is raised, so the caller retries instead
of telling anyone a permission is missing.

The engine calls `check_plan(access, manifests, live_get)` after the RBAC checks; missing needs make
the thread `PermissionsMissing` with `missing_lines()` and alert admins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from controller.cloud.model import CloudNeed
from controller.cloud.needs import LiveGet, plan_needs
from controller.cloud.policydocs import azure_permits
from controller.cloud.seam import CloudAccess, CloudError, CloudNotFound, CloudTransient


@dataclass
class CloudCheck:
    needs: list[CloudNeed] = field(default_factory=list)
    missing: list[CloudNeed] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    explanations: dict[tuple[str, str], str] = field(default_factory=dict)  # (action, resource) -> why denied

    def missing_lines(self) -> list[str]:
        out = []
        for n in self.missing:
            why = self.explanations.get((n.action, n.resource))
            out.append(n.describe() + (f": {why}" if why else ""))
        return out

    def message(self) -> str:
        """What the person is told when the cloud identity lacks something."""
        lines = "\n".join(f"- {line}" for line in self.missing_lines())
        return ("The cloud identity that would carry out this plan lacks permissions it needs, so nothing can run:\n"
                f"{lines}\nAsk a cloud admin to grant them to that identity (admins have been alerted).")


def _by(needs: Iterable[CloudNeed], key: str) -> dict[str, list[CloudNeed]]:
    out: dict[str, list[CloudNeed]] = {}
    for n in needs:
        out.setdefault(getattr(n, key), []).append(n)
    return out


def check_needs(access: CloudAccess, needs: list[CloudNeed]) -> CloudCheck:
    result = CloudCheck(needs=list(needs))
    aws_needs = [n for n in needs if n.cloud == "aws"]
    azure_needs = [n for n in needs if n.cloud == "azure"]
    if aws_needs:
        _check_aws(access, aws_needs, result)
    if azure_needs:
        _check_azure(access, azure_needs, result)
    return result


def _check_aws(access: CloudAccess, needs: list[CloudNeed], result: CloudCheck) -> None:
    if access.aws is None or not access.ack_role_arn:
        result.notes.append("AWS permissions of the ACK controllers were not checked: "
                            + ("no AWS access configured (AIOP_AWS)" if access.aws is None else
                               "AIOP_ACK_ROLE_ARN names no role"))
        return
    for resource, group in _by(needs, "resource").items():
        try:
            decisions = access.aws.simulate(access.ack_role_arn, sorted({n.action for n in group}), [resource])
        except CloudTransient:
            raise
        except CloudError as exc:
            result.notes.append(f"AWS permissions on {resource} could not be checked: {exc}")
            continue
        allowed = {d.action for d in decisions if d.allowed}
        for d in decisions:
            if d.decision == "explicitDeny":
                denied_by = ", ".join(f"{m.source_policy} ({m.source_type})" for m in d.matched) or "a policy"
                result.explanations[(d.action, resource)] = f"explicitly denied by {denied_by}"
            elif not d.allowed:
                result.explanations[(d.action, resource)] = "no policy of the role allows it"
        result.missing += [n for n in group if n.action not in allowed]


def _check_azure(access: CloudAccess, needs: list[CloudNeed], result: CloudCheck) -> None:
    if access.aso is None:
        result.notes.append("Azure permissions of Azure Service Operator were not checked: "
                            "AIOP_ASO_CLIENT_ID names no identity")
        return
    for scope, group in _by(needs, "check_scope").items():
        try:
            sets = _permissions_at(access, scope)
        except CloudTransient:
            raise
        except CloudError as exc:
            result.notes.append(f"Azure permissions at {scope} could not be checked: {exc}")
            continue
        for n in group:
            if not azure_permits(sets, n.action):
                result.missing.append(n)
                result.explanations[(n.action, n.resource)] = "no role assignment of ASO's identity grants it there"


def _permissions_at(access: CloudAccess, scope: str) -> list[Any]:
    """The permissions API at `scope`; a resource that does not exist yet is asked at its resource group."""
    assert access.aso is not None
    try:
        return access.aso.permissions(scope)
    except CloudNotFound:
        if "/providers/" not in scope:
            raise CloudNotFound(f"{scope} does not exist yet, and ASO's rights above a resource group are not "
                                "visible through the permissions API") from None
        return access.aso.permissions(scope.split("/providers/")[0])


def check_plan(access: CloudAccess, manifests: list[dict[str, Any]], live: LiveGet, *, region: str = "") -> CloudCheck:
    """The engine's entry point: the plan's manifests → what the cloud identities lack."""
    if access.empty and access.aso is None:
        return CloudCheck()
    account = access.ack_role_arn.split(":")[4] if access.ack_role_arn.count(":") >= 5 else ""
    subscription = access.azure.subscription if access.azure is not None else ""
    aws_region = region or (access.aws.region if access.aws is not None else "")
    needs = plan_needs(manifests, live, account=account, region=aws_region, subscription=subscription)
    return check_needs(access, needs) if needs else CloudCheck()
