"""The safety promise under attack, races and faults (issue 10), through kubectl and the official client.

Each test reproduces one finding of a security review against the real controller (kopf), the chart's
admission policy evaluated in CEL and real kubectl. The Kubernetes API is the sandbox (a faithful fake
speaking the real REST protocol, with RBAC, admission and seeded fault injection); the AI backend is
scripted at the `Backend` seam. Git and the local forge are real.

The cast: alice requests and may edit workloads; dave may write conversations (and rate and restore)
but holds no rights on workloads and no `approve`; erin may approve but cannot change workloads;
frank may only update conversations (no approve, rate or restore).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import git
import pytest

from controller.adapters.backups import BackupStore, ThreadBackup
from controller.adapters.kube import Forbidden
from controller.api.constants import API_VERSION, KIND_CONVERSATION, Phase
from controller.api.types import Identity
from controller.planning.types import ActionCall, PlanningResult
from controller.tools import bootstrap
from tests.engine.conftest import ALICE, DAVE, Loop, deployment, start_loop

pytestmark = pytest.mark.timeout(600)
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl") or "kubectl"
ERIN = Identity(user="erin@example.com", groups=["approvers"])
FRANK = Identity(user="frank@example.com", groups=["devs"])


def _only_verbs(objects: list[dict[str, Any]], verbs: list[str]) -> list[dict[str, Any]]:
    for obj in objects:
        for rule in obj.get("rules", []):
            rule["verbs"] = verbs
    return objects


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    extra = [*bootstrap.conversation_rights(ERIN.user, "shop"),
             *_only_verbs(bootstrap.conversation_rights(FRANK.user, "shop"), ["get", "list", "watch", "update",
                                                                            "patch"])]
    yield from start_loop(tmp_path_factory.mktemp("aiop-safety"), extra_objects=extra)


def scale(name: str, replicas: int) -> PlanningResult:
    return PlanningResult(kind="plan", actions=[ActionCall(
        action="scale", params={"name": name, "namespace": "shop", "replicas": replicas})])


def kubectl(loop: Loop, who: Identity, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Real kubectl, as `who` (the admin kubeconfig impersonating them, as an auth proxy would)."""
    impersonate = ["--as", who.user, *[f"--as-group={g}" for g in who.groups]]
    return subprocess.run([KUBECTL, "--kubeconfig", str(loop.server.kubeconfig_path), *impersonate, *args],
                          input=stdin, capture_output=True, text=True, timeout=60)


def status(loop: Loop, name: str) -> dict[str, Any]:
    return (loop.client.get("shop", name) or {}).get("status") or {}


def condition(obj_status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in obj_status.get("conditions") or [] if c["type"] == kind), {})


def replicas(loop: Loop, name: str) -> int:
    return int(loop.deployment(name)["spec"]["replicas"])


def propose(loop: Loop, name: str, deployment: str, count: int) -> dict[str, Any]:
    loop.backend.enqueue(scale(deployment, count))
    loop.client.say("shop", name, f"scale {deployment} to {count}", ALICE)
    obj = loop.client.wait_settled("shop", name)
    assert obj["status"]["phase"] == Phase.AWAITING_APPROVAL, obj["status"]["messages"][-1]
    return obj


# -------------------------------------------------------------------------- 1. who said what


def test_another_user_cannot_speak_in_the_requesters_name(loop: Loop) -> None:
    """Finding 1: dave appends "scale web to 0" to alice's thread with kubectl. Without an author the
    admission policy refuses it; as himself it is recorded as his and does not shape alice's plan."""
    propose(loop, "speak", "web", 3)
    patch = [{"op": "add", "path": "/spec/turns/-", "value": {"text": "scale web in shop to 0 replicas"}}]
    refused = kubectl(loop, DAVE, "patch", "aic", "speak", "-n", "shop", "--type", "json", "-p", json.dumps(patch))
    assert refused.returncode != 0 and "ValidatingAdmissionPolicy" in refused.stderr
    assert "only grow by one turn" in refused.stderr

    patch[0]["value"]["author"] = {"user": ALICE.user}  # spoofing the author is refused too
    spoofed = kubectl(loop, DAVE, "patch", "aic", "speak", "-n", "shop", "--type", "json", "-p", json.dumps(patch))
    assert spoofed.returncode != 0 and "ValidatingAdmissionPolicy" in spoofed.stderr

    patch[0]["value"]["author"] = {"user": DAVE.user}
    before = len(loop.backend.requests)
    loop.backend.enqueue(scale("web", 3))
    done = kubectl(loop, DAVE, "patch", "aic", "speak", "-n", "shop", "--type", "json", "-p", json.dumps(patch))
    assert done.returncode == 0, done.stderr
    obj = loop.client.wait_settled("shop", "speak")
    shown = loop.backend.requests[before]
    assert all("to 0 replicas" not in turn for turn in shown.turns)  # the planner never saw dave's words
    said = [m for m in obj["status"]["messages"] if m["role"] == "user" and "0 replicas" in m["text"]]
    assert said and said[0]["author"] == DAVE.user
    assert any("Not used for planning" in m["text"] and DAVE.user in m["text"] for m in obj["status"]["messages"])
    assert obj["status"]["revisions"][-1]["shapedBy"] == [ALICE.user]
    assert obj["status"]["revisions"][-1]["actions"][0]["params"]["replicas"] == 3


def test_approver_must_be_able_to_make_the_change(loop: Loop) -> None:
    """Finding 1 (approval) and 3: erin holds `approve` but cannot scale Deployments: refused, naming
    what she lacks. Dave lacks `approve`: refused. Then alice approves the same revision and digest —
    the earlier refusals hide nothing — and it runs."""
    obj = propose(loop, "approvers", "worker", 2)
    loop.client.approve("shop", "approvers", ERIN)
    obj = loop.client.wait_settled("shop", "approvers")
    approved = condition(obj["status"], "Approved")
    assert approved["reason"] == "ApprovalUnauthorized" and "patch deployments" in approved["message"]
    assert ERIN.user in approved["message"]
    loop.client.approve("shop", "approvers", DAVE)
    obj = loop.client.wait_settled("shop", "approvers")
    assert condition(obj["status"], "Approved")["reason"] == "ApprovalUnauthorized"
    assert "verb approve" in condition(obj["status"], "Approved")["message"]
    assert replicas(loop, "worker") != 2

    loop.client.approve("shop", "approvers", ALICE)
    obj = loop.client.wait_settled("shop", "approvers")
    assert obj["status"]["phase"] == Phase.AWAITING_RATING, obj["status"]["messages"][-1]
    assert replicas(loop, "worker") == 2
    loop.client.rate("shop", "approvers", ALICE, 100)  # completed: worker's lock is released
    assert loop.client.wait_settled("shop", "approvers")["status"]["phase"] == Phase.COMPLETED


def test_rate_and_restore_are_checked_per_person(loop: Loop) -> None:
    """Finding 4: frank (no `rate`) rates alice's thread 100: refused, no pull request, no knowledge.
    A rating without ratedBy is refused by admission. Dave holds `restore` but no rights on the
    Deployment: restore runs as the person asking, so his is refused before anything changes."""
    propose(loop, "rating", "web", 4)
    loop.client.approve("shop", "rating", ALICE)
    assert loop.client.wait_settled("shop", "rating")["status"]["phase"] == Phase.AWAITING_RATING

    anonymous = kubectl(loop, FRANK, "patch", "aic", "rating", "-n", "shop", "--type", "merge",
                        "-p", '{"spec":{"rating":{"score":100}}}')
    assert anonymous.returncode != 0 and "ratedBy" in anonymous.stderr
    loop.client.rate("shop", "rating", FRANK, 100)
    obj = loop.client.wait_settled("shop", "rating")
    assert obj["status"]["phase"] == Phase.AWAITING_RATING
    assert condition(obj["status"], "Rated")["reason"] == "RatingUnauthorized"
    assert not obj["status"]["links"].get("pullRequests")
    assert not any(h.thread_id == obj["status"]["threadId"] for h in loop.knowledge.search("scale web", top_k=50))

    loop.client.restore("shop", "rating", FRANK)
    obj = loop.client.wait_settled("shop", "rating")
    assert condition(obj["status"], "Restored")["reason"] == "RestoreUnauthorized"
    loop.client.restore("shop", "rating", DAVE)
    obj = loop.client.wait_settled("shop", "rating")
    restored = condition(obj["status"], "Restored")
    assert restored["reason"] == "RestoreUnauthorized" and "update deployments" in restored["message"]
    assert obj["status"]["phase"] == Phase.AWAITING_RATING and replicas(loop, "web") == 4

    loop.client.rate("shop", "rating", ALICE, 100)
    obj = loop.client.wait_settled("shop", "rating")
    assert obj["status"]["phase"] == Phase.COMPLETED and obj["status"]["links"]["pullRequests"]


# ---------------------------------------------------------------------- 2. transient errors


def test_a_503_from_access_reviews_is_retried_not_a_refusal(loop: Loop) -> None:
    """Finding 2: while SubjectAccessReviews answer 503, neither planning nor approval becomes a
    refusal or an alert; both finish once the API heals."""
    outage = {"rules": [{"kind": "error", "code": 503, "rate": 1.0,
                          "resources": ["subjectaccessreviews.authorization.k8s.io"]}]}
    loop.server.set_faults(outage, seed=1)
    try:
        loop.backend.enqueue(*[scale("web", 5)] * 30)  # each retry asks the backend again
        loop.client.say("shop", "outage", "scale web to 5", ALICE)
        time.sleep(4)
        during = status(loop, "outage")
        assert during.get("phase") not in {Phase.PERMISSIONS_MISSING, Phase.FAILED}
        assert not during.get("alerts")
        assert condition(during, "Reconciling").get("reason") == "Retrying"
    finally:
        loop.server.set_faults(None)
    obj = loop.client.wait_settled("shop", "outage")
    loop.backend.replies.clear()
    assert obj["status"]["phase"] == Phase.AWAITING_APPROVAL and not obj["status"].get("alerts")

    loop.server.set_faults(outage, seed=2)
    try:
        loop.client.approve("shop", "outage", ALICE)
        time.sleep(3)
        assert condition(status(loop, "outage"), "Approved").get("reason") != "ApprovalUnauthorized"
    finally:
        loop.server.set_faults(None)
    obj = loop.client.wait_settled("shop", "outage")
    assert obj["status"]["phase"] == Phase.AWAITING_RATING and not obj["status"].get("alerts")
    assert replicas(loop, "web") == 5
    loop.client.rate("shop", "outage", ALICE, 100)
    assert loop.client.wait_settled("shop", "outage")["status"]["phase"] == Phase.COMPLETED


# ----------------------------------------------------------------- 5. stale plans and locks


def test_a_plan_made_against_another_state_is_re_proposed_not_applied(loop: Loop) -> None:
    """Finding 5: the plan said worker 2 → 3; someone scaled worker to 5 with kubectl before the
    approval. Approving applies nothing: the thread re-plans against 5 and asks again."""
    loop.kube.merge_patch("apps/v1", "Deployment", "worker", "shop", {"spec": {"replicas": 2}})
    obj = propose(loop, "stale", "worker", 3)
    first = obj["status"]["revisions"][-1]
    assert first["targets"] and first["targets"][0]["fingerprint"].startswith("sha256:")
    scaled = kubectl(loop, Identity(user="system:admin", groups=["system:masters"]),
                     "scale", "deployment/worker", "-n", "shop", "--replicas=5")
    assert scaled.returncode == 0, scaled.stderr
    loop.backend.enqueue(scale("worker", 3))
    loop.client.approve("shop", "stale", ALICE)
    obj = loop.client.wait_settled("shop", "stale")
    assert obj["status"]["phase"] == Phase.AWAITING_APPROVAL
    assert condition(obj["status"], "Approved")["reason"] == "PlanStale"
    assert obj["status"]["currentRevision"] == first["revision"] + 1
    assert "from 5 to 3" in obj["status"]["revisions"][-1]["actions"][0]["title"]
    assert replicas(loop, "worker") == 5
    assert not obj["status"]["links"].get("commits")  # nothing committed for the stale revision
    assert not obj["status"].get("locks")  # nothing of this thread ran, so it holds nothing


def test_a_second_thread_waits_for_the_lock_and_says_who_holds_it(loop: Loop) -> None:
    """Two threads on one object: the second waits while the first can still be restored, names the
    holder in a condition kubectl shows, then goes on (against the new state) once it is released."""
    propose(loop, "holder", "web", 6)
    loop.client.approve("shop", "holder", ALICE)
    assert loop.client.wait_settled("shop", "holder")["status"]["phase"] == Phase.AWAITING_RATING
    propose(loop, "waiter", "web", 7)
    loop.client.approve("shop", "waiter", ALICE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not condition(status(loop, "waiter"), "Locked"):
        time.sleep(0.2)
    locked = condition(status(loop, "waiter"), "Locked")
    assert locked["status"] == "True" and "shop-holder" in locked["message"]
    shown = kubectl(loop, ALICE, "get", "aic", "waiter", "-n", "shop", "-o",
                    "jsonpath={.status.conditions[?(@.type=='Locked')].message}")
    assert "shop-holder" in shown.stdout
    assert replicas(loop, "web") == 6
    leases = loop.kube.list("coordination.k8s.io/v1", "Lease", "aiop-system", label_selector="aiop.dev/lease=lock")
    assert any(lease["spec"]["holderIdentity"] == "shop-holder" for lease in leases)

    loop.client.rate("shop", "holder", ALICE, 100)  # completed: the lock is released
    obj = loop.client.wait_settled("shop", "waiter", timeout=60)
    assert obj["status"]["phase"] == Phase.AWAITING_RATING
    assert replicas(loop, "web") == 7
    loop.client.rate("shop", "waiter", ALICE, 100)
    assert loop.client.wait_settled("shop", "waiter")["status"]["phase"] == Phase.COMPLETED


def test_restore_never_undoes_a_later_change_by_someone_else(loop: Loop) -> None:
    """A thread's restore refuses to overwrite an object someone changed after the thread applied it."""
    propose(loop, "undo", "worker", 4)
    loop.client.approve("shop", "undo", ALICE)
    assert loop.client.wait_settled("shop", "undo")["status"]["phase"] == Phase.AWAITING_RATING
    loop.kube.merge_patch("apps/v1", "Deployment", "worker", "shop", {"spec": {"replicas": 8}})
    loop.client.restore("shop", "undo", ALICE)
    obj = loop.client.wait_settled("shop", "undo")
    assert condition(obj["status"], "Restored")["reason"] == "RestoreConflict"
    assert replicas(loop, "worker") == 8
    loop.kube.merge_patch("apps/v1", "Deployment", "worker", "shop", {"spec": {"replicas": 4}})
    loop.client.restore("shop", "undo", ALICE, reason="again, now that worker is as the thread left it")
    obj = loop.client.wait_settled("shop", "undo")
    assert obj["status"]["phase"] == Phase.RESTORED and not obj["status"].get("locks")


# ----------------------------------------------------------------------- 6. bounded objects


def test_a_long_thread_stays_within_what_etcd_accepts(loop: Loop) -> None:
    """Finding 6: 60 turns, each a new plan revision with its diff: status stays small, kopf keeps a
    digest (not a copy of the spec) in its annotation, and older revisions are in the history ref.
    (`bench/long_thread.py` runs 500 turns and measures the time per turn.)"""
    loop.backend.enqueue(*[scale("web", 2 + i % 7) for i in range(61)])
    loop.client.say("shop", "long", "scale web to 2", ALICE)
    loop.client.wait_settled("shop", "long")
    for i in range(1, 61):
        loop.client.say("shop", "long", f"no, make it {2 + i % 7} ({i})", ALICE)
        loop.client.wait_settled("shop", "long")
    obj = loop.client.get("shop", "long") or {}
    st = obj["status"]
    assert st["currentRevision"] == 61 and st["processedTurns"] == 61
    assert len(json.dumps(st)) < 256 * 1024
    annotations = obj["metadata"].get("annotations") or {}
    assert sum(len(k) + len(v) for k, v in annotations.items()) < 4096
    detailed = [r for r in st["revisions"] if not r.get("archived")]
    assert len(detailed) <= 12 and len(st["revisions"]) == 61
    assert st["messageCount"] >= 121 and len(st["messages"]) < 60
    repo = git.Repo(loop.settings.local_repo)
    files = repo.git.ls_tree("-r", "--name-only", st["historyRef"]).split()
    assert f"threads/{st['threadId']}/history/revision-0001.json" in files
    first = json.loads(repo.git.show(f"{st['historyRef']}:threads/{st['threadId']}/history/revision-0001.json"))
    assert first["digest"] == st["revisions"][0]["digest"] and first["actions"]
    loop.client.approve("shop", "long", ALICE)  # the latest revision still runs
    assert loop.client.wait_settled("shop", "long")["status"]["phase"] == Phase.AWAITING_RATING
    loop.client.rate("shop", "long", ALICE, 100)
    loop.client.wait_settled("shop", "long")


# ---------------------------------------------------------------------- 7. smaller findings


def test_a_thread_id_is_used_by_one_conversation_only(loop: Loop) -> None:
    """Finding 7: a second conversation naming an existing threadId is refused with a condition."""
    body = {"apiVersion": API_VERSION, "kind": KIND_CONVERSATION, "metadata": {"name": "", "namespace": "shop"},
            "spec": {"requester": ALICE.wire(), "threadId": "shared-id",
                     "turns": [{"text": "how many replicas has web?", "author": ALICE.wire()}]}}
    loop.backend.enqueue(PlanningResult(kind="answer", answer="web has some replicas"))
    loop.kube.as_user(ALICE).create({**body, "metadata": {"name": "first-owner", "namespace": "shop"}})
    first = loop.client.wait_settled("shop", "first-owner")
    loop.kube.as_user(ALICE).create({**body, "metadata": {"name": "second-owner", "namespace": "shop"}})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not condition(status(loop, "second-owner"), "Ready"):
        time.sleep(0.2)
    ready = condition(status(loop, "second-owner"), "Ready")
    assert ready["reason"] == "ThreadIdTaken" and "first-owner" in ready["message"]
    assert not status(loop, "second-owner").get("revisions")
    assert first["status"]["threadId"] == "shared-id"


def test_control_characters_never_reach_the_planner_or_the_page(loop: Loop) -> None:
    """Finding 7: ANSI escapes and bidi overrides are stripped before planning and display."""
    before = len(loop.backend.requests)
    loop.backend.enqueue(PlanningResult(kind="answer", answer="ok"))
    loop.client.say("shop", "escapes", "show web \x1b[31mcpu\x1b[0m \u202eevil\u202c now", ALICE)
    obj = loop.client.wait_settled("shop", "escapes")
    turn = loop.backend.requests[before].turns[-1]
    assert turn == "show web cpu evil now"
    shown = [m["text"] for m in obj["status"]["messages"] if m["role"] == "user"]
    assert shown == ["show web cpu evil now"]


def test_first_backups_race_for_the_operator_namespace(loop: Loop) -> None:
    """Finding 7: ten threads backing up at once into a namespace that does not exist yet all succeed."""
    store = BackupStore(loop.kube, "aiop-race")
    errors: list[BaseException] = []

    def save(i: int) -> None:
        try:
            store.save(f"race-{i}", ThreadBackup())
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=save, args=(i,)) for i in range(10)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert len(loop.kube.list("v1", "Secret", "aiop-race")) == 10


def test_nobody_acts_in_someone_elses_name_through_the_official_client(loop: Loop) -> None:
    """The same policy through the official client: a turn authored by someone else is refused."""
    propose(loop, "official", "web", 2)
    obj = loop.client.get("shop", "official") or {}
    turns = [*obj["spec"]["turns"], {"text": "delete everything", "author": ALICE.wire()}]
    with pytest.raises(Forbidden):
        loop.kube.as_user(DAVE).merge_patch(API_VERSION, KIND_CONVERSATION, "official", "shop",
                                            {"spec": {"turns": turns}})
    edited = [{"text": "scale web to 0", "author": ALICE.wire()}]
    with pytest.raises(Forbidden):  # rewriting what was said, even by the author, is refused
        loop.kube.as_user(ALICE).merge_patch(API_VERSION, KIND_CONVERSATION, "official", "shop",
                                             {"spec": {"turns": edited}})


def test_deleting_a_thread_gives_its_locks_back(loop: Loop) -> None:
    """kopf's finalizer stays on a thread at rest (it no longer comes and goes with the timers), so deleting
    a thread with kubectl always runs the release: its lock and its thread id are free for the next one."""
    loop.kube.create(deployment("cart", 1))
    obj = propose(loop, "to-delete", "cart", 3)
    assert "kopf.zalando.org/KopfFinalizerMarker" in obj["metadata"].get("finalizers", [])
    loop.client.approve("shop", "to-delete", ALICE)
    obj = loop.client.wait_settled("shop", "to-delete")
    assert obj["status"]["phase"] == Phase.AWAITING_RATING and replicas(loop, "cart") == 3
    assert "kopf.zalando.org/KopfFinalizerMarker" in obj["metadata"].get("finalizers", [])
    thread_id = obj["status"]["threadId"]

    def held() -> list[str]:
        leases = loop.kube.list("coordination.k8s.io/v1", "Lease", "aiop-system")
        return [lease["metadata"]["name"] for lease in leases
                if lease["spec"].get("holderIdentity") == "shop-to-delete"]

    assert held()  # the lock on cart and the thread id
    deleted = subprocess.run([KUBECTL, "--kubeconfig", str(loop.server.kubeconfig_path), "delete", "aic",
                              "to-delete", "-n", "shop", "--timeout=60s"], capture_output=True, text=True, timeout=90)
    assert deleted.returncode == 0, deleted.stderr
    assert loop.client.get("shop", "to-delete") is None
    assert held() == []

    body = {"apiVersion": API_VERSION, "kind": KIND_CONVERSATION, "metadata": {"name": "reuses", "namespace": "shop"},
            "spec": {"requester": ALICE.wire(), "threadId": thread_id,
                     "turns": [{"text": "scale cart to 2", "author": ALICE.wire()}]}}
    loop.backend.enqueue(scale("cart", 2))
    loop.kube.as_user(ALICE).create(body)
    again = loop.client.wait_settled("shop", "reuses")
    assert again["status"]["threadId"] == thread_id and again["status"]["phase"] == Phase.AWAITING_APPROVAL
