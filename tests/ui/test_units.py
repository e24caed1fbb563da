"""The UI's pure parts as tables: identity from headers, settings, the view model's decisions."""

from __future__ import annotations

import pytest

from controller.adapters.kube import Forbidden, Unreachable
from controller.api.types import Identity
from ui.config import load_config
from ui.identity import Refusal, resolve, split_groups
from ui.model import ThreadView, explain_error, new_thread_name, search, summarize
from ui.similar import similar_resolutions

pytestmark = pytest.mark.timeout(30)
ME = Identity(user="alice@example.com")


@pytest.mark.parametrize(("env", "headers", "picked", "expected"), [
    ({}, {"X-Forwarded-Email": "bob@example.com", "X-Forwarded-Groups": "ops, devs,ops"}, None,
     Identity(user="bob@example.com", groups=["ops", "devs"])),
    ({}, {"x-forwarded-email": "bob@example.com"}, None, Identity(user="bob@example.com")),
    ({"AIOP_UI_IDENTITY_HEADER": "X-Auth-Request-Email", "AIOP_UI_GROUPS_HEADER": "X-Auth-Request-Groups"},
     {"X-Auth-Request-Email": "eve@example.com", "X-Auth-Request-Groups": "g1"}, None,
     Identity(user="eve@example.com", groups=["g1"])),
    ({}, {}, "mallory@example.com", Refusal),  # no header outside sandbox mode: refused, picker ignored
    ({"AIOP_UI_SANDBOX": "1"}, {}, None, Identity(user="demo@example.com")),
    ({"AIOP_UI_SANDBOX": "1"}, {}, "carol@example.com", Identity(user="carol@example.com")),
    ({"AIOP_UI_SANDBOX": "1"}, {"X-Forwarded-Email": "bob@example.com"}, "carol@example.com",
     Identity(user="bob@example.com")),  # the proxy's header wins even in the sandbox
])
def test_identity(env: dict[str, str], headers: dict[str, str], picked: str | None, expected: object) -> None:
    found = resolve(headers, load_config(env), picked)
    if expected is Refusal:
        assert isinstance(found, Refusal) and "X-Forwarded-Email" in found.message
    else:
        assert found == expected


def test_config_defaults_and_namespaces() -> None:
    assert load_config({}).namespaces == ("default",)
    assert load_config({"AIOP_UI_SANDBOX": "1"}).namespaces == ("shop",)
    assert load_config({"AIOP_NAMESPACES": "a,b"}).namespaces == ("a", "b")
    assert load_config({"AIOP_UI_NAMESPACES": "x", "AIOP_NAMESPACES": "a"}).namespaces == ("x",)
    assert split_groups(" a, ,b,a ") == ["a", "b"]


def conversation(name: str, phase: str, *, requester: str = ME.user, turns: int = 1, processed: int = 1,
                 **status: object) -> dict:
    return {"metadata": {"name": name, "namespace": "shop", "resourceVersion": "7"},
            "spec": {"requester": {"user": requester}, "turns": [{"text": f"scale web {i}"} for i in range(turns)]},
            "status": {"phase": phase, "processedTurns": processed, "threadId": f"shop-{name}", **status}}


@pytest.mark.parametrize(("phase", "extra", "working", "restore", "rate"), [
    ("Planning", {}, True, False, False),
    ("AwaitingApproval", {}, False, False, False),
    ("Executing", {"hasBackup": True}, True, True, False),
    ("AwaitingRating", {"hasBackup": True}, False, True, True),
    ("Completed", {"hasBackup": True}, True, True, False),  # promotion not recorded yet
    ("Completed", {"hasBackup": True, "lastRating": 100}, False, True, False),
    ("Restoring", {"hasBackup": True}, True, False, False),
    ("Restored", {"hasBackup": True}, False, False, False),
    ("Failed", {"hasBackup": True}, False, True, False),
])
def test_what_the_page_offers(phase: str, extra: dict, working: bool, restore: bool, rate: bool) -> None:
    view = ThreadView.of(conversation("t", phase, **extra))
    assert (view.working, view.restore_offered, view.can_rate) == (working, restore, rate)


def test_unanswered_turn_keeps_the_page_working() -> None:
    view = ThreadView.of(conversation("t", "AwaitingApproval", turns=2, processed=1))
    assert view.working and view.waiting_for_answer


def test_approval_refusal_is_shown_only_once_the_controller_saw_that_approval() -> None:
    digest = "sha256:" + "a" * 64
    cond = {"type": "Approved", "status": "False", "reason": "ApprovalStale", "message": "revision 1 is stale"}
    obj = conversation("t", "AwaitingApproval", conditions=[cond], seenApproval=f"1:{digest}:{ME.user}")
    obj["spec"]["approval"] = {"revision": 1, "digest": digest, "approver": {"user": ME.user}}
    assert "newer plan revision" in (ThreadView.of(obj).approval_refusal or "")
    obj["spec"]["approval"]["approver"] = {"user": "someone-else@example.com"}  # another person's approval
    assert ThreadView.of(obj).approval_refusal is None


def test_thread_list_search_and_names() -> None:
    threads = [summarize(conversation("a", "Completed"), ME),
               summarize(conversation("b", "Planning", requester="bob@example.com"), ME)]
    assert [t.mine for t in threads] == [True, False]
    assert [t.name for t in search(threads, "bob")] == ["b"]
    assert [t.name for t in search(threads, "SCALE completed")] == ["a"]
    name = new_thread_name("Scale web in shop to 3!", suffix="ab12")
    assert name == "scale-web-in-shop-to-3-ab12"


def test_errors_read_as_sentences() -> None:
    assert "cannot be reached" in explain_error(Unreachable(0, "Unreachable", "connection refused"))
    rbac = explain_error(Forbidden(403, "Forbidden", 'user "eve" cannot create'), ME)
    assert "RBAC does not allow `alice@example.com`" in rbac and "aiop-requester" in rbac
    vap = explain_error(Forbidden(403, "Forbidden", "ValidatingAdmissionPolicy 'x' denied request"), ME)
    assert "admission policy refused" in vap
    assert "not finished" in explain_error(TimeoutError("still Executing"))


def test_a_message_whose_answer_was_lost_says_it_may_have_arrived() -> None:
    """The UI never re-sends a message on its own; after a transient failure the person is told to look
    before sending it again, and a refusal is still the refusal."""
    from controller.client import ChatError
    from ui.gateway import Gateway

    class Lossy:
        def __init__(self, error: Exception) -> None:
            self.error = error

        def say(self, *_args: object, **_kwargs: object) -> dict:
            raise self.error

    gateway = Gateway.__new__(Gateway)
    gateway.who = ME
    gateway.client = Lossy(Unreachable(0, "Unreachable", "cannot reach the Kubernetes API: timed out"))  # type: ignore[assignment]
    with pytest.raises(ChatError) as lost:
        gateway.say("shop", "c1", "scale web to 3")
    assert "may or may not have reached the thread" in str(lost.value) and "timed out" in str(lost.value)
    assert "send the message again only if it is not there" in explain_error(lost.value)
    gateway.client = Lossy(Forbidden(403, "Forbidden", "no"))  # type: ignore[assignment]
    with pytest.raises(Forbidden):
        gateway.say("shop", "c1", "scale web to 3")


def test_similar_falls_back_to_completed_threads_reused_first() -> None:
    done = conversation("old", "Completed", lastRating=100)
    other = conversation("older", "Completed", lastRating=40)
    other["spec"]["turns"] = [{"text": "create namespace analytics"}]
    rows = similar_resolutions("scale web to 5", ["shop-older"], [done, other, conversation("x", "Planning")])
    assert [r.thread_id for r in rows] == ["shop-older", "shop-old"]
    assert rows[0].reused and rows[1].rating == 100
