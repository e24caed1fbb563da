"""Who may approve, identity from the API server, and resuming after the controller was killed."""

from __future__ import annotations

import git
import pytest

from controller.adapters.kube import Forbidden
from controller.api.constants import API_VERSION, KIND_CONVERSATION, Phase
from controller.api.types import Identity
from controller.engine.runner import start_operator_thread
from controller.planning.types import ActionCall, PlanningResult
from tests.engine.conftest import ALICE, DAVE, Loop

pytestmark = pytest.mark.timeout(180)


def scale(name: str, replicas: int) -> PlanningResult:
    return PlanningResult(kind="plan", actions=[ActionCall(
        action="scale", params={"name": name, "namespace": "shop", "replicas": replicas})])


def test_approver_without_the_approve_verb_is_refused(loop: Loop) -> None:
    """Dave may edit the conversation but lacks `approve`: nothing runs, a condition says why."""
    loop.backend.enqueue(scale("web", 6))
    loop.client.say("shop", "dave-approves", "scale web to 6", ALICE)
    loop.client.wait_settled("shop", "dave-approves")
    loop.client.approve("shop", "dave-approves", DAVE)
    obj = loop.client.wait_settled("shop", "dave-approves")
    assert obj["status"]["phase"] == Phase.AWAITING_APPROVAL
    approved = next(c for c in obj["status"]["conditions"] if c["type"] == "Approved")
    assert approved["reason"] == "ApprovalUnauthorized" and DAVE.user in approved["message"]
    assert loop.deployment("web")["spec"]["replicas"] != 6


def test_nobody_can_approve_in_someone_elses_name(loop: Loop) -> None:
    """The admission policy refuses an approval that names another user than the caller."""
    loop.backend.enqueue(scale("web", 6))
    loop.client.say("shop", "spoof", "scale web to 6", ALICE)
    obj = loop.client.wait_settled("shop", "spoof")
    revision = obj["status"]["revisions"][-1]
    patch = {"spec": {"approval": {"revision": revision["revision"], "digest": revision["digest"],
                                   "approver": {"user": ALICE.user}}}}
    with pytest.raises(Forbidden) as err:
        loop.kube.as_user(DAVE).merge_patch(API_VERSION, KIND_CONVERSATION, "spoof", "shop", patch)
    assert "ValidatingAdmissionPolicy" in err.value.message and "approver" in err.value.message


def test_requester_must_be_the_caller(loop: Loop) -> None:
    """Creating a conversation in someone else's name is refused by the admission policy."""
    body = {"apiVersion": API_VERSION, "kind": KIND_CONVERSATION, "metadata": {"name": "fake", "namespace": "shop"},
            "spec": {"requester": {"user": ALICE.user}, "turns": [{"text": "scale web to 9"}]}}
    with pytest.raises(Forbidden):
        loop.kube.as_user(Identity(user=DAVE.user, groups=DAVE.groups)).create(body)


def test_killed_after_approval_resumes_without_duplicates(loop: Loop) -> None:
    """A controller stopped in Executing or Syncing finishes on restart, with one commit per digest."""
    loop.backend.enqueue(scale("worker", 2))
    loop.client.say("shop", "resume", "scale worker to 2", ALICE)
    loop.client.wait_settled("shop", "resume")
    loop.client.approve("shop", "resume", ALICE)
    done = loop.client.wait_settled("shop", "resume")
    assert done["status"]["phase"] == Phase.AWAITING_RATING
    branch = done["status"]["links"]["branch"]
    repo = git.Repo(loop.settings.local_repo)
    commits_before = list(repo.iter_commits(branch))

    # Rewind the recorded phase to Executing, as if the controller died right after the approval,
    # and start a second controller: it must resume, find the digest in git, and not commit again.
    loop.kube.merge_patch(API_VERSION, KIND_CONVERSATION, "resume", "shop",
                          {"status": {"phase": "Executing", "commits": None}}, subresource="status")
    thread, stop = start_operator_thread(loop.settings, loop.services)
    try:
        obj = loop.client.wait_settled("shop", "resume", timeout=60)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert obj["status"]["phase"] == Phase.AWAITING_RATING
    assert list(git.Repo(loop.settings.local_repo).iter_commits(branch)) == commits_before
    assert obj["status"]["links"]["commits"] == done["status"]["links"]["commits"]


def test_schema_violation_is_refused_with_the_field(loop: Loop) -> None:
    """The CRD schema (generated from the models) refuses a conversation without turns, naming the field."""
    from controller.adapters.kube import Invalid

    body = {"apiVersion": API_VERSION, "kind": KIND_CONVERSATION, "metadata": {"name": "empty", "namespace": "shop"},
            "spec": {"requester": {"user": ALICE.user}, "turns": []}}
    with pytest.raises(Invalid) as err:
        loop.kube.as_user(ALICE).create(body)
    assert "spec.turns" in err.value.message


def test_approval_of_an_unknown_revision_is_refused(loop: Loop) -> None:
    """An approval naming a revision and digest the thread never proposed runs nothing and says so."""
    body = {"apiVersion": API_VERSION, "kind": KIND_CONVERSATION, "metadata": {"name": "bad", "namespace": "shop"},
            "spec": {"requester": {"user": ALICE.user}, "turns": [{"text": "hi"}],
                     "approval": {"revision": 1, "digest": "sha256:" + "a" * 64, "approver": {"user": ALICE.user}}}}
    loop.kube.as_user(ALICE).create(body)
    obj = loop.client.wait_settled("shop", "bad")
    # a digest for a revision that does not exist: refused, no crash, nothing runs
    approved = next(c for c in obj["status"]["conditions"] if c["type"] == "Approved")
    assert approved["status"] == "False"
