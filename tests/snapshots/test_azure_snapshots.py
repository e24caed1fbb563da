"""Azure managed-disk snapshots through the Azure SDK (azure-mgmt-compute), as the operator's Workload Identity.

Azure is the tests' local HTTPS server (tests/cloud/azure_fake.py), shaped after the ARM REST API reference
for the calls used: the Entra ID token endpoint (a federated client assertion), `GET`/`PUT`/`DELETE` of
`Microsoft.Compute/snapshots` and `disks` with `api-version`, and long-running operations answered with
`Azure-AsyncOperation` that the SDK's own ARM poller follows (InProgress, then Succeeded). The Kubernetes API
is the sandbox; the claim's volume is a statically provisioned Azure Disk CSI volume whose handle is the
disk's ARM id. The backend is scripted; git, the forge, kopf and the client are real.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from controller.adapters.snapshots.azure import AzureDiskSnapshots
from controller.adapters.snapshots.base import SnapshotRequest
from controller.api.constants import Phase
from controller.api.types import ObjectRef
from controller.cloud.azure import make_credential
from controller.tools import bootstrap
from controller.tools.cloud_fakes import CloudSpec
from tests.cloud.seed import SeededClouds, seeded_clouds
from tests.engine.conftest import ALICE, Loop, start_loop
from tests.snapshots import objects as o
from tests.snapshots.test_aws_snapshots import rights
from tests.snapshots.test_csi_restore import claim, plan, status

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def azure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededClouds]:
    spec = CloudSpec.model_validate({"azure": {"resource_groups": [{"name": "mc-aks-prod", "location": "westeurope"}],
                                               "disks": [{"name": "pvc-ledger", "resource_group": "mc-aks-prod",
                                                          "size_gib": 16}]}})
    with seeded_clouds(spec, tmp_path_factory.mktemp("azure")) as seeded:
        yield seeded


@pytest.fixture(scope="module")
def loop(azure: SeededClouds, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    env = azure.env()
    yield from start_loop(tmp_path_factory.mktemp("aiop-azure"), env=env,
                          extra_objects=[*o.storage_rights(ALICE.user), *rights()])


def disk_id(azure: SeededClouds, name: str) -> str:
    assert azure.azure is not None
    return f"{azure.azure.rg_id('mc-aks-prod')}/providers/Microsoft.Compute/disks/{name}"


def test_the_provider_follows_the_long_running_operation(azure: SeededClouds) -> None:
    """The SDK's PUT is answered 201 + Azure-AsyncOperation; the poller reads the operation until Succeeded."""
    assert azure.azure is not None
    fake, c = azure.azure, azure.overrides
    credential = make_credential(c["azure_tenant_id"], c["azure_client_id"], c["azure_federated_token_file"],
                                 c["azure_authority_host"], c["azure_ca_bundle"])
    provider = AzureDiskSnapshots(credential, fake.subscription, fake.url, fake.ca_bundle, lro_wait_s=5)
    source = ObjectRef(api_version="v1", kind="PersistentVolumeClaim", name="ledger", namespace="shop")
    first = provider.take(SnapshotRequest(name="aiop-direct-ledger", thread_id="direct", kind="volume", source=source,
                                          cloud_id=disk_id(azure, "pvc-ledger")))
    assert first.state == "Ready" and first.size == "16Gi" and first.detail["location"] == "westeurope"
    polled = [p for m, p, _ in fake.seen if m == "GET" and "/asyncOperations/" in p]
    assert len(polled) >= 2  # InProgress, then Succeeded
    again = provider.take(SnapshotRequest(name="aiop-direct-ledger", thread_id="direct", kind="volume",
                                          source=source, cloud_id=disk_id(azure, "pvc-ledger")))
    assert again.handle == first.handle  # idempotent by name: no second PUT
    puts = [p for m, p, _ in fake.seen if m == "PUT" and p.endswith("/snapshots/aiop-direct-ledger")]
    assert len(puts) == 1


def test_disk_snapshot_before_a_claim_is_deleted_and_restore_from_it(loop: Loop, azure: SeededClouds) -> None:
    assert azure.azure is not None
    handle = disk_id(azure, "pvc-ledger")
    bootstrap.create_object(loop.kube, {
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-ledger"},
        "spec": {"capacity": {"storage": "16Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                 "csi": {"driver": "disk.csi.azure.com", "volumeHandle": handle},
                 "claimRef": {"namespace": "shop", "name": "ledger"}}})
    body = o.claim("ledger", size="16Gi", storage_class="")
    body["spec"]["volumeName"] = "pv-ledger"
    bootstrap.create_object(loop.kube, body)
    deadline = time.monotonic() + 20
    while claim(loop, "ledger").get("status", {}).get("phase") != "Bound" and time.monotonic() < deadline:
        time.sleep(0.1)
    loop.backend.enqueue(plan("delete-object", api_version="v1", kind="PersistentVolumeClaim", name="ledger",
                              namespace="shop"))
    loop.client.say("shop", "drop-ledger", "delete the ledger claim", ALICE)
    obj = loop.client.wait_settled("shop", "drop-ledger")
    planned = status(obj)["revisions"][-1]["snapshots"]
    assert [(p["provider"], p["cloudId"]) for p in planned] == [("azure-disk", handle)]
    loop.client.approve("shop", "drop-ledger", ALICE)
    obj = loop.client.wait_settled("shop", "drop-ledger")
    assert status(obj)["phase"] == Phase.AWAITING_RATING, status(obj)["conditions"]
    snap = status(obj)["execution"]["snapshots"][0]
    stored = azure.azure.resources[snap["handle"].lower()]
    assert stored["properties"]["creationData"] == {"createOption": "Copy", "sourceResourceId": handle}
    assert stored["properties"]["incremental"] is True and stored["properties"]["provisioningState"] == "Succeeded"

    loop.client.restore("shop", "drop-ledger", ALICE)
    obj = loop.client.wait_settled("shop", "drop-ledger")
    assert status(obj)["phase"] == Phase.RESTORED, status(obj)["conditions"]
    restored = claim(loop, "ledger")
    pv = loop.kube.get("v1", "PersistentVolume", restored["spec"]["volumeName"]) or {}
    new_disk = pv["spec"]["csi"]["volumeHandle"]
    assert pv["spec"]["csi"]["driver"] == "disk.csi.azure.com" and new_disk != handle
    made = azure.azure.resources[new_disk.lower()]
    assert made["properties"]["creationData"]["sourceResourceId"] == snap["handle"]
    assert made["properties"]["provisioningState"] == "Succeeded" and restored["status"]["phase"] == "Bound"
