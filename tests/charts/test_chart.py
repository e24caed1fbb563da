"""The Helm chart: lints, renders for default/EKS/AKS values, validates, and keeps its security promises.

Why these checks: the chart is where principles 1-3 become cluster objects. A UI role that could do
more than impersonate, a controller that could read every Secret, or a missing `approve` verb would
silently break them, so each promise is asserted on the rendered output, not on the template text.
"""

from __future__ import annotations

from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

from controller.api.crds import all_crds
from controller.api.export import crd_filename, render_crd
from tests.charts.paths import CHART
from tests.install.pods import find, render

KUBE_VERSION = "1.37.0"
NAMESPACE = "aiop-system"
FLAVOURS = {"default": None, "eks": CHART / "values-eks.yaml", "aks": CHART / "values-aks.yaml"}
NOT_BUILT_IN = {"monitoring.coreos.com/v1"}


def flavour_values(flavour: str) -> dict[str, Any]:
    path = FLAVOURS[flavour]
    return yaml.safe_load(path.read_text()) if path else {}


@pytest.fixture(scope="module", params=sorted(FLAVOURS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(flavour_values(request.param))


def test_chart_lints_clean() -> None:
    for flavour in FLAVOURS:
        result = helm_python.lint(CHART, flavour_values(flavour), strict=True, namespace=NAMESPACE)
        assert result["errors"] == [], result
        assert all(m["severity"] <= 1 for m in result["messages"]), result["messages"]  # INFO only


def test_crds_are_the_generators_output() -> None:
    expected = {crd_filename(crd): render_crd(crd) for crd in all_crds()}
    actual = {p.name: p.read_text() for p in (CHART / "crds").glob("*.yaml")}
    regenerate = "regenerate with: .venv/bin/python -m controller.api.export charts/ai-operator/crds"
    assert sorted(actual) == sorted(expected), f"chart CRD files differ from the models; {regenerate}"
    for name, text in expected.items():
        assert actual[name] == text, f"charts/ai-operator/crds/{name} is stale; {regenerate}"


def test_every_built_in_object_is_valid(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    flavour, objects = rendered
    assert objects
    for obj in objects:
        if obj["apiVersion"] in NOT_BUILT_IN:
            continue
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{flavour}: {obj['kind']} {obj['metadata']['name']}: {error.message}")


def test_containers_are_locked_down(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = rendered
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    assert set(deployments) == {"aiop-ai-operator-controller", "aiop-ai-operator-ui"}
    commands = set()
    for deployment in deployments.values():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert container["image"] == "ghcr.io/ai-operator/ai-operator:0.1.0"
            assert pod["securityContext"]["runAsUser"] == 65532  # the image's non-root user
            assert container["livenessProbe"] and container["readinessProbe"] and container["resources"]
            assert "value" not in str([e for e in container.get("env", []) if "TOKEN" in e["name"]])
            commands.add(tuple(container["command"]))
    assert commands == {("aiop", "controller"), ("aiop", "ui")}
    metrics = find(objects, "Service", "aiop-ai-operator-metrics")
    assert metrics["spec"]["ports"][0]["port"] == 9090
    assert find(objects, "Service", "aiop-ai-operator-ui")["spec"]["ports"][0]["port"] == 8501


def rules_of(objects: list[dict[str, Any]], name: str, kind: str = "ClusterRole") -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = find(objects, kind, name)["rules"]
    return rules


def test_ui_may_only_impersonate(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = rendered
    rules = rules_of(objects, "aiop-ai-operator-ui")
    assert {verb for rule in rules for verb in rule["verbs"]} == {"impersonate"}
    assert {res for rule in rules for res in rule["resources"]} == {"users", "groups", "serviceaccounts"}
    ui_bindings = [
        o for o in objects
        if o["kind"] in ("RoleBinding", "ClusterRoleBinding")
        and any(s["name"] == "aiop-ai-operator-ui" for s in o["subjects"])
    ]
    assert [b["roleRef"]["name"] for b in ui_bindings] == ["aiop-ai-operator-ui"]


def test_controller_cannot_read_secrets_freely(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = rendered
    controller_roles = [
        o for o in objects
        if o["kind"] in ("Role", "ClusterRole") and o["metadata"]["name"].startswith("aiop-ai-operator-controller")
    ]
    for role in controller_roles:
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"], role["metadata"]["name"]
            if "secrets" in rule["resources"]:  # its backups, in its own namespace only
                assert role["kind"] == "Role" and role["metadata"]["namespace"] == NAMESPACE, role
    own = rules_of(objects, "aiop-ai-operator-controller", kind="Role")
    assert {r for rule in own for r in rule["resources"]} == {"secrets", "leases"}
    cluster_rules = rules_of(objects, "aiop-ai-operator-controller")
    by_resource: dict[tuple[str, str], set[str]] = {}
    for rule in cluster_rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                by_resource.setdefault((group, resource), set()).update(rule["verbs"])
    assert {"watch", "patch"} <= by_resource[("aiop.dev", "aiconversations")]
    assert "patch" in by_resource[("aiop.dev", "aiconversations/status")]
    assert "create" in by_resource[("", "events")]
    assert by_resource[("authorization.k8s.io", "subjectaccessreviews")] == {"create"}
    assert by_resource[("", "users")] == {"impersonate"} and by_resource[("", "groups")] == {"impersonate"}
    assert "get" in by_resource[("", "pods/log")]
    for kind in (("", "resourcequotas"), ("s3.services.k8s.aws", "buckets"), ("resources.azure.com", "resourcegroups"),
                 ("authorization.azure.com", "roleassignments")):
        assert by_resource[kind] == {"get", "list", "watch"}, f"backups read {kind}"
    # The only writes outside its own kinds, events and reviews: the snapshots a plan's approval covers,
    # taken, read and deleted (retention) as itself (controller/adapters/snapshots/). Nothing is updated,
    # patched or listed beyond what the providers call.
    snapshot_writes = {
        ("snapshot.storage.k8s.io", "volumesnapshots"): {"get", "create", "delete"},  # CSI: take, wait, retain
        ("snapshot.storage.k8s.io", "volumesnapshotclasses"): {"get", "list"},  # the class of the claim's driver
        ("velero.io", "backups"): {"get", "create"},  # Velero: take, wait
        ("velero.io", "deletebackuprequests"): {"create"},  # Velero's way to delete a backup (retention)
        ("velero.io", "backupstoragelocations"): {"get", "list"},  # is a location Available?
        ("storage.k8s.io", "storageclasses"): {"get", "list"},  # which driver provisions a claim
    }
    for kind, verbs in snapshot_writes.items():
        assert by_resource[kind] == verbs, f"snapshots need exactly {sorted(verbs)} on {kind}"
    assert ("velero.io", "restores") not in by_resource, "a Velero Restore is created as the restorer"
    for (group, resource), verbs in by_resource.items():
        if group not in ("aiop.dev", "", "events.k8s.io", "authorization.k8s.io") and \
                (group, resource) not in snapshot_writes:
            assert verbs <= {"get", "list", "watch"}, f"the controller applies plans as the requester, not {resource}"


def test_user_roles_and_approve_verb(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = rendered
    requester = rules_of(objects, "aiop-requester")
    approver = rules_of(objects, "aiop-approver")
    viewer = rules_of(objects, "aiop-viewer")
    for rules in (requester, approver, viewer):
        assert {r for rule in rules for r in rule["resources"]} == {"aiconversations", "airequests"}
    assert {"create", "get", "list", "watch", "update", "patch"} <= set(requester[0]["verbs"])
    assert "approve" not in requester[0]["verbs"]
    assert "approve" in approver[0]["verbs"]
    assert set(viewer[0]["verbs"]) == {"get", "list", "watch"}
    labels = {name: find(objects, "ClusterRole", name)["metadata"]["labels"] for name in ("aiop-viewer", "aiop-requester", "aiop-approver")}
    assert labels["aiop-viewer"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert labels["aiop-requester"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert labels["aiop-approver"]["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"


def test_cloud_identity_wiring() -> None:
    eks = render(flavour_values("eks"))
    sa = find(eks, "ServiceAccount", "aiop-ai-operator-controller")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    assert "azure.workload.identity/use" not in str(eks)
    aks = render(flavour_values("aks"))
    sa = find(aks, "ServiceAccount", "aiop-ai-operator-controller")
    assert sa["metadata"]["annotations"]["azure.workload.identity/client-id"]
    pod_labels = find(aks, "Deployment", "aiop-ai-operator-controller")["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["azure.workload.identity/use"] == "true"
    assert "eks.amazonaws.com" not in str(aks)
    default = render()
    assert "eks.amazonaws.com" not in str(default) and "azure.workload.identity" not in str(default)


def test_settings_and_knowledge_url() -> None:
    for flavour in ("eks", "aks"):
        settings = find(render(flavour_values(flavour)), "ConfigMap", "aiop-ai-operator-settings")["data"]
        assert settings["AIOP_KNOWLEDGE_URL"].endswith("sslmode=require")
        assert all(key.startswith("AIOP_") for key in settings)
    with pytest.raises(helm_python.HelmError, match="sslmode"):
        render({"knowledge": {"centralUrl": "postgresql://aiop@db:5432/aiop"}})
    with pytest.raises(helm_python.HelmError, match="password"):
        render({"knowledge": {"centralUrl": "postgresql://aiop:hunter2@db:5432/aiop?sslmode=require"}})
    with pytest.raises(helm_python.HelmError, match="AIOP_"):
        render({"settings": {"extra": {"GITHUB_TOKEN": "x"}}})


def test_service_monitor_and_sync_engine_roles() -> None:
    eks = render(flavour_values("eks"))
    monitor = next(o for o in eks if o["kind"] == "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert "argoproj.io" in str(find(eks, "Role", "aiop-ai-operator-controller-gitops")["rules"])
    aks = render(flavour_values("aks"))
    gitops = find(aks, "Role", "aiop-ai-operator-controller-gitops")
    assert gitops["metadata"]["namespace"] == "flux-system" and "kustomize.toolkit.fluxcd.io" in str(gitops["rules"])
    assert not [o for o in render({"settings": {"syncEngine": "direct"}}) if o["metadata"]["name"].endswith("gitops")]


def test_admission_policy_shape(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = rendered
    policy = find(objects, "ValidatingAdmissionPolicy", "aiop-ai-operator-identity")
    binding = find(objects, "ValidatingAdmissionPolicyBinding", "aiop-ai-operator-identity")
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    (rule,) = policy["spec"]["matchConstraints"]["resourceRules"]
    assert sorted(rule["resources"]) == ["aiconversations", "airequests"], "must not match the status subresource"
    assert "system:serviceaccount:aiop-system:aiop-ai-operator-controller" in policy["spec"]["matchConditions"][0]["expression"]
    assert all(v.get("messageExpression") and v.get("reason") for v in policy["spec"]["validations"])
