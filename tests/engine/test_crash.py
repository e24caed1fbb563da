"""Principle 6: the controller killed at every effect boundary resumes and finishes without duplicates.

A table over effects (Plan, Execute, Sync, RecordRating, Promote, Restore), each killed just before
it runs and just after it ran but before its outcome was written. The kill is simulated at the
engine's crash seam (`Services.crash_hook` raises `Crash`: nothing after that point is written, as
when the process dies), then the controller is stopped and a new one started, which resumes from
what status and git say. The Kubernetes API is the sandbox (a faithful fake speaking the real REST
protocol); the AI backend is scripted at the `Backend` seam; git and the local forge are real.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import git
import pytest

from controller.adapters.forge import LocalForge
from controller.api.constants import Phase
from controller.engine.reconcile import Crash
from controller.planning.types import ActionCall, PlanningResult
from tests.engine.conftest import ALICE, Loop, deployment, start_loop

pytestmark = pytest.mark.timeout(600)

CASES = [(when, effect, ending) for effect, ending in (
    ("Plan", "rate"), ("Execute", "rate"), ("Sync", "rate"), ("Promote", "rate"), ("RecordRating", "low"),
    ("Restore", "restore")) for when in ("before", "after")]



@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    extra = [deployment(f"crash-{i}") for i in range(len(CASES))]
    yield from start_loop(tmp_path_factory.mktemp("aiop-crash"), extra_objects=extra)


class OneKill:
    """Kills the controller at one boundary; a killed controller does nothing ever after."""

    def __init__(self, point: str) -> None:
        self.point = point
        self.killed = threading.Event()

    def __call__(self, where: str) -> None:
        if self.killed.is_set():
            raise Crash("dead")
        if where == self.point:
            self.killed.set()
            raise Crash(where)


def settle(loop: Loop, name: str, kill: OneKill, timeout: float = 240) -> dict[str, Any]:
    """Wait until the thread settles; when the kill happened, restart the controller (once) first."""
    deadline = time.monotonic() + timeout
    restarted = False
    while time.monotonic() < deadline:
        if kill.killed.is_set() and not restarted:
            loop.restart_controller()  # the new controller has no crash hook
            restarted = True
        obj = loop.client.get("shop", name)
        from controller.client import settled

        if obj is not None and settled(obj) and (restarted or not kill.killed.is_set()):
            return obj
        time.sleep(0.1)
    raise TimeoutError(f"{name} did not settle")


@pytest.mark.parametrize(("when", "effect", "ending"), CASES, ids=[f"{w}-{e}" for w, e, _ in CASES])
def test_killed_at_an_effect_boundary_resumes_without_duplicates(loop: Loop, when: str, effect: str,
                                                                 ending: str) -> None:
    index = CASES.index((when, effect, ending))
    name, target = f"crash-{when}-{effect.lower()}", f"crash-{index}"
    kill = OneKill(f"{when}:{effect}")
    loop.services.crash_hook = kill
    loop.backend.enqueue(*[PlanningResult(kind="plan", actions=[ActionCall(
        action="scale", params={"name": target, "namespace": "shop", "replicas": 3})])] * 3)
    loop.client.say("shop", name, f"scale {target} to 3", ALICE)
    obj = settle(loop, name, kill)
    assert obj["status"]["phase"] == Phase.AWAITING_APPROVAL
    loop.client.approve("shop", name, ALICE)
    obj = settle(loop, name, kill)
    assert obj["status"]["phase"] == Phase.AWAITING_RATING, obj["status"]["messages"][-1]
    if ending == "rate":
        loop.client.rate("shop", name, ALICE, 100)
        obj = settle(loop, name, kill)
        assert obj["status"]["phase"] == Phase.COMPLETED
    elif ending == "low":
        loop.client.rate("shop", name, ALICE, 40, comment="not what I meant")
        obj = settle(loop, name, kill)
        assert obj["status"]["phase"] in {Phase.AWAITING_APPROVAL, Phase.AWAITING_RATING}
    else:
        loop.client.restore("shop", name, ALICE)
        obj = settle(loop, name, kill)
        assert obj["status"]["phase"] == Phase.RESTORED
    loop.backend.replies.clear()
    loop.services.crash_hook = None
    assert kill.killed.is_set(), f"the run never reached {kill.point}"

    st = obj["status"]
    branch = f"thread/{st['threadId']}"
    repo = git.Repo(loop.settings.local_repo)
    digests = [line for line in repo.git.log(branch, "--format=%(trailers:key=Aiop-Plan-Digest,valueonly)").split()
               if line.startswith("sha256:")]
    assert len(digests) == len(set(digests)) == 1, digests  # one commit for the approved digest
    if ending == "restore":
        restores = repo.git.log(branch, "--grep=Aiop-Restore", "--format=%H").split()
        assert len(restores) == 1
        assert loop.deployment(target)["spec"]["replicas"] == 1
    if ending == "rate":
        prs = [p for p in LocalForge(loop.settings.local_repo).list() if p.head == branch]
        assert len(prs) == 1, prs
        links = [(p["repo"], p["number"]) for p in st["links"]["pullRequests"]]
        assert len(links) == len(set(links)) == 2  # the thread's and the runbook's, each once
    said = [(m["role"], m["text"]) for m in st["messages"] if m["role"] != "user"]
    assert len(said) == len(set(said)), said  # no message twice
    assert not st.get("locks") or ending == "low"
