"""What a person notices when a request cannot be carried out: a clear refusal naming the field,
or a plan step that says why there is nothing to do, never a half-built object."""

from __future__ import annotations

from typing import Any

import pytest

from controller.catalog.base import CatalogError
from controller.catalog.registry import CATALOG, get_action, json_schemas, validate_call
from controller.planning.memory_cluster import MemoryCluster
from controller.planning.types import ActionCall


def plan(action: str, params: dict[str, Any], cluster: MemoryCluster) -> tuple[Any, Any]:
    spec, validated = validate_call(ActionCall(action=action, params=params))
    return spec, spec.render(validated, cluster)


@pytest.mark.parametrize(("action", "params", "message"), [
    ("scale", {"name": "web", "namespace": "shop", "replicas": -1},
     "scale: params.replicas: Input should be greater than or equal to 0"),
    ("scale", {"name": "web", "namespace": "shop", "replicas": 3, "force": True},
     "scale: params.force: Extra inputs are not permitted"),
    ("scale", {"name": "Web App", "namespace": "shop", "replicas": 3}, "scale: params.name: String should match"),
    ("set-image", {"name": "web", "namespace": "shop", "image": "nginx; rm -rf /"}, "set-image: params.image:"),
    ("create-namespace", {"name": "ns", "labels": {"team": "a b"}}, "create-namespace: params.labels:"),
    ("set-resources", {"name": "web", "namespace": "shop", "limits": {"memory": "lots"}},
     "set-resources: params.limits.memory:"),
    ("create-hpa", {"name": "web", "namespace": "shop"}, "create-hpa: params.max_replicas: Field required"),
])
def test_invalid_params_are_refused_naming_the_field(action: str, params: dict[str, Any], message: str) -> None:
    """A backend that fills a field wrongly is told which action and which field."""
    with pytest.raises(CatalogError) as err:
        validate_call(ActionCall(action=action, params=params))
    assert message in str(err.value)


def test_unknown_action_lists_the_valid_ones() -> None:
    """An invented action is refused with the list of actions that exist."""
    with pytest.raises(CatalogError) as err:
        get_action("drop-database")
    assert "drop-database" in str(err.value) and "scale" in str(err.value) and "create-s3-bucket" in str(err.value)


@pytest.mark.parametrize(("action", "params", "why"), [
    ("scale", {"name": "ghost", "namespace": "shop", "replicas": 2}, "does not exist"),
    ("restart", {"name": "ghost", "namespace": "shop"}, "does not exist"),
    ("rollback", {"name": "web", "namespace": "shop", "to_revision": 7}, "no revision 7"),
    ("rollback", {"name": "web", "namespace": "shop", "to_revision": 2}, "is the current one"),
    ("set-image", {"name": "web", "namespace": "shop", "container": "sidecar", "image": "x:1"}, "no container"),
    ("set-resources", {"name": "web", "namespace": "shop"}, "nothing to set"),
    ("set-labels", {"name": "ghost", "namespace": "shop", "labels": {"a": "b"}}, "does not exist"),
    ("create-hpa", {"name": "web", "namespace": "shop", "min_replicas": 5, "max_replicas": 2}, "above"),
    ("create-hpa", {"name": "ghost", "namespace": "shop", "max_replicas": 2}, "does not exist"),
    ("create-pdb", {"name": "ghost", "namespace": "shop"}, "no Deployment or StatefulSet"),
    ("create-pdb", {"name": "web", "namespace": "shop", "min_available": "half"}, "percentage"),
    ("expose-service", {"name": "ghost", "namespace": "shop", "port": 80}, "does not exist"),
    ("create-azure-storage-account", {"name": "abc123", "namespace": "shop", "resource_group": "rg",
                                      "location": "westeurope", "sku": "Gold"}, "SKU"),
    ("delete-object", {"api_version": "v1", "kind": "ConfigMap", "name": "ghost", "namespace": "shop"},
     "does not exist"),
])
def test_nothing_to_do_is_said_not_rendered(action: str, params: dict[str, Any], why: str,
                                            shop: MemoryCluster) -> None:
    """When the change cannot apply (missing object, no earlier revision...), the step renders nothing
    and explains why, so the planner does not offer it."""
    _, rendered = plan(action, params, shop)
    assert rendered.empty
    assert any(why in note for note in rendered.notes), rendered.notes


def test_rollback_without_history_is_deferred(shop: MemoryCluster) -> None:
    """Rolling back a Deployment with no earlier revision recorded is a step resolved when it runs (like
    `kubectl rollout undo`): nothing is rendered now, the notes say so, and nothing is checked yet."""
    spec, params = validate_call(ActionCall(action="rollback", params={"name": "worker", "namespace": "shop"}))
    rendered = spec.render(params, shop)
    assert rendered.empty and rendered.deferred
    assert any("no revision before" in note and "when the plan runs" in note for note in rendered.notes)
    assert spec.checks(params, shop) == []
    assert spec.title(params, shop) == "Roll back Deployment shop/worker to its previous revision"


def test_set_image_needs_a_container_name_when_there_are_several() -> None:
    """With two containers, the person must say which one gets the new image."""
    cluster = MemoryCluster([{"apiVersion": "apps/v1", "kind": "Deployment",
                              "metadata": {"name": "api", "namespace": "shop"},
                              "spec": {"template": {"spec": {"containers": [
                                  {"name": "api", "image": "a:1"}, {"name": "proxy", "image": "p:1"}]}}}}])
    _, rendered = plan("set-image", {"name": "api", "namespace": "shop", "image": "a:2"}, cluster)
    assert rendered.empty and "say which one" in rendered.notes[0]
    _, rendered = plan("set-image", {"name": "api", "namespace": "shop", "image": "a:2", "container": "api"}, cluster)
    assert rendered.manifests[0]["spec"]["template"]["spec"]["containers"] == [{"name": "api", "image": "a:2"}]


def test_read_secret_never_renders(shop: MemoryCluster) -> None:
    """Asking to see a Secret is recognised (so policy can refuse it) but can never be executed."""
    spec, params = validate_call(ActionCall(action="read-secret", params={"name": "db", "namespace": "shop"}))
    assert not spec.executable and not spec.mutating and spec.risk == "high"
    assert [p.describe() for p in spec.permissions(params, shop)] == ['get secrets "db" (core) in namespace shop']
    assert spec.backup_targets(params, shop) == []
    with pytest.raises(CatalogError, match="never executed"):
        spec.render(params, shop)


def test_delete_needs_delete_and_restore_recreates(shop: MemoryCluster) -> None:
    """Deleting is high risk; restore re-creates the object, which needs create on it."""
    spec, params = validate_call(ActionCall(action="delete-object", params={
        "api_version": "v1", "kind": "ConfigMap", "name": "web-config", "namespace": "shop"}))
    assert spec.risk == "high"
    assert [p.verb for p in spec.restore_permissions(params, shop)] == ["create", "patch"]


def test_restore_permissions_are_deletes_of_created_objects(shop: MemoryCluster) -> None:
    """Before approving a namespace creation, the person is warned that restore needs delete rights."""
    spec, params = validate_call(ActionCall(action="create-namespace", params={
        "name": "analytics", "quota": {"pods": 10}}))
    assert [p.describe() for p in spec.restore_permissions(params, shop)] == [
        'delete namespaces "analytics" (core) cluster-wide',
        'delete resourcequotas "quota" (core) in namespace analytics',
    ]
    assert "delete ResourceQuota analytics/quota, Namespace analytics" in spec.restore(params, shop)


@pytest.mark.parametrize(("action", "params", "risk"), [
    ("scale", {"name": "web", "namespace": "shop", "replicas": 0}, "high"),
    ("expose-service", {"name": "web", "namespace": "shop", "port": 80, "service_type": "LoadBalancer"}, "medium"),
    ("netpol-allow-ingress", {"namespace": "shop", "to_app": "web"}, "medium"),
])
def test_risk_rises_with_the_blast_radius(action: str, params: dict[str, Any], risk: str,
                                          shop: MemoryCluster) -> None:
    """Scaling to zero, opening a Service to the internet, or allowing traffic from anywhere is flagged."""
    spec, validated = validate_call(ActionCall(action=action, params=params))
    assert spec.risk_of(validated, shop) == risk


def test_catalog_declares_every_action() -> None:
    """The catalog offers the actions the design and issue 13 list (cloud modules add theirs), with kebab-case
    names and a description each."""
    designed = [
        "scale", "restart", "rollback", "set-image", "set-resources", "harden-workload", "set-env", "remove-env",
        "set-probe", "create-namespace", "set-configmap-key", "set-labels", "create-hpa", "create-pdb",
        "expose-service", "netpol-deny-ingress", "netpol-allow-ingress", "create-ingress", "set-service-selector",
        "netpol-egress", "create-pvc", "expand-pvc", "create-cronjob", "suspend-cronjob", "create-job", "create-pod",
        "create-statefulset", "create-canary", "sa-aws-role", "sa-azure-identity", "create-role",
        "create-rolebinding", "create-s3-bucket", "create-azure-resource-group", "create-azure-storage-account",
        "delete-object", "read-secret", "apply-manifest",
    ]
    assert [name for name in CATALOG if name in designed] == designed
    for spec in CATALOG.values():
        assert spec.description and spec.risk in ("none", "low", "medium", "high")
        assert spec.context in ("k8s", "cloud-aws", "cloud-azure", "sre", "security")


def test_json_schemas_for_tool_calling() -> None:
    """AI backends get one JSON schema per action, forbidding extra fields."""
    schemas = json_schemas()
    assert set(schemas) == set(CATALOG)
    assert schemas["scale"]["properties"]["replicas"]["minimum"] == 0
    assert schemas["scale"]["additionalProperties"] is False
    assert "replicas" in schemas["scale"]["description"]
