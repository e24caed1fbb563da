"""The chat dashboard's flows, through AppTest against the real controller and sandbox API server.

Each test drives the page as a person would (type, click, rate) and checks what the page says and
what happened in the cluster and git. No step reaches into the controller.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.api.constants import Phase
from controller.planning.types import ActionCall, PlanningResult
from tests.engine.conftest import ALICE, Loop
from tests.ui.conftest import (
    AppFactory,
    current_thread,
    dead_kubeconfig,
    page_text,
    read_with_official_client,
)

pytestmark = pytest.mark.timeout(240)


def scale(name: str, replicas: int) -> PlanningResult:
    return PlanningResult(kind="plan", answer=f"Scale {name} to {replicas}.",
                          actions=[ActionCall(action="scale", params={"name": name, "namespace": "shop",
                                                                      "replicas": replicas})])


def phase(loop: Loop, namespace: str, name: str) -> str:
    obj = loop.client.get(namespace, name)
    assert obj is not None
    return str((obj.get("status") or {}).get("phase"))


def no_traceback(at) -> None:  # type: ignore[no-untyped-def]
    assert not at.exception, [e.value for e in at.exception]


def test_chat_proposal_approve_rate_100_shows_pull_request(loop: Loop, make_app: AppFactory) -> None:
    loop.backend.enqueue(scale("web", 3))
    at = make_app("alice@example.com")
    at.run()
    assert "Talk to the operator" in page_text(at)
    at.chat_input(key="chat-new").set_value("scale web to 3").run()
    no_traceback(at)
    ns, name = current_thread(at)
    text = page_text(at)
    assert "Plan revision 1" in text and "Scale Deployment shop/web from 2 to 3 replicas" in text
    assert "risk low" in text and "patch deployments" in text
    assert "Backup:" in text and "Restore:" in text
    assert any("+  replicas: 3" in c.value for c in at.code)  # the manifest diff
    assert at.get("graphviz_chart"), "the workflow graph is drawn"
    assert loop.deployment("web")["spec"]["replicas"] == 2  # nothing ran before approval

    at.button(key=f"approve-{ns}-{name}-1").click().run()
    no_traceback(at)
    assert phase(loop, ns, name) == Phase.AWAITING_RATING
    assert loop.deployment("web")["spec"]["replicas"] == 3
    text = page_text(at)
    assert "AwaitingRating" in text and "Restore to the state before this chat" in text
    assert "the change is promoted" not in text

    at.slider(key=f"score-{ns}-{name}").set_value(100)
    at.text_area(key=f"comment-{ns}-{name}").input("exactly right")
    at.button(key=f"FormSubmitter:rate-{ns}-{name}-Rate").click().run()
    no_traceback(at)
    assert phase(loop, ns, name) == Phase.COMPLETED
    obj = loop.client.get(ns, name)
    pr = obj["status"]["links"]["pullRequests"][0]
    text = page_text(at)
    assert "Rated 100: the change is promoted" in text and pr["url"] in text
    # the sidebar lists the thread among mine
    assert at.sidebar.button(key=f"open-{ns}-{name}").label


def test_restore_asks_first_then_brings_back_the_state_before_the_chat(loop: Loop, make_app: AppFactory) -> None:
    loop.backend.enqueue(scale("worker", 5))
    before = loop.deployment("worker")["spec"]["replicas"]
    at = make_app("alice@example.com")
    at.run()
    at.chat_input(key="chat-new").set_value("scale worker to 5").run()
    ns, name = current_thread(at)
    assert "Restore to the state before this chat" not in page_text(at)  # nothing has run yet
    at.button(key=f"approve-{ns}-{name}-1").click().run()
    assert loop.deployment("worker")["spec"]["replicas"] == 5

    at.button(key=f"restore-{ns}-{name}").click().run()
    assert "Continue?" in page_text(at)
    assert loop.deployment("worker")["spec"]["replicas"] == 5  # asking changes nothing
    at.text_input(key=f"restore-reason-{ns}-{name}").input("changed my mind")
    at.button(key=f"restore-yes-{ns}-{name}").click().run()
    no_traceback(at)
    assert phase(loop, ns, name) == Phase.RESTORED
    assert loop.deployment("worker")["spec"]["replicas"] == before
    text = page_text(at)
    assert "Restored to the state before this chat" in text
    assert "Restore to the state before this chat" not in [b.label for b in at.button]


def test_restore_says_which_snapshot_brings_the_data_back_and_shows_its_progress(loop: Loop,
                                                                                  make_app: AppFactory) -> None:
    """A volume expanded through the page: the page says how long its snapshot stays and offers to keep it (a
    viewer's toggle is refused, the requester's writes spec.keepSnapshots); the restore confirmation names the
    claim and its VolumeSnapshot; after restoring, the page shows where that snapshot's restore ended."""
    from controller.tools import bootstrap
    from tests.snapshots import objects as o
    from tests.snapshots.test_csi_restore import plan, ready
    from ui.snapshots import clock

    for obj in (o.claim("ledger", size="1Gi"), o.writer("ledger", "ledger", "v1")):
        bootstrap.create_object(loop.kube, obj)
    ready(loop, "Deployment", "ledger")
    loop.backend.enqueue(plan("expand-pvc", name="ledger", namespace="shop", size="2Gi"))
    at = make_app("alice@example.com")
    at.run()
    at.chat_input(key="chat-new").set_value("grow ledger to 2Gi").run()
    ns, name = current_thread(at)
    at.button(key=f"approve-{ns}-{name}-1").click().run()
    no_traceback(at)
    obj = loop.client.get(ns, name) or {}
    [snap] = obj["status"]["execution"]["snapshots"]
    assert snap["state"] == "Ready" and snap["used"] is True
    shown = page_text(at)
    assert "The 1 snapshot taken before the change stays while a restore is possible" in shown
    assert "deleted 168 hours after the thread closes" in shown

    # vic may only read conversations (the chart's aiop-viewer rules): his keep toggle is refused by RBAC,
    # the page says so, and the toggle goes back
    rules = [{"apiGroups": ["aiop.dev"], "resources": ["aiconversations"], "verbs": ["get", "list", "watch"]}]
    for obj in ({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                 "metadata": {"name": "conversation-viewer", "namespace": "shop"}, "rules": rules},
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                 "metadata": {"name": "conversation-viewer", "namespace": "shop"},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "conversation-viewer"},
                 "subjects": [{"kind": "User", "name": "vic@example.com", "apiGroup": "rbac.authorization.k8s.io"}]}):
        bootstrap.create_object(loop.kube, obj)
    viewer = make_app("vic@example.com")
    viewer.session_state["current"] = (ns, name)
    viewer.run()
    viewer.toggle(key=f"keep-{ns}-{name}-0").set_value(True).run()
    no_traceback(viewer)
    assert "RBAC does not allow `vic@example.com`" in " ".join(e.value for e in viewer.error)
    assert viewer.toggle(key=f"keep-{ns}-{name}-0").value is False
    assert "keepSnapshots" not in read_with_official_client(loop, ns, name)["spec"]

    at = make_app("alice@example.com")  # alice again (the sandbox picker follows the environment)
    at.session_state["current"] = (ns, name)
    at.run()
    at.toggle(key=f"keep-{ns}-{name}-0").set_value(True).run()
    no_traceback(at)
    assert read_with_official_client(loop, ns, name)["spec"]["keepSnapshots"] is True
    assert at.toggle(key=f"keep-{ns}-{name}-1").value is True
    assert "**Kept**: the 1 snapshot taken before the change stays after the thread closes" in page_text(at)

    at.button(key=f"restore-{ns}-{name}").click().run()
    asked = page_text(at)
    assert "1. Data, from the snapshots taken before the change" in asked
    assert (f"- PVC shop/ledger ← VolumeSnapshot `{snap['name']}` (csi-hostpath, 1Gi, ready {clock(snap['readyAt'])})"
            in asked)
    assert "As things stand this restore will fail" not in asked
    assert "Data from the snapshots taken before the change" not in asked  # no restore has started
    at.button(key=f"restore-yes-{ns}-{name}").click().run()
    no_traceback(at)
    assert phase(loop, ns, name) == Phase.RESTORED
    shown = page_text(at)
    assert "Data from the snapshots taken before the change" in shown
    assert "- PVC shop/ledger: back — claim shop/ledger is bound to" in shown
    assert f"restored from VolumeSnapshot {snap['name']}" in shown


def test_permissions_missing_is_explained_and_offers_no_approval(loop: Loop, make_app: AppFactory) -> None:
    loop.backend.enqueue(scale("web", 4))
    at = make_app("carol@example.com")  # may only read in shop
    at.run()
    at.chat_input(key="chat-new").set_value("scale web to 4").run()
    no_traceback(at)
    ns, name = current_thread(at)
    assert phase(loop, ns, name) == Phase.PERMISSIONS_MISSING
    text = page_text(at)
    assert "You lack permissions" in text and "patch deployments" in text
    assert not [b for b in at.button if b.key and b.key.startswith("approve-")]


def test_stale_approval_is_refused_and_shown(loop: Loop, make_app: AppFactory) -> None:
    """The page shows revision 1; a newer revision arrives before the click; the click approves 1."""
    loop.backend.enqueue(scale("worker", 3), scale("worker", 4))
    at = make_app("alice@example.com")
    at.run()
    at.chat_input(key="chat-new").set_value("scale worker to 3").run()
    ns, name = current_thread(at)
    assert at.button(key=f"approve-{ns}-{name}-1")
    # someone (here: the same person in another tab) refines the plan meanwhile
    loop.client.say(ns, name, "actually 4", ALICE)
    loop.client.wait_settled(ns, name)
    at.button(key=f"approve-{ns}-{name}-1").click().run()
    no_traceback(at)
    obj = loop.client.get(ns, name)
    assert obj["spec"]["approval"]["revision"] == 1
    assert obj["status"]["phase"] == Phase.AWAITING_APPROVAL
    assert loop.deployment("worker")["spec"]["replicas"] != 3
    errors = " ".join(e.value for e in at.error)
    assert "newer plan revision" in errors and "revision 1 is stale" in errors
    assert at.button(key=f"approve-{ns}-{name}-2")  # the latest revision can be approved


def test_api_server_down_is_a_clear_message(loop: Loop, make_app: AppFactory, tmp_path: Path) -> None:
    at = make_app("alice@example.com", kubeconfig=dead_kubeconfig(loop, tmp_path))
    at.run()
    no_traceback(at)
    errors = " ".join(e.value for e in at.error)
    assert "cannot be reached" in errors
    at.chat_input(key="chat-new").set_value("scale web to 9").run()
    no_traceback(at)
    assert "cannot be reached" in " ".join(e.value for e in at.error)


def test_forbidden_is_explained(loop: Loop, make_app: AppFactory) -> None:
    """Eve has no rights in shop: listing and chatting are refused by RBAC, and the page says why."""
    at = make_app("eve@example.com")
    at.run()
    no_traceback(at)
    at.chat_input(key="chat-new").set_value("scale web to 9").run()
    no_traceback(at)
    errors = " ".join(e.value for e in at.error)
    assert "RBAC does not allow `eve@example.com`" in errors
    assert "aiop-requester" in errors
