"""IAM policy documents and Azure permission sets: matching and plain words. Pure.

Why here and not in the cloud: the cloud decides (AWS policy simulation, Azure's permissions API),
but a person needs to be told *why* in words ("the role's policy billing-read allows s3:GetObject on
arn:aws:s3:::invoices/*, nothing allows s3:PutObject"), findings need to spot `*:*` grants and
public bucket policies, and the Azure permissions API answers a list of action patterns that the
client must match itself. Matching follows the documented rules: IAM and Azure action names are
case-insensitive with `*` and `?` wildcards; IAM resource ARNs are case-sensitive.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from controller.cloud.model import PermissionSet

PUBLIC_PRINCIPALS = ("*",)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def wildcard_match(pattern: str, value: str, *, case_sensitive: bool = False) -> bool:
    """`*` any run of characters, `?` one character (IAM and Azure RBAC semantics; no character classes)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE) is not None


def action_matches(pattern: str, action: str) -> bool:
    return wildcard_match(pattern, action)


def resource_matches(pattern: str, resource: str) -> bool:
    return wildcard_match(pattern, resource, case_sensitive=True)


def statements(document: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The statements of a policy document (a single statement object is a list of one)."""
    if not document:
        return []
    return [s for s in as_list(document.get("Statement")) if isinstance(s, dict)]


def statement_covers(st: dict[str, Any], action: str, resource: str) -> bool:
    """Whether the statement's Action/NotAction and Resource/NotResource cover this action and resource."""
    if "Action" in st:
        hit = any(action_matches(str(p), action) for p in as_list(st["Action"]))
    else:
        hit = "NotAction" in st and not any(action_matches(str(p), action) for p in as_list(st["NotAction"]))
    if not hit:
        return False
    if "Resource" in st:
        return any(resource_matches(str(p), resource) for p in as_list(st["Resource"]))
    if "NotResource" in st:
        return not any(resource_matches(str(p), resource) for p in as_list(st["NotResource"]))
    return True  # resource policies (bucket policies) may omit Resource only in malformed documents


def principals(st: dict[str, Any]) -> list[str]:
    """Every principal a (resource-policy) statement names, as strings ("*" for everyone)."""
    principal = st.get("Principal")
    if principal is None:
        return []
    if isinstance(principal, str):
        return [principal]
    out: list[str] = []
    for value in principal.values() if isinstance(principal, dict) else []:
        out.extend(str(v) for v in as_list(value))
    return out


def is_public_statement(st: dict[str, Any]) -> bool:
    """An Allow to everyone ("*" or {"AWS": "*"}) without conditions: anyone on the internet."""
    return (st.get("Effect") == "Allow" and not st.get("Condition")
            and any(p in PUBLIC_PRINCIPALS for p in principals(st)))


def is_admin_statement(st: dict[str, Any]) -> bool:
    """Allow of every action on every resource (`*:*`), without conditions."""
    if st.get("Effect") != "Allow" or st.get("Condition") or "Action" not in st:
        return False
    actions = [str(a) for a in as_list(st["Action"])]
    resources = [str(r) for r in as_list(st.get("Resource"))]
    return any(a in ("*", "*:*") for a in actions) and "*" in resources


def describe_statement(st: dict[str, Any]) -> str:
    """`allows s3:GetObject, s3:ListBucket on arn:aws:s3:::invoices/*` (with `except`/conditions said)."""
    verb = "allows" if st.get("Effect") == "Allow" else "denies"
    if "Action" in st:
        actions = ", ".join(str(a) for a in as_list(st["Action"]))
    else:
        actions = "every action except " + ", ".join(str(a) for a in as_list(st.get("NotAction")))
    if "Resource" in st:
        where = ", ".join(str(r) for r in as_list(st["Resource"]))
    elif "NotResource" in st:
        where = "every resource except " + ", ".join(str(r) for r in as_list(st["NotResource"]))
    else:
        where = "this resource"
    who = principals(st)
    to = f" to {', '.join(who)}" if who else ""
    cond = " when its conditions hold" if st.get("Condition") else ""
    return f"{verb} {actions} on {where}{to}{cond}"


def allow_document(actions: list[str], resources: list[str], sid: str = "") -> dict[str, Any]:
    """An identity policy of one Allow statement."""
    statement: dict[str, Any] = {"Effect": "Allow", "Action": list(actions), "Resource": list(resources)}
    if sid:
        statement = {"Sid": re.sub(r"[^A-Za-z0-9]", "", sid)[:100] or "Grant", **statement}
    return {"Version": "2012-10-17", "Statement": [statement]}


def irsa_trust(account: str, issuer: str, namespace: str, service_account: str) -> dict[str, Any]:
    """The trust policy that lets one ServiceAccount assume a role through the cluster's OIDC provider."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": f"arn:aws:iam::{account}:oidc-provider/{issuer}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                                       f"{issuer}:aud": "sts.amazonaws.com"}}}]}


def web_identity_subjects(trust: dict[str, Any]) -> list[str]:
    """The `system:serviceaccount:<ns>:<name>` subjects a role's trust policy lets assume it (IRSA)."""
    out: list[str] = []
    for st in statements(trust):
        if st.get("Effect") != "Allow":
            continue
        if not any(action_matches(str(a), "sts:AssumeRoleWithWebIdentity") for a in as_list(st.get("Action"))):
            continue
        for operator in ("StringEquals", "StringLike"):
            for key, value in ((st.get("Condition") or {}).get(operator) or {}).items():
                if str(key).endswith(":sub"):
                    out.extend(str(v) for v in as_list(value))
    return out


def trusts_service_account(trust: dict[str, Any], namespace: str, name: str) -> bool:
    subject = f"system:serviceaccount:{namespace}:{name}"
    return any(wildcard_match(s, subject, case_sensitive=True) for s in web_identity_subjects(trust))


# ---------------------------------------------------------------------------------------- Azure


def azure_permits(sets: Iterable[PermissionSet], action: str, *, data: bool = False) -> bool:
    """Azure RBAC: some role grants `action` (Actions minus its own NotActions); the union over roles."""
    for s in sets:
        allowed, excluded = (s.data_actions, s.not_data_actions) if data else (s.actions, s.not_actions)
        if any(action_matches(p, action) for p in allowed) and not any(action_matches(p, action) for p in excluded):
            return True
    return False
