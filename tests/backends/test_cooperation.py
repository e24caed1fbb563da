"""Router → planner per domain → reviewer (critic) → summariser, with fallbacks between backends.

Planners are `ScriptedBackend`s (the fake at the `Backend` seam) or `ChatBackend`s over
`fakes.ScriptedChat`; the roles that need tool calls (router, reviewer, summariser) use the latter.
"""

from __future__ import annotations

import pytest

from controller.backends.agent import ChatBackend
from controller.backends.config import BackendsConfig
from controller.backends.cooperative import CooperativeBackend, guess_domain
from controller.backends.errors import FatalError, TransientError
from controller.planning.memory_cluster import MemoryCluster
from controller.planning.scripted import ScriptedBackend
from controller.planning.types import ActionCall, PlanningResult
from tests.backends.conftest import request
from tests.backends.fakes import ScriptedChat, reply

pytestmark = pytest.mark.timeout(30)


def plan(replicas: int) -> PlanningResult:
    return PlanningResult(kind="plan", answer=f"scale to {replicas}",
                          actions=[ActionCall(action="scale", params={"name": "web", "namespace": "shop",
                                                                      "replicas": replicas})])


def config(roles: dict[str, object]) -> BackendsConfig:
    names = ["k8s-planner", "aws-planner", "critic", "writer", "router", "spare", "local"]
    return BackendsConfig.model_validate({
        "backends": [{"name": n, "type": "offline" if n == "local" else "openai", "model": "m"} if n != "local"
                     else {"name": n, "type": "offline"} for n in names],
        "roles": roles})


def chat(*replies: object) -> ChatBackend:
    return ChatBackend("x", ScriptedChat(list(replies)), sleep=lambda s: None)  # type: ignore[arg-type]


def test_router_picks_the_domain_planner_reviewer_sends_back_once_summariser_explains(shop: MemoryCluster) -> None:
    k8s = ScriptedBackend([plan(0), plan(2)], name="k8s-planner")
    aws = ScriptedBackend([], name="aws-planner")
    router = chat(reply(("route", {"domain": "k8s", "reason": "a Deployment"})))
    critic = chat(reply(("review", {"verdict": "revise", "objections": ["scaling to 0 stops the shop; keep 2"]})),
                  reply(("review", {"verdict": "ok", "objections": []})))
    writer = chat(reply(text="Web goes to 2 replicas. Nothing runs until you approve."))
    coop = CooperativeBackend(
        config({"router": "router", "planner": {"default": "k8s-planner", "cloud-aws": "aws-planner"},
                "reviewer": "critic", "summarizer": "writer"}),
        {"router": router, "k8s-planner": k8s, "aws-planner": aws, "critic": critic, "writer": writer},
        lambda: ScriptedBackend(name="offline"))
    result = coop.propose(request("turn web off"), shop)
    assert result.actions[0].params["replicas"] == 2  # the revised plan
    assert result.answer == "Web goes to 2 replicas. Nothing runs until you approve."
    assert "review: scaling to 0 stops the shop; keep 2" in result.findings
    assert "review: the plan was revised once after these objections" in result.findings
    assert len(k8s.requests) == 2 and not aws.requests
    assert [(c["role"], c["outcome"]) for c in result.calls] == [
        ("router", "ok"), ("planner", "ok"), ("reviewer", "ok"), ("planner", "ok"), ("reviewer", "ok"),
        ("summarizer", "ok")]


def test_cloud_requests_go_to_the_cloud_planner_and_offline_roles_work(shop: MemoryCluster) -> None:
    aws = ScriptedBackend([PlanningResult(kind="plan", actions=[ActionCall(
        action="create-s3-bucket", params={"name": "shop-logs", "namespace": "shop"})])], name="aws-planner")
    coop = CooperativeBackend(config({"router": "local", "planner": {"default": "k8s-planner", "cloud-aws": "aws-planner"},
                                      "reviewer": "local"}),
                              {"aws-planner": aws, "k8s-planner": ScriptedBackend()}, lambda: ScriptedBackend())
    result = coop.propose(request("create an s3 bucket shop-logs"), shop)
    assert result.actions[0].action == "create-s3-bucket" and len(aws.requests) == 1
    assert guess_domain("why does worker crash?") == "sre" and guess_domain("scale web") == "k8s"


def test_planner_chain_falls_back_to_the_next_backend_then_offline(shop: MemoryCluster) -> None:
    down = chat(TransientError("503 overloaded"), TransientError("503"), TransientError("503"))
    refused = chat(FatalError("401 bad key"))
    offline = ScriptedBackend([PlanningResult(kind="answer", answer="offline says hi")], name="offline")
    coop = CooperativeBackend(config({"planner": ["k8s-planner", "spare"]}),
                              {"k8s-planner": down, "spare": refused}, lambda: offline)
    result = coop.propose(request("scale web to 3"), shop)
    assert result.answer == "offline says hi"
    fallback = next(f for f in result.findings if f.startswith("fallback:"))
    assert "k8s-planner: 503" in fallback and "spare: 401 bad key" in fallback
    assert "the offline planner answered instead" in fallback
    spare_ok = CooperativeBackend(config({"planner": ["k8s-planner", "spare"]}),
                                  {"k8s-planner": chat(FatalError("404 no such model")),
                                   "spare": chat(reply(("scale", {"name": "web", "namespace": "shop", "replicas": 3})))},
                                  lambda: offline)
    result = spare_ok.propose(request("scale web to 3"), shop)
    assert result.actions and any(f.startswith("fallback: spare planned after k8s-planner: 404") for f in result.findings)


def test_a_failing_reviewer_falls_back_to_the_offline_critic(shop: MemoryCluster) -> None:
    coop = CooperativeBackend(config({"planner": "k8s-planner", "reviewer": "critic"}),
                              {"k8s-planner": ScriptedBackend([PlanningResult(kind="plan", actions=[ActionCall(
                                  action="delete-object", params={"api_version": "apps/v1", "kind": "Deployment",
                                                                  "name": "worker", "namespace": "shop"})])]),
                               "critic": chat(FatalError("403"))}, lambda: ScriptedBackend())
    result = coop.propose(request("delete worker"), shop)
    assert any(f.startswith("fallback: the reviewer critic failed (403)") for f in result.findings)
    assert "review: delete-object is high risk; check the backup and restore steps before approving" in result.findings
