"""The simulated cluster: a scheduler, kubelets and controllers driven by the store, a clock and a behaviour file.

Why: there is no kubelet, scheduler or controller manager behind the sandbox API server, yet every
diagnosis and verify step of the operator reads what they leave behind (pods Pending,
CrashLoopBackOff, READY 1/2, endpoints, bound PVCs). This module runs them as reconcile loops, as
kwok runs pod stages: each controller watches kinds, reconciles one object at a time through the
API server's own verbs, and asks to look again at a clock time (a container that exits after 30 s,
a back-off, a progress deadline, a CronJob's next schedule).

How it runs:
- A store listener queues the keys each controller cares about. After a client's write the queue
  is drained synchronously (the write's consequences - a Deployment's ReplicaSet, its pods, their
  scheduling and start - are visible when the response arrives); other changes (deletions, status
  writes) are drained on the next turn of the server's event loop; timers fire on the loop.
- Compatibility rule: an object whose status a client (not the simulation) wrote is *staged*: the
  controller that owns that status leaves it alone. A staged pod stays as written for good (tests
  and evals stage CrashLoopBackOff or OOMKilled through the status subresource); a staged
  Deployment, StatefulSet, Job... is taken back by the simulation at its next spec change. Pods
  bound to a node the behaviour file does not declare are never driven (no kubelet runs there).
- `simulate_workloads=False` on SandboxServer switches all of it off.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sandbox.behaviour import Behaviour, default_behaviour
from sandbox.clock import SimClock
from sandbox.errors import ApiError
from sandbox.kubelet import ExecResult
from sandbox.operations import Operations
from sandbox.recorder import Recorder
from sandbox.resources import ResourceType
from sandbox.store import DELETED, MODIFIED, ObjectKey, StoreEvent

log = logging.getLogger(__name__)

MAX_RECONCILES_PER_DRAIN = 5000
STATUS_DRIVEN = frozenset({
    ("", "pods"), ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"),
    ("apps", "daemonsets"), ("batch", "jobs"), ("batch", "cronjobs"), ("autoscaling", "horizontalpodautoscalers"),
    ("", "persistentvolumeclaims"), ("", "persistentvolumes"),
})
STAGED_FILE = "simulation-staged.json"

TaskKey = tuple[int, ObjectKey]


class Simulator:
    """Owns the controllers, their work queue and timers; lives on the API server's event loop."""

    def __init__(self, ops: Operations, behaviour: Behaviour | None = None, clock: SimClock | None = None,
                 state_dir: Path | None = None) -> None:
        from sandbox.controllers import all_controllers
        from sandbox.controllers.storage import StorageController, register_admission
        from sandbox.kubelet import Kubelet

        self.ops = ops
        self.store = ops.store
        self.behaviour = behaviour or default_behaviour()
        self.clock = clock or SimClock()
        self.recorder = Recorder(ops, self.clock)
        self.state_dir = state_dir
        self.controllers = [cls(self) for cls in all_controllers()]
        self.kubelet: Kubelet = next(c for c in self.controllers if isinstance(c, Kubelet))
        self.storage: StorageController = next(c for c in self.controllers if isinstance(c, StorageController))
        register_admission(self.storage, ops.hooks)
        self._queue: dict[TaskKey, None] = {}
        self._timers: dict[TaskKey, float] = {}
        self._heap: list[tuple[float, int, TaskKey]] = []
        self._seq = 0
        self._own_depth = 0
        self._draining = False
        self._drain_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._loop_thread: int | None = None
        self._staged: set[str] = self._load_staged()
        self._watchers: dict[tuple[str, str], list[int]] = {}
        for index, controller in enumerate(self.controllers):
            for watched in controller.watches:
                self._watchers.setdefault(watched, []).append(index)
        self.store.subscribe(self._on_event)
        ops.controllers.append(self._after_write)

    # -- wiring --------------------------------------------------------------------------------------

    def seed(self) -> None:
        """Create what a fresh cluster has: nodes and storage classes from the behaviour file."""
        for controller in self.controllers:
            seed = getattr(controller, "seed", None)
            if seed is not None:
                seed()
        self.drain()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the server loop: resync every object once, then run timers there."""
        self._loop = loop
        self._loop_thread = threading.get_ident()
        for index, controller in enumerate(self.controllers):
            for key in controller.resync_keys():
                self._queue[(index, key)] = None
        self.drain()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._loop = None

    @contextlib.contextmanager
    def own_writes(self) -> Iterator[None]:
        self._own_depth += 1
        try:
            yield
        finally:
            self._own_depth -= 1

    def log_refusal(self, who: str, verb: str, rt: ResourceType, obj: dict[str, Any], exc: ApiError) -> None:
        meta = obj.get("metadata") or {}
        log.debug("%s: %s %s %s/%s refused: %s", who, verb, rt.plural, meta.get("namespace", ""),
                  meta.get("name", ""), exc.message)

    # -- staged objects (compatibility with clients that write status) -----------------------------

    def is_staged(self, obj: dict[str, Any]) -> bool:
        return (obj.get("metadata") or {}).get("uid", "") in self._staged

    def _load_staged(self) -> set[str]:
        if self.state_dir is None or not (self.state_dir / STAGED_FILE).exists():
            return set()
        return set(json.loads((self.state_dir / STAGED_FILE).read_text(encoding="utf-8")))

    def _save_staged(self) -> None:
        if self.state_dir is not None:
            from sandbox.store import write_atomic

            write_atomic(self.state_dir / STAGED_FILE, json.dumps(sorted(self._staged)))

    def _track_staging(self, event: StoreEvent) -> None:
        uid = (event.obj.get("metadata") or {}).get("uid", "")
        if event.type == DELETED:
            if uid in self._staged:
                self._staged.discard(uid)
                self._save_staged()
            return
        if event.type != MODIFIED or event.old is None or (event.group, event.plural) not in STATUS_DRIVEN:
            return
        if self._own_depth == 0 and event.obj.get("status") != event.old.get("status"):
            if uid not in self._staged:
                self._staged.add(uid)
                self._save_staged()
        elif uid in self._staged and event.plural != "pods":
            old_generation = (event.old.get("metadata") or {}).get("generation")
            if (event.obj.get("metadata") or {}).get("generation") != old_generation:
                self._staged.discard(uid)
                self._save_staged()

    # -- queue -------------------------------------------------------------------------------------

    def _on_event(self, event: StoreEvent) -> None:
        self._track_staging(event)
        for index in self._watchers.get((event.group, event.plural), ()):
            for key in self.controllers[index].keys_for(event):
                self._queue[(index, key)] = None
        if self._queue and not self._draining and self._own_depth == 0:
            self._schedule_drain()

    def _after_write(self, ops: Operations, rt: ResourceType, new: dict[str, Any], old: dict[str, Any] | None) -> None:
        if self._own_depth == 0:
            self.drain()

    def _schedule_drain(self) -> None:
        if self._loop is None or self._drain_scheduled:
            return
        self._drain_scheduled = True
        self._loop.call_soon(self._scheduled_drain)

    def _scheduled_drain(self) -> None:
        self._drain_scheduled = False
        self.drain()

    def enqueue(self, controller: str, key: ObjectKey) -> None:
        for index, c in enumerate(self.controllers):
            if c.name == controller:
                self._queue[(index, key)] = None

    def drain(self) -> None:
        """Reconcile until nothing is queued (bounded, so a controller bug cannot hang the server)."""
        if self._draining:
            return
        self._draining = True
        done = 0
        try:
            while self._queue and done < MAX_RECONCILES_PER_DRAIN:
                task = next(iter(self._queue))
                del self._queue[task]
                index, key = task
                controller = self.controllers[index]
                try:
                    due = controller.reconcile(key)
                except Exception:  # a bug in one reconcile must not stop the others
                    log.exception("sandbox %s failed to reconcile %s", controller.name, "/".join(key))
                    due = None
                if due is not None:
                    self._add_timer(due, task)
                done += 1
        finally:
            self._draining = False
        if self._queue:
            log.warning("sandbox simulation: %d reconciles in one pass, continuing on the next loop turn", done)
            self._schedule_drain()
        self._arm_timer()

    # -- timers ------------------------------------------------------------------------------------

    def _add_timer(self, due: float, task: TaskKey) -> None:
        current = self._timers.get(task)
        if current is not None and current <= due:
            return
        self._timers[task] = due
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, task))

    def _arm_timer(self) -> None:
        while self._heap and self._timers.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        if self._loop is None or not self._heap:
            return
        if self._timer is not None:
            self._timer.cancel()
        delay = self.clock.real_delay(self._heap[0][0])
        self._timer = self._loop.call_later(min(delay, 3600.0), self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self.clock.now()
        while self._heap and self._heap[0][0] <= now:
            due, _, task = heapq.heappop(self._heap)
            if self._timers.get(task) == due:
                del self._timers[task]
                self._queue[task] = None
        self.drain()

    def advance(self, seconds: float) -> None:
        """Move the cluster clock forward, running everything that falls due on the way in time order,
        as if that much time had passed (callable from any thread)."""
        self._on_loop(lambda: self._advance_to(self.clock.now() + seconds))

    def _advance_to(self, target: float) -> None:
        for _ in range(100_000):
            self._arm_timer()  # drops stale heap entries
            if not self._heap or self._heap[0][0] > target:
                break
            due = self._heap[0][0]
            gap = due - self.clock.now()
            if gap > 0:
                self.clock.advance(gap)
            self._fire()
        gap = target - self.clock.now()
        if gap > 0:
            self.clock.advance(gap)
        self._fire()

    def set_speed(self, speed: float) -> None:
        self.clock.set_speed(speed)
        self._on_loop(self._arm_timer)

    def _on_loop(self, fn: Any) -> None:
        loop = self._loop
        if loop is None or not loop.is_running() or threading.get_ident() == self._loop_thread:
            fn()
            return

        async def run() -> None:
            fn()

        asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=600)

    def exec(self, namespace: str, pod: str, container: str, command: list[str],
             stdin: str | None = None) -> ExecResult:
        """`kubectl exec` (the API server's exec hook): a declared or simulated command in a running
        container; raises ApiError when the pod or container cannot be reached. Call on the loop."""
        return self.kubelet.exec(namespace, pod, container, command, stdin)

    def pod_log(self, pod: dict[str, Any], container: str = "", previous: bool = False,
                tail_lines: int | None = None) -> str:
        """`GET pods/<name>/log`: staged annotations first, else the container's own output."""
        return self.kubelet.pod_log(pod, container, previous, tail_lines)

    def pod_grace(self, pod: dict[str, Any], options: dict[str, Any]) -> float | None:
        """Seconds a DELETE of this pod waits for its containers, or None to remove it at once
        (not on a simulated node, staged, finished, or `gracePeriodSeconds: 0`)."""
        spec = pod.get("spec") or {}
        if not spec.get("nodeName") or spec["nodeName"] not in self.kubelet.nodes or self.is_staged(pod):
            return None
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return None
        grace = options.get("gracePeriodSeconds")
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", 30)
        return float(grace) if grace and float(grace) > 0 else None
