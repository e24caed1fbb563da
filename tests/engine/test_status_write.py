"""The operator's status writes ask for the written object's metadata alone, and chain on its resourceVersion.

The Kubernetes API is the sandbox (a faithful fake speaking the real REST protocol, which answers
`Accept: ...;as=PartialObjectMetadata` as an API server does); the kubernetes client is real. No
controller runs: the test makes the writes the reconciler makes (`Reconciler._commit`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.adapters.kube import Kube, KubeError, load_api_client
from controller.api.constants import API_VERSION, KIND_CONVERSATION
from controller.api.types import Identity
from controller.client import ConversationClient
from controller.tools import bootstrap
from sandbox.server import SandboxServer


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    with SandboxServer(port=0, home=Path(tmp_path_factory.mktemp("aiop-status"))) as server:
        kube = Kube(load_api_client(str(server.kubeconfig_path)))
        bootstrap.install_crds(kube)
        bootstrap.install_demo(kube)
        yield kube


def test_a_status_write_gets_back_only_metadata_and_its_version_guards_the_next(kube: Kube) -> None:
    """A long status (as at turn 500) is written and only the metadata comes back; its resourceVersion is the
    stored one, so the next write made with it lands, and one made with the version before is a conflict."""
    demo = Identity(user=bootstrap.DEMO_USER)
    ConversationClient(kube).say("shop", "meta", "scale web in shop to 3 replicas", demo)
    before = kube.get(API_VERSION, KIND_CONVERSATION, "meta", "shop")
    assert before is not None
    status = {"messageCount": 1, "messages": [{"id": 1, "role": "assistant", "text": "ok " * 20000}]}
    written = kube.merge_patch(API_VERSION, KIND_CONVERSATION, "meta", "shop",
                               {"metadata": {"resourceVersion": before["metadata"]["resourceVersion"]},
                                "status": status}, subresource="status", metadata_only=True)
    assert written["kind"] == "PartialObjectMetadata" and set(written) == {"kind", "apiVersion", "metadata"}
    stored = kube.get(API_VERSION, KIND_CONVERSATION, "meta", "shop")
    assert stored is not None and stored["status"]["messages"][0]["text"].startswith("ok ok")
    assert written["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    again = kube.merge_patch(API_VERSION, KIND_CONVERSATION, "meta", "shop",
                             {"metadata": {"resourceVersion": written["metadata"]["resourceVersion"]},
                              "status": {"messageCount": 2}}, subresource="status", metadata_only=True)
    assert int(again["metadata"]["resourceVersion"]) > int(written["metadata"]["resourceVersion"])
    with pytest.raises(KubeError) as refused:
        kube.merge_patch(API_VERSION, KIND_CONVERSATION, "meta", "shop",
                         {"metadata": {"resourceVersion": written["metadata"]["resourceVersion"]},
                          "status": {"messageCount": 3}}, subresource="status", metadata_only=True)
    assert refused.value.code == 409
