"""Plans that meet a changed target at execution, as `bench/load.py` (50 approvals on two Deployments) found them.

1. A stale plan is planned again from the person's words, not from the operator's own message (issue
   10 §5). With 50 threads scaling the same Deployments, every plan that went stale was "re-planned"
   into "Roll back Deployment shop/web to revision 1 — I cannot propose a change": the engine handed
   its own sentence ("Revision 1 was not applied: ... was changed since the plan was made") to the
   planner as the person's feedback, the offline planner read it as a new request, and the thread
   ended with an answer instead of the scale the person asked for. The request was lost, and rating
   that answer completed the thread with nothing applied.
2. A field the approved plan takes over, still at the value the plan was made against, is taken over
   whoever manages it now. Another thread had written the same replicas with its own field manager
   between plan and approval; the apply's conflict named that manager instead of the one the plan
   listed, the sync failed as "not part of the approved plan", and the failed thread kept its lock:
   every later thread on that Deployment waited for good.
3. A plan records the state its planner read, not a later one. The fingerprint was read after the
   plan had been rendered; a write in between ("from 8" shown, 6 recorded) let the plan apply over a
   state it was not made against, and only the field-manager conflict of 2. happened to stop it.
4. Recording a retry (a 409 on the status write) kept the conditions written since kopf's body was read;
   it erased a stale plan's `Ready: PlanStale`, and the thread never re-planned.

Through the real controller (kopf) with the offline planner behind the scripted seam, the sandbox API
server (a faithful fake speaking the real REST protocol; no Kubernetes can run here) and real kubectl
for the concurrent changes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.api.constants import API_VERSION, KIND_CONVERSATION, Phase
from controller.engine.reconcile import record_retry
from controller.planning.offline.planner import OfflineBackend, shared_classifier
from controller.planning.types import ClusterReader, PlanningRequest, PlanningResult
from tests.engine.conftest import ALICE, Loop, start_loop

pytestmark = pytest.mark.timeout(300)
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl") or "kubectl"


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    yield from start_loop(tmp_path_factory.mktemp("aiop-changed-targets"))


@pytest.fixture
def offline(loop: Loop) -> Iterator[OfflineBackend]:
    """The offline planner; each test queues the planning rounds it expects, none is left for the next."""
    loop.backend.replies.clear()
    yield OfflineBackend(shared_classifier())
    loop.backend.replies.clear()


def test_a_stale_plan_is_re_proposed_for_the_same_request(loop: Loop, offline: OfflineBackend) -> None:
    loop.backend.enqueue(*[offline.propose] * 2)
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
    loop.client.rate("shop", "stale-words", ALICE, 100)  # releases worker's lock for the tests below
    assert loop.client.wait_settled("shop", "stale-words")["status"]["phase"] == Phase.COMPLETED


def kubectl(loop: Loop, *args: str, stdin: str | None = None) -> None:
    done = subprocess.run([KUBECTL, "--kubeconfig", str(loop.server.kubeconfig_path), *args], input=stdin,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_an_approved_take_over_holds_when_another_manager_wrote_the_same_value(loop: Loop, offline: OfflineBackend) -> None:
    loop.backend.enqueue(*[offline.propose] * 2)
    kubectl(loop, "scale", "deployment/web", "-n", "shop", "--replicas=2")
    loop.client.say("shop", "same-value", "scale web in shop to 4", ALICE)
    obj = loop.client.wait_settled("shop", "same-value")
    assert obj["status"]["phase"] == Phase.AWAITING_APPROVAL, obj["status"]["messages"][-1]
    planned = obj["status"]["revisions"][-1]
    assert any(f.startswith(".spec.replicas ") for f in planned["targets"][0]["takesOver"])

    same = ('{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}, '
            '"spec": {"replicas": 2}}')
    kubectl(loop, "apply", "--server-side", "--field-manager=another-thread", "-f", "-", stdin=same)
    managers = [f["manager"] for f in loop.deployment("web")["metadata"]["managedFields"]
                if "f:replicas" in (f.get("fieldsV1") or {}).get("f:spec", {})]
    assert "another-thread" in managers  # a manager the plan did not name; the value is as planned

    loop.client.approve("shop", "same-value", ALICE)
    obj = loop.client.wait_settled("shop", "same-value")
    assert obj["status"]["phase"] == Phase.AWAITING_RATING, obj["status"]["messages"][-1]
    assert loop.deployment("web")["spec"]["replicas"] == 4
    loop.client.rate("shop", "same-value", ALICE, 100)
    obj = loop.client.wait_settled("shop", "same-value")
    assert obj["status"]["phase"] == Phase.COMPLETED and not obj["status"].get("locks")


def test_a_plan_records_the_state_its_planner_read_not_a_later_one(loop: Loop, offline: OfflineBackend) -> None:
    """3. "Up by 2" is computed from the replicas the planner read (8). Another thread's write lands while
    the plan is still being built (6). The plan recorded the state read at its end (6), so approving it
    applied 10 over 6: +4 instead of +2, another thread's update silently overwritten (bench.load saw
    "from 8 to 10" approved and applied over 6). Now it records the state the planner read and goes stale."""
    kubectl(loop, "scale", "deployment/worker", "-n", "shop", "--replicas=8")

    def plan_then_someone_scales(request: PlanningRequest, cluster: ClusterReader) -> PlanningResult:
        result = offline.propose(request, cluster)
        kubectl(loop, "scale", "deployment/worker", "-n", "shop", "--replicas=6")  # while the plan is built
        return result

    loop.backend.enqueue(plan_then_someone_scales, offline.propose)
    loop.client.say("shop", "relative", "scale worker in shop up by 2", ALICE)
    obj = loop.client.wait_settled("shop", "relative")
    assert obj["status"]["phase"] == Phase.AWAITING_APPROVAL, obj["status"]["messages"][-1]
    assert obj["status"]["revisions"][-1]["actions"][0]["params"]["replicas"] == 10

    loop.client.approve("shop", "relative", ALICE)
    obj = loop.client.wait_settled("shop", "relative")
    assert loop.deployment("worker")["spec"]["replicas"] == 6, "applied over a state the plan was not made against"
    assert obj["status"]["phase"] == Phase.AWAITING_APPROVAL
    assert "from 6 to 8" in obj["status"]["revisions"][-1]["actions"][0]["title"]


def test_recording_a_retry_keeps_the_conditions_written_since(loop: Loop, offline: OfflineBackend) -> None:
    """4. A retry is recorded over the object as it is now. It wrote back the conditions of the body kopf
    had handed over, older than the reconcile's own writes: in bench.load a stale plan's `Ready: PlanStale`
    was erased that way, its re-plan never resumed, and three threads stayed in Planning for good."""
    loop.backend.enqueue(offline.propose)
    loop.client.say("shop", "retry-record", "how many replicas has web in shop?", ALICE)
    old = loop.client.wait_settled("shop", "retry-record")
    loop.kube.merge_patch(API_VERSION, KIND_CONVERSATION, "retry-record", "shop", {"status": {"conditions": [
        *old["status"]["conditions"], {"type": "Approved", "status": "False", "reason": "PlanStale",
                                       "message": "written after kopf's body",
                                       "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}, subresource="status")
    record_retry(loop.services, old, "writing the thread's status: 409", 2.0)
    conditions = {c["type"]: c for c in (loop.client.get("shop", "retry-record") or {})["status"]["conditions"]}
    assert conditions["Approved"]["reason"] == "PlanStale"
    assert conditions["Reconciling"]["reason"] == "Retrying"
