"""Pods on the simulated cluster, seen through a real kubectl: what a kind cluster would show.

The Kubernetes API server is the sandbox (no real one can run here); the scheduler, kubelets and
containers are simulated from the pod spec and the default behaviour file. Each test states the
real cluster's answer; time passes by advancing the cluster clock (`sandbox.simulator.advance`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from sandbox.server import SandboxServer
from tests.sandbox.conftest import Kubectl


def apply(kubectl: Kubectl, manifest: str) -> None:
    kubectl("apply", "-f", "-", stdin=manifest)


def get(kubectl: Kubectl, *what: str) -> Any:
    return json.loads(kubectl("get", *what, "-o", "json").stdout)


def container_status(kubectl: Kubectl, pod: str, namespace: str = "default") -> dict[str, Any]:
    return get(kubectl, "pod", pod, "-n", namespace)["status"]["containerStatuses"][0]


def events(kubectl: Kubectl, name: str) -> list[tuple[str, str, str]]:
    items = get(kubectl, "events", "--field-selector", f"involvedObject.name={name}")["items"]
    return [(e["type"], e["reason"], e["message"]) for e in items]


POD = """
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: {name}}}}}
spec:
  terminationGracePeriodSeconds: {grace}
  restartPolicy: {restart}
  containers:
  - name: app
    image: {image}
{extra}
"""


def pod(name: str, image: str, extra: str = "", restart: str = "Always", grace: int = 30) -> str:
    return POD.format(name=name, image=image, extra=extra, restart=restart, grace=grace)


def test_a_pod_becomes_ready_with_the_kubelets_conditions_events_and_logs(kubectl: Kubectl) -> None:
    """Real cluster: `kubectl wait --for=condition=Ready` returns, the pod is Running on a node with an IP,
    every condition is True, describe lists Scheduled/Pulling/Pulled/Created/Started, logs show nginx's."""
    apply(kubectl, pod("web", "nginx:1.27"))
    kubectl("wait", "--for=condition=Ready", "pod/web", "--timeout=20s")
    status = get(kubectl, "pod", "web")["status"]
    assert status["phase"] == "Running" and status["podIP"].startswith("10.244.")
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True", "ContainersReady": "True",
        "PodScheduled": "True"}
    assert status["qosClass"] == "BestEffort"
    assert list(status["containerStatuses"][0]["state"]) == ["running"]
    reasons = [r for _, r, _ in events(kubectl, "web")]
    assert reasons[:1] == ["Scheduled"] or "Scheduled" in reasons
    assert {"Scheduled", "Pulling", "Pulled", "Created", "Started"} <= set(reasons)
    described = kubectl("describe", "pod", "web").stdout
    assert re.search(r"Successfully assigned default/web to sandbox-worker\d?", described)
    assert "Configuration complete; ready for start up" in kubectl("logs", "web").stdout
    line = kubectl("get", "pod", "web").stdout.splitlines()[1].split()
    assert line[:4] == ["web", "1/1", "Running", "0"]


def test_a_crashing_command_crash_loops_with_back_off(kubectl: Kubectl, sandbox: SandboxServer) -> None:
    """Real cluster: the container exits 1, restarts at once, then waits 10 s, 20 s, 40 s... in
    CrashLoopBackOff; lastState holds the exit; `logs --previous` shows the last run; BackOff events."""
    script = '    command: ["sh", "-c", "echo connecting; echo fatal: no database >&2; exit 1"]'
    apply(kubectl, pod("crash", "busybox:1.36", script))
    first = container_status(kubectl, "crash")
    assert first["restartCount"] == 1
    assert first["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    uid = get(kubectl, "pod", "crash")["metadata"]["uid"]
    assert first["state"]["waiting"]["message"] == \
        f"back-off 10s restarting failed container=app pod=crash_default({uid})"
    assert first["lastState"]["terminated"]["exitCode"] == 1
    assert first["lastState"]["terminated"]["reason"] == "Error"
    assert get(kubectl, "pod", "crash")["status"]["phase"] == "Running"
    sandbox.simulator.advance(10)
    second = container_status(kubectl, "crash")
    assert second["restartCount"] == 2 and "back-off 20s" in second["state"]["waiting"]["message"]
    sandbox.simulator.advance(15)
    assert container_status(kubectl, "crash")["restartCount"] == 2  # still backing off (20 s)
    sandbox.simulator.advance(5)
    assert container_status(kubectl, "crash")["restartCount"] == 3
    assert kubectl("logs", "crash", "--previous").stdout == "connecting\nfatal: no database\n"
    assert ("Warning", "BackOff", f"Back-off restarting failed container app in pod crash_default({uid})") in \
        events(kubectl, "crash")
    line = kubectl("get", "pod", "crash").stdout.splitlines()[1].split()
    assert line[:4] == ["crash", "0/1", "CrashLoopBackOff", "3"]


def test_an_unknown_tag_fails_to_pull(kubectl: Kubectl, sandbox: SandboxServer) -> None:
    """Real cluster: ErrImagePull with containerd's NotFound message, then ImagePullBackOff; the pod stays
    Pending and `kubectl logs` says the container is waiting to start."""
    apply(kubectl, pod("bad", "nginx:invalid-tag"))
    waiting = container_status(kubectl, "bad")["state"]["waiting"]
    assert waiting["reason"] == "ErrImagePull"
    assert waiting["message"].startswith('rpc error: code = NotFound desc = failed to pull and unpack image '
                                         '"docker.io/library/nginx:invalid-tag"')
    sandbox.simulator.advance(2)
    waiting = container_status(kubectl, "bad")["state"]["waiting"]
    assert waiting == {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "nginx:invalid-tag"'}
    assert get(kubectl, "pod", "bad")["status"]["phase"] == "Pending"
    seen = events(kubectl, "bad")
    assert ("Warning", "Failed", "Error: ErrImagePull") in seen
    assert ("Normal", "BackOff", 'Back-off pulling image "nginx:invalid-tag"') in seen
    logs = kubectl("logs", "bad", check=False)
    assert logs.returncode == 1
    assert 'container "app" in pod "bad" is waiting to start: trying and failing to pull image' in logs.stderr


def test_memory_over_the_limit_is_oom_killed(kubectl: Kubectl) -> None:
    """Real cluster (the documentation's stress example): the container is OOMKilled, exit code 137."""
    extra = ('    command: ["stress"]\n    args: ["--vm", "1", "--vm-bytes", "250M", "--vm-hang", "1"]\n'
             '    resources: {limits: {memory: 100Mi}, requests: {memory: 50Mi}}')
    apply(kubectl, pod("memory-demo", "polinux/stress", extra))
    status = container_status(kubectl, "memory-demo")
    assert status["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert status["lastState"]["terminated"]["exitCode"] == 137
    assert status["restartCount"] >= 1
    assert get(kubectl, "pod", "memory-demo")["status"]["qosClass"] == "Burstable"
    node_events = get(kubectl, "events", "-n", "default", "--field-selector", "reason=OOMKilling")["items"]
    assert node_events and node_events[0]["involvedObject"]["kind"] == "Node"  # the kubelet's OOM watcher
    assert node_events[0]["message"].startswith("Memory cgroup out of memory: Killed process 1 (stress)")


def test_a_secrets_string_data_reaches_the_environment(kubectl: Kubectl) -> None:
    """Real cluster: `stringData` is merged into base64 `data`; a pod reading the key through secretKeyRef
    starts and sees the value."""
    apply(kubectl, """
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {ROOT_PASSWORD: s3cret}
""")
    secret = get(kubectl, "secret", "db")
    assert secret["data"] == {"ROOT_PASSWORD": "czNjcmV0"} and "stringData" not in secret
    env = ('    command: ["sh", "-c", "echo pw=$PW; sleep 3600"]\n'
           "    env: [{name: PW, valueFrom: {secretKeyRef: {name: db, key: ROOT_PASSWORD}}}]")
    apply(kubectl, pod("reader", "busybox:1.36", env))
    kubectl("wait", "--for=condition=Ready", "pod/reader", "--timeout=10s")
    assert kubectl("logs", "reader").stdout == "pw=s3cret\n"


def test_a_readiness_probe_on_a_port_nobody_listens_on_keeps_the_pod_unready(kubectl: Kubectl) -> None:
    """Real cluster: Running but 0/1 READY, Ready=False (ContainersNotReady), and Unhealthy events with
    the kubelet's `dial tcp ...: connect: connection refused`; `kubectl wait` times out."""
    extra = "    readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 5}"
    apply(kubectl, pod("unready", "nginx:1.27", extra))
    status = get(kubectl, "pod", "unready")["status"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (status["phase"], ready["status"], ready["reason"]) == ("Running", "False", "ContainersNotReady")
    assert ready["message"] == "containers with unready status: [app]"
    ip = status["podIP"]
    assert ("Warning", "Unhealthy", f'Readiness probe failed: Get "http://{ip}:8080/": dial tcp {ip}:8080: '
            "connect: connection refused") in events(kubectl, "unready")
    waited = kubectl("wait", "--for=condition=Ready", "pod/unready", "--timeout=1s", check=False)
    assert waited.returncode != 0 and "timed out" in waited.stderr
    apply(kubectl, pod("wrong-path", "nginx:1.27", "    readinessProbe: {httpGet: {path: /healthz, port: 80}}"))
    assert ("Warning", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 404") in \
        events(kubectl, "wrong-path")
    apply(kubectl, pod("right", "nginx:1.27", "    readinessProbe: {tcpSocket: {port: 80}}"))
    kubectl("wait", "--for=condition=Ready", "pod/right", "--timeout=10s")



def _kubelet_events(kubectl: Kubectl, name: str) -> dict[str, int]:
    items = get(kubectl, "events", "--field-selector", f"involvedObject.name={name}")["items"]
    return {e["reason"]: e["count"] for e in items if e["source"]["component"] == "kubelet"}


def test_an_hour_of_failing_readiness_is_held_back_by_the_event_spam_filter(kubectl: Kubectl,
                                                                            sandbox: SandboxServer) -> None:
    """Real cluster (client-go's EventSourceObjectSpamFilter): a source may record 25 events about one
    object, then one more every 5 minutes. A probe failing every 10 s for an hour is 360 failures, but
    the kubelet's events about the pod (Pulling, Pulled, Created, Started, then Unhealthy folded into one
    Event whose count grows) add up to 25 + 12; then exactly one more per 5 minutes of cluster time."""
    apply(kubectl, pod("flaky", "nginx:1.27", "    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 10}"))
    sandbox.simulator.advance(3630)  # the 12th refill falls due an hour after the first event, the probe takes it
    seen = _kubelet_events(kubectl, "flaky")
    assert set(seen) == {"Pulling", "Pulled", "Created", "Started", "Unhealthy"}
    assert sum(seen.values()) == 25 + 12, seen
    sandbox.simulator.advance(100)
    assert sum(_kubelet_events(kubectl, "flaky").values()) == 37  # the next token is 300 s after the last one
    sandbox.simulator.advance(200)
    assert _kubelet_events(kubectl, "flaky")["Unhealthy"] == seen["Unhealthy"] + 1
    # another source about the same object has a bucket of its own
    assert [e["count"] for e in get(kubectl, "events", "--field-selector", "involvedObject.name=flaky,reason=Scheduled")[
        "items"]] == [1]

def test_a_failing_liveness_probe_restarts_the_container(kubectl: Kubectl, sandbox: SandboxServer) -> None:
    """Real cluster (k8s-bench's fix-probes): three failures 5 s apart, then `Container app failed
    liveness probe, will be restarted`, and restartCount grows."""
    extra = "    livenessProbe: {httpGet: {path: /get_status, port: 80}, periodSeconds: 5, failureThreshold: 3}"
    apply(kubectl, pod("alive", "nginx:latest", extra))
    assert container_status(kubectl, "alive")["restartCount"] == 0
    sandbox.simulator.advance(11)
    assert container_status(kubectl, "alive")["restartCount"] == 1
    seen = events(kubectl, "alive")
    assert ("Normal", "Killing", "Container app failed liveness probe, will be restarted") in seen
    assert ("Warning", "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 404") in seen


def test_an_exec_probe_follows_the_files_the_command_writes(kubectl: Kubectl, sandbox: SandboxServer) -> None:
    """Real cluster (the documentation's liveness-exec example): healthy for 30 s, then `cat` fails three
    times and the kubelet kills the container; the shell ignores SIGTERM, so it dies when the grace period
    ends and is started again."""
    extra = ('    args: ["/bin/sh", "-c", "touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600"]\n'
             "    livenessProbe: {exec: {command: [cat, /tmp/healthy]}, initialDelaySeconds: 5, periodSeconds: 5}")
    apply(kubectl, pod("liveness-exec", "registry.k8s.io/busybox", extra, grace=10))
    sandbox.simulator.advance(30)
    assert container_status(kubectl, "liveness-exec")["restartCount"] == 0
    sandbox.simulator.advance(15)
    seen = events(kubectl, "liveness-exec")
    assert ("Warning", "Unhealthy", "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or "
            "directory") in seen
    assert ("Normal", "Killing", "Container app failed liveness probe, will be restarted") in seen
    assert container_status(kubectl, "liveness-exec")["restartCount"] == 0
    sandbox.simulator.advance(10)
    assert container_status(kubectl, "liveness-exec")["restartCount"] == 1


@pytest.mark.parametrize(("extra", "message"), [
    ("    resources: {requests: {cpu: '64'}}",
     "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
     "3 No preemption victims found for incoming pod."),
    ("  nodeSelector: {disktype: ssd}",
     "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are "
     "available: 3 Preemption is not helpful for scheduling."),
])
def test_a_pod_that_fits_no_node_stays_pending(kubectl: Kubectl, extra: str, message: str) -> None:
    """Real cluster: Pending, PodScheduled=False (Unschedulable) and a FailedScheduling Warning worded by
    kube-scheduler."""
    manifest = pod("big", "nginx:1.27", extra if extra.startswith("    ") else "")
    if not extra.startswith("    "):
        manifest = manifest.replace("  containers:", extra + "\n  containers:")
    apply(kubectl, manifest)
    status = get(kubectl, "pod", "big")["status"]
    scheduled = next(c for c in status["conditions"] if c["type"] == "PodScheduled")
    assert (status["phase"], scheduled["status"], scheduled["reason"], scheduled["message"]) == (
        "Pending", "False", "Unschedulable", message)
    assert ("Warning", "FailedScheduling", message) in events(kubectl, "big")


def test_a_tainted_node_is_used_only_with_a_toleration(kubectl: Kubectl) -> None:
    """Real cluster: after tainting all nodes NoSchedule, a pod without toleration is Pending; one that
    tolerates the taint is scheduled."""
    for node in ("sandbox-worker", "sandbox-worker2", "sandbox-worker3"):
        kubectl("taint", "node", node, "dedicated=batch:NoSchedule")
    apply(kubectl, pod("plain", "nginx:1.27"))
    message = next(c for c in get(kubectl, "pod", "plain")["status"]["conditions"]
                   if c["type"] == "PodScheduled")["message"]
    assert message.startswith("0/3 nodes are available: 3 node(s) had untolerated taint {dedicated: batch}.")
    tolerant = pod("tolerant", "nginx:1.27").replace("  containers:", "  tolerations: [{key: dedicated, operator: "
                                                     "Equal, value: batch, effect: NoSchedule}]\n  containers:")
    apply(kubectl, tolerant)
    kubectl("wait", "--for=condition=Ready", "pod/tolerant", "--timeout=10s")


def test_deleting_a_pod_honours_its_grace_period(kubectl: Kubectl, sandbox: SandboxServer) -> None:
    """Real cluster: a shell sleeping as PID 1 ignores SIGTERM, so the pod stays Terminating for the
    whole grace period; nginx exits on SIGTERM and is gone at once."""
    apply(kubectl, pod("sleeper", "busybox:1.36", '    command: ["sleep", "3600"]', grace=20))
    kubectl("delete", "pod", "sleeper", "--wait=false")
    terminating = get(kubectl, "pod", "sleeper")
    assert terminating["metadata"]["deletionGracePeriodSeconds"] == 20
    assert kubectl("get", "pod", "sleeper").stdout.splitlines()[1].split()[2] == "Terminating"
    assert ("Normal", "Killing", "Stopping container app") in events(kubectl, "sleeper")
    sandbox.simulator.advance(12)  # (a few real seconds pass as well)
    assert kubectl("get", "pod", "sleeper", check=False).returncode == 0
    sandbox.simulator.advance(9)
    assert "NotFound" in kubectl("get", "pod", "sleeper", check=False).stderr
    apply(kubectl, pod("quick", "nginx:1.27"))
    kubectl("delete", "pod", "quick", "--timeout=20s")
    kubectl("delete", "pod", "sleeper2", "--ignore-not-found")


def test_missing_config_keeps_the_pod_from_starting(kubectl: Kubectl) -> None:
    """Real cluster: a missing ConfigMap volume leaves the pod ContainerCreating with FailedMount; a missing
    key referenced by env gives CreateContainerConfigError; creating the ConfigMap lets both start."""
    mounted = pod("mounted", "nginx:1.27", "    volumeMounts: [{name: cfg, mountPath: /etc/app}]").replace(
        "  containers:", "  volumes: [{name: cfg, configMap: {name: app-config}}]\n  containers:")
    apply(kubectl, mounted)
    assert container_status(kubectl, "mounted")["state"]["waiting"]["reason"] == "ContainerCreating"
    assert ("Warning", "FailedMount", 'MountVolume.SetUp failed for volume "cfg" : configmap "app-config" not found') \
        in events(kubectl, "mounted")
    env = "    env: [{name: MODE, valueFrom: {configMapKeyRef: {name: app-config, key: mode}}}]"
    apply(kubectl, pod("env", "nginx:1.27", env))
    waiting = container_status(kubectl, "env")["state"]["waiting"]
    assert waiting == {"reason": "CreateContainerConfigError", "message": 'configmap "app-config" not found'}
    kubectl("create", "configmap", "app-config", "--from-literal=other=1")
    kubectl("wait", "--for=condition=Ready", "pod/mounted", "--timeout=10s")
    assert container_status(kubectl, "env")["state"]["waiting"]["message"] == \
        "couldn't find key mode in ConfigMap default/app-config"
    kubectl("create", "configmap", "app-config", "--from-literal=mode=blue", "--dry-run=client", "-o", "yaml")
    kubectl("patch", "configmap", "app-config", "-p", '{"data": {"mode": "blue"}}')
    kubectl("wait", "--for=condition=Ready", "pod/env", "--timeout=10s")


def test_init_containers_run_first(kubectl: Kubectl, sandbox: SandboxServer) -> None:
    """Real cluster: while the init container sleeps the pod is Pending with Init:0/1 semantics
    (Initialized=False); once it exits 0 the app container starts."""
    manifest = pod("with-init", "nginx:1.27").replace("  containers:", (
        "  initContainers:\n  - name: wait\n    image: busybox:1.36\n    command: [sh, -c, 'sleep 8']\n"
        "  containers:"))
    apply(kubectl, manifest)
    status = get(kubectl, "pod", "with-init")["status"]
    assert status["phase"] == "Pending"
    assert next(c for c in status["conditions"] if c["type"] == "Initialized")["status"] == "False"
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    sandbox.simulator.advance(9)
    kubectl("wait", "--for=condition=Ready", "pod/with-init", "--timeout=10s")
    init = get(kubectl, "pod", "with-init")["status"]["initContainerStatuses"][0]
    assert init["state"]["terminated"]["reason"] == "Completed"


def test_logs_grow_as_the_clock_runs(kubectl: Kubectl, sandbox: SandboxServer) -> None:
    """Real cluster: a loop printing every 5 s has 1 line at start, 3 after 10 s; --tail cuts them."""
    apply(kubectl, pod("ticker", "busybox:1.36", '    command: ["sh", "-c", "while true; do echo tick; sleep 5; done"]'))
    assert kubectl("logs", "ticker").stdout == "tick\n"
    sandbox.simulator.advance(10)
    assert kubectl("logs", "ticker").stdout == "tick\ntick\ntick\n"
    assert kubectl("logs", "ticker", "--tail=1").stdout == "tick\n"


def test_a_pod_whose_status_a_client_wrote_is_left_as_written(kubectl: Kubectl, sandbox: SandboxServer) -> None:
    """The compatibility rule: a status written through the status subresource by a client (as tests and
    eval scenarios stage CrashLoopBackOff) is not driven by the simulated kubelet afterwards."""
    apply(kubectl, pod("staged", "nginx:1.27"))
    staged = {"status": {"phase": "Running", "containerStatuses": [{
        "name": "app", "ready": False, "restartCount": 9, "image": "nginx:1.27", "imageID": "",
        "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}
    kubectl("patch", "pod", "staged", "--subresource=status", "--type=merge", "-p", json.dumps(staged))
    sandbox.simulator.advance(60)
    status = container_status(kubectl, "staged")
    assert (status["restartCount"], status["state"]["waiting"]["reason"]) == (9, "CrashLoopBackOff")


def test_exec_runs_declared_and_simulated_commands(kubectl: Kubectl, sandbox: SandboxServer) -> None:
    """The exec hook the API server calls: a file from a mounted ConfigMap, the container's env, a command
    the image declares (`nginx -v`), a write another exec reads, and the runtime's error for a missing
    binary (what `kubectl exec` shows on a real cluster)."""
    kubectl("create", "configmap", "site", "--from-literal=index.html=hello")
    manifest = pod("site", "nginx:1.27", "    env: [{name: MODE, value: blue}]\n"
                   "    volumeMounts: [{name: html, mountPath: /usr/share/nginx/html}]").replace(
        "  containers:", "  volumes: [{name: html, configMap: {name: site}}]\n  containers:")
    apply(kubectl, manifest)
    assert sandbox.simulator is not None

    def run(*command: str) -> Any:
        return sandbox.call(lambda: sandbox.simulator.exec("default", "site", "", list(command)))

    assert run("cat", "/usr/share/nginx/html/index.html").stdout == "hello"
    assert run("printenv", "MODE").stdout == "blue\n"
    assert run("nginx", "-v").stderr == "nginx version: nginx/1.27\n"
    assert run("sh", "-c", "echo saved > /tmp/note").exit_code == 0
    assert run("cat", "/tmp/note").stdout == "saved\n"
    missing = run("python3", "-c", "print(1)")
    assert missing.exit_code == 126 and 'exec: "python3": executable file not found in $PATH' in missing.error
    assert run("sh", "-c", "curl -s http://localhost:80/ | grep -c hello").stdout == "1\n"  # nginx serves the mount


def test_a_behaviour_file_of_ones_own_changes_the_cluster(tmp_path: Path) -> None:
    """Behaviour is data: one small node, an in-house image that logs, listens and answers an exec, and
    a registry that knows nothing else - a pod of any other image fails to pull."""
    from sandbox.behaviour import parse_behaviour

    behaviour = parse_behaviour("""
nodes: [{name: tiny, capacity: {cpu: "1", memory: 1Gi, pods: "10"}}]
images:
  - repository: registry.example.com/shop/api
    tags: ['v[0-9]+']
    shell: none
    run: {listen: [9000], logs: ["api v${tag} listening on :9000"]}
    exec: [{match: '^/api --version$', stdout: "api ${tag}\\n"}]
""", "inline")
    with SandboxServer(home=tmp_path / "home", behaviour=behaviour) as server:
        env_kubectl = _kubectl_for(server, tmp_path)
        assert env_kubectl("get", "nodes", "-o", "name").stdout.split() == ["node/tiny"]
        apply(env_kubectl, pod("api", "registry.example.com/shop/api:v3",
                               "    readinessProbe: {tcpSocket: {port: 9000}}"))
        env_kubectl("wait", "--for=condition=Ready", "pod/api", "--timeout=10s")
        assert env_kubectl("logs", "api").stdout == "api vv3 listening on :9000\n"
        assert env_kubectl("exec", "api", "--", "/api", "--version").stdout == "api v3\n"
        apply(env_kubectl, pod("other", "nginx:1.27"))
        assert container_status(env_kubectl, "other")["state"]["waiting"]["reason"] == "ErrImagePull"
        apply(env_kubectl, pod("big", "registry.example.com/shop/api:v3", "    resources: {requests: {cpu: '2'}}"))
        message = next(c for c in get(env_kubectl, "pod", "big")["status"]["conditions"]
                       if c["type"] == "PodScheduled")["message"]
        assert message.startswith("0/1 nodes are available: 1 Insufficient cpu.")


def _kubectl_for(server: SandboxServer, tmp_path: Path) -> Kubectl:
    import os
    import subprocess

    from tests.sandbox.conftest import KUBECTL

    home = tmp_path / "kubectl-home-own"
    home.mkdir()

    def run(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "HOME": str(home), "KUBECONFIG": str(server.kubeconfig_path)}
        proc = subprocess.run([KUBECTL, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    return run  # type: ignore[return-value]


def test_aiop_sandbox_refuses_a_bad_behaviour_file(tmp_path: Path) -> None:
    """`aiop sandbox --behaviour FILE` stops before starting, naming the file and the field (exit 2)."""
    import subprocess
    import sys

    bad = tmp_path / "cluster.yaml"
    bad.write_text("nodes: [{name: n, capacity: {cpu: 4}}]\nimages: [{repository: nginx, tags: ['(']}]\n")
    aiop = Path(sys.executable).parent / "aiop"
    proc = subprocess.run([str(aiop), "sandbox", "--port", "0", "--home", str(tmp_path / "home"),
                           "--behaviour", str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert str(bad) in proc.stderr and "images[nginx].tags" in proc.stderr
