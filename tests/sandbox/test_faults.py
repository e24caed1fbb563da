"""Seeded fault injection: what clients see, that it is reproducible, and that it never corrupts the store.

What a real cluster shows under these faults: 5xx Status bodies (`etcdserver: leader changed`,
`the server is currently unable to handle the request`), API Priority and Fairness' plain-text 429
with Retry-After (client-go retries it), requests that time out with no answer (the write did not
happen) or after the write committed (it did, and a retry gets AlreadyExists), and watch streams
that end early. The faults are drawn from a seed, so the same plan and requests give the same faults.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import urllib3
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from sandbox.faults import FaultPlanError, load_plan
from sandbox.server import SandboxServer
from tests.sandbox.conftest import Kubectl, api_client


def _cm(name: str) -> dict[str, object]:
    return {"metadata": {"name": name}, "data": {"k": "v"}}


def test_error_faults_answer_a_status_and_write_nothing(sandbox: SandboxServer, kubectl: Kubectl,
                                                         api: client.ApiClient) -> None:
    """A 503 on create: kubectl prints the server's words and nothing is stored; after the plan is lifted it works."""
    sandbox.set_faults({"rules": [{"kind": "error", "code": 503, "rate": 1, "verbs": ["create"],
                                   "resources": ["configmaps"]}]})
    failed = kubectl("create", "configmap", "flaky", check=False)
    assert failed.returncode == 1
    assert "failed to create configmap: the server is currently unable to handle the request" \
        in failed.stderr
    sandbox.set_faults({"rules": [{"kind": "error", "code": 500, "rate": 1, "resources": ["configmaps"]}]})
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).read_namespaced_config_map("flaky", "default")
    assert err.value.status == 500 and "etcdserver: leader changed" in err.value.body
    assert [(f.kind, f.verb, f.code) for f in sandbox.fault_log()] == [("error", "get", 500)]
    sandbox.set_faults(None)
    assert "NotFound" in kubectl("get", "configmap", "flaky", check=False).stderr
    kubectl("create", "configmap", "flaky")
    assert kubectl("get", "configmap", "flaky", "-o", "name").stdout.strip() == "configmap/flaky"


def test_throttling_is_plain_text_429_that_kubectl_retries(sandbox: SandboxServer, kubectl: Kubectl,
                                                           api: client.ApiClient) -> None:
    """429 with Retry-After, as API Priority and Fairness sends it; client-go waits and retries until it passes."""
    sandbox.set_faults({"seed": 3, "rules": [{"kind": "throttle", "rate": 1, "retryAfterSeconds": 2,
                                              "resources": ["secrets"]}]})
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).list_namespaced_secret("default")
    assert err.value.status == 429
    assert err.value.headers["Retry-After"] == "2"
    assert err.value.body.strip() == "Too many requests, please try again later."
    sandbox.set_faults({"seed": 3, "rules": [{"kind": "throttle", "rate": 0.5, "retryAfterSeconds": 1,
                                              "verbs": ["create"], "resources": ["configmaps"]}]})
    for i in range(4):
        kubectl("create", "configmap", f"c{i}")
    assert sandbox.fault_counts().get("throttle", 0) >= 1
    assert kubectl("get", "configmaps", "-o", "name").stdout.split() == [f"configmap/c{i}" for i in range(4)]


def test_faults_are_reproducible_from_the_seed(sandbox: SandboxServer, api: client.ApiClient) -> None:
    """The same seed and the same requests draw the same faults; another seed draws others."""
    core = client.CoreV1Api(api)

    def run(seed: int) -> list[int]:
        sandbox.set_faults({"seed": seed, "rules": [{"kind": "error", "code": 503, "rate": 0.3,
                                                      "verbs": ["get"], "resources": ["namespaces"]}]})
        failed = []
        for i in range(40):
            try:
                core.read_namespace("default")
            except ApiException as exc:
                assert exc.status == 503
                failed.append(i)
        return failed

    first, again, other = run(11), run(11), run(12)
    assert first == again and 0 < len(first) < 40
    assert other != first


def test_faulted_writes_happen_completely_or_not_at_all(sandbox: SandboxServer, api: client.ApiClient) -> None:
    """Under 40% errors and throttling, exactly the creates that were answered 201 exist, whole."""
    sandbox.set_faults({"seed": 5, "rules": [
        {"kind": "error", "code": 500, "rate": 0.25, "verbs": ["create"]},
        {"kind": "throttle", "rate": 0.2, "verbs": ["create"]},
    ]})
    core = client.CoreV1Api(api)
    created = set()
    for i in range(40):
        try:
            core.create_namespaced_config_map("default", _cm(f"n{i}"))
            created.add(f"n{i}")
        except ApiException as exc:
            assert exc.status in (429, 500)
    sandbox.set_faults(None)
    stored = {cm.metadata.name: cm.data for cm in core.list_namespaced_config_map("default").items}
    assert set(stored) == created and all(data == {"k": "v"} for data in stored.values())
    assert 5 < len(created) < 40


def test_timeout_drops_the_connection_and_writes_nothing(sandbox: SandboxServer, kubectl: Kubectl) -> None:
    """A request held and then dropped: the client gets no answer, and the object was not created."""
    sandbox.set_faults({"rules": [{"kind": "timeout", "rate": 1, "seconds": 0.2, "verbs": ["create"]}]})
    dropped = kubectl("create", "configmap", "lost", check=False)
    assert dropped.returncode == 1 and "Error from server" not in dropped.stderr
    assert "EOF" in dropped.stderr or "connection reset" in dropped.stderr
    sandbox.set_faults(None)
    assert "NotFound" in kubectl("get", "configmap", "lost", check=False).stderr


def test_timeout_after_write_commits_and_the_retry_finds_it(sandbox: SandboxServer, kubectl: Kubectl) -> None:
    """The write commits, the answer is lost: the client cannot tell, and retrying the create is AlreadyExists."""
    sandbox.set_faults({"rules": [{"kind": "timeout-after-write", "rate": 1, "seconds": 0.2,
                                   "verbs": ["create"], "resources": ["configmaps"]}]})
    dropped = kubectl("create", "configmap", "committed", check=False)
    assert dropped.returncode == 1 and "Error from server" not in dropped.stderr
    sandbox.set_faults(None)
    assert kubectl("get", "configmap", "committed", "-o", "name").stdout.strip() == "configmap/committed"
    retried = kubectl("create", "configmap", "committed", check=False)
    assert 'configmaps "committed" already exists' in retried.stderr


def test_latency_makes_an_impatient_client_give_up_while_the_write_happens(
        sandbox: SandboxServer, api: client.ApiClient) -> None:
    """With added latency a client timeout fires first; the server still serves the request afterwards."""
    sandbox.set_faults({"rules": [{"kind": "latency", "rate": 1, "seconds": 1.0, "verbs": ["create"]}]})
    core = client.CoreV1Api(api)
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        core.create_namespaced_config_map("default", _cm("slow"), _request_timeout=0.2)
    sandbox.set_faults(None)
    for _ in range(50):
        try:
            assert core.read_namespaced_config_map("slow", "default").data == {"k": "v"}
            break
        except ApiException:
            threading.Event().wait(0.1)
    else:
        raise AssertionError("the delayed create never happened")


def test_dropped_watch_ends_early_and_resumes(sandbox: SandboxServer, api: client.ApiClient) -> None:
    """A watch asked to last 60 s ends after the drop; re-watching from its last version misses nothing."""
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map("default", _cm("before"))
    sandbox.set_faults({"rules": [{"kind": "drop-watch", "rate": 1, "seconds": 0.3}]})
    events: list[tuple[str, str, str]] = []

    def consume() -> None:
        for event in watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=60):
            obj = event["object"]
            events.append((event["type"], obj.metadata.name, obj.metadata.resource_version))

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive(), "the dropped watch did not end"
    assert [e[:2] for e in events] == [("ADDED", "before")]
    core.create_namespaced_config_map("default", _cm("during"))
    sandbox.set_faults(None)
    resumed = list(watch.Watch().stream(core.list_namespaced_config_map, "default",
                                        resource_version=events[-1][2], timeout_seconds=1))
    assert [(e["type"], e["object"].metadata.name) for e in resumed] == [("ADDED", "during")]


def test_faults_target_users_and_subresources(sandbox: SandboxServer, tmp_path: Path) -> None:
    """A rule for one user and one subresource leaves everyone and everything else alone."""
    sandbox.add_user("alice", ["system:masters"])
    sandbox.set_faults({"rules": [{"kind": "error", "code": 503, "rate": 1, "users": ["alice"],
                                   "resources": ["namespaces/status"]}]})
    admin = api_client(sandbox)
    alice = api_client(sandbox, sandbox.user_kubeconfig("alice"))
    try:
        assert client.CoreV1Api(admin).read_namespace_status("default").metadata.name == "default"
        assert client.CoreV1Api(alice).read_namespace("default").metadata.name == "default"
        with pytest.raises(ApiException) as err:
            client.CoreV1Api(alice).read_namespace_status("default")
        assert err.value.status == 503
    finally:
        admin.close()
        alice.close()


def test_fault_files_are_checked_and_the_seed_can_be_overridden(tmp_path: Path) -> None:
    """A bad fault file is refused naming the file and the field; `--seed` wins over the file's seed."""
    good = tmp_path / "faults.yaml"
    good.write_text("seed: 1\nrules:\n  - {kind: throttle, rate: 0.1, retryAfterSeconds: 3}\n")
    plan = load_plan(good, seed=9)
    assert plan.seed == 9 and plan.rules[0].retry_after_seconds == 3
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {kind: error, code: 418, rate: 2}\n")
    with pytest.raises(FaultPlanError) as err:
        load_plan(bad)
    assert str(bad) in str(err.value) and "rules.0.rate" in str(err.value)
    typo = tmp_path / "typo.yaml"
    typo.write_text("rules:\n  - {kind: eror, rate: 0.1}\n")
    cli = subprocess.run([sys.executable, "-m", "controller.cli", "sandbox", "--port", "0", "--home",
                          str(tmp_path / "home"), "--faults", str(typo)], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert cli.returncode == 2
    assert f"error: {typo}: rules.0.kind: Input should be 'error'" in cli.stderr


def test_a_sandbox_started_with_a_fault_file_injects_them(tmp_path: Path) -> None:
    """`SandboxServer(faults=FILE)` (what `aiop sandbox --faults FILE` builds) injects from the first request."""
    plan = tmp_path / "faults.json"
    plan.write_text('{"rules": [{"kind": "error", "code": 504, "rate": 1, "resources": ["pods"]}]}')
    with SandboxServer(home=tmp_path / "home", faults=plan) as server:
        api = api_client(server)
        with pytest.raises(ApiException) as err:
            client.CoreV1Api(api).list_namespaced_pod("default")
        api.close()
    assert err.value.status == 504
    assert "Timeout: request did not complete within requested timeout" in err.value.body
