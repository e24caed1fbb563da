"""The behaviour file and the pure pieces of the simulated cluster: registry answers, what a command
line does (the virtual-time shell), the scheduler's fit and its FailedScheduling wording, cron.

No server is needed: these are the data and the pure functions the kubelet and scheduler use. What a
real cluster shows for the same inputs is stated in each test."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from sandbox.behaviour import BehaviourError, default_behaviour, load_behaviour, parse_behaviour
from sandbox.cron import CronError, parse
from sandbox.process import ScratchFiles
from sandbox.programs import Runtime, plan_process
from sandbox.scheduler import schedule, unschedulable_message

B = default_behaviour()


def plan(image: str, argv: list[str], env: dict[str, str] | None = None, files: dict[str, str] | None = None):
    pull = B.pull(image)
    assert pull.image is not None, pull.message
    runtime = Runtime(pull.image, {"tag": pull.ref.tag if pull.ref else ""}, "pod-0")
    return plan_process(runtime, argv, dict(env or {}), ScratchFiles(files))


# -- the file --------------------------------------------------------------------------------------


def test_default_file_declares_nodes_classes_and_images() -> None:
    """The shipped file gives three schedulable nodes, a default StorageClass that expands, and images."""
    assert B.node_names() == ["sandbox-worker", "sandbox-worker2", "sandbox-worker3"]
    standard = next(sc for sc in B.storage_classes if sc.default)
    assert (standard.name, standard.allow_volume_expansion) == ("standard", True)
    assert {"nginx", "busybox", "postgres", "redis"} <= {i.repository for i in B.images}


def test_a_bad_file_names_the_file_the_field_and_the_problem(tmp_path: Path) -> None:
    """A typo in a behaviour file is refused before anything starts, pointing at what is wrong."""
    bad = tmp_path / "cluster.yaml"
    bad.write_text("nodes: [{name: n1}]\nimages:\n  - repository: nginx\n    run: {listen: [80], exitAfter: 3}\n")
    with pytest.raises(BehaviourError) as err:
        load_behaviour(bad)
    text = str(err.value)
    assert str(bad) in text and "images[nginx].run.exitAfter" in text and "Extra inputs are not permitted" in text
    with pytest.raises(BehaviourError, match="at least one node"):
        parse_behaviour("nodes: []\n", "inline")
    with pytest.raises(BehaviourError, match="more than one default class: a, b"):
        parse_behaviour("nodes: [{name: n}]\nstorageClasses: [{name: a, default: true}, {name: b, default: true}]\n")
    with pytest.raises(BehaviourError, match="cannot read"):
        load_behaviour(tmp_path / "missing.yaml")


def test_registry_answers_like_docker_hub() -> None:
    """A known tag pulls; a wrong tag is NotFound; an unknown Docker Hub repository is 'pull access denied';
    an uppercase name is InvalidImageName - the containerd messages a real node reports."""
    assert B.pull("nginx:1.27").image is not None
    assert B.pull("docker.io/library/nginx:1.25-alpine").image is not None
    wrong = B.pull("nginx:invalid-tag")
    assert wrong.reason == "ErrImagePull"
    assert wrong.message == ('rpc error: code = NotFound desc = failed to pull and unpack image '
                             '"docker.io/library/nginx:invalid-tag": failed to resolve reference '
                             '"docker.io/library/nginx:invalid-tag": docker.io/library/nginx:invalid-tag: not found')
    denied = B.pull("nginxx")
    assert "pull access denied, repository does not exist or may require authorization" in denied.message
    assert B.pull("Nginx").reason == "InvalidImageName"
    private = B.pull("ghcr.io/acme/orders-api:6.2.0")
    assert private.image is not None and private.image.run.listen == "declared"


# -- what commands do ---------------------------------------------------------------------------------


def test_a_typo_in_a_shell_command_exits_127_with_the_shells_message() -> None:
    """`python3` is not in the nginx image: dash says `/bin/sh: 1: python3: not found`, exit 127."""
    process = plan("nginx", ["/bin/sh", "-c", "python3 -c 'print(1)'"])
    assert (process.exit_at, process.exit_code) == (0.0, 127)
    assert [o.text for o in process.log_lines(1)] == ["/bin/sh: 1: python3: not found"]
    busybox = plan("busybox:1.36", ["sh", "-c", "curl http://x"])
    assert [o.text for o in busybox.log_lines(1)] == ["sh: curl: not found"]


def test_a_binary_the_image_lacks_cannot_start() -> None:
    """Without a shell, runc fails: `exec: "python3": executable file not found in $PATH`."""
    assert plan("nginx", ["python3", "app.py"]).start_error == 'exec: "python3": executable file not found in $PATH'


def test_sleep_loops_and_exit_codes_take_virtual_time() -> None:
    """`echo; sleep 3600` runs an hour; `while true; do date; sleep 5; done` logs every 5 s forever."""
    sleeper = plan("busybox:1.36", ["sh", "-c", "echo hello; sleep 3600"])
    assert sleeper.exit_at == 3600 and sleeper.exit_code == 0
    looper = plan("busybox:1.36", ["sh", "-c", "while true; do echo tick $HOSTNAME; sleep 5; done"],
                  {"HOSTNAME": "pod-0"})
    assert looper.exit_at is None
    assert [o.at for o in looper.log_lines(12)] == [0.0, 5.0, 10.0]
    assert looper.log_lines(12)[0].text == "tick pod-0"
    failing = plan("busybox:1.36", ["sh", "-c", "echo start; echo 'ERROR: no queue' >&2; exit 3"])
    assert failing.exit_code == 3
    assert [(o.text, o.stream) for o in failing.log_lines(0)] == [("start", "stdout"), ("ERROR: no queue", "stderr")]


def test_memory_grows_with_what_the_command_allocates() -> None:
    """`dd ... bs=1M count=150` puts 150 MiB in the page cache, charged to the container (the k8s-bench
    OOM case); `stress --vm 1 --vm-bytes 250M` holds 250 MiB (the documentation's OOM example)."""
    script = "echo start\ndd if=/dev/zero of=/tmp/cache.dat bs=1M count=150 &\nnginx -g 'daemon off;'\n"
    process = plan("nginx:alpine", ["/bin/sh", "-c", script])
    assert process.exit_at is None and 80 in process.listen
    assert process.peak_memory_time(128) == 0.0 and process.memory_at(0) > 150
    stress = plan("polinux/stress", ["stress", "--vm", "1", "--vm-bytes", "250M", "--vm-hang", "1"])
    assert stress.memory_at(1) == 250 and stress.peak_memory_time(100) == 0.0


def test_python_is_read_not_run() -> None:
    """A SyntaxError or a third-party import fails as CPython does (exit 1); prints are logged."""
    broken = plan("python:3.12", ["python", "-c", "print('Starting'))"])
    assert broken.exit_code == 1 and broken.log_lines(0)[-1].text == "SyntaxError: unmatched ')'"
    missing = plan("python:3.12", ["python", "-c", "import flask"])
    assert missing.log_lines(0)[-1].text == "ModuleNotFoundError: No module named 'flask'"
    server = plan("python:3.12", ["python", "-m", "http.server", "8080"])
    assert server.listen == {8080} and server.exit_at is None
    script = plan("python:3.12", ["python", "/app/job.py"], files={"/app/job.py": "print('done')\n"})
    assert [o.text for o in script.log_lines(0)] == ["done"] and script.exit_code == 0


def test_env_requirements_of_database_images() -> None:
    """mysql without a root password option prints its entrypoint's error and exits 1; with one it serves."""
    bare = plan("mysql:8.4", [])
    assert bare.exit_code == 1 and "password option is not specified" in bare.log_lines(0)[0].text
    ready = plan("mysql:8.4", [], {"MYSQL_ROOT_PASSWORD": "secret"})
    assert ready.listen == {3306, 33060} and ready.exit_at is None


def test_file_operations_are_timed() -> None:
    """The liveness example of the documentation: /tmp/healthy exists for 30 s, then is removed."""
    process = plan("busybox:1.36", ["sh", "-c", "touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600"])
    assert [(op.at, op.path, op.content) for op in process.files] == [(0.0, "/tmp/healthy", ""),
                                                                      (30.0, "/tmp/healthy", None)]
    assert process.exit_at == 630


# -- scheduling --------------------------------------------------------------------------------------


def _node(name: str, cpu: str = "4", labels: dict[str, str] | None = None, taints: list | None = None) -> dict:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": {"taints": taints or []},
            "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"}}}


def _pod(cpu: str = "100m", **spec: object) -> dict:
    return {"metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}], **spec}}


def test_failed_scheduling_is_worded_as_kube_scheduler_words_it() -> None:
    """Per-node reasons are counted, sorted and followed by the preemption verdict."""
    nodes = [_node("a", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]), _node("b"), _node("c")]
    decision = schedule(_pod(cpu="8"), nodes, [])
    assert decision.node is None
    assert decision.message == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. "
        "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod.")
    selector = schedule(_pod(nodeSelector={"disktype": "ssd"}), nodes[1:], [])
    assert selector.message.startswith("0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.")
    assert unschedulable_message(3, Counter({"Insufficient cpu": 3}), Counter(
        {"No preemption victims found for incoming pod": 3})) == (
        "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
        "3 No preemption victims found for incoming pod.")


def test_scheduler_honours_tolerations_affinity_and_spreads() -> None:
    """A toleration opens a tainted node; required node affinity narrows; replicas spread by load."""
    tainted = _node("gpu", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    tolerant = _pod(tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}])
    assert schedule(tolerant, [tainted], []).node == "gpu"
    zoned = _pod(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}]}}})
    nodes = [_node("a", labels={"zone": "a"}), _node("b", labels={"zone": "b"})]
    assert schedule(zoned, nodes, []).node == "b"
    busy = {**_pod(cpu="3"), "spec": {**_pod(cpu="3")["spec"], "nodeName": "a"}}
    assert schedule(_pod(), nodes, [busy]).node == "b"


# -- cron --------------------------------------------------------------------------------------------


def test_cron_schedules() -> None:
    """Five fields with steps, ranges and names; macros; day-of-month OR day-of-week; time zones."""
    start = dt.datetime(2026, 3, 2, 8, 58, tzinfo=dt.UTC).timestamp()  # a Monday
    weekdays = parse("0 9 * * MON-FRI")
    assert dt.datetime.fromtimestamp(weekdays.next_after(start), dt.UTC).hour == 9
    every5 = parse("*/5 * * * *")
    assert every5.last_before(start, start + 600)[1] == 2
    assert parse("@hourly").next_after(start) == dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC).timestamp()
    paris = parse("CRON_TZ=Europe/Paris 0 10 * * *")
    assert dt.datetime.fromtimestamp(paris.next_after(start), dt.UTC).hour == 9
    for bad in ("* * * *", "61 * * * *", "*/0 * * * *", "0 0 * * FUNDAY"):
        with pytest.raises(CronError):
            parse(bad)
