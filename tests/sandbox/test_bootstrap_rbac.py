"""The RBAC objects a real API server bootstraps, and the ClusterRole aggregation controller.

What a real cluster shows: ClusterRoles `cluster-admin`, `admin`, `edit`, `view` (the last three
aggregated from `aggregate-to-*` labelled roles, with their rules filled in), `system:discovery`,
`system:basic-user` and `system:public-info-viewer` bound to every authenticated user, and
`cluster-admin` bound to `system:masters`; a RoleBinding to `admin`/`edit`/`view` grants exactly
what those roles grant (view cannot read Secrets, edit cannot write Roles); a ClusterRole labelled
`rbac.authorization.k8s.io/aggregate-to-view: "true"` extends view, edit and admin at once.
"""

from __future__ import annotations

import json
from pathlib import Path

from kubernetes import client

from sandbox.server import SandboxServer
from tests.sandbox.conftest import WIDGET_CRD, Kubectl, api_client, as_json


def _can(kubectl: Kubectl, user: str, *args: str) -> bool:
    out = kubectl("auth", "can-i", *args, "--as", user, check=False).stdout.strip()
    assert out in ("yes", "no"), out
    return out == "yes"


def test_default_cluster_roles_and_bindings_exist(kubectl: Kubectl) -> None:
    """`kubectl get clusterroles` lists the defaults, labelled as bootstrap objects, with aggregated rules."""
    names = kubectl("get", "clusterroles", "-o", "name").stdout.split()
    for name in ("cluster-admin", "admin", "edit", "view", "system:discovery", "system:basic-user",
                 "system:public-info-viewer", "system:aggregate-to-view"):
        assert f"clusterrole.rbac.authorization.k8s.io/{name}" in names
    admin = as_json(kubectl("get", "clusterrole", "admin", "-o", "json"))
    assert admin["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
    assert admin["aggregationRule"] == {"clusterRoleSelectors": [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}}]}
    resources = {r for rule in admin["rules"] for r in rule.get("resources", [])}
    assert {"rolebindings", "deployments", "pods/log", "secrets"} <= resources
    masters = as_json(kubectl("get", "clusterrolebinding", "cluster-admin", "-o", "json"))
    assert masters["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                    "name": "system:masters"}]
    discovery = as_json(kubectl("get", "clusterrolebinding", "system:discovery", "-o", "json"))
    assert [s["name"] for s in discovery["subjects"]] == ["system:authenticated"]


def test_rolebinding_to_admin_edit_and_view_grants_what_a_cluster_grants(kubectl: Kubectl) -> None:
    """The most common RBAC lines: each default role, bound in one namespace, allows exactly its share there."""
    kubectl("create", "namespace", "shop")
    for role in ("admin", "edit", "view"):
        kubectl("create", "rolebinding", f"{role}-binding", f"--clusterrole={role}", f"--user={role}-user",
                "-n", "shop")
    assert _can(kubectl, "admin-user", "create", "rolebindings", "-n", "shop")
    assert _can(kubectl, "admin-user", "delete", "deployments", "-n", "shop")
    assert not _can(kubectl, "admin-user", "create", "deployments", "-n", "default")
    assert not _can(kubectl, "admin-user", "create", "namespaces")
    assert _can(kubectl, "edit-user", "get", "secrets", "-n", "shop")
    assert _can(kubectl, "edit-user", "patch", "deployments.apps", "-n", "shop")
    assert _can(kubectl, "edit-user", "create", "pods/exec", "-n", "shop")
    assert not _can(kubectl, "edit-user", "create", "roles", "-n", "shop")
    assert _can(kubectl, "view-user", "list", "pods", "-n", "shop")
    assert _can(kubectl, "view-user", "get", "pods/log", "-n", "shop")
    assert not _can(kubectl, "view-user", "get", "secrets", "-n", "shop")
    assert not _can(kubectl, "view-user", "update", "deployments.apps", "-n", "shop")


def test_aggregate_to_view_label_extends_view_edit_and_admin(kubectl: Kubectl, tmp_path: Path) -> None:
    """A labelled ClusterRole joins view (and through it edit and admin); removing the label withdraws it."""
    kubectl("apply", "-f", "-", stdin=json.dumps(WIDGET_CRD))  # kubectl can-i resolves the resource first
    kubectl("create", "rolebinding", "viewer", "--clusterrole=view", "--user=vic")
    kubectl("create", "rolebinding", "adm", "--clusterrole=admin", "--user=ada")
    assert not _can(kubectl, "vic", "list", "widgets.example.com")
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "widgets-view",
                         "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
            "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list", "watch"]}]}
    kubectl("apply", "-f", "-", stdin=json.dumps(role))
    assert _can(kubectl, "vic", "list", "widgets.example.com")
    assert _can(kubectl, "ada", "watch", "widgets.example.com")
    for name in ("view", "edit", "admin"):
        rules = as_json(kubectl("get", "clusterrole", name, "-o", "json"))["rules"]
        assert {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list", "watch"]} in rules
    kubectl("label", "clusterrole", "widgets-view", "rbac.authorization.k8s.io/aggregate-to-view-")
    assert not _can(kubectl, "vic", "list", "widgets.example.com")
    rules = as_json(kubectl("get", "clusterrole", "view", "-o", "json"))["rules"]
    assert all("widgets" not in rule.get("resources", []) for rule in rules)


def test_a_user_without_bindings_still_discovers_and_reviews_itself(sandbox: SandboxServer,
                                                                   kubectl: Kubectl) -> None:
    """Through the bootstrap bindings to system:authenticated, not through special cases in the server."""
    nobody = sandbox.user_kubeconfig("nobody")
    assert "deployments" in kubectl("api-resources", kubeconfig=nobody).stdout
    assert "nobody" in kubectl("auth", "whoami", kubeconfig=nobody).stdout
    kubectl("delete", "clusterrolebinding", "system:basic-user")
    refused = kubectl("auth", "whoami", kubeconfig=nobody, check=False)
    assert refused.returncode == 1 and "you do not have permission to call it" in refused.stderr


def test_a_restart_restores_deleted_bootstrap_objects(tmp_path: Path) -> None:
    """As the API server's start-up reconciliation does, a deleted default role comes back on restart."""
    state = tmp_path / "state"
    with SandboxServer(home=tmp_path / "h1", state_dir=state) as first:
        api = api_client(first)
        client.RbacAuthorizationV1Api(api).delete_cluster_role("view")
        api.close()
    with SandboxServer(home=tmp_path / "h2", state_dir=state) as second:
        api = api_client(second)
        view = client.RbacAuthorizationV1Api(api).read_cluster_role("view")
        api.close()
    assert view.aggregation_rule is not None and view.rules


def test_auth_can_i_list_shows_the_bound_roles_rules(sandbox: SandboxServer, kubectl: Kubectl) -> None:
    """`kubectl auth can-i --list` (SelfSubjectRulesReview) prints view's rules in the namespace, nothing more."""
    kubectl("create", "namespace", "shop")
    kubectl("create", "rolebinding", "viewer", "--clusterrole=view", "--user=vic", "-n", "shop")
    vic = sandbox.user_kubeconfig("vic")
    rows = {line.split()[0]: line.split()[-3:] for line in
            kubectl("auth", "can-i", "--list", "-n", "shop", kubeconfig=vic).stdout.splitlines()[1:]
            if not line.startswith(" ")}
    assert rows["pods"] == ["[get", "list", "watch]"]
    assert rows["selfsubjectreviews.authentication.k8s.io"] == ["[]", "[]", "[create]"]
    assert "secrets" not in rows and "roles.rbac.authorization.k8s.io" not in rows
    elsewhere = kubectl("auth", "can-i", "--list", "-n", "default", kubeconfig=vic).stdout
    assert "pods " not in elsewhere
