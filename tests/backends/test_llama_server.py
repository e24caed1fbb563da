"""The OpenAI adapter against a real model server: llama.cpp's, with Gemma 3 270M from PyPI.

Real: `python -m llama_cpp.server` (llama-cpp-python) on 127.0.0.1, the GGUF model, the `openai`
package over HTTP, the catalog, the policy gate. Nothing is scripted: what the model says is its
own, so these tests assert what holds whatever it says — every answer is well-formed or a clear
error, every action is validated before anyone sees it, refusals of the server are adapted to and
remembered, time-outs and a killed server end in the offline planner. The server runs with
`--chat_format chatml-function-calling`, the llama-cpp-python format that makes a model that was
not trained for tools emit them (a grammar picks the function, another one its JSON arguments).

One server serves the module (the `llama` xdist group keeps these tests on one worker), with few
and short generations: the 2-core machine is shared.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from controller.backends.config import DOMAINS, BackendsConfig, OpenAIConfig, parse_config
from controller.backends.errors import TransientError
from controller.backends.factory import build_backend
from controller.backends.openai_chat import OpenAIChat
from controller.backends.tools import ROUTE_TOOL, planner_tools
from controller.backends.wire import Msg, ToolSpec
from controller.catalog.registry import validate_call
from controller.planning.memory_cluster import MemoryCluster
from controller.planning.types import PlanningResult
from tests.backends.conftest import request
from tests.backends.llama_server import LlamaServer

pytestmark = [pytest.mark.xdist_group("llama"), pytest.mark.timeout(600)]


def chat(server: LlamaServer, stream: bool = False, max_tokens: int = 48, timeout: float = 600) -> OpenAIChat:
    return OpenAIChat(OpenAIConfig(name="gemma", type="openai", model="gemma3-270m", base_url=server.url,
                                   stream=stream, max_output_tokens=max_tokens, timeout_s=timeout), None)


def config(server_url: str, **extra: object) -> BackendsConfig:
    entry = {"name": "gemma", "type": "openai", "model": "gemma3-270m", "base_url": server_url,
             "max_output_tokens": 256, "timeout_s": 120, "max_retries": 0, **extra}
    return parse_config({"backends": [entry, {"name": "local", "type": "offline"}],
                         "roles": {"router": "gemma", "planner": ["gemma", "local"], "reviewer": "gemma",
                                   "summarizer": "gemma"}})


def test_plain_answers_streamed_and_not(llama_server: LlamaServer) -> None:
    """A summariser-style call: text comes back both ways, greedy decoding gives the same words."""
    ask = [Msg("user", "In one short sentence: what does a Kubernetes Deployment do?")]
    whole = chat(llama_server).complete("You answer briefly.", ask, [], force_tool=False)
    streamed = chat(llama_server, stream=True).complete("You answer briefly.", ask, [], force_tool=False)
    assert whole.text.strip() and whole.via == "plain"
    assert whole.input_tokens > 10 and 0 < whole.output_tokens <= 48  # the server's own usage counts
    assert streamed.via == "plain+stream" and streamed.text.strip() == whole.text.strip()
    assert whole.model == "gemma3-270m"


def test_the_router_always_names_a_known_domain(llama_server: LlamaServer) -> None:
    """One forced tool goes as a named tool_choice: llama.cpp constrains the arguments to its schema."""
    reply = chat(llama_server).complete("Route the request.", [Msg("user", "create an S3 bucket for backups")],
                                        [ROUTE_TOOL], force_tool=True)
    assert reply.via == "tool_choice=named" and not reply.refusals
    assert [c.name for c in reply.tool_calls] == ["route"]
    assert reply.tool_calls[0].arguments["domain"] in DOMAINS


def few_tools() -> list[ToolSpec]:
    return [t for t in planner_tools() if t.name in ("scale", "restart", "respond")]


def test_the_planner_adapts_to_the_refusals_and_remembers(llama_server: LlamaServer) -> None:
    """llama.cpp refuses `required` (HTTP 500) and streamed tool requests (an empty event stream); the
    adapter moves on at once, and after the second time starts where it worked. Every call it returns
    names an offered tool, with arguments its grammar made valid JSON."""
    client = chat(llama_server, stream=True, max_tokens=64)
    offered = {t.name for t in few_tools()}
    replies = [client.complete("You plan changes to a Kubernetes cluster. Call the tools.",
                               [Msg("user", "scale the deployment web in namespace shop to 3 replicas")],
                               few_tools(), force_tool=True) for _ in range(2)]
    for reply in replies:
        assert reply.via == "tool_choice=auto"
        assert [r.split(":")[0] for r in reply.refusals] == [
            "tool_choice=required+stream", "tool_choice=required", "tool_choice=auto+stream"]
        assert reply.tool_calls and all(c.name in offered and not c.error for c in reply.tool_calls)
    assert set(client.capabilities.snapshot()["tools"]) == {
        "tool_choice=required+stream (HTTP 500)", "tool_choice=required (HTTP 500)",
        "tool_choice=auto+stream (HTTP 500)"}


def test_a_planning_round_over_the_whole_catalog_is_validated(llama_server: LlamaServer, shop: MemoryCluster) -> None:
    """The catalog's tools do not fit the 8k context: the planner asks in two steps, from a brief, and fills
    the chosen tool under a schema whose names are the objects that exist (llama.cpp's grammar). Whatever
    the model proposes is validated by the catalog; what fails twice ends in the offline planner."""
    backend = build_backend(parse_config({
        "backends": [{"name": "gemma", "type": "openai", "model": "gemma3-270m", "base_url": llama_server.url,
                      "max_output_tokens": 128, "timeout_s": 600, "max_retries": 0},
                     {"name": "rules", "type": "offline"}],
        "roles": {"planner": ["gemma", "rules"]}}))
    result: PlanningResult = backend.propose(request("Please scale the web deployment in shop to 5 replicas"), shop)
    for action in result.actions:
        validate_call(action)  # raises for anything the catalog refuses
    gemma = [c for c in result.calls if c["backend"] == "gemma" and c["role"] == "planner"]
    assert gemma and all(c["model"] == "gemma3-270m" for c in gemma if c["outcome"] == "ok")
    assert all(c["via"].startswith("pick-then-fill(") for c in gemma if c["outcome"] == "ok")
    # measured: Gemma 270M plans this one itself, and can only name a Deployment that exists
    assert not any(f.startswith("fallback:") for f in result.findings), result.findings
    assert [(a.action, a.params["name"], a.params["namespace"]) for a in result.actions] == [("scale", "web", "shop")]


def test_the_real_model_plans_through_the_engine_and_nothing_runs_before_approval(
        llama_server: LlamaServer, tmp_path: Path) -> None:
    """The real controller (kopf, in-process) with the sandbox API server (a faithful fake of the Kubernetes
    REST protocol), git, and llama.cpp's server with Gemma 270M as the planner: a person's request becomes a
    plan awaiting approval, with the model's calls in the audit, and the cluster is unchanged."""
    from controller.adapters.kube import Kube, load_api_client
    from controller.api.constants import Phase
    from controller.client import ConversationClient
    from controller.engine.runner import start_operator_thread
    from controller.engine.services import build_services
    from controller.knowledge.memory import MemoryKnowledgeStore
    from controller.settings import load_settings
    from controller.tools import bootstrap
    from sandbox.server import SandboxServer
    from tests.engine.conftest import ALICE, shop_objects

    backends = tmp_path / "backends.yaml"
    backends.write_text(yaml.safe_dump({
        "backends": [{"name": "gemma", "type": "openai", "model": "gemma3-270m", "base_url": llama_server.url,
                      "max_output_tokens": 128, "timeout_s": 300, "max_retries": 0},
                     {"name": "rules", "type": "offline"}],
        "roles": {"planner": ["gemma", "rules"]}}))
    with SandboxServer(port=0, home=tmp_path / "home") as server:
        kube = Kube(load_api_client(str(server.kubeconfig_path)))
        bootstrap.install_crds(kube)
        bootstrap.install_admission(kube, server)
        for obj in shop_objects():
            bootstrap.create_object(kube, obj)
        before = kube.get("apps/v1", "Deployment", "web", "shop")["spec"]["replicas"]
        settings = load_settings({"AIOP_HOME": str(tmp_path / "home"), "AIOP_BACKENDS": str(backends)}
                                 ).with_kubeconfig(str(server.kubeconfig_path))
        thread, stop = start_operator_thread(settings, build_services(settings, knowledge=MemoryKnowledgeStore()))
        try:
            client = ConversationClient(kube)
            client.say("shop", "gemma", "Please scale the web deployment in shop to 5 replicas", ALICE)
            status = client.wait_settled("shop", "gemma", timeout=400)["status"]
        finally:
            stop.set()
            thread.join(timeout=10)
        after = kube.get("apps/v1", "Deployment", "web", "shop")["spec"]["replicas"]
    assert status["phase"] == Phase.AWAITING_APPROVAL
    revision = status["revisions"][-1]
    calls = [c for c in revision["aiCalls"] if c["backend"] == "gemma" and c["role"] == "planner"]
    assert calls and calls[-1]["via"].startswith("pick-then-fill(") and calls[-1]["outcome"] == "ok"
    assert not any(f.startswith("fallback:") for f in revision["findings"]), revision["findings"]
    # the model names the Deployment that exists (its enum); the number is its own (it wrote 1000 in the eval)
    assert revision["actions"][0]["action"] == "scale" and "shop/web" in revision["actions"][0]["title"]
    assert after == before  # shown, not applied: nothing runs before the person approves


def test_a_timeout_is_transient_and_the_server_answers_again(llama_server: LlamaServer) -> None:
    slow = chat(llama_server, max_tokens=200, timeout=0.05)
    with pytest.raises(TransientError, match=r"timed out after 0\.05s"):
        slow.complete("You write long stories.", [Msg("user", "Tell me a long story about a ship.")], [], False)
    again = chat(llama_server, max_tokens=16).complete("Be brief.", [Msg("user", "Say OK.")], [], False)
    assert again.text.strip()


def test_a_killed_server_ends_in_the_offline_planner(gemma_gguf: Path, shop: MemoryCluster) -> None:
    """SIGKILL between two rounds: connection refused is transient, retried, then the chain moves on."""
    with LlamaServer(gemma_gguf, context=4096) as server:
        backend = build_backend(config(server.url, max_retries=1, backoff_s=0.1),
                                sleep=lambda s: None)
        assert chat(server, max_tokens=16).complete("Be brief.", [Msg("user", "Say OK.")], [], False).text
        server.kill()
        result = backend.propose(request("scale web to 3 replicas"), shop)
    assert result.kind == "plan" and result.actions[0].action == "scale"  # the offline planner
    assert any(f.startswith("fallback: local planned after gemma: cannot connect") for f in result.findings)
    outcomes = [(c["role"], c["outcome"]) for c in result.calls if c["backend"] == "gemma"]
    assert ("planner", "transient") in outcomes and all(o != "ok" for _r, o in outcomes)
