"""What a plan says about the data it puts at risk, and what approving it approves.

The catalog's `data_at_risk` is pure (read through a ClusterReader); the provider choice reads the cluster
with the operator's rights. Both run here against the sandbox API server (the real snapshot and Velero
CRDs installed), with the real catalog and the engine's `Snapshots`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controller.adapters.kube import Kube, load_api_client
from controller.adapters.snapshots.csi import CsiSnapshots
from controller.adapters.snapshots.select import Providers
from controller.adapters.snapshots.velero import VeleroBackups
from controller.api.types import ObjectRef, PlannedSnapshot
from controller.catalog.base import AtRisk
from controller.catalog.registry import validate_call
from controller.engine.live import LiveClusterReader
from controller.engine.planning import plan_digest
from controller.engine.snapshots import Snapshots, merge_planned
from controller.planning.types import ActionCall
from controller.tools import bootstrap
from sandbox.server import SandboxServer
from tests.snapshots import objects as o

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    with SandboxServer(port=0, home=tmp_path_factory.mktemp("plan") / "home") as server:
        k = Kube(load_api_client(str(server.kubeconfig_path)))
        bootstrap.install_crds(k, o.snapshot_crds() + o.velero_crds())
        for obj in [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
                    o.snapshot_class(), o.claim("bound"), o.database("pg", replicas=2),
                    o.claim("waiting", storage_class="local-path"), *o.storage_location()]:
            bootstrap.create_object(k, obj)
        import time

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len([c for c in k.list("v1", "PersistentVolumeClaim", "shop")
                                                   if c.get("status", {}).get("phase") == "Bound"]) < 3:
            time.sleep(0.1)
        yield k


def at_risk(kube: Kube, action: str, **params: object) -> list[AtRisk]:
    spec, validated = validate_call(ActionCall(action=action, params=params))
    return spec.data_at_risk(validated, LiveClusterReader(kube))


def claims(risks: list[AtRisk]) -> list[str]:
    return sorted(r.ref.name for r in risks)


def test_steps_declare_the_claims_they_endanger(kube: Kube) -> None:
    assert claims(at_risk(kube, "set-image", kind="StatefulSet", name="pg", namespace="shop", image="postgres:17")) \
        == ["data-pg-0", "data-pg-1"]
    assert claims(at_risk(kube, "expand-pvc", name="bound", namespace="shop", size="2Gi")) == ["bound"]
    deleted = at_risk(kube, "delete-object", api_version="v1", kind="PersistentVolumeClaim", name="bound",
                      namespace="shop")
    assert claims(deleted) == ["bound"] and deleted[0].required
    assert at_risk(kube, "scale", kind="StatefulSet", name="pg", namespace="shop", replicas=1) == []  # claims kept
    assert at_risk(kube, "restart", kind="StatefulSet", name="pg", namespace="shop") == []
    rds = at_risk(kube, "modify-rds-instance", identifier="orders-db", namespace="shop", engine_version="16.3")
    assert [(r.kind, r.cloud_id, r.required) for r in rds] == [("db-instance", "orders-db", True)]


def test_the_provider_is_chosen_by_what_the_cluster_runs(kube: Kube) -> None:
    auto = Snapshots(kube, Providers(CsiSnapshots(kube), VeleroBackups(kube)))
    risk = at_risk(kube, "expand-pvc", name="bound", namespace="shop", size="2Gi")
    [csi] = auto.plan("t1", "a1", risk)
    assert (csi.provider, csi.snapshot_class, csi.name, csi.size, csi.actions) == (
        "csi", "csi-hostpath", "aiop-t1-bound", "1Gi", ["a1"])
    assert csi.describe() == "snapshot PVC shop/bound (1Gi, VolumeSnapshotClass csi-hostpath)"
    velero = Snapshots(kube, Providers(CsiSnapshots(kube), VeleroBackups(kube), volumes="velero"))
    [backup] = velero.plan("t1", "a1", risk)
    assert (backup.provider, backup.snapshot_class, backup.name) == ("velero", "default", "aiop-t1-shop")
    off = Snapshots(kube, Providers(CsiSnapshots(kube), VeleroBackups(kube), volumes="none"))
    [none] = off.plan("t1", "a1", risk)
    assert none.provider == "none" and "AIOP_SNAPSHOT_VOLUMES=none" in none.note
    assert none.describe().startswith("NOT snapshotted: PVC shop/bound")
    cloud = Snapshots(kube, Providers(CsiSnapshots(kube), VeleroBackups(kube), volumes="cloud"))
    [no_cloud] = cloud.plan("t1", "a1", risk)
    assert no_cloud.provider == "none" and "no cloud snapshot for driver sandbox.aiop.dev/hostpath" in no_cloud.note
    rds = at_risk(kube, "modify-rds-instance", identifier="orders-db", namespace="shop", instance_class="db.r6g.large")
    [db] = auto.plan("t1", "a1", rds)
    assert db.provider == "none" and "AIOP_AWS" in db.note


def test_an_unbound_claim_holds_no_data_and_several_steps_share_one_snapshot(kube: Kube) -> None:
    snapshots = Snapshots(kube, Providers(CsiSnapshots(kube), VeleroBackups(kube)))
    waiting = AtRisk("volume", ObjectRef(api_version="v1", kind="PersistentVolumeClaim", name="waiting",
                                         namespace="shop"), "test", required=True)
    assert snapshots.plan("t1", "a1", [waiting]) == []  # not bound to a volume yet: nothing to lose
    risk = at_risk(kube, "expand-pvc", name="bound", namespace="shop", size="2Gi")
    first = snapshots.plan("t1", "a1", risk)
    second = [p.model_copy(update={"required": True}) for p in snapshots.plan("t1", "a2", risk)]
    [merged] = merge_planned(first + second)
    assert merged.actions == ["a1", "a2"] and merged.required


def test_approving_a_plan_approves_its_snapshot_step() -> None:
    """The digest covers the snapshots: another provider or class is another plan; a plan without any keeps
    the digest it always had."""
    source = ObjectRef(api_version="v1", kind="PersistentVolumeClaim", name="data", namespace="shop")
    one = PlannedSnapshot(kind="volume", source=source, provider="csi", snapshot_class="ebs-csi", name="aiop-t-data")
    other = one.model_copy(update={"snapshot_class": "ebs-csi-cheap"})
    none = one.model_copy(update={"provider": "none", "snapshot_class": ""})
    base = plan_digest("t", 1, [{"action": "expand-pvc"}], [], [], [])
    digests = {plan_digest("t", 1, [{"action": "expand-pvc"}], [], [], [], [p.wire()]) for p in (one, other, none)}
    assert len(digests) == 3 and base not in digests
    assert plan_digest("t", 1, [{"action": "expand-pvc"}], [], [], [], []) == base
