"""What a thread costs in AI calls and tokens, measured on the chat-completions fake.

`fakes.OpenAIServer` counts input tokens as (request body bytes / 4), which is close to what
tokenizers give for JSON-heavy English, so these numbers are estimates of real request sizes: the
catalog's tool schemas dominate. The README quotes them.
"""

from __future__ import annotations

import pytest

from controller.backends.config import parse_config
from controller.backends.factory import build_backend
from controller.planning.memory_cluster import MemoryCluster
from controller.planning.scripted import ScriptedBackend
from tests.backends import fakes
from tests.backends.conftest import request

pytestmark = pytest.mark.timeout(60)


def run(roles: dict[str, str], script: list[fakes.Script], shop: MemoryCluster) -> tuple[int, int, int]:
    with fakes.OpenAIServer() as gpt:
        gpt.enqueue(*script)
        config = parse_config({"backends": [{"name": "gpt", "type": "openai", "model": "m", "base_url": gpt.url + "/v1"}],
                               "roles": roles})
        result = build_backend(config, {}, offline=lambda: ScriptedBackend()).propose(
            request("scale web to 3, it is slow at peak hours"), shop)
    calls = [c for c in result.calls if c["backend"] == "gpt"]
    return len(calls), sum(c["inputTokens"] for c in calls), sum(c["outputTokens"] for c in calls)


def test_cost_of_one_planning_round(shop: MemoryCluster, capsys: pytest.CaptureFixture[str]) -> None:
    plan = fakes.tools(fakes.call("scale", {"name": "web", "namespace": "shop", "replicas": 3}),
                       fakes.call("respond", {"kind": "plan", "answer": "Scale web to 3."}))
    read = fakes.tools(fakes.call("read_object", {"api_version": "apps/v1", "kind": "Deployment", "name": "web",
                                                  "namespace": "shop"}))
    review = fakes.tools(fakes.call("review", {"verdict": "ok", "objections": ["consider an HPA"]}))
    route = fakes.tools(fakes.call("route", {"domain": "k8s"}))
    summary = fakes.text("Web goes from 2 to 3 replicas; nothing runs until you approve.")
    planner_only = run({"planner": "gpt"}, [plan], shop)
    with_read = run({"planner": "gpt"}, [read, plan], shop)
    all_roles = run({"router": "gpt", "planner": "gpt", "reviewer": "gpt", "summarizer": "gpt"},
                    [route, read, plan, review, summary], shop)
    with capsys.disabled():
        for name, (n, tin, tout) in [("planner only", planner_only), ("planner + one read", with_read),
                                     ("all four roles + one read", all_roles)]:
            print(f"\n{name}: {n} calls, {tin} input tokens, {tout} output tokens")
    # the catalog's tool schemas are most of a planner call (53 tools, ~9,000 tokens at 4 characters each)
    assert planner_only[0] == 1 and 3000 < planner_only[1] < 15000
    assert all_roles[0] == 5 and all_roles[1] < 32000
