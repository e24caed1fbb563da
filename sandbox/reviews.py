"""Access reviews: SubjectAccessReview, SelfSubjectAccessReview, LocalSubjectAccessReview and
SelfSubjectReview - answered on create, never stored.

Why: the operator's permission step asks "may this user do X?" through a SubjectAccessReview,
`kubectl auth can-i --as` uses SelfSubjectAccessReview, and `kubectl auth whoami` uses
SelfSubjectReview; all must answer from the same RBAC evaluation as real requests.
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.authz import Authorizer, attributes_from_review_spec
from sandbox.errors import bad_request, invalid
from sandbox.identity import UserInfo
from sandbox.resources import ResourceType


def review(
    rt: ResourceType, namespace: str, body: Any, caller: UserInfo, authorizer: Authorizer
) -> dict[str, Any]:
    """The answered review object for a create of one of the review kinds."""
    if not isinstance(body, dict):
        raise bad_request("the body of the request must be a JSON object")
    out = copy.deepcopy(body)
    out["apiVersion"] = rt.api_version
    out["kind"] = rt.kind
    out.setdefault("metadata", {})
    out["metadata"].setdefault("creationTimestamp", None)
    spec = out.setdefault("spec", {})
    if rt.kind == "SelfSubjectRulesReview":
        return _rules_review(out, spec, caller, authorizer)
    if rt.kind == "SelfSubjectReview":
        out["status"] = {"userInfo": {"username": caller.name, "groups": list(caller.groups)}}
        if caller.uid:
            out["status"]["userInfo"]["uid"] = caller.uid
        return out
    if not spec.get("resourceAttributes") and not spec.get("nonResourceAttributes"):
        raise invalid(
            rt,
            "",
            [
                {
                    "reason": "FieldValueRequired",
                    "field": "spec.resourceAttributes",
                    "message": "Required value: exactly one of nonResourceAttributes or "
                    "resourceAttributes must be specified",
                }
            ],
        )
    if rt.kind == "SelfSubjectAccessReview":
        attrs = attributes_from_review_spec(spec, caller)
    else:
        if rt.kind == "SubjectAccessReview" and not spec.get("user") and not spec.get("groups"):
            raise invalid(
                rt,
                "",
                [
                    {
                        "reason": "FieldValueRequired",
                        "field": "spec.user",
                        "message": "Required value: at least one of user or group must be specified",
                    }
                ],
            )
        if rt.kind == "LocalSubjectAccessReview":
            ra = spec.get("resourceAttributes") or {}
            if ra.get("namespace") and ra["namespace"] != namespace:
                raise invalid(
                    rt,
                    "",
                    [
                        {
                            "reason": "FieldValueInvalid",
                            "field": "spec.resourceAttributes.namespace",
                            "message": f'Invalid value: "{ra["namespace"]}": must match metadata.namespace',
                        }
                    ],
                )
            spec.setdefault("resourceAttributes", {})["namespace"] = namespace
            out["metadata"]["namespace"] = namespace
        attrs = attributes_from_review_spec(spec)
    decision = authorizer.decide(attrs)
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    out["status"] = status
    return out


def _rules_review(out: dict[str, Any], spec: dict[str, Any], caller: UserInfo,
                  authorizer: Authorizer) -> dict[str, Any]:
    """`kubectl auth can-i --list`: the caller's rules in spec.namespace, split as the API server splits them."""
    namespace = spec.get("namespace") or ""
    resource_rules, non_resource_rules = [], []
    for rule in authorizer.rules(caller, namespace):
        if rule.get("nonResourceURLs"):
            non_resource_rules.append({"verbs": list(rule.get("verbs") or []),
                                       "nonResourceURLs": list(rule["nonResourceURLs"])})
        if rule.get("resources") or rule.get("apiGroups"):
            entry = {"verbs": list(rule.get("verbs") or []), "apiGroups": list(rule.get("apiGroups") or []),
                     "resources": list(rule.get("resources") or [])}
            if rule.get("resourceNames"):
                entry["resourceNames"] = list(rule["resourceNames"])
            resource_rules.append(entry)
    out["status"] = {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": False}
    return out
