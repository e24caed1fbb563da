"""The Executor alone, with fakes at its seams (no controller loop, no API server).

Seams: the Kubernetes client (an in-memory fake of the few `Kube` verbs the executor and the backup
store use, recording who each request was made as), the forge and the sync engine (fakes recording
calls). Git is real: temporary bare repos. What a user would notice: a stale plan commits nothing;
the execution record says where everything went, and sync, promotion and restore read it instead of
asking git again; restore runs as the person who asked and never overwrites a later change.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from controller.adapters.backups import BackupStore
from controller.adapters.forge import PullRequest, PullRequestStatus
from controller.adapters.gitrepo import ThreadRepo, ensure_bare_repo
from controller.adapters.kube import Conflict, ResourceInfo
from controller.adapters.sync.base import SyncOutcome, SyncRequest, SyncState
from controller.api.types import Identity, ObjectRef, PlannedAction, PlanRevision
from controller.engine.execution import ExecutionContext, Executor, TargetRepo
from controller.engine.planning import labelled
from controller.engine.targets import change_shape, merge_by_object, observe
from controller.knowledge.memory import MemoryKnowledgeStore
from controller.workflow import machine as m

ALICE = Identity(user="alice@example.com")
BOB = Identity(user="bob@example.com")
DIGEST = "sha256:" + "a" * 64
PLURALS = {"Deployment": "deployments", "Secret": "secrets", "Namespace": "namespaces", "ConfigMap": "configmaps"}


class FakeKube:
    """The `Kube` verbs the executor uses, over a dict; every call is recorded with its identity."""

    def __init__(self, objects: dict[tuple[str, str, str], dict[str, Any]] | None = None,
                 identity: Identity | None = None, calls: list[tuple[str, str, str]] | None = None) -> None:
        self.objects = objects if objects is not None else {}
        self.identity = identity
        self.calls = calls if calls is not None else []

    def as_user(self, identity: Identity) -> FakeKube:
        return FakeKube(self.objects, identity, self.calls)

    def _record(self, verb: str, kind: str, name: str) -> None:
        self.calls.append((self.identity.user if self.identity else "operator", verb, f"{kind}/{name}"))

    @staticmethod
    def key(kind: str, name: str, namespace: str | None) -> tuple[str, str, str]:
        return kind, namespace or "", name

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        obj = self.objects.get(self.key(kind, name, namespace))
        return copy.deepcopy(obj) if obj is not None else None

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             label_selector: str | None = None) -> list[dict[str, Any]]:
        return [copy.deepcopy(o) for (k, ns, _), o in self.objects.items() if k == kind and ns == (namespace or "")]

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        key = self.key(obj["kind"], meta["name"], meta.get("namespace"))
        self._record("create", obj["kind"], meta["name"])
        if key in self.objects:
            raise Conflict(409, "AlreadyExists", f"{meta['name']} already exists")
        self.objects[key] = {**copy.deepcopy(obj), "metadata": {**meta, "resourceVersion": "1"}}
        return copy.deepcopy(self.objects[key])

    def _store(self, verb: str, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        self._record(verb, obj["kind"], meta["name"])
        stored = copy.deepcopy(obj)
        stored["metadata"]["resourceVersion"] = str(len(self.calls))
        self.objects[self.key(obj["kind"], meta["name"], meta.get("namespace"))] = stored
        return copy.deepcopy(stored)

    def apply(self, obj: dict[str, Any], field_manager: str, **_: Any) -> dict[str, Any]:
        return self._store("apply", obj)

    def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self._store("replace", obj)

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        self._record("delete", kind, name)
        return self.objects.pop(self.key(kind, name, namespace), None) is not None

    def resource(self, api_version: str, kind: str) -> ResourceInfo:
        return ResourceInfo(api_version, kind, PLURALS[kind], kind != "Namespace")

    def logs(self, *_: Any, **__: Any) -> str:
        return ""


class FakeForge:
    name = "ops"

    def __init__(self) -> None:
        self.opened: list[str] = []

    def open(self, head: str, title: str, body: str, base: str = "main") -> PullRequest:
        if head not in self.opened:
            self.opened.append(head)
        number = self.opened.index(head) + 1
        return PullRequest(repo=self.name, number=number, title=title, body=body, head=head, base=base,
                           state="open", url=f"fake://pull/{number}", head_sha="", merge_sha="", created_at="")

    def status(self, number: int) -> PullRequestStatus:
        return PullRequestStatus(state="open", review="none")


class FakeSync:
    name = "fake"

    def __init__(self) -> None:
        self.started: list[SyncRequest] = []

    def start(self, req: SyncRequest) -> SyncOutcome:
        self.started.append(req)
        return SyncOutcome(True, "started")

    def status(self, req: SyncRequest) -> SyncState:
        return SyncState("Synced", "Healthy")

    def describe(self, req: SyncRequest, state: SyncState) -> str:
        return "synced"

    def remove(self, thread_id: str) -> None:
        pass


def deployment(name: str, replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "shop"},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": name, "image": "nginx"}]}}}}


@pytest.fixture
def world(tmp_path: Path) -> tuple[Executor, FakeKube, FakeSync, FakeForge]:
    kube = FakeKube()
    kube.objects[FakeKube.key("Deployment", "web", "shop")] = deployment("web", 2)
    author = ("t", "t@example.com")
    primary = ThreadRepo(ensure_bare_repo(tmp_path / "ops.git", None, author), tmp_path / "work", author)
    addons_url = ensure_bare_repo(tmp_path / "addons.git", None, author)
    addons = TargetRepo("addons", ThreadRepo(addons_url, tmp_path / "work", author, name="addons"), FakeForge(),
                        "addons", frozenset({"ConfigMap"}))
    forge, sync = FakeForge(), FakeSync()
    executor = Executor(kube, primary, forge, BackupStore(kube, "aiop-system"), MemoryKnowledgeStore(),  # type: ignore[arg-type]
                        "test", sync_engine=sync, targets=(addons,))
    return executor, kube, sync, forge


def revision(kube: FakeKube, *manifests: dict[str, Any]) -> PlanRevision:
    stamped = [labelled(mf, "t1") for mf in manifests]
    refs = [ObjectRef(api_version=mf["apiVersion"], kind=mf["kind"], name=mf["metadata"]["name"],
                      namespace=mf["metadata"].get("namespace", "")) for mf in stamped]
    targets = observe(stamped, refs, lambda r: kube.get(r.api_version, r.kind, r.name, r.namespace))
    actions = [PlannedAction(id=f"a{i}", action="scale", title=f"step {i}", target=ref, risk="low", mutating=True)
               for i, ref in enumerate(refs, start=1)]
    return PlanRevision(revision=1, digest=DIGEST, based_on_turn=1, summary="scale web", mutating=True,
                        actions=actions, manifests=stamped, targets=targets)


def context(rev: PlanRevision) -> ExecutionContext:
    return ExecutionContext("t1", "shop", ALICE, ALICE.user, ["scale web to 3"], rev)


def test_execute_writes_a_record_that_sync_and_promotion_read(world: Any) -> None:
    executor, kube, _sync, _forge = world
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flags", "namespace": "shop"},
              "data": {"beta": "on"}}
    rev = revision(kube, {**deployment("web", 3), "spec": {"replicas": 3}}, config)
    event, record = executor.execute(context(rev), "", "2026-11-30T00:00:00Z")
    assert isinstance(event, m.ExecutionDone) and record is not None
    assert [(r.name, r.objects) for r in record.repos] == [
        ("ops", ["apps/v1/Deployment/shop/web"]), ("addons", ["v1/ConfigMap/shop/flags"])]
    assert "addons/t1/manifests/02-configmap-flags.yaml" in record.repos[1].files or any(
        f.startswith("addons/t1/manifests/") for f in record.repos[1].files)
    assert record.field_manager == "aiop-t1-r1" and record.executed_by == ALICE

    # A second execute (a resumed controller) commits nothing new.
    again, record2 = executor.execute(context(rev), record.pre_chat_commit, "2026-11-30T00:00:01Z")
    assert isinstance(again, m.ExecutionDone) and record2 is not None
    assert [r.commit for r in record2.repos] == [r.commit for r in record.repos]

    # Sync and promotion read the record only: with both repos gone, they still work.
    for target in (executor.primary, *executor.targets):
        target.repo.url = "/nonexistent/gone.git"
    req = executor.sync_request("t1", record, rev)
    assert [s.path for s in req.sources] == ["threads/t1/manifests", "addons/t1/manifests"]
    assert req.field_manager == "aiop-t1-r1" and executor.start_sync(req, rev).ok
    prs = executor.promote("t1", record, rev, ["scale web"], ALICE, ALICE.user, 90, "", "now")
    assert [p.head for p in prs] == ["thread/t1", "thread/t1"]


def test_a_changed_target_makes_the_plan_stale_and_nothing_happens(world: Any) -> None:
    executor, kube, _sync, _forge = world
    rev = revision(kube, {**deployment("web", 3), "spec": {"replicas": 3}})
    kube.objects[FakeKube.key("Deployment", "web", "shop")]["spec"]["replicas"] = 5
    kube.calls.clear()
    event, record = executor.execute(context(rev), "", "now")
    assert isinstance(event, m.PlanStale) and record is None
    assert "Deployment shop/web was changed" in event.message
    assert not [c for c in kube.calls if c[1] != "get"]  # no backup written, nothing applied
    assert executor.repo.find_digest("t1", DIGEST) is None


def test_unrelated_churn_does_not_make_a_plan_stale(world: Any) -> None:
    executor, kube, _sync, _forge = world
    rev = revision(kube, {**deployment("web", 3), "spec": {"replicas": 3}})
    live = kube.objects[FakeKube.key("Deployment", "web", "shop")]
    live["status"] = {"readyReplicas": 2}
    live["metadata"]["resourceVersion"] = "99"
    live["metadata"]["labels"] = {"aiop.dev/thread": "another-thread"}
    assert executor.stale(rev) == []


def test_direct_apply_is_guarded_by_what_it_read_just_before(world: Any) -> None:
    """Direct sync writes each object at most once, against the version it was checked on: an object that
    already shows the approved change is not written again (a repeated start), one changed after approval
    stops the whole revision, the rest carry the resourceVersion the server must still have."""
    executor, kube, sync, _forge = world
    sync.name = "direct"
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flags", "namespace": "shop"},
              "data": {"beta": "on"}}
    kube.objects[FakeKube.key("Deployment", "web", "shop")]["metadata"]["resourceVersion"] = "41"
    rev = revision(kube, {**deployment("web", 3), "spec": {"replicas": 3}}, config)
    event, record = executor.execute(context(rev), "", "now")
    assert isinstance(event, m.ExecutionDone) and record is not None
    req = executor.sync_request("t1", record, rev)
    live = kube.objects[FakeKube.key("Deployment", "web", "shop")]
    live["metadata"]["resourceVersion"] = "42"  # churn that changes no planned field (a status write)

    assert executor.start_sync(req, rev).ok
    started = sync.started[-1]
    assert [mf["kind"] for mf in started.manifests] == ["Deployment", "ConfigMap"]
    assert started.preconditions == (("apps/v1/Deployment/shop/web", "42"),)  # the new ConfigMap has none

    kube.objects[FakeKube.key("Deployment", "web", "shop")] = {**copy.deepcopy(started.manifests[0]),
                                                                "metadata": {**started.manifests[0]["metadata"],
                                                                             "resourceVersion": "43"}}
    assert executor.start_sync(req, rev).ok  # a repeat: the Deployment already shows it, only the map is left
    assert [mf["kind"] for mf in sync.started[-1].manifests] == ["ConfigMap"]

    kube.objects[FakeKube.key("Deployment", "web", "shop")] = deployment("web", 7)  # someone scaled it since
    calls = len(sync.started)
    outcome = executor.start_sync(req, rev)
    assert not outcome.ok and len(sync.started) == calls
    assert outcome.message.startswith("nothing was applied: Deployment shop/web was changed since the plan was made")


def test_restore_runs_as_the_restorer_and_refuses_to_undo_a_later_change(world: Any) -> None:
    executor, kube, _sync, _forge = world
    rev = revision(kube, {**deployment("web", 3), "spec": {"replicas": 3}})
    _event, record = executor.execute(context(rev), "", "now")
    assert record is not None
    kube.apply(rev.manifests[0], record.field_manager)  # what the sync engine would do
    record = record.model_copy(update={"applied": executor.applied_states(record)})
    assert executor.restore_conflicts("t1", record) == []
    assert [p.describe() for p in executor.restore_needs("t1")] == [
        'update deployments "web" (apps) in namespace shop']

    kube.objects[FakeKube.key("Deployment", "web", "shop")]["spec"]["replicas"] = 9
    assert executor.restore_conflicts("t1", record) == ["Deployment shop/web changed after this thread applied it"]
    kube.objects[FakeKube.key("Deployment", "web", "shop")]["spec"]["replicas"] = 3
    kube.calls.clear()
    event = executor.restore("t1", record, BOB, record.pre_chat_commit)
    assert isinstance(event, m.RestoreDone)
    assert ("bob@example.com", "replace", "Deployment/web") in kube.calls
    assert kube.objects[FakeKube.key("Deployment", "web", "shop")]["spec"]["replicas"] == 2


def test_two_steps_on_one_object_become_one_manifest() -> None:
    scale = {**deployment("api", 4), "spec": {"replicas": 4}}
    memory = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "shop"},
              "spec": {"template": {"spec": {"containers": [{"name": "api", "resources": {"limits": {"memory": "1Gi"}}}]}}}}
    merged = merge_by_object([scale, memory])
    assert len(merged) == 1
    assert merged[0]["spec"]["replicas"] == 4
    assert merged[0]["spec"]["template"]["spec"]["containers"] == [
        {"name": "api", "resources": {"limits": {"memory": "1Gi"}}}]
    assert "labels" not in change_shape(labelled(scale, "t")).get("metadata", {})
