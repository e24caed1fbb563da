"""A stale plan is planned again from the person's words, not from the operator's own message (issue 10 §5).

Found by `bench/load.py`: with 50 threads scaling the same Deployments, every plan that went stale was
"re-planned" into "Roll back Deployment shop/web to revision 1 — I cannot propose a change": the engine
handed its own sentence ("Revision 1 was not applied: ... was changed since the plan was made") to the
planner as the person's feedback, the offline planner read it as a new request, and the thread ended
with an answer instead of the scale the person asked for. The request was lost, and a driver (or a
person) rating that answer completed the thread with nothing applied.

Through the real controller (kopf) with the offline planner behind the scripted seam, the sandbox API
server (a faithful fake speaking the real REST protocol; no Kubernetes can run here) and real kubectl
for the concurrent change.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.api.constants import Phase
from controller.planning.offline.planner import OfflineBackend, shared_classifier
from tests.engine.conftest import ALICE, Loop, start_loop

pytestmark = pytest.mark.timeout(300)
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl") or "kubectl"


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    yield from start_loop(tmp_path_factory.mktemp("aiop-stale-replan"))


def test_a_stale_plan_is_re_proposed_for_the_same_request(loop: Loop) -> None:
    offline = OfflineBackend(shared_classifier())
    loop.backend.enqueue(*[offline.propose] * 4)
    loop.kube.merge_patch("apps/v1", "Deployment", "worker", "shop", {"spec": {"replicas": 2}})
    loop.client.say("shop", "stale-words", "scale worker in shop to 3", ALICE)
    obj = loop.client.wait_settled("shop", "stale-words")
    assert obj["status"]["phase"] == Phase.AWAITING_APPROVAL, obj["status"]["messages"][-1]
    assert "from 2 to 3" in obj["status"]["revisions"][-1]["actions"][0]["title"]

    scaled = subprocess.run([KUBECTL, "--kubeconfig", str(loop.server.kubeconfig_path), "scale",
                             "deployment/worker", "-n", "shop", "--replicas=5"],
                            capture_output=True, text=True, timeout=60)
    assert scaled.returncode == 0, scaled.stderr
    loop.client.approve("shop", "stale-words", ALICE)
    obj = loop.client.wait_settled("shop", "stale-words")
    st = obj["status"]
    said = [m["text"] for m in st["messages"]]
    assert st["phase"] == Phase.AWAITING_APPROVAL, said[-2:]
    assert any("was not applied" in text and "changed since the plan was made" in text for text in said)
    again = st["revisions"][-1]
    assert again["revision"] == 2 and [a["action"] for a in again["actions"]] == ["scale"], again.get("answer")
    assert "from 5 to 3" in again["actions"][0]["title"]
    assert loop.deployment("worker")["spec"]["replicas"] == 5  # nothing of the stale plan was applied
    assert loop.backend.requests[-1].feedback == ""  # the operator's sentence is not the person's words

    loop.client.approve("shop", "stale-words", ALICE)
    obj = loop.client.wait_settled("shop", "stale-words")
    assert obj["status"]["phase"] == Phase.AWAITING_RATING, obj["status"]["messages"][-1]
    assert obj["status"]["execution"]["revision"] == 2
    assert loop.deployment("worker")["spec"]["replicas"] == 3
