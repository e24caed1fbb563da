"""A small model's planning request, narrowed: enums of existing objects, a shortlist, a brief.

The schema building is pure (`narrowing.fill_schema`, `narrowing.for_request` over a MemoryCluster).
The wire tests use `fakes.OpenAIServer` (a faithful fake of the chat-completions wire, replies
scripted) taught to refuse the whole catalog as too long for its context, as llama.cpp with an 8k
context does: what matters there is what the adapter *sends* in the two steps — the shortlist, the
narrowed schema as the tool's parameters (which llama.cpp turns into a grammar), and the brief — and
that the answer still passes the same validation and repair as any other.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from controller.backends import compat, narrowing
from controller.backends.agent import ChatBackend
from controller.backends.config import OpenAIConfig
from controller.backends.openai_chat import OpenAIChat
from controller.backends.tools import RESPOND, planner_tools
from controller.catalog.registry import CATALOG
from controller.planning.memory_cluster import MemoryCluster
from tests.backends import fakes
from tests.backends.conftest import deployment, request
from tests.backends.test_compat import PickyServer

pytestmark = pytest.mark.timeout(60)

POSTGRES = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "postgres", "namespace": "shop"},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "db", "image": "postgres:16"}]}}}}


@pytest.fixture
def shop_and_db(shop: MemoryCluster) -> MemoryCluster:
    shop.add(POSTGRES)
    return shop


def tool(tools: list[Any], name: str) -> Any:
    return next(t for t in tools if t.name == name)


def test_names_that_must_exist_become_enums_paired_with_their_kind(shop_and_db: MemoryCluster) -> None:
    tools, candidates = narrowing.for_request(planner_tools(), request("scale postgres to 3"), shop_and_db)
    scale = tool(tools, "scale").fill_schema
    variants = {v["properties"]["kind"]["enum"][0]: v for v in scale["anyOf"]}
    assert variants["Deployment"]["properties"]["name"] == {"type": "string", "enum": ["web", "worker"]}
    assert variants["StatefulSet"]["properties"]["name"] == {"type": "string", "enum": ["postgres"]}
    assert all(v["required"][0] == "kind" and v["properties"]["namespace"]["enum"] == ["shop"]
               for v in variants.values())
    assert variants["Deployment"]["properties"]["replicas"] == {"maximum": 1000, "minimum": 0, "type": "integer"}
    # the optional container keeps its null, and offers only the containers of that kind
    image = {v["properties"]["kind"]["enum"][0]: v for v in tool(tools, "set-image").fill_schema["anyOf"]}
    assert image["StatefulSet"]["properties"]["container"] == {"anyOf": [{"type": "string", "enum": ["db"]},
                                                                          {"type": "null"}]}
    # the kind is implied: one enum; a rollback only of Deployments
    assert tool(tools, "rollback").fill_schema["properties"]["name"]["enum"] == ["web", "worker"]
    assert tool(tools, "expose-service").fill_schema["properties"]["name"]["enum"] == ["postgres", "web", "worker"]
    # the catalog's own schema is untouched: a big model sent the whole catalog sees no enum
    assert "enum" not in tool(tools, "scale").schema["properties"]["name"]
    assert candidates.namespaces == ("shop",)


def test_names_of_new_objects_stay_free(shop: MemoryCluster) -> None:
    tools, _ = narrowing.for_request(planner_tools(), request("create a namespace analytics"), shop)
    assert tool(tools, "create-namespace").fill_schema is None  # its name is new, it has no namespace
    configmap = tool(tools, "set-configmap-key").fill_schema  # creates the ConfigMap when it is missing
    assert "enum" not in configmap["properties"]["name"] and configmap["properties"]["namespace"]["enum"] == ["shop"]
    assert "enum" not in tool(tools, "create-statefulset").fill_schema["properties"]["name"]


def test_the_catalog_says_which_parameters_name_existing_objects() -> None:
    """The catalog entries carry what narrowing offers as lists: every declared parameter is one of the
    action's parameters, every kind is one narrowing can list, and no action creating a thing is narrowed."""
    declared = {name: spec.existing for name, spec in CATALOG.items() if spec.existing}
    assert len(declared) >= 16
    for name, existing in declared.items():
        fields = CATALOG[name].params.model_fields
        for param, kinds in existing.items():
            assert param in fields, (name, param)
            assert kinds and set(kinds) <= set(narrowing.API_VERSIONS), (name, kinds)
    assert [name for name, spec in CATALOG.items() if spec.new_namespace] == ["create-namespace"]
    assert not {"create-statefulset", "create-namespace", "set-configmap-key"} & set(declared)


def test_a_namespace_the_request_names_is_offered_with_its_objects(shop: MemoryCluster) -> None:
    shop.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "payments"}})
    shop.add({**deployment("checkout"), "metadata": {"name": "checkout", "namespace": "payments"}})
    tools, candidates = narrowing.for_request(planner_tools(), request("restart checkout in payments"), shop)
    restart = tool(tools, "restart").fill_schema
    assert restart["properties"]["namespace"]["enum"] == ["shop", "payments"]
    assert restart["properties"]["name"]["enum"] == ["checkout", "web", "worker"]
    assert "Deployment checkout in payments (2 replicas)" in narrowing.brief(request("x"), candidates)


def test_the_shortlist_follows_the_words_of_the_request_not_the_object_names(shop: MemoryCluster) -> None:
    def shortlist(text: str) -> list[str]:
        tools, _ = narrowing.for_request(planner_tools(), request(text), shop)
        return [t.name for t in sorted((t for t in tools if t.shortlist), key=lambda t: t.shortlist)]

    assert shortlist("Please scale the web deployment in shop to 5 replicas")[0] == "scale"
    assert shortlist("Roll back the web deployment to its previous version")[0] == "rollback"
    assert shortlist("Add an autoscaler for web: min 2, max 10, target 70% CPU")[0] == "create-hpa"
    assert shortlist("Write me a poem about the ocean") == [RESPOND]  # nothing in the catalog shares a word
    assert all(len(shortlist(t)) <= narrowing.SHORTLIST + 1 and RESPOND in shortlist(t)
               for t in ("scale web to 3", "restart worker", "why is web failing"))
    # "web" names an object: it does not pull web-config's set-configmap-key up
    assert "set-configmap-key" not in shortlist("scale web to 3")


def context_too_long(body: dict[str, Any]) -> fakes.Script | None:
    if len(body.get("tools") or []) > 1 or body.get("response_format"):
        return fakes.error(400, "maximum context length is 8192 tokens", code="context_length_exceeded")
    return None


def picks_scale_then_fills(fills: Iterator[dict[str, Any]]) -> Callable[[dict[str, Any]], fakes.Script]:
    """A server too small for the whole catalog: it picks `scale`, then fills it with the next of `fills`."""
    def rule(body: dict[str, Any]) -> fakes.Script:
        refused = context_too_long(body)
        if refused:
            return refused
        name = body["tools"][0]["function"]["name"]
        if name == compat.PICK_TOOL:
            return fakes.tools(fakes.call(name, {"tool": "scale"}))
        return fakes.tools(fakes.call(name, next(fills)))
    return rule


def test_the_two_steps_send_the_shortlist_the_enums_and_the_brief(shop: MemoryCluster) -> None:
    rule = picks_scale_then_fills(iter([{"kind": "Deployment", "name": "web", "namespace": "shop", "replicas": 5}]))
    with PickyServer(rule) as server:
        chat = OpenAIChat(OpenAIConfig(name="srv", type="openai", model="m", base_url=server.url + "/v1",
                                       timeout_s=5), None)
        result = ChatBackend("srv", chat).propose(
            request("Please scale the web deployment to 5 replicas, my password is hunter2"), shop)
        pick, fill = server.requests[1], server.requests[2]
        every_body = b"".join(server.bodies)
    assert result.kind == "plan" and [(a.action, a.params["name"], a.params["replicas"]) for a in result.actions] == [
        ("scale", "web", 5)]
    chosen = pick["tools"][0]["function"]["parameters"]["properties"]["tool"]["enum"]
    assert chosen[0] == "scale" and RESPOND in chosen and len(chosen) <= narrowing.SHORTLIST + 1
    params = fill["tools"][0]["function"]["parameters"]
    assert params["properties"]["name"]["enum"] == ["web", "worker"]
    assert params["properties"]["namespace"]["enum"] == ["shop"]
    for body in (pick, fill):  # the brief, not the planner's prompt and fenced context
        user = body["messages"][-1]["content"]
        assert "Request: Please scale the web deployment" in user and "Deployment web (2 replicas)" in user
        assert "<<<DATA" not in user and len(body["messages"][0]["content"]) < 1500
    assert "Example: for " in fill["messages"][0]["content"]
    assert b"hunter2" not in every_body  # the brief is redacted like the rest


def test_a_narrowed_answer_is_still_validated_and_the_repair_says_why(shop: MemoryCluster) -> None:
    """A server that ignores the schema (no grammar) can return anything: the catalog still refuses it,
    and the repair's brief tells the model what was wrong."""
    rule = picks_scale_then_fills(iter([{"name": "web", "namespace": "shop", "replicas": -4},
                                        {"name": "web", "namespace": "shop", "replicas": 4}]))

    with PickyServer(rule) as server:
        chat = OpenAIChat(OpenAIConfig(name="srv", type="openai", model="m", base_url=server.url + "/v1",
                                       timeout_s=5), None)
        result = ChatBackend("srv", chat).propose(request("scale web to 4"), shop)
        repair = server.requests[-1]["messages"][-1]["content"]
    assert [a.params["replicas"] for a in result.actions] == [4]
    assert "Your last answer was not accepted" in repair and "replicas" in repair
    assert json.loads(json.dumps(result.calls[-1]["via"])) == "pick-then-fill(scale)"
