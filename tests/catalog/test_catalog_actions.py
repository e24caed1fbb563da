"""Table tests: for each action, what a person asking for it would get.

Each case names the call, the manifests it renders, what it touches, the permissions it needs as
the requester, what it creates (deleted on restore), what it backs up and what verify checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import kubernetes_validate
import pytest

from controller.api.types import ObjectRef
from controller.catalog.base import Check
from controller.catalog.registry import CATALOG, validate_call
from controller.planning.memory_cluster import MemoryCluster
from controller.planning.types import ActionCall
from renderer.diff import apply_preview

K8S_VERSION = "1.30"


def R(api_version: str, kind: str, name: str, namespace: str = "") -> ObjectRef:
    return ObjectRef(api_version=api_version, kind=kind, name=name, namespace=namespace)


WEB = R("apps/v1", "Deployment", "web", "shop")


@dataclass
class Case:
    id: str
    action: str
    params: dict[str, Any]
    title: str
    manifests: list[dict[str, Any]]
    targets: list[ObjectRef]
    permissions: list[str]
    creates: list[ObjectRef] = field(default_factory=list)
    backups: list[ObjectRef] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    risk: str = "low"


def meta(name: str, namespace: str | None = "shop", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if namespace:
        out["namespace"] = namespace
    out.update(extra)
    return out


CASES = [
    Case(
        "scale", "scale", {"name": "web", "namespace": "shop", "replicas": 5},
        title="Scale Deployment shop/web from 2 to 5 replicas",
        manifests=[{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("web"),
                    "spec": {"replicas": 5}}],
        targets=[WEB], backups=[WEB],
        permissions=['get deployments "web" (apps) in namespace shop',
                     'patch deployments "web" (apps) in namespace shop'],
        checks=[Check(ref=WEB, expect={"spec": {"replicas": 5}}, rollout=True)],
    ),
    Case(
        "scale-statefulset", "scale", {"kind": "StatefulSet", "name": "postgres", "namespace": "shop", "replicas": 3},
        title="Scale StatefulSet shop/postgres from 1 to 3 replicas",
        manifests=[{"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta("postgres"),
                    "spec": {"replicas": 3}}],
        targets=[R("apps/v1", "StatefulSet", "postgres", "shop")],
        backups=[R("apps/v1", "StatefulSet", "postgres", "shop")],
        permissions=['get statefulsets "postgres" (apps) in namespace shop',
                     'patch statefulsets "postgres" (apps) in namespace shop'],
        checks=[Check(ref=R("apps/v1", "StatefulSet", "postgres", "shop"), expect={"spec": {"replicas": 3}},
                      rollout=True)],
    ),
    Case(
        "restart", "restart", {"name": "web", "namespace": "shop"},
        title="Restart Deployment shop/web (rolling)",
        manifests=[{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("web"),
                    "spec": {"template": {"metadata": {"annotations": {
                        "kubectl.kubernetes.io/restartedAt": "2025-01-02T03:04:05Z"}}}}}],
        targets=[WEB], backups=[WEB],
        permissions=['get deployments "web" (apps) in namespace shop',
                     'patch deployments "web" (apps) in namespace shop'],
        checks=[Check(ref=WEB, rollout=True)],
    ),
    Case(
        "rollback", "rollback", {"name": "web", "namespace": "shop"},
        title="Roll back Deployment shop/web from revision 2 to revision 1",
        manifests=[{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("web"),
                    "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                        {"name": "web", "image": "nginx:1.26", "ports": [{"containerPort": 8080}]}]}}}}],
        targets=[WEB], backups=[WEB], risk="medium",
        permissions=['get deployments "web" (apps) in namespace shop',
                     'patch deployments "web" (apps) in namespace shop',
                     "list replicasets (apps) in namespace shop"],
        checks=[Check(ref=WEB, rollout=True, expect={"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:1.26"}]}}}})],
    ),
    Case(
        "set-image", "set-image", {"name": "web", "namespace": "shop", "image": "nginx:1.28"},
        title="Set image of container web in Deployment shop/web from nginx:1.27 to nginx:1.28",
        manifests=[{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("web"),
                    "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}}],
        targets=[WEB], backups=[WEB], risk="medium",
        permissions=['get deployments "web" (apps) in namespace shop',
                     'patch deployments "web" (apps) in namespace shop'],
        checks=[Check(ref=WEB, rollout=True, expect={"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:1.28"}]}}}})],
    ),
    Case(
        "set-resources", "set-resources",
        {"name": "web", "namespace": "shop", "requests": {"cpu": "250m"}, "limits": {"memory": "512Mi"}},
        title="Set requests cpu=250m; limits memory=512Mi on Deployment shop/web",
        manifests=[{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("web"),
                    "spec": {"template": {"spec": {"containers": [{"name": "web", "resources": {
                        "requests": {"cpu": "250m"}, "limits": {"memory": "512Mi"}}}]}}}}],
        targets=[WEB], backups=[WEB], risk="medium",
        permissions=['get deployments "web" (apps) in namespace shop',
                     'patch deployments "web" (apps) in namespace shop'],
        checks=[Check(ref=WEB, rollout=True, expect={"spec": {"template": {"spec": {"containers": [
            {"name": "web", "resources": {"requests": {"cpu": "250m"}, "limits": {"memory": "512Mi"}}}]}}}})],
    ),
    Case(
        "create-namespace-quota", "create-namespace",
        {"name": "analytics", "labels": {"team": "data"}, "quota": {"pods": 10, "memory": "4Gi"}},
        title="Create namespace analytics with labels team=data; quota pods=10, requests.memory=4Gi",
        manifests=[
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "analytics", "labels": {"team": "data"}}},
            {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta("quota", "analytics"),
             "spec": {"hard": {"pods": "10", "requests.memory": "4Gi"}}},
        ],
        targets=[R("v1", "Namespace", "analytics"), R("v1", "ResourceQuota", "quota", "analytics")],
        creates=[R("v1", "Namespace", "analytics"), R("v1", "ResourceQuota", "quota", "analytics")],
        permissions=['get namespaces "analytics" (core) cluster-wide',
                     'create namespaces "analytics" (core) cluster-wide',
                     'patch namespaces "analytics" (core) cluster-wide',
                     'get resourcequotas "quota" (core) in namespace analytics',
                     'create resourcequotas "quota" (core) in namespace analytics',
                     'patch resourcequotas "quota" (core) in namespace analytics'],
        checks=[Check(ref=R("v1", "Namespace", "analytics"), expect={"metadata": {"labels": {"team": "data"}}}),
                Check(ref=R("v1", "ResourceQuota", "quota", "analytics"),
                      expect={"spec": {"hard": {"pods": "10", "requests.memory": "4Gi"}}})],
    ),
    Case(
        "label-existing-namespace", "create-namespace", {"name": "shop", "labels": {"team": "web"}},
        title="Label existing namespace shop with labels team=web",
        manifests=[{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "web"}}}],
        targets=[R("v1", "Namespace", "shop")], backups=[R("v1", "Namespace", "shop")],
        permissions=['get namespaces "shop" (core) cluster-wide', 'patch namespaces "shop" (core) cluster-wide'],
        checks=[Check(ref=R("v1", "Namespace", "shop"), expect={"metadata": {"labels": {"team": "web"}}})],
    ),
    Case(
        "configmap-key", "set-configmap-key",
        {"name": "web-config", "namespace": "shop", "key": "LOG_LEVEL", "value": "debug"},
        title="Set LOG_LEVEL in ConfigMap shop/web-config from info to debug",
        manifests=[{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("web-config"),
                    "data": {"LOG_LEVEL": "debug"}}],
        targets=[R("v1", "ConfigMap", "web-config", "shop")], backups=[R("v1", "ConfigMap", "web-config", "shop")],
        permissions=['get configmaps "web-config" (core) in namespace shop',
                     'patch configmaps "web-config" (core) in namespace shop'],
        checks=[Check(ref=R("v1", "ConfigMap", "web-config", "shop"), expect={"data": {"LOG_LEVEL": "debug"}})],
    ),
    Case(
        "configmap-new", "set-configmap-key", {"name": "flags", "namespace": "shop", "key": "beta", "value": "on"},
        title="Create ConfigMap shop/flags with beta=on",
        manifests=[{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("flags"), "data": {"beta": "on"}}],
        targets=[R("v1", "ConfigMap", "flags", "shop")], creates=[R("v1", "ConfigMap", "flags", "shop")],
        permissions=['get configmaps "flags" (core) in namespace shop',
                     'create configmaps "flags" (core) in namespace shop',
                     'patch configmaps "flags" (core) in namespace shop'],
        checks=[Check(ref=R("v1", "ConfigMap", "flags", "shop"), expect={"data": {"beta": "on"}})],
    ),
    Case(
        "labels", "set-labels",
        {"name": "web", "namespace": "shop", "labels": {"tier": "frontend"}, "remove_annotations": ["old"]},
        title="On Deployment shop/web: add labels tier=frontend; remove annotations old",
        manifests=[{"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": meta("web", labels={"tier": "frontend"}, annotations={"old": None})}],
        targets=[WEB], backups=[WEB],
        permissions=['get deployments "web" (apps) in namespace shop',
                     'patch deployments "web" (apps) in namespace shop'],
        checks=[Check(ref=WEB, expect={"metadata": {"labels": {"tier": "frontend"}}})],
    ),
    Case(
        "hpa", "create-hpa", {"name": "web", "namespace": "shop", "min_replicas": 2, "max_replicas": 10},
        title="Autoscale Deployment shop/web between 2 and 10 replicas on CPU 80%",
        manifests=[{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta("web"),
                    "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                             "minReplicas": 2, "maxReplicas": 10,
                             "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                                 "type": "Utilization", "averageUtilization": 80}}}]}}],
        targets=[R("autoscaling/v2", "HorizontalPodAutoscaler", "web", "shop")],
        creates=[R("autoscaling/v2", "HorizontalPodAutoscaler", "web", "shop")],
        permissions=['get horizontalpodautoscalers "web" (autoscaling) in namespace shop',
                     'create horizontalpodautoscalers "web" (autoscaling) in namespace shop',
                     'patch horizontalpodautoscalers "web" (autoscaling) in namespace shop',
                     'get deployments "web" (apps) in namespace shop'],
        checks=[Check(ref=R("autoscaling/v2", "HorizontalPodAutoscaler", "web", "shop"), expect={"spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2, "maxReplicas": 10,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": 80}}}]}})],
    ),
    Case(
        "pdb", "create-pdb", {"name": "web", "namespace": "shop", "max_unavailable": "50%"},
        title="Protect shop/web with a PodDisruptionBudget (at most 50% unavailable)",
        manifests=[{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta("web-pdb"),
                    "spec": {"maxUnavailable": "50%", "selector": {"matchLabels": {"app": "web"}}}}],
        targets=[R("policy/v1", "PodDisruptionBudget", "web-pdb", "shop")],
        creates=[R("policy/v1", "PodDisruptionBudget", "web-pdb", "shop")],
        permissions=['get poddisruptionbudgets "web-pdb" (policy) in namespace shop',
                     'create poddisruptionbudgets "web-pdb" (policy) in namespace shop',
                     'patch poddisruptionbudgets "web-pdb" (policy) in namespace shop',
                     'get deployments "web" (apps) in namespace shop'],
        checks=[Check(ref=R("policy/v1", "PodDisruptionBudget", "web-pdb", "shop"), expect={"spec": {
            "maxUnavailable": "50%", "selector": {"matchLabels": {"app": "web"}}}})],
    ),
    Case(
        "expose", "expose-service", {"name": "web", "namespace": "shop", "port": 80},
        title="Expose Deployment shop/web as ClusterIP Service web on port 80",
        manifests=[{"apiVersion": "v1", "kind": "Service", "metadata": meta("web"),
                    "spec": {"type": "ClusterIP", "selector": {"app": "web"}, "ports": [
                        {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}]}}],
        targets=[R("v1", "Service", "web", "shop")], creates=[R("v1", "Service", "web", "shop")],
        permissions=['get services "web" (core) in namespace shop', 'create services "web" (core) in namespace shop',
                     'patch services "web" (core) in namespace shop', 'get deployments "web" (apps) in namespace shop'],
        checks=[Check(ref=R("v1", "Service", "web", "shop"), expect={"spec": {
            "type": "ClusterIP", "selector": {"app": "web"},
            "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}]}})],
    ),
    Case(
        "deny-ingress", "netpol-deny-ingress", {"namespace": "shop"},
        title="Deny all ingress to pods in namespace shop (NetworkPolicy deny-all-ingress)",
        manifests=[{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta("deny-all-ingress"),
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}],
        targets=[R("networking.k8s.io/v1", "NetworkPolicy", "deny-all-ingress", "shop")],
        creates=[R("networking.k8s.io/v1", "NetworkPolicy", "deny-all-ingress", "shop")], risk="medium",
        permissions=['get networkpolicies "deny-all-ingress" (networking.k8s.io) in namespace shop',
                     'create networkpolicies "deny-all-ingress" (networking.k8s.io) in namespace shop',
                     'patch networkpolicies "deny-all-ingress" (networking.k8s.io) in namespace shop'],
        checks=[Check(ref=R("networking.k8s.io/v1", "NetworkPolicy", "deny-all-ingress", "shop"),
                      expect={"spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})],
    ),
    Case(
        "allow-ingress", "netpol-allow-ingress",
        {"namespace": "shop", "to_app": "web", "from_namespace": "ingress", "from_app": "nginx", "port": 8080},
        title="Allow ingress to pods app=web in shop from pods app=nginx in namespace ingress on port 8080",
        manifests=[{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": meta("allow-ingress-to-web-from-ns-ingress-from-nginx-port-8080"),
                    "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
                             "ingress": [{"from": [{
                                 "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}},
                                 "podSelector": {"matchLabels": {"app": "nginx"}}}],
                                 "ports": [{"protocol": "TCP", "port": 8080}]}]}}],
        targets=[R("networking.k8s.io/v1", "NetworkPolicy", "allow-ingress-to-web-from-ns-ingress-from-nginx-port-8080",
                   "shop")],
        creates=[R("networking.k8s.io/v1", "NetworkPolicy", "allow-ingress-to-web-from-ns-ingress-from-nginx-port-8080",
                   "shop")],
        permissions=[f'{v} networkpolicies "allow-ingress-to-web-from-ns-ingress-from-nginx-port-8080" '
                     "(networking.k8s.io) in namespace shop" for v in ("get", "create", "patch")],
        checks=[Check(ref=R("networking.k8s.io/v1", "NetworkPolicy",
                            "allow-ingress-to-web-from-ns-ingress-from-nginx-port-8080", "shop"), expect={"spec": {
            "podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}},
                                   "podSelector": {"matchLabels": {"app": "nginx"}}}],
                         "ports": [{"protocol": "TCP", "port": 8080}]}]}})],
    ),
    Case(
        "s3", "create-s3-bucket",
        {"name": "backup-storage", "namespace": "shop", "region": "us-west-1", "versioning": True, "encryption": True},
        title="Create S3 bucket backup-storage in us-west-1 with versioning and AES256 encryption (ACK Bucket in shop)",
        manifests=[{"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket",
                    "metadata": meta("backup-storage", annotations={"services.k8s.aws/region": "us-west-1"}),
                    "spec": {"name": "backup-storage", "versioning": {"status": "Enabled"}, "encryption": {"rules": [
                        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}}}],
        targets=[R("s3.services.k8s.aws/v1alpha1", "Bucket", "backup-storage", "shop")],
        creates=[R("s3.services.k8s.aws/v1alpha1", "Bucket", "backup-storage", "shop")], risk="medium",
        permissions=[f'{v} buckets "backup-storage" (s3.services.k8s.aws) in namespace shop'
                     for v in ("get", "create", "patch")],
        checks=[Check(ref=R("s3.services.k8s.aws/v1alpha1", "Bucket", "backup-storage", "shop"), expect={
            "spec": {"name": "backup-storage", "versioning": {"status": "Enabled"}, "encryption": {"rules": [
                {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}},
            "metadata": {"annotations": {"services.k8s.aws/region": "us-west-1"}}})],
    ),
    Case(
        "azure-rg", "create-azure-resource-group", {"name": "RG_Shop(dev)", "namespace": "shop", "location": "westeurope"},
        title="Create Azure resource group RG_Shop(dev) in westeurope (ASO ResourceGroup)",
        manifests=[{"apiVersion": "resources.azure.com/v1api20200601", "kind": "ResourceGroup",
                    "metadata": meta("rg-shop-dev"), "spec": {"azureName": "RG_Shop(dev)", "location": "westeurope"}}],
        targets=[R("resources.azure.com/v1api20200601", "ResourceGroup", "rg-shop-dev", "shop")],
        creates=[R("resources.azure.com/v1api20200601", "ResourceGroup", "rg-shop-dev", "shop")], risk="medium",
        permissions=[f'{v} resourcegroups "rg-shop-dev" (resources.azure.com) in namespace shop'
                     for v in ("get", "create", "patch")],
        checks=[Check(ref=R("resources.azure.com/v1api20200601", "ResourceGroup", "rg-shop-dev", "shop"),
                      expect={"spec": {"azureName": "RG_Shop(dev)", "location": "westeurope"}})],
    ),
    Case(
        "azure-storage", "create-azure-storage-account",
        {"name": "shopdata01", "namespace": "shop", "resource_group": "rg-shop-dev", "location": "westeurope"},
        title=("Create Azure storage account shopdata01 (StorageV2, Standard_LRS) in westeurope, "
               "resource group rg-shop-dev (ASO StorageAccount)"),
        manifests=[{"apiVersion": "storage.azure.com/v1api20230101", "kind": "StorageAccount",
                    "metadata": meta("shopdata01"),
                    "spec": {"azureName": "shopdata01", "location": "westeurope", "kind": "StorageV2",
                             "sku": {"name": "Standard_LRS"}, "owner": {"name": "rg-shop-dev"}}}],
        targets=[R("storage.azure.com/v1api20230101", "StorageAccount", "shopdata01", "shop")],
        creates=[R("storage.azure.com/v1api20230101", "StorageAccount", "shopdata01", "shop")], risk="medium",
        permissions=[*(f'{v} storageaccounts "shopdata01" (storage.azure.com) in namespace shop'
                       for v in ("get", "create", "patch")),
                     'get resourcegroups "rg-shop-dev" (resources.azure.com) in namespace shop'],
        checks=[Check(ref=R("storage.azure.com/v1api20230101", "StorageAccount", "shopdata01", "shop"),
                      expect={"spec": {"azureName": "shopdata01", "location": "westeurope", "kind": "StorageV2",
                                       "sku": {"name": "Standard_LRS"}, "owner": {"name": "rg-shop-dev"}}})],
    ),
    Case(
        "delete", "delete-object", {"api_version": "v1", "kind": "ConfigMap", "name": "web-config", "namespace": "shop"},
        title="Delete ConfigMap shop/web-config",
        manifests=[], risk="high",
        targets=[R("v1", "ConfigMap", "web-config", "shop")], backups=[R("v1", "ConfigMap", "web-config", "shop")],
        permissions=['get configmaps "web-config" (core) in namespace shop',
                     'delete configmaps "web-config" (core) in namespace shop'],
        checks=[Check(ref=R("v1", "ConfigMap", "web-config", "shop"), absent=True)],
    ),
]


_OURS = {"controller.catalog.workloads", "controller.catalog.podspec", "controller.catalog.namespaces",
         "controller.catalog.config", "controller.catalog.availability", "controller.catalog.networking",
         "controller.catalog.traffic", "controller.catalog.storage", "controller.catalog.batch",
         "controller.catalog.identity", "controller.catalog.guarded", "controller.catalog.cloud"}


def test_every_action_has_a_case() -> None:
    """Every action a person can be offered is covered by a table case (read-secret never runs).

    apply-manifest has its own table in tests/backends/test_manifest_action.py; the cloud modules' own
    actions are tested with them in tests/cloud/.
    """
    from tests.catalog.test_catalog_everyday import CASES as EVERYDAY

    covered = {c.action for c in [*CASES, *EVERYDAY]}
    ours = {name for name, spec in CATALOG.items() if type(spec).__module__ in _OURS}
    assert ours - covered == {"read-secret"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_action_table(case: Case, shop: MemoryCluster) -> None:
    """The person sees this title and risk; the repo gets these manifests; RBAC is checked for these
    permissions; restore deletes what was created and re-applies what was backed up; verify looks
    for these fields."""
    spec, params = validate_call(ActionCall(action=case.action, params=case.params))
    rendered = spec.render(params, shop, now="2025-01-02T03:04:05Z")
    assert spec.title(params, shop) == case.title
    assert spec.risk_of(params, shop) == case.risk
    assert rendered.manifests == case.manifests
    assert spec.targets(params, shop) == case.targets
    assert [p.describe() for p in spec.permissions(params, shop)] == case.permissions
    assert spec.creates(params, shop) == case.creates
    assert spec.backup_targets(params, shop) == case.backups
    assert spec.checks(params, shop) == case.checks
    assert [r.key() for r in rendered.deletes] == (
        [t.key() for t in case.targets] if case.action == "delete-object" else [])
    for text in (spec.backup(params, shop), spec.restore(params, shop), spec.verify(params, shop)):
        assert text and text.endswith(".")


@pytest.mark.parametrize("case", [c for c in CASES if c.manifests], ids=lambda c: c.id)
def test_rendered_objects_are_valid_kubernetes(case: Case, shop: MemoryCluster) -> None:
    """What lands in the cluster is a valid object: new objects as rendered, changes once merged
    onto the live object (a typo'd field name would be refused by the API server)."""
    spec, params = validate_call(ActionCall(action=case.action, params=case.params))
    for manifest in spec.render(params, shop).manifests:
        if manifest["apiVersion"].endswith((".aws/v1alpha1", ".azure.com/v1api20200601", ".azure.com/v1api20230101")):
            continue  # custom resources: validated against their CRDs in test_catalog_crds.py
        meta_ = manifest["metadata"]
        live = shop.get(manifest["apiVersion"], manifest["kind"], meta_["name"], meta_.get("namespace"))
        kubernetes_validate.validate(apply_preview(live, manifest), K8S_VERSION, strict=True)


def test_render_is_pure_and_repeatable(shop: MemoryCluster) -> None:
    """Planning twice gives the same plan, so the same request keeps the same digest."""
    for case in CASES:
        spec, params = validate_call(ActionCall(action=case.action, params=case.params))
        assert spec.render(params, shop) == spec.render(params, shop)
