"""The `local` backend: llama.cpp in a child process of the controller, with the Gemma 3 270M GGUF from PyPI.

Real: llama-cpp-python and the model, in the child process the adapter starts. The GGUF's own chat template (Gemma's) is
used, which knows no tools: the adapter starts such a backend at the named-tool and JSON shapes,
and llama.cpp constrains the reply to the schema by a grammar. What the model says is its own, so
the tests assert what holds whatever it says.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import yaml

from controller.backends.config import DOMAINS, LocalConfig, load_config
from controller.backends.cooperative import CooperativeBackend
from controller.backends.errors import ConfigError, TransientError
from controller.backends.factory import build_backend, make_client
from controller.backends.local_chat import LocalChat
from controller.backends.tools import ROUTE_TOOL, planner_tools
from controller.backends.wire import Msg
from controller.catalog.registry import validate_call
from controller.planning.memory_cluster import MemoryCluster
from tests.backends.conftest import request

pytestmark = [pytest.mark.xdist_group("llama"), pytest.mark.timeout(600)]


def local(path: Path, **extra: object) -> LocalChat:
    cfg = LocalConfig.model_validate({"name": "gemma", "type": "local", "model_path": str(path),
                                      "context_tokens": 8192, "max_output_tokens": 64, "timeout_s": 600, **extra})
    return LocalChat(cfg)


def test_plain_and_named_tool_answers(gemma_gguf: Path) -> None:
    client = local(gemma_gguf)
    text = client.complete("You answer briefly.", [Msg("user", "What is a Kubernetes pod?")], [], False)
    assert text.text.strip() and text.via == "plain" and text.input_tokens > 5 and text.output_tokens <= 64
    assert text.model == gemma_gguf.name
    routed = client.complete("Route the request.", [Msg("user", "why is worker crashing?")], [ROUTE_TOOL], True)
    assert routed.via == "tool_choice=named" and not routed.tool_calls[0].error  # cut-off JSON is closed
    assert routed.tool_calls[0].arguments["domain"] in DOMAINS


def test_the_planner_gets_schema_constrained_calls(gemma_gguf: Path) -> None:
    """Gemma's template ignores tools, and the catalog does not fit 8k tokens: the adapter starts at the
    JSON shapes, finds the context too small, and asks in two grammar-constrained steps."""
    client = local(gemma_gguf, max_output_tokens=96)
    reply = client.complete("You plan changes to a Kubernetes cluster.",
                            [Msg("user", "scale the deployment web in namespace shop to 3 replicas")],
                            planner_tools(), force_tool=True)
    offered = {t.name for t in planner_tools()}
    assert reply.via.startswith("pick-then-fill(") and reply.tool_calls
    assert all(c.name in offered and not c.error for c in reply.tool_calls)
    learned = client.capabilities.snapshot()["tools"]
    assert "tool_choice=required (the GGUF template handler ignores tools)" in learned
    assert any(item.startswith("every tool in one request (does not fit the context") for item in learned)


def test_a_time_limit_stops_generation_and_frees_the_model(gemma_gguf: Path) -> None:
    """At the time limit the model's process is killed (llama.cpp cannot be interrupted), so no generation
    goes on holding the CPU; the next call starts a fresh one."""
    slow = local(gemma_gguf, timeout_s=0.05, max_output_tokens=400)
    child = slow.worker._process
    assert child is not None and child.is_alive()
    with pytest.raises(TransientError, match=r"timed out after 0\.05s"):
        slow.complete("You write long stories.", [Msg("user", "Tell a long story about a ship.")], [], False)
    assert not child.is_alive()
    assert local(gemma_gguf, max_output_tokens=16).complete("Be brief.", [Msg("user", "Say OK.")], [], False).text


def test_a_crash_of_llama_cpp_is_a_transient_error_not_a_dead_controller(gemma_gguf: Path) -> None:
    """llama.cpp's sampler has died of SIGSEGV in a real run: that must end one call, not this process."""
    client = local(gemma_gguf, max_output_tokens=400)
    child = client.worker._process
    assert child is not None and child.pid is not None and child.pid != os.getpid()
    errors: list[Exception] = []

    def ask() -> None:
        try:
            client.complete("You write long stories.", [Msg("user", "Tell a long story about a ship.")], [], False)
        except Exception as exc:  # the test looks at what the call raised
            errors.append(exc)

    caller = threading.Thread(target=ask)
    caller.start()
    time.sleep(0.5)
    os.kill(child.pid, signal.SIGSEGV)
    caller.join(60)
    assert len(errors) == 1 and isinstance(errors[0], TransientError)
    assert "the local model's process ended (signal SIGSEGV)" in str(errors[0])
    again = client.complete("Be brief.", [Msg("user", "Say OK.")], [], False)  # a fresh child
    assert again.text.strip() and client.worker._process is not child


def test_one_model_per_process_and_calls_in_turn(gemma_gguf: Path) -> None:
    """Two backends over one file share the loaded model; concurrent calls wait for each other."""
    a, b = local(gemma_gguf, max_output_tokens=16), local(gemma_gguf, max_output_tokens=16)
    assert a.worker is b.worker
    answers: list[str] = []
    threads = [threading.Thread(target=lambda c=c: answers.append(
        c.complete("Be brief.", [Msg("user", "Name a colour.")], [], False).text)) for c in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(answers) == 2 and all(x.strip() for x in answers)


def test_a_missing_or_broken_file_is_a_clear_start_up_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"backend gemma: model_path .*nope.gguf: no such file"):
        local(tmp_path / "nope.gguf")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"this is not a GGUF file" * 100)
    with pytest.raises(ConfigError, match=r"llama\.cpp cannot load it"):
        local(junk)


def test_the_backends_file_configures_a_local_planner(gemma_gguf: Path, tmp_path: Path, shop: MemoryCluster) -> None:
    """`type: local` in the file, any role; whatever the model proposes is validated or replaced."""
    path = tmp_path / "backends.yaml"
    path.write_text(yaml.safe_dump({
        "backends": [{"name": "gemma", "type": "local", "model_path": str(gemma_gguf), "max_output_tokens": 200,
                      "max_retries": 0},
                     {"name": "rules", "type": "offline"}],
        "roles": {"router": "rules", "planner": ["gemma", "rules"], "summarizer": "gemma"}}))
    config = load_config(path)
    assert isinstance(make_client(config.by_name("gemma"), {}), LocalChat)
    backend = build_backend(config)
    assert isinstance(backend, CooperativeBackend)
    result = backend.propose(request("scale web to 3 replicas"), shop)
    for action in result.actions:
        validate_call(action)
    planner = [c for c in result.calls if c["backend"] == "gemma" and c["role"] == "planner"]
    assert planner and all(c["outcome"] in ("ok", "invalid", "transient") for c in planner)
    assert result.kind in ("plan", "answer", "clarify", "unsupported")
