"""The load benchmark's "0 lost or silently overwritten updates" check can fail (issue 10).

`bench.load.lost_or_overwritten` judges the 50 contended approvals from the conversations' status and
the writes a watch saw on the shared Deployments. It once passed with nothing checked (every thread it
listed lacked an execution record and was skipped), so each way an update can be lost or overwritten
is fed to it here and must be named; a consistent history must pass.
"""

from __future__ import annotations

from typing import Any

from bench.load import Write, lost_or_overwritten


def thread(name: str, deployment: str, before: int, after: int, *, phase: str = "Completed",
           executed: int | None = 1, current: int = 1) -> dict[str, Any]:
    """A conversation as the controller leaves it: its revision's action, the execution record."""
    status: dict[str, Any] = {
        "phase": phase, "threadId": f"shop-{name}", "currentRevision": current,
        "revisions": [{"revision": r, "actions": [
            {"title": f"Scale Deployment shop/{deployment} from {before} to {after} replicas"}]}
            for r in range(1, current + 1)],
        "messages": [{"role": "assistant", "text": "Thank you. Opened pull request 1."}]}
    if executed is not None:
        status["execution"] = {"revision": executed}
    return {"metadata": {"name": name}, "status": status}


def test_a_consistent_history_passes() -> None:
    threads = [thread("a", "web", 2, 5), thread("b", "web", 5, 7, current=2, executed=2),
               thread("c", "worker", 3, 3)]
    writes = [Write("web", 2, 5, "shop-a"), Write("worker", 3, 3, "shop-c"), Write("web", 5, 7, "shop-b")]
    assert lost_or_overwritten(threads, writes, {"web": 7, "worker": 3}) == []


def test_a_change_applied_over_a_state_it_was_not_planned_against_is_named() -> None:
    """b planned 2 -> 7, but a had already taken web to 5: b's write overwrote a's update."""
    threads = [thread("a", "web", 2, 5), thread("b", "web", 2, 7)]
    writes = [Write("web", 2, 5, "shop-a"), Write("web", 5, 7, "shop-b")]
    problems = lost_or_overwritten(threads, writes, {"web": 7})
    assert problems == ["b planned web 2 -> 7, but its write took web 5 -> 7 (someone else's update overwritten)"]


def test_a_thread_completed_without_its_change_is_named() -> None:
    """The old bench's blind spot: a thread Completed on an answer revision, nothing applied."""
    threads = [thread("a", "web", 2, 5), thread("b", "web", 2, 7, current=2, executed=None)]
    problems = lost_or_overwritten(threads, [Write("web", 2, 5, "shop-a")], {"web": 5})
    assert len(problems) == 1 and problems[0].startswith("b: Completed without applying revision 2")


def test_a_change_that_never_reached_the_cluster_is_lost() -> None:
    threads = [thread("a", "web", 2, 5), thread("b", "web", 5, 7)]
    problems = lost_or_overwritten(threads, [Write("web", 2, 5, "shop-a")], {"web": 5})
    assert problems == ["b: its change web 5 -> 7 was written 0 times"]


def test_a_write_by_someone_else_and_a_wrong_final_value_are_named() -> None:
    threads = [thread("a", "web", 2, 5)]
    writes = [Write("web", 2, 5, "shop-a"), Write("web", 5, 9, "")]
    problems = lost_or_overwritten(threads, writes, {"web": 4})
    assert problems == ["web went 5 -> 9 by a writer without a thread label, not a contended thread's change",
                        "web ends at 4 replicas, but its last applied change was -> 9"]


def test_threads_that_did_not_complete_are_named() -> None:
    threads = [thread("a", "web", 2, 5, phase="Failed", executed=None),
               {"metadata": {"name": "b"}, "status": {"phase": "(still running at the timeout)"}}]
    problems = lost_or_overwritten(threads, [], {"web": 2})
    assert [p.split(":")[0] for p in problems] == ["a", "b"]
    assert "ended Failed" in problems[0]
