"""`aiop eval`: play scenarios end to end against a fresh sandbox, and check the end state.

Each scenario gets its own $AIOP_HOME, its own sandbox API server, its own local repo and forge,
and the real controller (kopf, in-process) with the chosen backend. The runner plays the user's
turns through the custom resources, as the scenario's identity, and waits after each turn until
the controller has handled it. Scenarios run in `--parallel` worker processes (`aiop eval-worker`),
each running scenarios one after another with the model loaded once; no two scenarios share a
sandbox, a home, a repo or a controller.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from controller.adapters.forge import LocalForge
from controller.adapters.kube import Kube, KubeError, load_api_client
from controller.api.constants import API_VERSION, KIND_CONVERSATION
from controller.api.types import ConversationStatus, Identity
from controller.client import ChatError, ConversationClient
from controller.knowledge.base import ThreadRecord
from controller.kubevalues import subset_mismatch
from controller.settings import load_settings
from controller.tools import bootstrap
from controller.tools.cloud_fakes import fake_clouds, fixture_crds
from controller.tools.expectations import (
    alerts_ok,
    counts_for_unchanged,
    differences,
    lacks_problem,
    object_key,
)
from controller.tools.scenario import Expect, Scenario, ScenarioError, load_scenario, scenario_files

CONVERSATION = "eval"


@dataclass
class Result:
    name: str
    passed: bool
    reason: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


class Unmet(Exception):
    """The first expectation that did not hold."""


# --------------------------------------------------------------------------------- one scenario


class ScenarioRun:
    settle_s = 180.0  # how long a turn may take to settle (bench.backends.real_model_eval gives a real model more)

    def __init__(self, scenario: Scenario, home: Path, backend: str | None = None, behaviour: Any = None) -> None:
        self.scenario = scenario
        self.home = home
        self.backend_name = backend
        self.behaviour = behaviour  # the sandbox's (sandbox.behaviour.Behaviour; None: the shipped default)
        self.identity = Identity(user=scenario.identity.user, groups=scenario.identity.groups)
        self.notes: list[str] = []
        self.clouds = contextlib.ExitStack()

    def run(self) -> Result:
        from sandbox.server import SandboxServer

        started = time.monotonic()
        with SandboxServer(port=0, home=self.home, behaviour=self.behaviour) as server:
            self.server = server
            try:
                self._play(server)
                return Result(self.scenario.name, True, seconds=time.monotonic() - started, notes=self.notes)
            except Unmet as exc:
                return Result(self.scenario.name, False, str(exc), time.monotonic() - started, self.notes)
            finally:
                stop = getattr(self, "stop_operator", None)
                if stop is not None:
                    stop.set()
                    self.operator_thread.join(timeout=10)
                self.clouds.close()

    # ------------------------------------------------------------------------------ set-up

    def _play(self, server: Any) -> None:
        from controller.engine.runner import start_operator_thread
        from controller.engine.services import build_services

        settings = load_settings().with_home(self.home).with_kubeconfig(str(server.kubeconfig_path))
        extra_crds: list[dict[str, Any]] = []
        if self.scenario.cloud is not None:  # the scenario's fake AWS/Azure, seeded (controller/tools/cloud_fakes.py)
            overrides = self.clouds.enter_context(fake_clouds(self.scenario.cloud, self.home / "clouds"))
            settings = settings.model_copy(update={"cloud": settings.cloud.model_copy(update=overrides)})
            extra_crds = fixture_crds()
        self.settings = settings
        self.kube = Kube(load_api_client(str(server.kubeconfig_path)))
        bootstrap.install_crds(self.kube, extra_crds)
        bootstrap.install_admission(self.kube, server)
        for obj in self.scenario.cluster:
            bootstrap.create_object(self.kube, obj)
        for obj in bootstrap.conversation_rights(self.identity.user, self.scenario.namespace):
            bootstrap.create_object(self.kube, obj)
        self.before = self._snapshot()
        from controller.engine.services import PlannerEmbedder
        from controller.knowledge.factory import open_local

        store = open_local(self.home, PlannerEmbedder(), origin="eval")  # a fresh DuckDB per scenario home
        store.add_threads([ThreadRecord(thread_id=item.thread_id or f"k{index}", request=item.request,
                                          resolution=item.resolution, rating=item.rating, tags=tuple(item.tags),
                                          context=item.context or "", cluster_id=item.cluster or "local")
                           for index, item in enumerate(self.scenario.knowledge, start=1)])
        self.knowledge_ids = {item.thread_id or f"k{i}" for i, item in enumerate(self.scenario.knowledge, start=1)}
        services = build_services(settings, backend=_backend(self.backend_name, settings), knowledge=store)
        self.operator_thread, self.stop_operator = start_operator_thread(settings, services)
        self.client = ConversationClient(self.kube)
        for index, turn in enumerate(self.scenario.turns):
            self._turn(index, turn)
        self._check(self.scenario.expect, "expect")

    def _snapshot(self) -> dict[str, dict[str, Any]]:
        objects = {}
        for key in self.server.store.all_keys():
            obj = self.server.store.get(key)
            if obj is not None and counts_for_unchanged(obj, self.settings.kube.operator_namespace):
                objects[object_key(obj)] = obj
        return objects

    # ------------------------------------------------------------------------------- turns

    def _turn(self, index: int, turn: Any) -> None:
        ns, name, who = self.scenario.namespace, CONVERSATION, self.identity
        kind = turn.kind()
        try:
            if kind == "say":
                self.client.say(ns, name, turn.say, who)
            elif kind == "approve":
                revision = None if turn.approve == "latest" else turn.approve.revision
                self.client.approve(ns, name, who, revision)
            elif kind == "rate":
                self.client.rate(ns, name, who, turn.rate)
            elif kind == "restore":
                if turn.restore:
                    self.client.restore(ns, name, who)
            elif kind == "expect":
                self._check(turn.expect, f"turns[{index}].expect")
                return
        except ChatError as exc:
            self.notes.append(f"turns[{index}] {kind}: {exc}")
            return
        except KubeError as exc:
            raise Unmet(f"turns[{index}] {kind} was refused by the API server: {exc.message}") from exc
        try:
            self.client.wait_settled(ns, name, timeout=self.settle_s)
        except TimeoutError as exc:
            raise Unmet(f"turns[{index}] {kind}: {exc}") from exc

    # ------------------------------------------------------------------------------ checks

    def _conversation(self) -> dict[str, Any]:
        obj = self.kube.get(API_VERSION, KIND_CONVERSATION, CONVERSATION, self.scenario.namespace)
        return obj or {}

    def _check(self, expect: Expect | None, where: str) -> None:
        if expect is None:
            return
        obj = self._conversation()
        status = ConversationStatus.model_validate(obj.get("status") or {})
        last = status.revisions[-1] if status.revisions else None
        if expect.phase is not None and status.phase.value != expect.phase:
            reason = next((c.message for c in status.conditions if c.type == "Ready"), "")
            raise Unmet(f"{where}.phase: expected {expect.phase}, found {status.phase.value} ({reason})")
        if expect.mutating is not None and (bool(last and last.mutating)) != expect.mutating:
            raise Unmet(f"{where}.mutating: expected {expect.mutating}, the last plan is "
                        f"{'mutating' if last and last.mutating else 'not mutating'}")
        if expect.mentions:
            answer = _last_answer_text(status)
            for word in expect.mentions:
                if word.lower() not in answer.lower():
                    raise Unmet(f"{where}.mentions: {word!r} is not in the last answer or plan")
        if expect.mentions_not:
            everything = (json.dumps(obj) + self._thread_files()).lower()
            for word in expect.mentions_not:
                if word.lower() in everything:
                    raise Unmet(f"{where}.mentions_not: {word!r} appears in the thread")
        for wanted in expect.objects:
            self._check_object(wanted, where)
        for unwanted in expect.absent:
            if self._find(unwanted):
                raise Unmet(f"{where}.absent: {object_key(unwanted)} exists")
        for lacking in expect.lacks:
            problem = lacks_problem(lacking, self._find(lacking))
            if problem:
                raise Unmet(f"{where}.lacks: {problem}")
        if expect.unchanged or expect.unchanged_except is not None:
            allowed = set(expect.unchanged_except or [])
            problems = differences(self.before, self._snapshot(), allowed)
            if problems:
                raise Unmet(f"{where}.unchanged: " + "; ".join(problems[:3]))
        if expect.git is not None:
            self._check_git(expect, status, where)
        if expect.alerts is not None and not alerts_ok(expect.alerts, status.alerts):
            raise Unmet(f"{where}.alerts: expected {expect.alerts}, raised {status.alerts}")
        if expect.reuse is not None:
            reused = {t for r in status.revisions for t in r.reused_from} & self.knowledge_ids
            if bool(reused) != expect.reuse:
                raise Unmet(f"{where}.reuse: expected {expect.reuse}, plans reused {sorted(reused) or 'nothing'}")

    def _find(self, wanted: dict[str, Any]) -> list[dict[str, Any]]:
        meta = wanted.get("metadata") or {}
        try:
            if meta.get("name"):
                one = self.kube.get(wanted["apiVersion"], wanted["kind"], meta["name"], meta.get("namespace"))
                return [one] if one else []
            return self.kube.list(wanted["apiVersion"], wanted["kind"], meta.get("namespace"))
        except KubeError:
            return []

    def _check_object(self, wanted: dict[str, Any], where: str) -> None:
        candidates = self._find(wanted)
        if not candidates:
            raise Unmet(f"{where}.objects: no {object_key(wanted) or wanted.get('kind')} exists")
        expected = {k: v for k, v in wanted.items() if k not in ("apiVersion", "kind", "status")}
        problems = [subset_mismatch(expected, c) for c in candidates]
        if all(problems):
            raise Unmet(f"{where}.objects: {object_key(wanted) or wanted.get('kind')}: {problems[0]}")

    def _check_git(self, expect: Expect, status: ConversationStatus, where: str) -> None:
        assert expect.git is not None
        import git

        repo = git.Repo(self.settings.local_repo)
        branch = f"thread/{status.thread_id}"
        has_branch = any(h.name == branch for h in repo.heads)
        if expect.git.thread_branch is not None and has_branch != expect.git.thread_branch:
            raise Unmet(f"{where}.git.thread_branch: expected {expect.git.thread_branch}, branch {branch} "
                        f"{'exists' if has_branch else 'does not exist'}")
        if expect.git.pull_request is not None:
            has_pr = any(p.head == branch for p in LocalForge(self.settings.local_repo).list())
            if has_pr != expect.git.pull_request:
                raise Unmet(f"{where}.git.pull_request: expected {expect.git.pull_request}, "
                            f"{'found' if has_pr else 'no'} pull request for {branch}")

    def _thread_files(self) -> str:
        import git

        if not self.settings.local_repo.exists():
            return ""
        repo = git.Repo(self.settings.local_repo)
        texts = []
        for head in repo.heads:
            for item in head.commit.tree.traverse():
                if isinstance(item, git.Blob) and str(item.path).startswith("threads/"):
                    texts.append(item.data_stream.read().decode(errors="replace"))
        return "\n".join(texts)


def _last_answer_text(status: ConversationStatus) -> str:
    parts: list[str] = []
    assistant = [m for m in status.messages if m.role == "assistant"]
    if assistant:
        # the messages since the last user message: the answer to it
        last_user = max((m.id for m in status.messages if m.role == "user"), default=0)
        parts.extend(m.text for m in assistant if m.id > last_user)
        parts.append(assistant[-1].text)
    if status.revisions:
        rev = status.revisions[-1]
        parts.extend([rev.summary, rev.answer, *rev.findings])
        for action in rev.actions:
            parts.extend([action.title, json.dumps(action.params), action.diff])
    return "\n".join(parts)


def _backend(name: str | None, settings: Any = None) -> Any:
    """The backend of a scenario run: NAME from the backends file ($AIOP_BACKENDS), its roles, or offline."""
    from controller.backends.errors import ConfigError
    from controller.backends.factory import backend_from_settings

    try:
        return backend_from_settings(settings if settings is not None else load_settings(), name)
    except ConfigError as exc:
        raise ScenarioError(str(exc)) from None


# ------------------------------------------------------------------------------------ the runner


def _run_in_process(path: Path, backend: str | None, home: Path | None = None, behaviour: Any = None) -> Result:
    scenario = load_scenario(path)
    with tempfile.TemporaryDirectory(prefix="aiop-eval-") as tmp:
        try:
            return ScenarioRun(scenario, home or Path(tmp), backend, behaviour).run()
        except Exception as exc:  # a crash is a failed scenario, reported with its cause
            return Result(scenario.name, False, f"the scenario crashed: {type(exc).__name__}: {exc}")


def worker(backend: str | None = None, behaviour: Any = None) -> None:
    """Run scenarios named on stdin, one per line; answer one JSON result per line on stdout.

    One worker process runs many scenarios one after another, so the embedding model loads once
    per worker; each scenario still gets its own sandbox, home, repo and controller.
    """
    if not backend:  # the offline planner: load the model before the first scenario's clock starts
        from controller.planning.offline.planner import shared_classifier

        shared_classifier().classify("warm up the model and the anchors")
    for line in sys.stdin:
        path = line.strip()
        if not path:
            continue
        result = _run_in_process(Path(path), backend, behaviour=behaviour)
        sys.stdout.write(json.dumps(asdict(result)) + "\n")
        sys.stdout.flush()


class _Worker:
    def __init__(self, backend: str | None, backends_file: Path | None = None,
                 behaviour_file: Path | None = None) -> None:
        cmd = [sys.executable, "-m", "controller.cli", "eval-worker"]
        if backend:
            cmd += ["--backend", backend]
        if behaviour_file is not None:
            cmd += ["--behaviour", str(behaviour_file)]
        env = {**os.environ, "AIOP_LOG_LEVEL": os.environ.get("AIOP_LOG_LEVEL", "CRITICAL")}
        if backends_file is not None:
            env["AIOP_BACKENDS"] = str(backends_file)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=env)

    def run(self, path: Path, name: str) -> Result:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(f"{path.resolve()}\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            return Result(name, False, "the scenario crashed its worker process")
        return Result(**json.loads(line))

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main(paths: list[Path], backend: str | None = None, json_out: Path | None = None, parallel: int = 1,
         backends_file: Path | None = None, behaviour_file: Path | None = None) -> int:
    """Run the scenarios in `parallel` workers; `behaviour_file` replaces the sandbox's behaviour file
    (checked by the caller, `aiop eval --behaviour`)."""
    try:
        files = scenario_files(paths)
        scenarios = [(f, load_scenario(f)) for f in files]
    except ScenarioError as exc:
        print(f"INVALID {exc}", flush=True)
        return 2
    names = [s.name for _f, s in scenarios]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        print(f"INVALID name: not unique: {', '.join(sorted(duplicates))}", flush=True)
        return 2
    pending = list(scenarios)
    lock = threading.Lock()
    results: list[Result] = []

    def drive() -> None:
        runner = _Worker(backend, backends_file, behaviour_file)
        try:
            while True:
                with lock:
                    if not pending:
                        return
                    path, scenario = pending.pop(0)
                result = runner.run(path, scenario.name)
                if "crashed its worker" in result.reason:
                    runner.close()
                    runner = _Worker(backend, backends_file, behaviour_file)
                result.name = scenario.name
                line = f"PASS {result.name}" if result.passed else f"FAIL {result.name}: {result.reason}"
                with lock:
                    results.append(result)
                    print(line, flush=True)
        finally:
            runner.close()

    threads = [threading.Thread(target=drive) for _ in range(max(1, min(parallel, len(scenarios))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    passed = sum(r.passed for r in results)
    print(f"{passed} passed, {len(results) - passed} failed", flush=True)
    if json_out is not None:
        json_out.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0 if passed == len(results) else 1
