"""The kubelets of the simulated nodes: pods go Pending -> ContainerCreating -> Running -> Ready, or fail.

Why: every diagnosis the operator makes starts from a pod's status, events and logs. For each pod
bound to a node of the behaviour file, this controller mounts its volumes (or reports
FailedMount), resolves its environment (or CreateContainerConfigError), runs its init containers
in order and then its containers (sandbox/containers.py), and writes the status a real kubelet
writes: phase, the conditions PodReadyToStartContainers/Initialized/ContainersReady/Ready/
PodScheduled, containerStatuses with state, lastState and restartCount, podIP and qosClass.
Deleting a pod stops its containers within the grace period (`Killing`), then removes it.
Logs and `kubectl exec` are answered from the same containers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox import errors
from sandbox.behaviour import Pull
from sandbox.clock import rfc3339
from sandbox.containers import WARNING, Container, Event, container_id, image_id
from sandbox.controllers.base import Controller, set_condition
from sandbox.environment import container_env, pod_hostname, qos_class
from sandbox.logs import LOGS_ANNOTATION, PREVIOUS_LOGS_ANNOTATION
from sandbox.logs import pod_log as staged_pod_log
from sandbox.network import ClusterNetwork, pod_views
from sandbox.process import FileSystem, Process, ScratchFiles
from sandbox.programs import SHELLS, Runtime, plan_process
from sandbox.shell import run_script
from sandbox.store import ObjectKey, StoreEvent
from sandbox.volumes import ContainerFiles, Mount, ObjectVolume, Overlay, RelativeFiles, apply, missing_volume

MOUNT_RETRY_SECONDS = 120


@dataclass(frozen=True)
class ExecResult:
    """The answer to `kubectl exec`: output and exit code, or `error` when the command cannot start."""

    stdout: str
    stderr: str
    exit_code: int
    error: str = ""


@dataclass
class PodRuntime:
    uid: str
    node: str
    ip: str
    started: float
    init: list[Container] = field(default_factory=list)
    main: list[Container] = field(default_factory=list)
    mounted_at: float | None = None
    gone_at: float | None = None
    emptydirs: dict[str, ScratchFiles] = field(default_factory=dict)


class PodServices:
    """The PodContext containers use: the node's images, the pod's volumes, env, network and clock."""

    def __init__(self, kubelet: Kubelet, pod: dict[str, Any], runtime: PodRuntime) -> None:
        self.kubelet = kubelet
        self.pod = pod
        self.runtime = runtime
        spec = pod.get("spec") or {}
        meta = pod["metadata"]
        self.pod_ip = runtime.ip
        self.restart_policy = str(spec.get("restartPolicy") or "Always")
        self.grace_seconds = float(spec.get("terminationGracePeriodSeconds", 30))
        self.pod_ref = f"{meta['name']}_{meta.get('namespace', '')}({meta['uid']})"

    def pull(self, image: str) -> Pull:
        return self.kubelet.behaviour.pull(image)

    def pull_seconds(self, pull: Pull) -> float:
        image = pull.image
        if image is not None and image.pull_seconds is not None:
            return image.pull_seconds
        return self.kubelet.behaviour.timing.pull_seconds

    def image_present(self, pull: Pull) -> bool:
        return pull.ref is not None and pull.ref.full in self.kubelet.images.setdefault(self.runtime.node, set())

    def mark_pulled(self, pull: Pull) -> None:
        if pull.ref is not None:
            self.kubelet.images.setdefault(self.runtime.node, set()).add(pull.ref.full)

    def back_off(self, failures: int) -> float:
        timing = self.kubelet.behaviour.timing
        return float(min(timing.back_off_base_seconds * 2 ** max(0, failures - 1), timing.back_off_max_seconds))

    def next_event_at(self, now: float, spending: int) -> float:
        return self.kubelet.recorder.next_allowed("kubelet", self.runtime.node, self.runtime.uid, now, spending)

    @property
    def reset_seconds(self) -> float:
        return self.kubelet.behaviour.timing.back_off_reset_seconds

    def config_error(self, spec: dict[str, Any]) -> str:
        return container_env(self.kubelet.store, self.pod, spec)[1]

    def env(self, spec: dict[str, Any]) -> dict[str, str]:
        return container_env(self.kubelet.store, self.pod, spec)[0]

    def files(self, spec: dict[str, Any], local: ScratchFiles) -> ContainerFiles:
        return self.kubelet.container_files(self.pod, self.runtime, spec, local)

    def runtime_for(self, spec: dict[str, Any], pull: Pull, at: float) -> Runtime:
        tag = pull.ref.tag if pull.ref is not None else ""
        ports = tuple(int(p["containerPort"]) for p in spec.get("ports") or [] if p.get("containerPort"))
        uid = int(((spec.get("securityContext") or {}).get("runAsUser"))
                  or (((self.pod.get("spec") or {}).get("securityContext") or {}).get("runAsUser")) or 0)
        return Runtime(pull.image, {"tag": tag}, pod_hostname(self.pod), self.kubelet.network(self.pod),
                       ports, at, uid)

    def start(self, spec: dict[str, Any], pull: Pull, at: float) -> tuple[Process, FileSystem]:
        fs = self.files(spec, ScratchFiles())
        runtime = self.runtime_for(spec, pull, at)
        argv = [str(a) for a in (spec.get("command") or [])] + [str(a) for a in (spec.get("args") or [])]
        if not spec.get("command") and spec.get("args") and pull.image is not None and pull.image.entrypoint:
            argv = [*pull.image.entrypoint, *argv]
        process = plan_process(runtime, argv, self.env(spec), Overlay(fs))
        return process, fs

    def probe_exec(self, command: tuple[str, ...], fs: FileSystem, spec: dict[str, Any], pull: Pull) -> tuple[int, str]:
        result = self.kubelet.run_exec(self, spec, pull, fs, list(command))
        return result.exit_code, result.error or (result.stdout + result.stderr)

    def apply_files(self, run: Any, until: float) -> None:
        run.applied_files = apply(run.fs, run.process.files, run.applied_files, until)


class Kubelet(Controller):
    name = "kubelet"
    watches = (("", "pods"), ("", "configmaps"), ("", "secrets"), ("", "persistentvolumeclaims"))

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self.pods: dict[str, PodRuntime] = {}
        self.uids: dict[ObjectKey, str] = {}
        self.images: dict[str, set[str]] = {}
        self.volume_data: dict[str, ScratchFiles] = {}
        self.used_ips: dict[str, set[str]] = {}
        self.nodes = self.behaviour.node_names()

    def network(self, pod: dict[str, Any]) -> ClusterNetwork:
        runtime = self.pods.get(pod["metadata"].get("uid", ""))
        return ClusterNetwork(self.store, self, (pod["metadata"].get("namespace") or "default"),
                              runtime.ip if runtime is not None else "")

    # -- what to look at ---------------------------------------------------------------------------

    def keys_for(self, event: StoreEvent) -> list[ObjectKey]:
        if event.plural == "pods":
            return list(super().keys_for(event))
        namespace = event.namespace
        return [("", "pods", namespace, p["metadata"]["name"]) for p in pod_views(self.store, namespace)
                if (p.get("spec") or {}).get("nodeName") and (p.get("status") or {}).get("phase") in ("Pending", None)]

    # -- reconcile ---------------------------------------------------------------------------------

    def reconcile(self, key: ObjectKey) -> float | None:
        pod = self.store.peek(key)  # read-only: status is written from a copy (write_status)
        if pod is None:
            uid = self.uids.pop(key, None)
            if uid:
                self._forget(uid)
            return None
        spec, meta = pod.get("spec") or {}, pod["metadata"]
        node = spec.get("nodeName")
        if not node or node not in self.nodes or self.staged(pod) or not self.store.exists(("", "nodes", "", node)):
            return None
        uid = meta["uid"]
        if self.uids.get(key) not in (None, uid):
            self._forget(self.uids[key])
        self.uids[key] = uid
        runtime = self.pods.get(uid) or self._new_runtime(pod, node)
        now = self.clock.now()
        events: list[Event] = []
        ctx = PodServices(self, pod, runtime)
        if meta.get("deletionTimestamp"):
            return self._terminate(pod, runtime, ctx, now, events)
        due: float | None = None
        if runtime.mounted_at is None:
            problem = next((m for m in (missing_volume(self.store, meta.get("namespace", ""), v)
                                        for v in spec.get("volumes") or []) if m), "")
            if problem:
                events.append(Event(now, "FailedMount", problem, WARNING))
                self._publish(pod, runtime, events, now)
                return now + MOUNT_RETRY_SECONDS
            runtime.mounted_at = now
            self._make_containers(pod, runtime, now)
        for container in runtime.init + runtime.main:
            if not container.blocked:
                continue
            error = ctx.config_error(container.spec)
            if not error:
                container.blocked = ""
                container.restart_at = max(now, container.cursor)
            elif error != container.blocked:
                container.blocked = error
                container.waiting = ("CreateContainerConfigError", error)
                events.append(Event(now, "Failed", f"Error: {error}", WARNING, container.field_path))
        due = self._advance(pod, runtime, ctx, now, events)
        self._publish(pod, runtime, events, now)
        return due

    def _make_containers(self, pod: dict[str, Any], runtime: PodRuntime, at: float) -> None:
        spec = pod.get("spec") or {}
        runtime.init = [Container(c, True, i, at) for i, c in enumerate(spec.get("initContainers") or [])]
        status = pod.get("status") or {}
        previous = {s.get("name"): s for s in status.get("containerStatuses") or []}
        runtime.main = []
        for i, c in enumerate(spec.get("containers") or []):
            container = Container(c, False, i, at)
            container.restart_count = int((previous.get(c.get("name")) or {}).get("restartCount") or 0)
            runtime.main.append(container)
        for container in runtime.main:
            container.next_pull = None if runtime.init else at

    def _advance(self, pod: dict[str, Any], runtime: PodRuntime, ctx: PodServices, now: float,
                 events: list[Event]) -> float | None:
        dues: list[float] = []
        ready_at: float | None = runtime.mounted_at
        for container in runtime.init:
            if ready_at is None:
                break
            if container.cursor < ready_at and container.current is None:
                container.cursor = ready_at
                container.next_pull = ready_at
            container.advance(now, ctx, events)
            due = container.next_due(ctx)
            if due is not None:
                dues.append(due)
            if container.sidecar:
                ready_at = container.current.started if container.running and container.current else None
            elif container.succeeded and container.done:
                ready_at = container.current.finished if container.current else None
            else:
                ready_at = None
        if ready_at is not None:
            for container in runtime.main:
                if container.current is None and (container.next_pull is None or container.cursor < ready_at):
                    container.cursor = max(container.cursor, ready_at)
                    container.next_pull = max(ready_at, container.next_pull or ready_at)
                container.advance(now, ctx, events)
                due = container.next_due(ctx)
                if due is not None:
                    dues.append(due)
        return min(dues) if dues else None

    def _terminate(self, pod: dict[str, Any], runtime: PodRuntime, ctx: PodServices, now: float,
                   events: list[Event]) -> float | None:
        meta = pod["metadata"]
        if runtime.gone_at is None:
            self._advance(pod, runtime, ctx, now, events)
            grace = float(meta.get("deletionGracePeriodSeconds") or 0)
            ends = [c.stop(now, ctx, grace, events) for c in runtime.init + runtime.main]
            runtime.gone_at = max([now, *ends])
        if now + 1e-6 >= runtime.gone_at:
            self._publish(pod, runtime, events, now, fresh=False)
            rt = self.rt("", "v1", "pods")
            current = self.get("", "pods", meta.get("namespace", ""), meta["name"])
            if current is not None and current["metadata"]["uid"] == runtime.uid:
                self.delete(rt, current, {"gracePeriodSeconds": 0})
            return None
        self._publish(pod, runtime, events, now)
        return runtime.gone_at

    def _forget(self, uid: str) -> None:
        runtime = self.pods.pop(uid, None)
        if runtime is not None:
            self.used_ips.get(runtime.node, set()).discard(runtime.ip)

    def _new_runtime(self, pod: dict[str, Any], node: str) -> PodRuntime:
        index = self.nodes.index(node) + 1
        used = self.used_ips.setdefault(node, set())
        if not used:
            used.update(p["status"]["podIP"] for p in self.store.objects("", "pods")
                        if (p.get("spec") or {}).get("nodeName") == node and (p.get("status") or {}).get("podIP"))
        existing = (pod.get("status") or {}).get("podIP")
        prefix = f"10.244.{index}."
        if existing and existing.startswith(prefix):  # after a restart of the sandbox: the pod keeps its IP
            ip = existing
        else:
            ip = next((f"{prefix}{n}" for n in range(2, 255) if f"{prefix}{n}" not in used), f"{prefix}255")
        used.add(ip)
        runtime = PodRuntime(uid=pod["metadata"]["uid"], node=node, ip=ip, started=self.clock.now())
        self.pods[runtime.uid] = runtime
        return runtime

    # -- status ------------------------------------------------------------------------------------

    def _publish(self, pod: dict[str, Any], runtime: PodRuntime, events: list[Event], now: float,
                 fresh: bool = True) -> None:
        """Record the events and write the status; `fresh`: `pod` is as stored (nothing wrote it since)."""
        for event in events:
            involved = self.get("", "nodes", "", runtime.node) if event.on_node else pod
            if involved is not None:
                self.recorder.record(involved, event.reason, event.message, event.type, "kubelet", runtime.node,
                                     event.field_path, at=event.at)
        current = pod if fresh else self.get("", "pods", pod["metadata"].get("namespace", ""), pod["metadata"]["name"])
        if current is None or current["metadata"]["uid"] != runtime.uid:
            return
        status = self.pod_status(current, runtime, now)
        if current["metadata"].get("deletionTimestamp"):
            # A status update of a pod being deleted must not finish the deletion (the API server would,
            # for an object without finalizers): the kubelet reports until it removes the pod itself.
            if current.get("status") != status:
                with self.sim.own_writes():
                    self.store.put("", "pods", {**current, "status": status})
            return
        self.write_status(self.rt("", "v1", "pods"), current, status)

    def pod_status(self, pod: dict[str, Any], runtime: PodRuntime, now: float) -> dict[str, Any]:
        spec = pod.get("spec") or {}
        old = pod.get("status") or {}
        stamp = rfc3339(now)
        init_statuses = [self._container_status(c, now) for c in runtime.init] if runtime.mounted_at else [
            _waiting(c, "PodInitializing") for c in spec.get("initContainers") or []]
        main_statuses = [self._container_status(c, now) for c in runtime.main] if runtime.mounted_at else [
            _waiting(c, "ContainerCreating") for c in spec.get("containers") or []]
        initialized = all((c.succeeded and c.done) or (c.sidecar and c.running) for c in runtime.init) and \
            runtime.mounted_at is not None
        phase = self._phase(runtime, initialized)
        unready = [c.name for c in runtime.main if not c.ready] if runtime.main else \
            [c.get("name") for c in spec.get("containers") or []]
        conditions = list(old.get("conditions") or [])
        conditions = set_condition(conditions, "PodReadyToStartContainers",
                                   "True" if runtime.mounted_at is not None else "False", "", "", stamp)
        if initialized:
            conditions = set_condition(conditions, "Initialized", "True", "", "", stamp)
        else:
            pending = [c.name for c in runtime.init if not (c.succeeded and c.done)] or \
                [c.get("name") for c in spec.get("initContainers") or []]
            conditions = set_condition(conditions, "Initialized", "False", "ContainersNotInitialized",
                                       f"containers with incomplete status: [{' '.join(pending)}]", stamp)
        for type_ in ("Ready", "ContainersReady"):
            if phase == "Succeeded" or (phase == "Failed" and not unready):
                conditions = set_condition(conditions, type_, "False", "PodCompleted", "", stamp)
            elif unready:
                conditions = set_condition(conditions, type_, "False", "ContainersNotReady",
                                           f"containers with unready status: [{' '.join(unready)}]", stamp)
            else:
                conditions = set_condition(conditions, type_, "True", "", "", stamp)
        order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
        conditions = [{k: v for k, v in c.items() if v != ""} for c in
                      sorted(conditions, key=lambda c: order.index(c["type"]) if c["type"] in order else 99)]
        host_ip = _node_ip(self.nodes.index(runtime.node))
        status: dict[str, Any] = {
            "phase": phase, "conditions": conditions, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
            "podIP": runtime.ip, "podIPs": [{"ip": runtime.ip}],
            "startTime": old.get("startTime") or rfc3339(runtime.started),
            "containerStatuses": main_statuses, "qosClass": qos_class(pod),
        }
        if init_statuses:
            status["initContainerStatuses"] = init_statuses
        return status

    @staticmethod
    def _phase(runtime: PodRuntime, initialized: bool) -> str:
        if not initialized:
            if any(c.done and not c.succeeded for c in runtime.init if not c.sidecar):
                return "Failed"
            return "Pending"
        waiting = running = stopped = failed = 0
        for c in runtime.main:
            if c.running:
                running += 1
            elif c.current is not None and c.current.finished is not None:
                stopped += 1
                failed += 1 if c.current.exit_code != 0 else 0
            else:
                waiting += 1
        if waiting:
            return "Pending"
        if running:
            return "Running"
        if any(not c.done for c in runtime.main):
            return "Running"
        return "Failed" if failed else "Succeeded"

    def _container_status(self, c: Container, now: float) -> dict[str, Any]:
        run = c.current
        pull = c.pull
        entry: dict[str, Any] = {"name": c.name, "image": c.spec.get("image", ""),
                                 "imageID": image_id(pull) if pull is not None and pull.image is not None and c.pulled
                                 else "", "ready": c.ready, "restartCount": c.restart_count,
                                 "started": bool(run is not None and run.finished is None and run.started_probe_passed)}
        if run is not None:
            entry["containerID"] = container_id(f"{c.name}/{run.started}/{id(run)}")
        terminated = None
        if run is not None and run.finished is not None and run.finished <= now + 1e-6:
            terminated = {"exitCode": run.exit_code, "reason": run.reason, "startedAt": rfc3339(run.started),
                          "finishedAt": rfc3339(run.finished), "containerID": entry.get("containerID", "")}
            if run.message:
                terminated["message"] = run.message
        reason, message = c.waiting
        if run is not None and (run.finished is None or run.finished > now + 1e-6):
            entry["state"] = {"running": {"startedAt": rfc3339(run.started)}}
            previous = c.runs[-2] if len(c.runs) > 1 else None
            entry["lastState"] = _terminated(previous) if previous is not None and previous.finished else {}
        elif reason and (terminated is None or not c.done):
            entry["state"] = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
            entry["lastState"] = {"terminated": terminated} if terminated else {}
        elif terminated is not None:
            entry["state"] = {"terminated": terminated}
            previous = c.runs[-2] if len(c.runs) > 1 else None
            entry["lastState"] = _terminated(previous) if previous is not None and previous.finished else {}
        else:
            entry["state"] = {"waiting": {"reason": "ContainerCreating"}}
            entry["lastState"] = {}
        if c.init and not c.sidecar:
            entry.pop("started", None) if not entry["started"] else None
        return entry

    # -- files, logs and exec ------------------------------------------------------------------------

    def container_files(self, pod: dict[str, Any], runtime: PodRuntime, spec: dict[str, Any],
                        local: ScratchFiles) -> ContainerFiles:
        namespace = pod["metadata"].get("namespace", "")
        volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
        mounts: list[Mount] = []
        for mount in spec.get("volumeMounts") or []:
            volume = volumes.get(mount.get("name"))
            if volume is None:
                continue
            path = str(mount.get("mountPath", ""))
            read_only = bool(mount.get("readOnly"))
            backing: Any = None
            if "configMap" in volume:
                backing = ObjectVolume(self.store, namespace, "ConfigMap", volume["configMap"].get("name", ""),
                                       volume["configMap"].get("items") or [])
                read_only = True
            elif "secret" in volume:
                backing = ObjectVolume(self.store, namespace, "Secret", volume["secret"].get("secretName", ""),
                                       volume["secret"].get("items") or [])
                read_only = True
            elif "persistentVolumeClaim" in volume:
                claim = self.get("", "persistentvolumeclaims", namespace,
                                 volume["persistentVolumeClaim"].get("claimName", ""))
                pv = ((claim or {}).get("spec") or {}).get("volumeName") or f"claim-{namespace}-{volume['name']}"
                backing = RelativeFiles(self.volume_data.setdefault(f"pv:{pv}", ScratchFiles()))
            elif "hostPath" in volume:
                key = f"host:{runtime.node}:{volume['hostPath'].get('path', '')}"
                backing = RelativeFiles(self.volume_data.setdefault(key, ScratchFiles()))
            else:
                backing = RelativeFiles(runtime.emptydirs.setdefault(str(volume.get("name")), ScratchFiles()))
            sub = mount.get("subPath")
            if sub:
                backing = _SubPath(backing, str(sub))
            mounts.append(Mount(path, backing, read_only))
        static = {"/etc/hostname": pod_hostname(pod) + "\n",
                  "/etc/hosts": f"127.0.0.1\tlocalhost\n{runtime.ip}\t{pod_hostname(pod)}\n",
                  "/etc/resolv.conf": f"search {namespace}.svc.cluster.local svc.cluster.local cluster.local\n"
                                      "nameserver 10.96.0.10\noptions ndots:5\n"}
        return ContainerFiles(mounts, local, static)

    def run_exec(self, ctx: PodServices, spec: dict[str, Any], pull: Pull, fs: FileSystem,
                 command: list[str], stdin: str | None = None) -> ExecResult:
        image = pull.image
        substitutions = {"tag": pull.ref.tag if pull.ref else ""}
        line = " ".join(command)
        script = command[2] if len(command) >= 3 and command[0].rsplit("/", 1)[-1] in SHELLS and command[1] == "-c" \
            else None
        for rule in image.exec if image is not None else []:
            if rule.pattern.fullmatch(line) or (script is not None and rule.pattern.fullmatch(script.strip())):
                from sandbox.process import substitute

                return ExecResult(substitute(rule.stdout, substitutions), substitute(rule.stderr, substitutions),
                                  rule.exit_code)
        runtime = ctx.runtime_for(spec, pull, self.clock.now())
        name = command[0].rsplit("/", 1)[-1] if command else ""
        if not command or not (runtime.available(name) or fs.read(command[0]) is not None):
            return ExecResult("", "", 126, "OCI runtime exec failed: exec failed: unable to start container process: "
                              f'exec: "{command[0] if command else ""}": executable file not found in $PATH: unknown')
        shell = run_script(runtime, "", ctx.env(spec), fs, runtime.style, exec_mode=True)
        shell.stdin = stdin
        from sandbox.shell import ExitShell, Forever

        try:
            status = runtime.call(shell, command)
        except ExitShell as stop:
            status = stop.code
        except Forever:
            status = 0
        return ExecResult("".join(shell.stdout), "".join(shell.stderr), int(status))

    def exec(self, namespace: str, name: str, container: str, command: list[str], stdin: str | None = None) -> ExecResult:
        """`kubectl exec`: raises ApiError as the API server answers when it cannot reach the container."""
        pod = self.get("", "pods", namespace, name)
        rt = self.rt("", "v1", "pods")
        if pod is None:
            raise errors.not_found(rt, name)
        runtime = self.pods.get(pod["metadata"]["uid"])
        names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        if not container:
            container = names[0] if names else ""
        match = next((c for c in (runtime.main + runtime.init if runtime else []) if c.name == container), None)
        if container not in names + [c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []]:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        if runtime is None or match is None or not match.running or match.pull is None or match.current is None:
            phase = (pod.get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed"):
                raise errors.bad_request(f"cannot exec into a container in a completed pod; current phase is {phase}")
            raise errors.bad_request(f'unable to upgrade connection: container not found ("{container}")')
        ctx = PodServices(self, pod, runtime)
        ctx.apply_files(match.current, self.clock.now() - match.current.started)
        result = self.run_exec(ctx, match.spec, match.pull, match.current.fs, command, stdin)
        self.sim.enqueue(self.name, ("", "pods", namespace, name))
        return result

    def pod_log(self, pod: dict[str, Any], container: str = "", previous: bool = False,
                tail_lines: int | None = None) -> str:
        annotations = pod["metadata"].get("annotations") or {}
        runtime = self.pods.get(pod["metadata"].get("uid", ""))
        if runtime is None or self.staged(pod) or LOGS_ANNOTATION in annotations or \
                PREVIOUS_LOGS_ANNOTATION in annotations:
            return staged_pod_log(pod, container, previous, tail_lines)
        names = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
        name = pod["metadata"]["name"]
        if not container:
            if len(names) != 1:
                raise errors.bad_request(f"a container name must be specified for pod {name}, choose one of: "
                                         f"[{' '.join(names)}]")
            container = names[0]
        match = next((c for c in runtime.main + runtime.init if c.name == container), None)
        if match is None:
            if container in names:
                raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start: '
                                         "PodInitializing")
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        runs = match.runs
        if previous:
            if len(runs) < 2 and not (runs and runs[-1].finished is not None and match.waiting[0]):
                raise errors.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
            run = runs[-2] if len(runs) >= 2 and runs[-1].finished is None else runs[-1] if match.waiting[0] else runs[-2]
        else:
            if not runs:
                reason = match.waiting[0] or "ContainerCreating"
                why = "trying and failing to pull image" if reason in ("ErrImagePull", "ImagePullBackOff") else reason
                raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start: {why}')
            run = runs[-1]
        until = (run.finished if run.finished is not None else self.clock.now()) - run.started
        text = "".join(o.text + "\n" for o in run.process.log_lines(until))
        if tail_lines is not None and tail_lines >= 0:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-tail_lines:]) if tail_lines else ""
        return text

    def process_of(self, pod: dict[str, Any], port: int) -> tuple[Process, FileSystem, float] | None:
        """The running process of a pod that listens on `port` (for the cluster network)."""
        runtime = self.pods.get(pod["metadata"].get("uid", ""))
        if runtime is None:
            return None
        now = self.clock.now()
        for c in runtime.main + runtime.init:
            run = c.current
            if run is None or run.finished is not None:
                continue
            process = run.process
            if now - run.started >= process.ready_after and (
                    port in process.listen or (process.listen_declared and port in c.declared_ports)):
                return process, run.fs, now - run.started
        return None


class _SubPath:
    def __init__(self, inner: Any, sub: str) -> None:
        self.inner, self.sub = inner, sub.strip("/")

    def _path(self, path: str) -> str:
        rest = path.strip("/")
        return f"/{self.sub}/{rest}" if rest else f"/{self.sub}"

    def read(self, path: str) -> str | None:
        return self.inner.read(self._path(path))  # type: ignore[no-any-return]

    def write(self, path: str, content: str, append: bool = False) -> bool:
        return bool(self.inner.write(self._path(path), content, append))

    def remove(self, path: str) -> bool:
        return bool(self.inner.remove(self._path(path)))

    def listdir(self, path: str) -> list[str] | None:
        return self.inner.listdir(self._path(path))  # type: ignore[no-any-return]


def _node_ip(index: int) -> str:
    return f"172.18.0.{index + 2}"


def _waiting(spec: dict[str, Any], reason: str) -> dict[str, Any]:
    return {"name": spec.get("name", ""), "image": spec.get("image", ""), "imageID": "", "ready": False,
            "restartCount": 0, "started": False, "state": {"waiting": {"reason": reason}}, "lastState": {}}


def _terminated(run: Any) -> dict[str, Any]:
    out = {"exitCode": run.exit_code, "reason": run.reason, "startedAt": rfc3339(run.started),
           "finishedAt": rfc3339(run.finished)}
    if run.message:
        out["message"] = run.message
    return {"terminated": out}
