"""A resource group's exported ARM template before an Azure Service Operator change, and restore from it.

Azure is the tests' local HTTPS server (tests/cloud/azure_fake.py), shaped after the ARM REST references
"Resource Groups - Export Template" (POST, 202 + Location, then 200 with `{"template", "error"}`) and
"Deployments - Create Or Update" (PUT, 201 + Azure-AsyncOperation, Running then Succeeded); the clients are
the real azure-mgmt-resource and azure-mgmt-resource-deployments clients, whose own ARM pollers follow the
operations, with the real `WorkloadIdentityCredential`. The Kubernetes API is the sandbox with ASO's real
StorageAccount CRD; no ASO controller runs, so after the plan is applied the test plays ASO and changes the
account in (fake) Azure itself. The backend is scripted; git, the forge, kopf and the client are real.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import git
import pytest

from controller.adapters.snapshots.azure_template import AzureTemplateExports
from controller.adapters.snapshots.base import SnapshotRequest
from controller.api.constants import Phase
from controller.api.types import ObjectRef, SnapshotRecord
from controller.catalog.cloud import CREATE_AZURE_STORAGE_ACCOUNT
from controller.catalog.cloud_hardening import HARDEN_STORAGE_ACCOUNT
from controller.catalog.guarded import DELETE_OBJECT
from controller.catalog.params import AzureStorageAccountParams, DeleteParams
from controller.catalog.params_cloud import StorageHardeningParams
from controller.cloud.azure import make_credential
from controller.planning.memory_cluster import MemoryCluster
from controller.tools import bootstrap
from controller.tools.cloud_fakes import CloudSpec, fixture_crds
from tests.cloud.seed import SeededClouds, seeded_clouds
from tests.engine.conftest import ALICE, Loop, start_loop
from tests.snapshots.test_csi_restore import plan, status

pytestmark = pytest.mark.timeout(240)
STORAGE_API = "storage.azure.com/v1api20230101"
GROUPS = ("rg-media", "rg-refused", "rg-broken", "rg-busy", "rg-gone")


def cloud_editor() -> list[dict[str, Any]]:
    """Alice may manage ASO storage accounts and resource groups in shop."""
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "cloud-editor", "namespace": "shop"},
         "rules": [{"apiGroups": ["storage.azure.com", "resources.azure.com"], "resources": ["*"],
                    "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "cloud-editor", "namespace": "shop"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cloud-editor"},
         "subjects": [{"kind": "User", "name": ALICE.user, "apiGroup": "rbac.authorization.k8s.io"}]}]


@pytest.fixture(scope="module")
def azure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededClouds]:
    accounts = {"rg-media": "mediaassets01", "rg-refused": "refusedacct01", "rg-broken": "brokenacct01",
                "rg-busy": "busyacct01"}
    spec = CloudSpec.model_validate({"azure": {
        "resource_groups": [{"name": rg, "location": "westeurope"} for rg in GROUPS],
        "storage_accounts": [{"name": name, "resource_group": rg, "allow_blob_public_access": True,
                              "minimum_tls_version": "TLS1_0"} for rg, name in accounts.items()],
        "aso_roles": [{"role": "Storage Account Contributor", "scope": {"resource_group": rg}} for rg in GROUPS]}})
    with seeded_clouds(spec, tmp_path_factory.mktemp("azure")) as seeded:
        yield seeded


@pytest.fixture(scope="module")
def loop(azure: SeededClouds, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    env = azure.env()
    yield from start_loop(tmp_path_factory.mktemp("aiop-azure-template"), env=env, extra_crds=fixture_crds(),
                          extra_objects=cloud_editor())


def account(azure: SeededClouds, rg: str, name: str) -> dict[str, Any]:
    assert azure.azure is not None
    return azure.azure.resources[f"{azure.azure.rg_id(rg)}/providers/Microsoft.Storage/storageAccounts/{name}".lower()]


def calls(azure: SeededClouds, method: str, fragment: str) -> list[str]:
    assert azure.azure is not None
    return [p for m, p, _ in azure.azure.seen if m == method and fragment.lower() in p.lower()]


def exports_for(loop: Loop, azure: SeededClouds, lro_wait_s: float) -> AzureTemplateExports:
    """The provider as the operator makes it, keeping templates in the operator's namespace (made if missing:
    the operator runs there, a fresh sandbox may not have it yet)."""
    assert azure.azure is not None
    c = azure.overrides
    credential = make_credential(c["azure_tenant_id"], c["azure_client_id"], c["azure_federated_token_file"],
                                 c["azure_authority_host"], c["azure_ca_bundle"])
    home = loop.settings.kube.operator_namespace
    if loop.kube.get("v1", "Namespace", home) is None:
        bootstrap.create_object(loop.kube, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": home}})
    return AzureTemplateExports(credential, azure.azure.subscription, loop.kube, home, azure.azure.url,
                                azure.azure.ca_bundle, lro_wait_s=lro_wait_s)


def harden(loop: Loop, thread: str, name: str) -> dict[str, Any]:
    loop.backend.enqueue(plan("harden-storage-account", name=name, namespace="shop"))
    loop.client.say("shop", thread, f"lock down storage account {name}", ALICE)
    return loop.client.wait_settled("shop", thread)


def test_the_provider_exports_through_the_long_running_operation(loop: Loop, azure: SeededClouds) -> None:
    """202 + Location, polled until 200; the exact template is kept in the cluster, taken once per name."""
    assert azure.azure is not None
    exports = exports_for(loop, azure, 10)
    source = ObjectRef(api_version=STORAGE_API, kind="StorageAccount", name="brokenacct01", namespace="shop")
    req = SnapshotRequest(name="aiop-direct-rg-broken", thread_id="direct", kind="azure-resource-group",
                          source=source, cloud_id="rg-broken")
    first = exports.take(req)
    assert first.state == "Ready" and first.handle == azure.azure.rg_id("rg-broken"), first
    assert len(calls(azure, "POST", "/resourcegroups/rg-broken/exportTemplate")) == 1
    assert len(calls(azure, "GET", "/operationresults/")) >= 2  # 202 (still running), then 200 with the template
    secret = loop.kube.get("v1", "Secret", "aiop-direct-rg-broken", loop.settings.kube.operator_namespace)
    assert secret is not None and secret["metadata"]["labels"]["aiop.dev/thread"] == "direct"
    again = exports.take(req)
    assert again == first and len(calls(azure, "POST", "/resourcegroups/rg-broken/exportTemplate")) == 1


def test_a_slow_export_is_picked_up_again_from_its_continuation_token(loop: Loop, azure: SeededClouds) -> None:
    """Not done within the wait: Pending with the poller's token (no credential in it); a new provider (a
    restarted controller) follows the same operation to its end instead of exporting again."""
    assert azure.azure is not None
    source = ObjectRef(api_version=STORAGE_API, kind="StorageAccount", name="busyacct01", namespace="shop")
    impatient = exports_for(loop, azure, 0)
    first = impatient.take(SnapshotRequest(name="aiop-slow-rg-busy", thread_id="slow", kind="azure-resource-group",
                                           source=source, cloud_id="rg-busy"))
    assert first.state == "Pending" and "exporting resource group rg-busy" in first.message
    token = first.detail["continuation"]
    assert "Bearer" not in token and "authorization" not in token.lower()
    record = SnapshotRecord(name="aiop-slow-rg-busy", provider="azure-template", kind="azure-resource-group",
                            source=source, cloud_id="rg-busy", restore_detail=dict(first.detail))
    restarted = exports_for(loop, azure, 10)
    assert restarted.status(record).state == "Ready"
    assert len(calls(azure, "POST", "/resourcegroups/rg-busy/exportTemplate")) == 1  # the same export, followed
    kept = restarted.payload(record.model_copy(update={"state": "Ready"}))
    assert kept is not None and kept[0] == "azure-rg-busy-template.json" and "busyacct01" in kept[1]


def test_restore_into_a_group_that_is_gone_lets_the_revert_run(loop: Loop, azure: SeededClouds) -> None:
    """The ASO ResourceGroup was deleted with its group: nothing to redeploy into, so restore says so and goes on
    (the revert re-creates the object) instead of failing or waiting for a group nobody re-creates."""
    assert azure.azure is not None
    exports = exports_for(loop, azure, 10)
    source = ObjectRef(api_version="resources.azure.com/v1api20200601", kind="ResourceGroup", name="rg-gone",
                       namespace="shop")
    taken = exports.take(SnapshotRequest(name="aiop-gone-rg-gone", thread_id="gone", kind="azure-resource-group",
                                         source=source, cloud_id="rg-gone"))
    assert taken.state == "Ready"
    del azure.azure.resources[azure.azure.rg_id("rg-gone").lower()]
    record = SnapshotRecord(name="aiop-gone-rg-gone", provider="azure-template", kind="azure-resource-group",
                            source=source, cloud_id="rg-gone", state="Ready", used=True)
    step = exports.restore_group(record, "gone")
    assert step.done and not step.failed
    assert "no longer exists" in step.message and "backup/azure-rg-gone-template.json" in step.message


def test_template_exported_before_an_aso_change_and_restore_redeploys_it(loop: Loop, azure: SeededClouds) -> None:
    assert azure.azure is not None
    obj = harden(loop, "media", "mediaassets01")
    assert status(obj)["phase"] == Phase.AWAITING_APPROVAL, status(obj)["conditions"]
    planned = status(obj)["revisions"][-1]["snapshots"]
    assert [(p["provider"], p["kind"], p["cloudId"]) for p in planned] == [
        ("azure-template", "azure-resource-group", "rg-media")]
    assert "Before running:\n- export template of resource group rg-media (Azure Resource Manager)" in \
        status(obj)["messages"][-1]["text"]
    assert calls(azure, "POST", "/resourcegroups/rg-media/exportTemplate") == []  # nothing before approval

    loop.client.approve("shop", "media", ALICE)
    obj = loop.client.wait_settled("shop", "media")
    assert status(obj)["phase"] == Phase.AWAITING_RATING, status(obj)["conditions"]
    record = status(obj)["execution"]
    snap = record["snapshots"][0]
    assert (snap["provider"], snap["state"], snap["used"]) == ("azure-template", "Ready", True)
    assert snap["handle"] == azure.azure.rg_id("rg-media") and snap["readyAt"] <= record["syncStarted"]
    head = git.Repo(loop.settings.local_repo).commit(status(obj)["links"]["branch"])
    folder = status(obj)["links"]["folder"]
    template = json.loads((head.tree / f"{folder}/backup/azure-rg-media-template.json").data_stream.read())
    exported = next(r for r in template["resources"] if r["type"] == "Microsoft.Storage/storageAccounts")
    assert exported["properties"]["allowBlobPublicAccess"] is True  # as it was before the change
    assert exported["properties"]["minimumTlsVersion"] == "TLS1_0"
    assert "rg-media" in (head.tree / f"{folder}/backup/snapshots.yaml").data_stream.read().decode()
    managed = loop.kube.get(STORAGE_API, "StorageAccount", "mediaassets01", "shop") or {}
    assert managed["spec"]["allowBlobPublicAccess"] is False
    # ASO would now change the account: the test plays it, and someone adds an account to the group meanwhile
    account(azure, "rg-media", "mediaassets01")["properties"].update(allowBlobPublicAccess=False,
                                                                      minimumTlsVersion="TLS1_2")
    azure.azure.add_storage_account("medianew01", "rg-media", "westeurope")

    loop.client.restore("shop", "media", ALICE)
    obj = loop.client.wait_settled("shop", "media")
    assert status(obj)["phase"] == Phase.RESTORED, status(obj)["conditions"]
    back = account(azure, "rg-media", "mediaassets01")["properties"]
    assert back["allowBlobPublicAccess"] is True and back["minimumTlsVersion"] == "TLS1_0"
    assert back["provisioningState"] == "Succeeded"
    assert account(azure, "rg-media", "medianew01")  # incremental: what the template does not name stays
    puts = calls(azure, "PUT", "/resourcegroups/rg-media/providers/Microsoft.Resources/deployments/")
    assert len(puts) == 1 and puts[0].endswith("/resourcegroups/rg-media/providers/Microsoft.Resources/deployments/"
                                               "aiop-restore-shop-media")
    deployment = azure.azure.resources[puts[0].lower()]
    assert deployment["properties"]["mode"] == "Incremental"
    assert deployment["properties"]["provisioningState"] == "Succeeded"
    snap = status(obj)["execution"]["snapshots"][0]
    assert snap["restorePhase"] == "Done" and "redeployed" in snap["restoreMessage"]
    assert loop.kube.get(STORAGE_API, "StorageAccount", "mediaassets01", "shop") is None  # adopted: object removed


@pytest.mark.parametrize(("thread", "rg", "name", "words"), [
    ("refused", "rg-refused", "refusedacct01", "AuthorizationFailed"),
    ("broken", "rg-broken", "brokenacct01", "ExportTemplateCompletedWithErrors")])
def test_a_failed_export_fails_the_thread_with_nothing_applied(loop: Loop, azure: SeededClouds, thread: str, rg: str,
                                                               name: str, words: str) -> None:
    """ARM refuses the POST (403), or the export finishes with an error: Failed, ARM's words, no change made."""
    assert azure.azure is not None
    if thread == "refused":
        azure.azure.faults.append(("/exportTemplate", 403))
    else:
        azure.azure.export_errors[rg] = {"code": "ExportTemplateCompletedWithErrors",
                                         "message": "Export template operation completed with errors."}
    harden(loop, thread, name)
    loop.client.approve("shop", thread, ALICE)
    obj = loop.client.wait_settled("shop", thread)
    assert status(obj)["phase"] == Phase.FAILED, status(obj)["conditions"]
    said = status(obj)["messages"][-1]["text"]
    assert words in said and rg in said and "Nothing was applied" in said, said
    assert loop.kube.get(STORAGE_API, "StorageAccount", name, "shop") is None
    assert account(azure, rg, name)["properties"]["allowBlobPublicAccess"] is True


def test_a_transient_export_failure_is_retried_not_failed(loop: Loop, azure: SeededClouds) -> None:
    """ARM answers 503 more often than the SDK retries: the reconciler tries again, and the change runs."""
    assert azure.azure is not None
    azure.azure.faults.extend([("/resourcegroups/rg-busy/exportTemplate", 503)] * 5)
    before = len(calls(azure, "POST", "/resourcegroups/rg-busy/exportTemplate"))
    harden(loop, "busy", "busyacct01")
    loop.client.approve("shop", "busy", ALICE)
    obj = loop.client.wait_settled("shop", "busy")
    assert status(obj)["phase"] == Phase.AWAITING_RATING, status(obj)["conditions"]
    assert status(obj)["execution"]["snapshots"][0]["state"] == "Ready"
    assert azure.azure.faults == []  # all five 503s were answered (SDK retries, then the reconciler's)
    assert len(calls(azure, "POST", "/resourcegroups/rg-busy/exportTemplate")) == before + 1  # then one, answered


def test_aso_changes_and_deletes_name_the_resource_group_their_object_lives_in() -> None:
    """The group comes from the ASO object: its owner ResourceGroup object's azureName, or the owner's ARM id;
    a delete ASO is told to leave in Azure (detach-on-delete) and a new account put no group at risk."""
    rg_api = "resources.azure.com/v1api20200601"

    def storage(name: str, owner: dict[str, str], annotations: dict[str, str] | None = None) -> dict[str, Any]:
        return {"apiVersion": STORAGE_API, "kind": "StorageAccount",
                "metadata": {"name": name, "namespace": "shop", "annotations": annotations or {}},
                "spec": {"azureName": name, "location": "westeurope", "owner": owner}}

    cluster = MemoryCluster([
        {"apiVersion": rg_api, "kind": "ResourceGroup", "metadata": {"name": "rg-shop-dev", "namespace": "shop"},
         "spec": {"azureName": "RG_Shop(dev)", "location": "westeurope"}},
        storage("shopfiles", {"name": "rg-shop-dev"}),
        storage("shoplogs", {"armId": "/subscriptions/s1/resourceGroups/rg-logs"}),
        storage("shoparchive", {"name": "rg-shop-dev"}, {"serviceoperator.azure.com/reconcile-policy": "detach-on-delete"}),
    ])

    def named(items: list[Any]) -> list[tuple[str, str, str]]:
        return [(a.kind, a.cloud_id, a.ref.name) for a in items]

    def delete(api_version: str, kind: str, name: str) -> list[Any]:
        return DELETE_OBJECT.data_at_risk(DeleteParams(api_version=api_version, kind=kind, name=name, namespace="shop"),
                                          cluster)

    hardened = HARDEN_STORAGE_ACCOUNT.data_at_risk(StorageHardeningParams(name="shopfiles", namespace="shop"), cluster)
    assert named(hardened) == [("azure-resource-group", "RG_Shop(dev)", "shopfiles")]
    assert named(delete(STORAGE_API, "StorageAccount", "shoplogs")) == [("azure-resource-group", "rg-logs", "shoplogs")]
    assert delete(STORAGE_API, "StorageAccount", "shoparchive") == []
    assert named(delete(rg_api, "ResourceGroup", "rg-shop-dev")) == [
        ("azure-resource-group", "RG_Shop(dev)", "rg-shop-dev")]

    def create(name: str) -> list[Any]:
        return CREATE_AZURE_STORAGE_ACCOUNT.data_at_risk(AzureStorageAccountParams(
            name=name, namespace="shop", resource_group="RG_Shop(dev)", location="westeurope"), cluster)

    assert named(create("shopfiles")) == [("azure-resource-group", "RG_Shop(dev)", "shopfiles")]
    assert create("shopnew01") == []  # a new account: nothing there to lose
