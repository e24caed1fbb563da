"""Decide a request the way the Kubernetes RBAC authorizer does, from plain RBAC objects.

Why this exists: the operator's chart ships Roles and ClusterRoles, and the project wants its
tests to fail exactly where a real cluster would answer 403. The sandbox API server passes the
request attributes and the stored RBAC objects (plain dicts) here and gets an allow/deny
decision with the reason string a real apiserver logs and audits.

It follows k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac: ClusterRoleBindings grant
cluster-wide, RoleBindings grant only in their namespace (and only for resource requests),
rules match verbs, API groups, ``resource/subresource`` (with ``*`` and ``*/sub`` wildcards),
resourceNames and nonResourceURLs (trailing ``*`` is a prefix). ClusterRoles with an
``aggregationRule`` get their rules from the ClusterRoles their selectors match, computed here
on every call instead of by the aggregation controller.

What it deliberately does not do: authenticate (``user``/``groups`` are taken as given, except
that a service account user also gets its ``system:serviceaccounts*`` groups, which the real
token authenticator adds), add ``system:authenticated`` (the caller decides), impersonation,
escalation checks on writing RBAC objects, or any authorizer other than RBAC (members of
``system:masters`` are allowed, as the apiserver's privileged-group authorizer does).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

JsonMap = dict[str, Any]

MASTERS_GROUP = "system:masters"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"


@dataclass(frozen=True)
class RequestAttributes:
    """What the apiserver knows about a request; ``path`` is set only for non-resource URLs."""

    user: str
    groups: tuple[str, ...]
    verb: str
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""

    @property
    def is_resource_request(self) -> bool:
        return bool(self.resource)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


@dataclass(frozen=True)
class _Grant:
    """One binding subject that applies to the user, with the role rules it brings."""

    description: str
    rules: list[JsonMap]


def authorize(
    attrs: RequestAttributes,
    roles: list[JsonMap],
    cluster_roles: list[JsonMap],
    role_bindings: list[JsonMap],
    cluster_role_bindings: list[JsonMap],
) -> Decision:
    """Allow if any rule reachable from a binding of the user allows the request."""
    groups = effective_groups(attrs.user, attrs.groups)
    if MASTERS_GROUP in groups:
        return Decision(True, "")
    namespace = attrs.namespace if attrs.is_resource_request else ""
    for grant in _grants(
        attrs.user, groups, namespace, roles, cluster_roles, role_bindings, cluster_role_bindings
    ):
        if any(rule_allows(attrs, rule) for rule in grant.rules):
            return Decision(True, f"RBAC: allowed by {grant.description}")
    return Decision(False, "")


def rules_for(
    user: str,
    groups: tuple[str, ...] | list[str],
    namespace: str,
    roles: list[JsonMap],
    cluster_roles: list[JsonMap],
    role_bindings: list[JsonMap],
    cluster_role_bindings: list[JsonMap],
) -> list[JsonMap]:
    """Every PolicyRule that applies to the user in ``namespace`` (cluster-wide ones first),
    as SelfSubjectRulesReview computes them. Rules keep both their resource and
    nonResourceURLs parts; the caller splits them into resourceRules / nonResourceRules."""
    all_groups = effective_groups(user, tuple(groups))
    rules: list[JsonMap] = []
    if MASTERS_GROUP in all_groups:
        rules.append({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
        rules.append({"verbs": ["*"], "nonResourceURLs": ["*"]})
    grants = _grants(user, all_groups, namespace, roles, cluster_roles, role_bindings, cluster_role_bindings)
    for grant in grants:
        for rule in grant.rules:
            if rule not in rules:
                rules.append(dict(rule))
    return rules


def effective_groups(user: str, groups: tuple[str, ...]) -> tuple[str, ...]:
    """The groups as given, plus the service-account groups the token authenticator adds."""
    extra: list[str] = []
    namespace = service_account_namespace(user)
    if namespace is not None:
        extra = [SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{namespace}"]
    return tuple(groups) + tuple(group for group in extra if group not in groups)


def service_account_namespace(user: str) -> str | None:
    if not user.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    namespace, _, name = user[len(SERVICE_ACCOUNT_PREFIX) :].partition(":")
    return namespace if namespace and name else None


def forbidden_message(attrs: RequestAttributes) -> str:
    """The sentence the apiserver puts in a 403 Status (after ``<resource> "x" is forbidden: ``)."""
    if not attrs.is_resource_request:
        return f"User {_quote(attrs.user)} cannot {attrs.verb} path {_quote(attrs.path)}"
    resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    head = (
        f"User {_quote(attrs.user)} cannot {attrs.verb} resource {_quote(resource)} "
        f"in API group {_quote(attrs.api_group)}"
    )
    if attrs.namespace:
        return f"{head} in the namespace {_quote(attrs.namespace)}"
    return f"{head} at the cluster scope"


def _quote(text: str) -> str:
    """Go's %q for the plain strings that appear in Kubernetes names."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


# --- Rule matching -------------------------------------------------------------------------


def rule_allows(attrs: RequestAttributes, rule: JsonMap) -> bool:
    if not _matches_any(rule.get("verbs"), attrs.verb):
        return False
    if not attrs.is_resource_request:
        return nonresource_url_matches(rule.get("nonResourceURLs") or [], attrs.path)
    return (
        _matches_any(rule.get("apiGroups"), attrs.api_group)
        and resource_matches(rule.get("resources") or [], attrs.resource, attrs.subresource)
        and resource_name_matches(rule.get("resourceNames") or [], attrs.name)
    )


def _matches_any(allowed: Any, requested: str) -> bool:
    values = allowed or []
    return "*" in values or requested in values


def resource_matches(rule_resources: list[str], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for candidate in rule_resources:
        if candidate in ("*", combined):
            return True
        if subresource and candidate == f"*/{subresource}":
            return True
    return False


def resource_name_matches(names: list[str], name: str) -> bool:
    """No resourceNames matches anything; otherwise the request must carry one of the names,
    so list/watch/create/deletecollection (which have no name) never match."""
    return not names or (bool(name) and name in names)


def nonresource_url_matches(urls: list[str], path: str) -> bool:
    for url in urls:
        if url in ("*", path):
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


# --- Bindings and roles --------------------------------------------------------------------


def _grants(
    user: str,
    groups: tuple[str, ...],
    namespace: str,
    roles: list[JsonMap],
    cluster_roles: list[JsonMap],
    role_bindings: list[JsonMap],
    cluster_role_bindings: list[JsonMap],
) -> Iterator[_Grant]:
    """Cluster-wide grants first, then the namespace's RoleBindings, as the real visitor."""
    cluster_roles_by_name = {_name(role): role for role in cluster_roles}
    for binding in cluster_role_bindings:
        subject = _matching_subject(binding, user, groups, "")
        if subject is None or _role_ref(binding)[0] != "ClusterRole":
            continue
        rules = _cluster_role_rules(_role_ref(binding)[1], cluster_roles_by_name)
        yield _Grant(_describe("ClusterRoleBinding", _name(binding), binding, subject, ""), rules)
    if not namespace:
        return
    for binding in role_bindings:
        if _namespace(binding) != namespace:
            continue
        subject = _matching_subject(binding, user, groups, namespace)
        if subject is None:
            continue
        kind, role_name = _role_ref(binding)
        if kind == "ClusterRole":
            rules = _cluster_role_rules(role_name, cluster_roles_by_name)
        elif kind == "Role":
            rules = _role_rules(role_name, namespace, roles)
        else:
            continue
        yield _Grant(
            _describe("RoleBinding", f"{_name(binding)}/{namespace}", binding, subject, namespace), rules
        )


def _describe(
    binding_kind: str, binding_name: str, binding: JsonMap, subject: JsonMap, namespace: str
) -> str:
    role_kind, role_name = _role_ref(binding)
    return (
        f"{binding_kind} {_quote(binding_name)} of {role_kind} {_quote(role_name)} "
        f"to {_describe_subject(subject, namespace)}"
    )


def _describe_subject(subject: JsonMap, binding_namespace: str) -> str:
    kind = str(subject.get("kind", ""))
    name = str(subject.get("name", ""))
    if kind == "ServiceAccount":
        return f"{kind} {_quote(name + '/' + (subject.get('namespace') or binding_namespace))}"
    return f"{kind} {_quote(name)}"


def _matching_subject(binding: JsonMap, user: str, groups: tuple[str, ...], namespace: str) -> JsonMap | None:
    for subject in binding.get("subjects") or []:
        if _subject_applies(subject, user, groups, namespace):
            return dict(subject)
    return None


def _subject_applies(subject: JsonMap, user: str, groups: tuple[str, ...], namespace: str) -> bool:
    kind = subject.get("kind")
    name = subject.get("name", "")
    if kind == "User":
        return bool(user == name)
    if kind == "Group":
        return name in groups
    if kind == "ServiceAccount":
        sa_namespace = subject.get("namespace") or namespace
        return bool(sa_namespace) and user == f"{SERVICE_ACCOUNT_PREFIX}{sa_namespace}:{name}"
    return False


def _role_ref(binding: JsonMap) -> tuple[str, str]:
    ref = binding.get("roleRef") or {}
    return str(ref.get("kind", "")), str(ref.get("name", ""))


def _role_rules(name: str, namespace: str, roles: list[JsonMap]) -> list[JsonMap]:
    for role in roles:
        if _name(role) == name and _namespace(role) == namespace:
            return list(role.get("rules") or [])
    return []


def aggregated_rules(name: str, cluster_roles: list[JsonMap]) -> list[JsonMap]:
    """The rules of a ClusterRole as the aggregation controller fills them in (its own, if not aggregated)."""
    return _cluster_role_rules(name, {_name(role): role for role in cluster_roles})


def _cluster_role_rules(
    name: str, by_name: dict[str, JsonMap], visiting: frozenset[str] = frozenset()
) -> list[JsonMap]:
    """A ClusterRole's rules; an aggregated role's are the union of the roles it selects."""
    role = by_name.get(name)
    if role is None or name in visiting:
        return []
    aggregation = role.get("aggregationRule")
    if not aggregation:
        return list(role.get("rules") or [])
    selectors = aggregation.get("clusterRoleSelectors") or []
    rules: list[JsonMap] = []
    for other_name, other in sorted(by_name.items()):
        if other_name == name or not any(label_selector_matches(s, _labels(other)) for s in selectors):
            continue
        for rule in _cluster_role_rules(other_name, by_name, visiting | {name}):
            if rule not in rules:
                rules.append(rule)
    return rules


def label_selector_matches(selector: JsonMap, labels: dict[str, str]) -> bool:
    """metav1.LabelSelector semantics; an empty selector matches everything."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    return all(
        _expression_matches(expression, labels) for expression in selector.get("matchExpressions") or []
    )


def _expression_matches(expression: JsonMap, labels: dict[str, str]) -> bool:
    key = expression.get("key", "")
    operator = expression.get("operator")
    values = expression.get("values") or []
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return False


def _name(obj: JsonMap) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _namespace(obj: JsonMap) -> str:
    return str((obj.get("metadata") or {}).get("namespace", ""))


def _labels(obj: JsonMap) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})
