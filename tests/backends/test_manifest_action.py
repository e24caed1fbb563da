"""apply-manifest: schema-checked free-form manifests that pass the same policy gates as any action."""

from __future__ import annotations

from typing import Any

import pytest

from controller.catalog.base import CatalogError
from controller.catalog.registry import validate_call
from controller.planning.memory_cluster import MemoryCluster
from controller.planning.types import ActionCall
from controller.policy import PolicySettings, check_actions

pytestmark = pytest.mark.timeout(60)

CRONJOB = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cleanup", "namespace": "shop"},
           "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
               "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}]}}}}}}
CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "widgets.example.com"},
       "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
                "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                    "type": "object", "properties": {"spec": {"type": "object", "required": ["size"], "properties": {
                        "size": {"type": "integer", "minimum": 1}, "color": {"type": "string"}}}}}}}]}}


def call(manifest: dict[str, Any]) -> tuple[Any, Any]:
    return validate_call(ActionCall(action="apply-manifest", params={"manifest": manifest}))


def widget(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "shop"},
            "spec": spec}


def test_a_builtin_manifest_is_validated_and_rendered() -> None:
    cluster = MemoryCluster()
    spec, params = call(CRONJOB)
    rendered = spec.render(params, cluster)
    assert rendered.manifests == [CRONJOB] and spec.targets(params, cluster)[0].namespace == "shop"
    assert [p.describe() for p in spec.permissions(params, cluster)] == [
        'get cronjobs "cleanup" (batch) in namespace shop', 'create cronjobs "cleanup" (batch) in namespace shop',
        'patch cronjobs "cleanup" (batch) in namespace shop']
    bad = {**CRONJOB, "spec": {**CRONJOB["spec"], "schedulee": "x"}}
    spec, params = call(bad)
    with pytest.raises(CatalogError, match=r"apply-manifest: manifest.spec: Additional properties .*schedulee"):
        spec.render(params, cluster)


def test_a_custom_kind_is_validated_against_its_crd_schema() -> None:
    cluster = MemoryCluster([CRD])
    spec, params = call(widget({"size": 3}))
    assert spec.render(params, cluster).manifests[0]["spec"] == {"size": 3}
    assert spec.permissions(params, cluster)[0].resource == "widgets"
    for bad, message in [({"size": 0}, r"manifest.spec.size: 0 is less than the minimum of 1"),
                         ({"size": 2, "colour": "red"}, r"Additional properties are not allowed \('colour'"),
                         ({}, r"'size' is a required property")]:
        spec, params = call(widget(bad))
        with pytest.raises(CatalogError, match=message):
            spec.render(params, cluster)
    spec, params = call({**widget({"size": 1}), "kind": "Gadget"})
    with pytest.raises(CatalogError, match="neither a built-in kind nor served by a CustomResourceDefinition"):
        spec.render(params, cluster)


@pytest.mark.parametrize(("manifest", "message"), [
    ({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "shop"}, "stringData": {"a": "b"}},
     "apply-manifest never writes a Secret: secrets are never committed to git"),
    ({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "x.y.z"}},
     "never writes a CustomResourceDefinition"),
    ({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
      "metadata": {"name": "w"}}, "never writes a ValidatingWebhookConfiguration"),
    ({**CRONJOB, "metadata": {**CRONJOB["metadata"], "uid": "123"}}, "metadata.uid is set by the server"),
    ({**CRONJOB, "status": {}}, "manifest.status is written by controllers"),
    ({"kind": "ConfigMap", "metadata": {"name": "x"}}, "manifest.apiVersion is required"),
])
def test_refused_before_anything_renders(manifest: dict[str, Any], message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        call(manifest)


@pytest.mark.parametrize(("manifest", "rule"), [
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "kube-system"}},
     "protected-namespace"),
    ({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}}, "protected-namespace"),
    ({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
      "metadata": {"name": "me-admin", "namespace": "shop"},
      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
      "subjects": [{"kind": "User", "name": "mallory", "apiGroup": "rbac.authorization.k8s.io"}]}, "rbac-escalation"),
    ({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r", "namespace": "shop"}},
     "rbac-escalation"),
])
def test_policy_sees_the_real_target(manifest: dict[str, Any], rule: str) -> None:
    """The target is the manifest's own object, so the existing policy refuses system namespaces and RBAC."""
    cluster = MemoryCluster()
    spec, params = call(manifest)
    violations = check_actions([(spec.name, spec.targets(params, cluster))], PolicySettings())
    assert rule in {v.rule for v in violations}
