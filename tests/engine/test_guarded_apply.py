"""Direct sync's writes are guarded by the resourceVersion read just before them.

bench.load found one thread's change written twice: its forced apply (an approved take-over) ran a second
time after its lock was released, over the next thread's update — the shape of a request the server runs
late, after the client gave up on it and tried again. Here the same request is replayed through the real
`Kube` adapter against the sandbox (a faithful fake of the API server, enforcing resourceVersion
preconditions on apply as kube-apiserver does): the replay is refused 409, is not retried blindly, and the
later update stays.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.adapters.kube import Kube, KubeError, load_api_client
from controller.adapters.sync.base import SyncRequest
from controller.adapters.sync.direct import DirectSync
from controller.api.types import Identity
from sandbox.server import SandboxServer
from tests.engine.conftest import deployment

ADMIN = Identity(user="admin@example.com", groups=["system:masters"])
KEY = "apps/v1/Deployment/shop/web"


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[Kube]:
    with SandboxServer(port=0, home=tmp_path / "home") as server:
        admin = Kube(load_api_client(str(server.kubeconfig_path)))
        admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
        admin.apply(deployment("web", 2), "kubectl", force=False)
        yield admin


def _request(replicas: int, version: str, manager: str) -> SyncRequest:
    return SyncRequest(thread_id="t", digest="sha256:x", revision=1, summary="scale web",
                       requester=ADMIN, manifests=(deployment("web", replicas),),
                       field_manager=manager, takes_over=(f"{KEY} .spec.replicas",),
                       preconditions=((KEY, version),))


def _replicas(kube: Kube) -> int:
    live = kube.get("apps/v1", "Deployment", "web", "shop")
    assert live is not None
    return int(live["spec"]["replicas"])


def test_a_late_repeat_of_a_forced_apply_does_not_overwrite_a_later_update(kube: Kube) -> None:
    sync = DirectSync(kube)
    read = kube.get("apps/v1", "Deployment", "web", "shop")
    assert read is not None
    first = _request(6, read["metadata"]["resourceVersion"], "aiop-load-3-r1")
    assert sync.start(first).ok and _replicas(kube) == 6  # takes replicas over from kubectl, as approved

    after = kube.get("apps/v1", "Deployment", "web", "shop")
    assert after is not None
    assert sync.start(_request(12, after["metadata"]["resourceVersion"], "aiop-load-9-r1")).ok
    assert _replicas(kube) == 12

    with pytest.raises(KubeError) as refused:  # load-3's request again, as the server would run a late copy
        sync.start(first)
    assert refused.value.code == 409 and refused.value.transient  # the thread reads again and decides
    assert "the object has been modified" in refused.value.message
    assert _replicas(kube) == 12


def test_an_unguarded_manifest_still_applies(kube: Kube) -> None:
    """A new object has no version to be guarded by: it is created as before."""
    fresh = deployment("api", 1)
    req = SyncRequest(thread_id="t", digest="sha256:x", revision=1, summary="add api",
                      requester=ADMIN, manifests=(fresh,), field_manager="aiop-t-r1")
    assert DirectSync(kube).start(req).ok
    assert kube.get("apps/v1", "Deployment", "api", "shop") is not None
