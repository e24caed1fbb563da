"""One container's life on a simulated node: pull, create, start, probes, exit, restart with back-off.

Why apart from the pod: each container of a pod moves on its own clock (an init container must
finish first; a sidecar crash-loops while the app stays up), and its state is what users read in
`containerStatuses` and `kubectl describe`. `advance(now)` replays everything that happened since
the last look, in time order, recording the kubelet's Events with their real wording; the pod
(sandbox/kubelet.py) turns the result into status. A container is never run: its process is the
timeline of sandbox/process.py.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Protocol

from sandbox import quantity
from sandbox.behaviour import Pull
from sandbox.process import FileSystem, Process

WARNING, NORMAL = "Warning", "Normal"
MAX_STEPS = 2000


@dataclass(frozen=True)
class Event:
    at: float
    reason: str
    message: str
    type: str = NORMAL
    field_path: str = ""
    on_node: bool = False  # the kubelet's OOM watcher reports on the Node, not the pod


@dataclass(frozen=True)
class Probe:
    kind: str  # httpGet | tcpSocket | exec | grpc
    port: int | None
    path: str
    command: tuple[str, ...]
    scheme: str
    initial_delay: float
    period: float
    success_threshold: int
    failure_threshold: int


def probe_of(spec: dict[str, Any] | None, ports: dict[str, int]) -> Probe | None:
    if not spec:
        return None
    for kind in ("httpGet", "tcpSocket", "exec", "grpc"):
        if kind in spec:
            action = spec[kind] or {}
            raw_port = action.get("port")
            port = ports.get(raw_port) if isinstance(raw_port, str) and not raw_port.isdigit() else (
                int(raw_port) if raw_port is not None else None)
            return Probe(kind, port, str(action.get("path") or "/"), tuple(action.get("command") or ()),
                         str(action.get("scheme") or "HTTP").lower(), float(spec.get("initialDelaySeconds") or 0),
                         float(spec.get("periodSeconds") or 10), int(spec.get("successThreshold") or 1),
                         int(spec.get("failureThreshold") or 3))
    return None


class PodContext(Protocol):
    """What a container needs from its pod and node."""

    pod_ip: str
    restart_policy: str
    grace_seconds: float
    pod_ref: str  # `name_namespace(uid)`, as the kubelet writes it in messages

    def pull(self, image: str) -> Pull: ...

    def pull_seconds(self, pull: Pull) -> float: ...

    def image_present(self, pull: Pull) -> bool: ...

    def mark_pulled(self, pull: Pull) -> None: ...

    def config_error(self, spec: dict[str, Any]) -> str: ...

    def start(self, spec: dict[str, Any], pull: Pull, at: float) -> tuple[Process, FileSystem]: ...

    def probe_exec(self, command: tuple[str, ...], fs: FileSystem, spec: dict[str, Any], pull: Pull) -> tuple[int, str]: ...

    def apply_files(self, run: Run, until: float) -> None: ...

    def back_off(self, failures: int) -> float: ...

    def next_event_at(self, now: float, spending: int) -> float:
        """When the event recorder lets one more kubelet event about the pod through (its spam filter),
        once `spending` events not yet recorded are spent at `now`."""
        ...

    @property
    def reset_seconds(self) -> float: ...


@dataclass
class Run:
    """One start of the container."""

    started: float
    process: Process
    fs: FileSystem
    applied_files: int = 0
    finished: float | None = None
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    ready: bool = False
    started_probe_passed: bool = False
    next_probe: dict[str, float] = field(default_factory=dict)
    successes: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)


def container_id(seed: str) -> str:
    return "containerd://" + hashlib.sha256(seed.encode()).hexdigest()


def image_id(pull: Pull) -> str:
    assert pull.ref is not None
    digest = pull.ref.digest or "sha256:" + hashlib.sha256(pull.ref.full.encode()).hexdigest()
    return f"{pull.ref.name}@{digest}"


class Container:
    """The kubelet's record of one container of one pod."""

    def __init__(self, spec: dict[str, Any], init: bool, index: int, ready_at: float) -> None:
        self.spec = spec
        self.name = str(spec.get("name", ""))
        self.init = init
        self.field_path = f"spec.{'initContainers' if init else 'containers'}{{{self.name}}}"
        ports = {p.get("name"): int(p["containerPort"]) for p in spec.get("ports") or [] if p.get("name")}
        self.startup = probe_of(spec.get("startupProbe"), ports)
        self.liveness = probe_of(spec.get("livenessProbe"), ports)
        self.readiness = probe_of(spec.get("readinessProbe"), ports)
        self.declared_ports = tuple(int(p["containerPort"]) for p in spec.get("ports") or [] if p.get("containerPort"))
        limits = ((spec.get("resources") or {}).get("limits") or {})
        self.memory_limit = quantity.mib(limits["memory"]) if limits.get("memory") else None
        self.sidecar = init and spec.get("restartPolicy") == "Always"
        self.cursor = ready_at  # clock time up to which this container has been simulated
        self.waiting = ("PodInitializing" if not init else "", "")
        self.pull: Pull | None = None
        self.pulled = False
        self.pull_failures = 0
        self.next_pull: float | None = ready_at
        self.restart_at: float | None = None
        self.restart_count = 0
        self.crashes = 0
        self.runs: list[Run] = []
        self.done = False  # will not run again
        self.blocked = ""  # CreateContainerConfigError message
        self.flip_at: float | None = None  # ErrImagePull becomes ImagePullBackOff

    # -- views ------------------------------------------------------------------------------------

    @property
    def current(self) -> Run | None:
        return self.runs[-1] if self.runs else None

    @property
    def running(self) -> bool:
        run = self.current
        return run is not None and run.finished is None

    @property
    def ready(self) -> bool:
        run = self.current
        return run is not None and run.finished is None and run.ready

    @property
    def succeeded(self) -> bool:
        run = self.current
        return run is not None and run.finished is not None and run.exit_code == 0

    # -- the timeline -----------------------------------------------------------------------------

    def advance(self, now: float, ctx: PodContext, events: list[Event]) -> None:
        """Simulate from the cursor to `now`."""
        for _ in range(MAX_STEPS):
            due = self._next_transition(ctx)
            if due is None or due > now:
                break
            self.cursor = max(self.cursor, due)
            self._step(due, ctx, events)
        self.cursor = max(self.cursor, now)
        run = self.current
        if run is not None:
            ctx.apply_files(run, (run.finished or now) - run.started)
        if self.restart_at is not None and self.restart_at > now and self.crashes and self.waiting[0] == "CrashLoopBackOff":
            events.append(Event(now, "BackOff", f"Back-off restarting failed container {self.name} in pod "
                                f"{ctx.pod_ref}", WARNING, self.field_path))

    def next_due(self, ctx: PodContext) -> float | None:
        return self._next_transition(ctx)

    def _next_transition(self, ctx: PodContext) -> float | None:
        if self.done or self.blocked:
            return None
        run = self.current
        if run is None or run.finished is not None:
            if self.pull is None or not self.pulled:
                if self.flip_at is not None and self.next_pull is not None:
                    return min(self.flip_at, self.next_pull)
                return self.next_pull
            return self.restart_at
        candidates = [run.started + run.process.exit_at] if run.process.exit_at is not None else []
        if self.memory_limit is not None:
            oom = run.process.peak_memory_time(self.memory_limit)
            if oom is not None:
                candidates.append(run.started + oom)
        candidates.extend(run.next_probe.values())
        return min(candidates) if candidates else None

    def _step(self, t: float, ctx: PodContext, events: list[Event]) -> None:
        run = self.current
        if run is None or run.finished is not None:
            if not self.pulled and self.flip_at is not None and t < (self.next_pull or t + 1):
                self._back_off_pull(t, events)
            elif not self.pulled:
                self.flip_at = None
                self._pull(t, ctx, events)
            else:
                self._start(t, ctx, events)
            return
        if run.process.exit_at is not None and run.started + run.process.exit_at <= t:
            self._terminate(t, run.process.exit_code, "Completed" if run.process.exit_code == 0 else "Error", ctx, events)
            return
        if self.memory_limit is not None:
            oom = run.process.peak_memory_time(self.memory_limit)
            if oom is not None and run.started + oom <= t:
                program = (self.spec.get("command") or self.spec.get("args") or [self.name])[0].rsplit("/", 1)[-1]
                rss = int(run.process.memory_at(t - run.started) * 1024)
                events.append(Event(t, "OOMKilling", f"Memory cgroup out of memory: Killed process 1 ({program}) "
                                    f"total-vm:{rss + 4096}kB, anon-rss:{rss}kB, file-rss:0kB, shmem-rss:0kB, "
                                    "UID:0 pgtables:512kB oom_score_adj:999", WARNING, on_node=True))
                self._terminate(t, 137, "OOMKilled", ctx, events)
                return
        for kind, due in sorted(run.next_probe.items(), key=lambda kv: kv[1]):
            if due <= t:
                self._probe(kind, t, run, ctx, events)
                if run.finished is not None:
                    return

    def _pull(self, t: float, ctx: PodContext, events: list[Event]) -> None:
        pull = ctx.pull(str(self.spec.get("image", "")))
        self.pull = pull
        image = str(self.spec.get("image", ""))
        if pull.reason == "InvalidImageName":
            self.waiting = ("InvalidImageName", pull.message)
            events.append(Event(t, "InspectFailed", pull.message, WARNING, self.field_path))
            events.append(Event(t, "Failed", "Error: InvalidImageName", WARNING, self.field_path))
            self.next_pull = None
            self.done = True
            return
        policy = self.spec.get("imagePullPolicy") or ("Always" if pull.ref and pull.ref.tag == "latest"
                                                      and not pull.ref.digest else "IfNotPresent")
        if policy != "Always" and pull.image is not None and ctx.image_present(pull):
            events.append(Event(t, "Pulled", f'Container image "{image}" already present on machine',
                                NORMAL, self.field_path))
            self.pulled = True
            self._start(t, ctx, events)
            return
        if policy == "Never":
            message = f'Container image "{image}" is not present with pull policy of Never'
            self.waiting = ("ErrImageNeverPull", message)
            events.append(Event(t, "ErrImageNeverPull", message, WARNING, self.field_path))
            events.append(Event(t, "Failed", "Error: ErrImageNeverPull", WARNING, self.field_path))
            self.next_pull = None
            return
        events.append(Event(t, "Pulling", f'Pulling image "{image}"', NORMAL, self.field_path))
        if pull.image is None:
            self.pull_failures += 1
            events.append(Event(t, "Failed", f'Failed to pull image "{image}": {pull.message}', WARNING, self.field_path))
            events.append(Event(t, "Failed", "Error: ErrImagePull", WARNING, self.field_path))
            self.waiting = ("ErrImagePull", pull.message)
            self.next_pull = t + ctx.back_off(self.pull_failures)
            self.flip_at = t + min(1.0, self.next_pull - t)
            return
        seconds = ctx.pull_seconds(pull)
        size = pull.image.size_bytes
        events.append(Event(t + seconds, "Pulled", f'Successfully pulled image "{image}" in {seconds:.3f}s '
                            f"({seconds:.3f}s including waiting). Image size: {size} bytes.", NORMAL, self.field_path))
        ctx.mark_pulled(pull)
        self.pulled = True
        self.waiting = ("ContainerCreating", "")
        if seconds > 0:
            self.restart_at = t + seconds
        else:
            self._start(t, ctx, events)

    def _back_off_pull(self, t: float, events: list[Event]) -> None:
        """A moment after ErrImagePull the kubelet reports ImagePullBackOff until the next attempt."""
        self.flip_at = None
        image = str(self.spec.get("image", ""))
        self.waiting = ("ImagePullBackOff", f'Back-off pulling image "{image}"')
        events.append(Event(t, "BackOff", f'Back-off pulling image "{image}"', NORMAL, self.field_path))
        events.append(Event(t, "Failed", "Error: ImagePullBackOff", WARNING, self.field_path))

    def _start(self, t: float, ctx: PodContext, events: list[Event]) -> None:
        assert self.pull is not None
        self.restart_at = None
        error = ctx.config_error(self.spec)
        if error:
            self.blocked = error
            self.waiting = ("CreateContainerConfigError", error)
            events.append(Event(t, "Failed", f"Error: {error}", WARNING, self.field_path))
            return
        if self.runs:
            self.restart_count += 1
        process, fs = ctx.start(self.spec, self.pull, t)
        run = Run(started=t, process=process, fs=fs)
        self.runs = [*self.runs[-1:], run]
        self.waiting = ("", "")
        events.append(Event(t, "Created", f"Created container: {self.name}", NORMAL, self.field_path))
        if process.start_error:
            message = ("failed to create containerd task: failed to create shim task: OCI runtime create failed: "
                       f"runc create failed: unable to start container process: {process.start_error}: unknown")
            events.append(Event(t, "Failed", f"Error: {message}", WARNING, self.field_path))
            run.finished, run.exit_code, run.reason, run.message = t, 128, "StartError", message
            self._after_exit(t, ctx)
            return
        events.append(Event(t, "Started", f"Started container {self.name}", NORMAL, self.field_path))
        first = t
        if self.startup is not None:
            run.next_probe["startup"] = first + self.startup.initial_delay
        else:
            self._arm_after_startup(run, first)

    def _arm_after_startup(self, run: Run, at: float) -> None:
        run.started_probe_passed = True
        if self.liveness is not None:
            run.next_probe["liveness"] = max(at, run.started + self.liveness.initial_delay)
        if self.readiness is not None:
            run.next_probe["readiness"] = max(at, run.started + self.readiness.initial_delay)
        elif not self.init or self.sidecar:
            run.ready = True

    def _probe(self, kind: str, t: float, run: Run, ctx: PodContext, events: list[Event]) -> None:
        probe = {"startup": self.startup, "liveness": self.liveness, "readiness": self.readiness}[kind]
        assert probe is not None
        ok, detail = self._check(probe, t - run.started, run, ctx)
        run.next_probe[kind] = t + probe.period
        steady = self._steady_until(run, t) if probe.kind != "exec" else t  # exec reads files exec may change
        if ok and steady != t:
            # Nothing the probe looks at can change before `steady`: probing again earlier would only
            # repeat the same success (an exec probe, which reads files, keeps its period).
            if steady is None:
                del run.next_probe[kind]
            else:
                run.next_probe[kind] = max(t + probe.period, steady)
        elif not ok and kind == "readiness" and run.failures.get(kind, 0) + 1 >= probe.failure_threshold and \
                steady != t:
            # Unready already, and nothing changes before `steady`: a probe whose Unhealthy event the
            # recorder's spam filter would drop shows nothing, so the next one is the first tick of the
            # probe's period at which an event gets through (or `steady`, if sooner).
            pending = 1 + sum(1 for e in events if not e.on_node)
            allowed = ctx.next_event_at(t, pending)
            ticks = max(1, math.ceil((allowed - t) / probe.period - 1e-9))
            run.next_probe[kind] = t + ticks * probe.period if steady is None else \
                min(t + ticks * probe.period, max(t + probe.period, steady))
        if ok:
            run.failures[kind] = 0
            run.successes[kind] = run.successes.get(kind, 0) + 1
            if kind == "startup":
                del run.next_probe["startup"]
                self._arm_after_startup(run, t)
            elif kind == "readiness" and run.successes[kind] >= probe.success_threshold:
                run.ready = True
            return
        run.successes[kind] = 0
        run.failures[kind] = run.failures.get(kind, 0) + 1
        title = kind.capitalize()
        events.append(Event(t, "Unhealthy", f"{title} probe failed: {detail}", WARNING, self.field_path))
        if kind == "readiness":
            if run.failures[kind] >= probe.failure_threshold:
                run.ready = False
            return
        if run.failures[kind] >= probe.failure_threshold:
            events.append(Event(t, "Killing", f"Container {self.name} failed {kind} probe, will be restarted",
                                NORMAL, self.field_path))
            stop = run.process.stop_seconds
            if stop is None or stop > ctx.grace_seconds:
                self._terminate(t + ctx.grace_seconds, 137, "Error", ctx, events, forced=True)
            else:
                self._terminate(t + stop, 0, "Completed", ctx, events, forced=True)

    @staticmethod
    def _steady_until(run: Run, t: float) -> float | None:
        """When the process next changes in a way a probe could see (None: never, on its own)."""
        process = run.process
        changes = [run.started + process.ready_after] + [run.started + op.at for op in process.files] + \
            [run.started + at for at, _ in process.memory]
        future = [c for c in changes if c > t]
        return min(future) if future else None

    def _check(self, probe: Probe, elapsed: float, run: Run, ctx: PodContext) -> tuple[bool, str]:
        process = run.process
        if probe.kind == "exec":
            assert self.pull is not None
            ctx.apply_files(run, elapsed)
            code, output = ctx.probe_exec(probe.command, run.fs, self.spec, self.pull)
            return code == 0, output.strip() or f"command {list(probe.command)!r} exited with {code}"
        listening = probe.port is not None and elapsed >= process.ready_after and (
            probe.port in process.listen or (process.listen_declared and probe.port in self.declared_ports))
        address = f"{ctx.pod_ip}:{probe.port}"
        if probe.kind == "tcpSocket" or probe.kind == "grpc":
            return listening, f"dial tcp {address}: connect: connection refused"
        url = f"{probe.scheme}://{address}{probe.path}"
        if not listening:
            return False, f'Get "{url}": dial tcp {address}: connect: connection refused'
        status = process.http_status(probe.path)
        if status == 0:
            return False, f'Get "{url}": net/http: HTTP/1.x transport connection broken: malformed HTTP response'
        if 200 <= status < 400:
            return True, ""
        return False, f"HTTP probe failed with statuscode: {status}"

    def _terminate(self, t: float, code: int, reason: str, ctx: PodContext, events: list[Event],
                   forced: bool = False) -> None:
        run = self.current
        assert run is not None
        run.finished, run.exit_code, run.reason = t, code, reason
        run.ready = False
        run.next_probe.clear()
        self._after_exit(t, ctx)

    def _after_exit(self, t: float, ctx: PodContext) -> None:
        run = self.current
        assert run is not None
        failed = run.exit_code != 0
        if self.init and not self.sidecar:
            restart = failed and ctx.restart_policy != "Never"
        elif self.sidecar:
            restart = True
        else:
            restart = ctx.restart_policy == "Always" or (ctx.restart_policy == "OnFailure" and failed)
        if not restart:
            self.done = True
            self.restart_at = None
            return
        ran = t - run.started
        if ran >= ctx.reset_seconds:
            self.crashes = 0
        delay = 0.0 if self.crashes == 0 else ctx.back_off(self.crashes)
        self.crashes += 1
        self.restart_at = t + delay
        if delay > 0:
            self.waiting = ("CrashLoopBackOff", f"back-off {_go_duration(delay)} restarting failed container="
                            f"{self.name} pod={ctx.pod_ref}")
        else:
            self.waiting = ("", "")

    def stop(self, t: float, ctx: PodContext, grace: float, events: list[Event]) -> float:
        """SIGTERM now; returns when the process is gone (grace period, or its own stop time)."""
        run = self.current
        self.done = True
        self.restart_at = None
        self.next_pull = None
        if run is None or run.finished is not None:
            return t
        events.append(Event(t, "Killing", f"Stopping container {self.name}", NORMAL, self.field_path))
        stop = run.process.stop_seconds
        if stop is None or stop > grace:
            run.finished, run.exit_code, run.reason = t + grace, 137, "Error"
        else:
            run.finished, run.exit_code, run.reason = t + stop, 0, "Completed"
        run.ready = False
        run.next_probe.clear()
        return run.finished


def _go_duration(seconds: float) -> str:
    """Go's time.Duration.String(): 10s, 1m20s, 5m0s."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s}s"
    h, m = divmod(m, 60)
    return f"{h}h{m}m{s}s"
