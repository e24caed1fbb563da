"""Authorization for every request: the stored RBAC objects evaluated by `sandbox.rbac`.

Why here and not in rbac.py: rbac.py is pure evaluation of the four RBAC object lists; this module
knows where those lists live (the store, which holds the bootstrap roles and bindings a real cluster
has, see `sandbox.bootstrap`), that `system:masters` bypasses RBAC, and how the apiserver words a
denial.
"""

from __future__ import annotations

from typing import Any

from sandbox.identity import MASTERS_GROUP, UserInfo
from sandbox.rbac import Decision, RequestAttributes, authorize, rules_for
from sandbox.store import Store

RBAC_GROUP = "rbac.authorization.k8s.io"

class Authorizer:
    """Decides requests against the RBAC objects currently in the store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def decide(self, attrs: RequestAttributes) -> Decision:
        if MASTERS_GROUP in attrs.groups:
            return Decision(True, f'allowed: user "{attrs.user}" is in group "{MASTERS_GROUP}"')
        return authorize(
            attrs,
            self._store.objects(RBAC_GROUP, "roles", read_only=True),
            self._store.objects(RBAC_GROUP, "clusterroles", read_only=True),
            self._store.objects(RBAC_GROUP, "rolebindings", read_only=True),
            self._store.objects(RBAC_GROUP, "clusterrolebindings", read_only=True),
        )


    def rules(self, user: UserInfo, namespace: str) -> list[dict[str, Any]]:
        """Every PolicyRule that applies to the user in a namespace (SelfSubjectRulesReview)."""
        return rules_for(
            user.name, user.groups, namespace,
            self._store.objects(RBAC_GROUP, "roles", read_only=True),
            self._store.objects(RBAC_GROUP, "clusterroles", read_only=True),
            self._store.objects(RBAC_GROUP, "rolebindings", read_only=True),
            self._store.objects(RBAC_GROUP, "clusterrolebindings", read_only=True),
        )


def forbidden_detail(attrs: RequestAttributes) -> str:
    """The `User "x" cannot ...` sentence of a 403, as the apiserver builds it."""
    if not attrs.resource:
        return f'User "{attrs.user}" cannot {attrs.verb} path "{attrs.path}"'
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    return f'User "{attrs.user}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.api_group}" {where}'


def attributes_from_review_spec(spec: dict[str, Any], user: UserInfo | None = None) -> RequestAttributes:
    """RequestAttributes for a (Self|Local)SubjectAccessReview spec; `user` overrides spec.user/groups."""
    name = user.name if user else spec.get("user", "") or ""
    groups = user.groups if user else tuple(spec.get("groups") or ())
    ra = spec.get("resourceAttributes")
    if ra:
        return RequestAttributes(
            user=name,
            groups=tuple(groups),
            verb=ra.get("verb", "") or "",
            api_group=ra.get("group", "") or "",
            resource=ra.get("resource", "") or "",
            subresource=ra.get("subresource", "") or "",
            namespace=ra.get("namespace", "") or "",
            name=ra.get("name", "") or "",
        )
    nra = spec.get("nonResourceAttributes") or {}
    return RequestAttributes(
        user=name,
        groups=tuple(groups),
        verb=nra.get("verb", "") or "",
        api_group="",
        resource="",
        path=nra.get("path", "") or "",
    )
