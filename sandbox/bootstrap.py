"""The objects a real API server creates for itself at start-up: its RBAC bootstrap policy, and the
ClusterRole aggregation controller that fills the rules of `admin`, `edit` and `view`.

Why: binding a user to `admin` in a namespace is the most common RBAC line there is, the chart
aggregates its roles into `view`/`edit`/`admin` with `aggregate-to-*` labels, and discovery and self
reviews work for every authenticated user only because `system:discovery` and `system:basic-user`
are bound to `system:authenticated`. The sandbox creates the same objects (data in
`bootstrap_rbac.yaml`), re-creates any that are missing at every start (as the API server's
auto-reconciliation does), and keeps aggregated roles' `rules` up to date on every ClusterRole write.
Authorization itself evaluates aggregation at request time (`sandbox.rbac`), so a deleted source
role stops granting at once even before the next ClusterRole write refreshes the displayed rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from sandbox.operations import SYSTEM_USER, Operations
from sandbox.rbac import aggregated_rules
from sandbox.resources import ResourceType
from sandbox.writes import WriteOptions

RBAC_GROUP = "rbac.authorization.k8s.io"
DATA = Path(__file__).with_name("bootstrap_rbac.yaml")
BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
BOOTSTRAP_ANNOTATIONS = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
AGGREGATOR = WriteOptions(field_manager="clusterrole-aggregation-controller")
API_SERVER = WriteOptions(field_manager="kube-apiserver")


def _meta(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"name": name, "labels": {**BOOTSTRAP_LABELS, **(labels or {})},
            "annotations": dict(BOOTSTRAP_ANNOTATIONS)}


def cluster_roles(data: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for role in data.get("clusterRoles") or []:
        obj: dict[str, Any] = {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole",
                               "metadata": _meta(role["name"], role.get("labels"))}
        if role.get("aggregateFrom"):
            obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {role["aggregateFrom"]: "true"}}]}
            obj["rules"] = []
        else:
            obj["rules"] = role.get("rules") or []
        out.append(obj)
    return out


def cluster_role_bindings(data: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for binding in data.get("clusterRoleBindings") or []:
        subjects = [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": g} for g in binding.get("groups") or []]
        subjects += [{"apiGroup": RBAC_GROUP, "kind": "User", "name": u} for u in binding.get("users") or []]
        for account in binding.get("serviceAccounts") or []:
            namespace, _, name = account.partition(":")
            subjects.append({"kind": "ServiceAccount", "name": name, "namespace": namespace})
        out.append({"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRoleBinding",
                    "metadata": _meta(binding["name"]),
                    "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": binding["role"]},
                    "subjects": subjects})
    return out


def seed(ops: Operations) -> None:
    """Create every bootstrap role and binding that is missing, then aggregate."""
    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    for plural, objects in (("clusterroles", cluster_roles(data)),
                            ("clusterrolebindings", cluster_role_bindings(data))):
        rt = ops.registry.lookup(RBAC_GROUP, "v1", plural)
        assert rt is not None
        for obj in objects:
            if not ops.store.exists((RBAC_GROUP, plural, "", obj["metadata"]["name"])):
                ops.create(rt, "", obj, SYSTEM_USER, API_SERVER)
    aggregate(ops)


def aggregate(ops: Operations) -> None:
    """Write the union of the selected roles' rules into every aggregated ClusterRole that is stale."""
    rt = ops.registry.lookup(RBAC_GROUP, "v1", "clusterroles")
    assert rt is not None
    names = [r["metadata"]["name"] for r in ops.store.objects(RBAC_GROUP, "clusterroles", read_only=True)
             if r.get("aggregationRule")]
    for name in names:
        role = ops.store.get((RBAC_GROUP, "clusterroles", "", name))  # fresh: writes below re-enter
        if role is None or role["metadata"].get("deletionTimestamp"):
            continue
        rules = aggregated_rules(name, ops.store.objects(RBAC_GROUP, "clusterroles", read_only=True))
        if json.dumps(rules, sort_keys=True) != json.dumps(role.get("rules") or [], sort_keys=True):
            ops.replace(rt, "", name, {**role, "rules": rules}, SYSTEM_USER, AGGREGATOR)


def aggregation_controller(ops: Operations, rt: ResourceType, new: dict[str, Any],
                           old: dict[str, Any] | None) -> None:
    """Controller hook: any ClusterRole write may change what an aggregated role selects."""
    if rt.group == RBAC_GROUP and rt.plural == "clusterroles":
        aggregate(ops)
