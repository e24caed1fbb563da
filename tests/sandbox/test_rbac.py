"""Table tests for sandbox.rbac: each matching rule of the Kubernetes RBAC authorizer."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.rbac import (
    Decision,
    RequestAttributes,
    authorize,
    forbidden_message,
    label_selector_matches,
    rules_for,
)


def _meta(name: str, namespace: str = "", labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    return meta


def role(name: str, namespace: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Role", "metadata": _meta(name, namespace), "rules": list(rules)}


def cluster_role(name: str, *rules: dict[str, Any], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"kind": "ClusterRole", "metadata": _meta(name, labels=labels), "rules": list(rules)}


def binding(
    name: str, namespace: str, ref_kind: str, ref_name: str, *subjects: dict[str, Any]
) -> dict[str, Any]:
    kind = "RoleBinding" if namespace else "ClusterRoleBinding"
    return {
        "kind": kind,
        "metadata": _meta(name, namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": ref_kind, "name": ref_name},
        "subjects": list(subjects),
    }


def user(name: str) -> dict[str, Any]:
    return {"kind": "User", "name": name, "apiGroup": "rbac.authorization.k8s.io"}


def group(name: str) -> dict[str, Any]:
    return {"kind": "Group", "name": name, "apiGroup": "rbac.authorization.k8s.io"}


def sa(name: str, namespace: str = "") -> dict[str, Any]:
    subject = {"kind": "ServiceAccount", "name": name}
    if namespace:
        subject["namespace"] = namespace
    return subject


def rule(
    verbs: list[str], groups: list[str], resources: list[str], names: list[str] | None = None
) -> dict[str, Any]:
    result: dict[str, Any] = {"verbs": verbs, "apiGroups": groups, "resources": resources}
    if names:
        result["resourceNames"] = names
    return result


ROLES = [
    role("editor", "shop", rule(["get", "list", "patch"], ["apps"], ["deployments"])),
    role("scaler", "shop", rule(["get", "update"], ["apps"], ["deployments/scale"])),
    role(
        "one-cm",
        "shop",
        rule(["get", "update", "list", "delete", "deletecollection"], [""], ["configmaps"], ["cfg"]),
    ),
    role("any-scale", "shop", rule(["get"], ["*"], ["*/scale"])),
    role("pod-reader", "other", rule(["get"], [""], ["pods"])),
]
CLUSTER_ROLES = [
    cluster_role("ns-reader", rule(["get", "list", "watch"], [""], ["namespaces"])),
    cluster_role("everything", rule(["*"], ["*"], ["*"])),
    cluster_role("secrets-reader", rule(["get"], [""], ["secrets"])),
    cluster_role(
        "health",
        {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/readyz", "/livez/*"]},
    ),
    cluster_role("api-lister", {"verbs": ["get"], "nonResourceURLs": ["/api*"]}),
    cluster_role(
        "aggregate-view",
        rule(["get", "list"], ["example.com"], ["widgets"]),
        labels={"rbac.example.com/aggregate-to-view": "true"},
    ),
    cluster_role(
        "aggregate-other",
        rule(["watch"], ["example.com"], ["widgets"]),
        labels={"rbac.example.com/aggregate-to-view": "true"},
    ),
    {
        "kind": "ClusterRole",
        "metadata": _meta("view"),
        "aggregationRule": {
            "clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate-to-view": "true"}}]
        },
        "rules": [rule(["delete"], ["example.com"], ["widgets"])],  # overwritten by the controller
    },
]
ROLE_BINDINGS = [
    binding("editor-binding", "shop", "Role", "editor", user("alice")),
    binding("scaler-binding", "shop", "Role", "scaler", group("scalers")),
    binding("cm-binding", "shop", "Role", "one-cm", user("carol")),
    binding("any-scale-binding", "shop", "Role", "any-scale", user("dave")),
    binding("secrets-binding", "shop", "ClusterRole", "secrets-reader", sa("deployer")),
    binding("cross-ns", "shop", "Role", "pod-reader", user("alice")),  # Role lives in "other": never used
    binding("health-in-ns", "shop", "ClusterRole", "health", user("erin")),
    binding("view-binding", "shop", "ClusterRole", "view", user("frank")),
    binding("sa-group-binding", "other", "Role", "pod-reader", group("system:serviceaccounts:ci")),
]
CLUSTER_ROLE_BINDINGS = [
    binding("ns-readers", "", "ClusterRole", "ns-reader", group("readers"), user("bob")),
    binding("ops-sa", "", "ClusterRole", "everything", sa("ops", "kube-system")),
    binding("health-for-all", "", "ClusterRole", "health", group("system:authenticated")),
    binding("api-lister", "", "ClusterRole", "api-lister", user("bob")),
    binding("wrong-ref", "", "Role", "editor", user("mallory")),
]

ALLOW: list[tuple[str, RequestAttributes, str]] = [
    (
        "role-in-namespace",
        RequestAttributes("alice", (), "patch", "apps", "deployments", "", "shop", "web"),
        'RBAC: allowed by RoleBinding "editor-binding/shop" of Role "editor" to User "alice"',
    ),
    (
        "list-without-name",
        RequestAttributes("alice", (), "list", "apps", "deployments", namespace="shop"),
        'RBAC: allowed by RoleBinding "editor-binding/shop" of Role "editor" to User "alice"',
    ),
    (
        "group-subject-and-subresource",
        RequestAttributes("zed", ("scalers",), "update", "apps", "deployments", "scale", "shop", "web"),
        'RBAC: allowed by RoleBinding "scaler-binding/shop" of Role "scaler" to Group "scalers"',
    ),
    (
        "star-slash-subresource",
        RequestAttributes("dave", (), "get", "apps", "statefulsets", "scale", "shop", "db"),
        'RBAC: allowed by RoleBinding "any-scale-binding/shop" of Role "any-scale" to User "dave"',
    ),
    (
        "resource-name-get",
        RequestAttributes("carol", (), "get", "", "configmaps", "", "shop", "cfg"),
        'RBAC: allowed by RoleBinding "cm-binding/shop" of Role "one-cm" to User "carol"',
    ),
    (
        "cluster-role-binding-cluster-scope",
        RequestAttributes("bob", (), "list", "", "namespaces"),
        'RBAC: allowed by ClusterRoleBinding "ns-readers" of ClusterRole "ns-reader" to User "bob"',
    ),
    (
        "cluster-role-binding-by-group-applies-in-namespace-too",
        RequestAttributes("x", ("readers",), "get", "", "namespaces", namespace="shop", name="shop"),
        'RBAC: allowed by ClusterRoleBinding "ns-readers" of ClusterRole "ns-reader" to Group "readers"',
    ),
    (
        "rolebinding-to-clusterrole-with-default-sa-namespace",
        RequestAttributes("system:serviceaccount:shop:deployer", (), "get", "", "secrets", "", "shop", "s"),
        'RBAC: allowed by RoleBinding "secrets-binding/shop" of ClusterRole "secrets-reader" '
        'to ServiceAccount "deployer/shop"',
    ),
    (
        "wildcards-everything-incl-subresource",
        RequestAttributes(
            "system:serviceaccount:kube-system:ops", (), "create", "", "pods", "exec", "shop", "p"
        ),
        'RBAC: allowed by ClusterRoleBinding "ops-sa" of ClusterRole "everything" '
        'to ServiceAccount "ops/kube-system"',
    ),
    (
        "service-account-implied-namespace-group",
        RequestAttributes("system:serviceaccount:ci:builder", (), "get", "", "pods", "", "other", "p"),
        'RBAC: allowed by RoleBinding "sa-group-binding/other" of Role "pod-reader" '
        'to Group "system:serviceaccounts:ci"',
    ),
    (
        "non-resource-exact",
        RequestAttributes("anyone", ("system:authenticated",), "get", path="/healthz"),
        'RBAC: allowed by ClusterRoleBinding "health-for-all" of ClusterRole "health" '
        'to Group "system:authenticated"',
    ),
    (
        "non-resource-trailing-star",
        RequestAttributes("anyone", ("system:authenticated",), "get", path="/livez/etcd"),
        'RBAC: allowed by ClusterRoleBinding "health-for-all" of ClusterRole "health" '
        'to Group "system:authenticated"',
    ),
    (
        "non-resource-prefix-star",
        RequestAttributes("bob", (), "get", path="/apis/apps/v1"),
        'RBAC: allowed by ClusterRoleBinding "api-lister" of ClusterRole "api-lister" to User "bob"',
    ),
    (
        "aggregated-cluster-role",
        RequestAttributes("frank", (), "watch", "example.com", "widgets", namespace="shop"),
        'RBAC: allowed by RoleBinding "view-binding/shop" of ClusterRole "view" to User "frank"',
    ),
    ("system-masters", RequestAttributes("root", ("system:masters",), "delete", "", "nodes", name="n1"), ""),
]

DENY: list[tuple[str, RequestAttributes]] = [
    ("wrong-verb", RequestAttributes("alice", (), "delete", "apps", "deployments", "", "shop", "web")),
    ("wrong-namespace", RequestAttributes("alice", (), "get", "apps", "deployments", "", "prod", "web")),
    ("wrong-group", RequestAttributes("alice", (), "get", "extensions", "deployments", "", "shop", "web")),
    ("role-binding-no-cluster-scope", RequestAttributes("alice", (), "list", "apps", "deployments")),
    (
        "subresource-not-granted-by-resource",
        RequestAttributes("alice", (), "get", "apps", "deployments", "scale", "shop", "web"),
    ),
    (
        "resource-not-granted-by-subresource",
        RequestAttributes("zed", ("scalers",), "get", "apps", "deployments", "", "shop", "w"),
    ),
    ("star-slash-needs-subresource", RequestAttributes("dave", (), "get", "apps", "scale", "", "shop", "x")),
    ("resource-name-other", RequestAttributes("carol", (), "get", "", "configmaps", "", "shop", "other")),
    ("resource-names-never-list", RequestAttributes("carol", (), "list", "", "configmaps", namespace="shop")),
    (
        "resource-names-never-deletecollection",
        RequestAttributes("carol", (), "deletecollection", "", "configmaps", namespace="shop"),
    ),
    (
        "resource-names-never-create",
        RequestAttributes("carol", (), "create", "", "configmaps", namespace="shop"),
    ),
    ("role-in-other-namespace", RequestAttributes("alice", (), "get", "", "pods", "", "shop", "p")),
    (
        "sa-other-namespace",
        RequestAttributes("system:serviceaccount:prod:deployer", (), "get", "", "secrets", "", "shop", "s"),
    ),
    (
        "sa-group-other-namespace",
        RequestAttributes("system:serviceaccount:cd:builder", (), "get", "", "pods", "", "other", "p"),
    ),
    ("non-resource-not-from-rolebinding", RequestAttributes("erin", (), "get", path="/healthz")),
    ("non-resource-wrong-verb", RequestAttributes("x", ("system:authenticated",), "post", path="/healthz")),
    (
        "non-resource-no-prefix-without-star",
        RequestAttributes("x", ("system:authenticated",), "get", path="/healthz/etcd"),
    ),
    (
        "aggregated-role-own-rules-ignored",
        RequestAttributes("frank", (), "delete", "example.com", "widgets", "", "shop", "w"),
    ),
    (
        "clusterrolebinding-to-role-ignored",
        RequestAttributes("mallory", (), "get", "apps", "deployments", "", "shop", "w"),
    ),
    ("unknown-user", RequestAttributes("nobody", (), "get", "", "namespaces")),
]


def _authorize(attrs: RequestAttributes) -> Decision:
    return authorize(attrs, ROLES, CLUSTER_ROLES, ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS)


@pytest.mark.parametrize(("attrs", "reason"), [c[1:] for c in ALLOW], ids=[c[0] for c in ALLOW])
def test_allowed(attrs: RequestAttributes, reason: str) -> None:
    assert _authorize(attrs) == Decision(True, reason)


@pytest.mark.parametrize("attrs", [c[1] for c in DENY], ids=[c[0] for c in DENY])
def test_denied(attrs: RequestAttributes) -> None:
    assert _authorize(attrs) == Decision(False, "")


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        (
            RequestAttributes("alice", (), "patch", "apps", "deployments", namespace="shop", name="web"),
            'User "alice" cannot patch resource "deployments" in API group "apps" in the namespace "shop"',
        ),
        (
            RequestAttributes("alice", (), "list", "", "namespaces"),
            'User "alice" cannot list resource "namespaces" in API group "" at the cluster scope',
        ),
        (
            RequestAttributes("alice", (), "get", "apps", "deployments", "scale", "shop", "web"),
            'User "alice" cannot get resource "deployments/scale" in API group "apps" in the namespace "shop"',
        ),
        (RequestAttributes("x", (), "get", path="/foo"), 'User "x" cannot get path "/foo"'),
        (
            RequestAttributes("system:serviceaccount:a:b", (), "watch", "", "pods", namespace="a"),
            'User "system:serviceaccount:a:b" cannot watch resource "pods" in API group "" in the namespace "a"',
        ),
    ],
)
def test_forbidden_message(attrs: RequestAttributes, message: str) -> None:
    assert forbidden_message(attrs) == message


def test_rules_for_namespace_includes_cluster_and_namespace_grants() -> None:
    rules = rules_for("bob", ("readers",), "shop", ROLES, CLUSTER_ROLES, ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS)
    assert rules == [
        rule(["get", "list", "watch"], [""], ["namespaces"]),
        {"verbs": ["get"], "nonResourceURLs": ["/api*"]},
    ]


def test_rules_for_aggregated_role_and_other_namespace() -> None:
    frank = rules_for("frank", (), "shop", ROLES, CLUSTER_ROLES, ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS)
    assert frank == [  # aggregated in the name order of the selected ClusterRoles
        rule(["watch"], ["example.com"], ["widgets"]),
        rule(["get", "list"], ["example.com"], ["widgets"]),
    ]
    assert rules_for("frank", (), "prod", ROLES, CLUSTER_ROLES, ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS) == []


def test_rules_for_masters_is_everything() -> None:
    rules = rules_for("root", ["system:masters"], "shop", [], [], [], [])
    assert {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]} in rules


def test_aggregation_cycle_terminates() -> None:
    loop = {"clusterRoleSelectors": [{"matchLabels": {"loop": "yes"}}]}
    cluster_roles = [
        {"metadata": _meta("a", labels={"loop": "yes"}), "aggregationRule": loop},
        {"metadata": _meta("b", labels={"loop": "yes"}), "aggregationRule": loop},
    ]
    bindings = [binding("a", "", "ClusterRole", "a", user("u"))]
    assert not authorize(
        RequestAttributes("u", (), "get", "", "pods"), [], cluster_roles, [], bindings
    ).allowed


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ({}, {"a": "1"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
        ({"matchLabels": {"a": "2"}}, {"a": "1"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "3"]}]}, {"a": "1"}, True),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "1"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
        ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""}, True),
        ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": ""}, False),
    ],
)
def test_label_selector(selector: dict[str, Any], labels: dict[str, str], matches: bool) -> None:
    assert label_selector_matches(selector, labels) is matches


def test_non_resource_request_ignores_namespace_and_role_bindings() -> None:
    attrs = RequestAttributes("erin", (), "get", namespace="shop", path="/healthz")
    assert not _authorize(attrs).allowed


def test_service_account_user_name_must_be_complete() -> None:
    attrs = RequestAttributes("system:serviceaccount:ci", (), "get", "", "pods", "", "other", "p")
    assert not _authorize(attrs).allowed
