"""A person's message reaches the thread once, whatever the controller and the network do meanwhile.

The Kubernetes API is the sandbox (a faithful fake speaking the real REST protocol, with the chart's
admission policy evaluated in CEL and seeded fault injection, see sandbox/); no controller runs, so
the test plays the controller's status writes itself. The kubernetes client is real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.adapters.kube import Kube, KubeError, load_api_client
from controller.api.constants import API_VERSION, KIND_CONVERSATION
from controller.api.types import Identity
from controller.client import ConversationClient
from controller.tools import bootstrap
from sandbox.server import SandboxServer

DEMO = Identity(user=bootstrap.DEMO_USER)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxServer, Kube]]:
    with SandboxServer(port=0, home=Path(tmp_path_factory.mktemp("aiop-say"))) as server:
        kube = Kube(load_api_client(str(server.kubeconfig_path)))
        bootstrap.install_crds(kube)
        bootstrap.install_admission(kube, server)
        bootstrap.install_demo(kube)
        yield server, kube


def texts(obj: dict[str, Any]) -> list[str]:
    return [t["text"] for t in obj["spec"]["turns"]]


def test_a_message_is_not_refused_because_the_controller_wrote_status_meanwhile(
        cluster: tuple[SandboxServer, Kube]) -> None:
    """The message carries no resourceVersion that a status write could make stale: the person never sees
    "kept changing; try again" on a busy thread, and the status written in between stays."""
    _server, kube = cluster
    client = ConversationClient(kube)
    first = client.say("shop", "busy", "scale web in shop to 3 replicas", DEMO)
    seen_version = first["metadata"]["resourceVersion"]
    for n in range(3):  # the controller's writes since the person's page was loaded
        kube.merge_patch(API_VERSION, KIND_CONVERSATION, "busy", "shop", {"status": {"messageCount": n + 1}},
                         subresource="status")
    after = client.say("shop", "busy", "no, make it 4", DEMO)
    assert texts(after) == ["scale web in shop to 3 replicas", "no, make it 4"]
    assert after["spec"]["turns"][-1]["author"]["user"] == DEMO.user
    assert after["status"]["messageCount"] == 3
    assert int(after["metadata"]["resourceVersion"]) > int(seen_version) + 3


def test_a_message_whose_answer_was_lost_is_not_sent_twice(cluster: tuple[SandboxServer, Kube]) -> None:
    """The API server commits the turn and then the connection drops (a timeout after etcd wrote it): the
    person is told the message may not have arrived, and the thread holds it once, not twice."""
    server, kube = cluster
    client = ConversationClient(kube)
    client.say("shop", "lossy", "scale web in shop to 3 replicas", DEMO)
    server.set_faults({"rules": [{"kind": "timeout-after-write", "rate": 1.0, "seconds": 0.2, "verbs": ["patch"],
                                  "resources": ["aiconversations.aiop.dev"]}]}, seed=1)
    try:
        with pytest.raises(KubeError) as lost:
            client.say("shop", "lossy", "no, make it 4", DEMO)
    finally:
        server.set_faults(None)
    assert lost.value.transient
    stored = kube.get(API_VERSION, KIND_CONVERSATION, "lossy", "shop")
    assert stored is not None
    assert texts(stored) == ["scale web in shop to 3 replicas", "no, make it 4"]


def test_a_message_is_one_small_request_on_a_long_thread(cluster: tuple[SandboxServer, Kube]) -> None:
    """Turn 200 costs the person one request, a patch that adds the turn, as on turn 2: the thread is not
    read first (a read of a long thread costs in proportion to its size)."""
    server, kube = cluster
    client = ConversationClient(kube)
    for n in range(199):
        client.say("shop", "long", f"message {n}", DEMO)
    server.set_faults({"rules": [{"kind": "latency", "rate": 1.0, "seconds": 0.0}]}, seed=1)  # the fault log
    try:
        client.say("shop", "long", "message 199", DEMO)
        requests = server.fault_log()
    finally:
        server.set_faults(None)
    assert [(r.verb, r.resource) for r in requests] == [("patch", "aiconversations.aiop.dev")], requests
    stored = kube.get(API_VERSION, KIND_CONVERSATION, "long", "shop")
    assert stored is not None and len(texts(stored)) == 200 and texts(stored)[-1] == "message 199"
