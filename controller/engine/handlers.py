"""The kopf handlers: thin glue from kopf's causes to `reconcile`.

kopf gives us watching, per-object serialization of change handlers, retries with backoff and
resume after restart. Everything else is ours: each handler calls `reconcile` with the object's
body. The services travel in kopf's per-operator `memo`, so several operators in one process (tests,
evals) never share state.

Three kinds of trigger reach `reconcile`: a change of `spec` (a turn, an approval, a rating, a
restore), resume at start, and a timer that ticks while the thread waits for something that does
not change `spec` — a verification in progress, a lock held by another thread, a transient error
being retried, a promotion not recorded yet, a Completed thread's open pull requests. A transient
error in a change handler raises kopf's `TemporaryError` with exponential backoff and jitter (the
cause stays unhandled); in a timer it is recorded and the next tick is the retry. A change handler
that finds a timer's reconcile of the same thread running retries too: that reconcile may have read
the object before the change.

Persistence: kopf remembers the last handled state of each object to compute diffs. By default it
copies the whole spec into an annotation — which for a long conversation outgrows the 256 KiB
annotation limit of a real API server — and patches the object after every handled change. We never
use kopf's diffs (reconcile compares spec with status), and the engine already records what it has
handled: every status write sets `observedGeneration` to the generation of the spec it read, and the
API server raises the generation on every spec change. So kopf's "last handled" is read from there
(`HandledGeneration`) and kopf writes nothing: one write less per turn, and no `copy.deepcopy` of the
whole body that kopf makes for each of its patches (bench.long_thread).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import kopf

from controller.api.constants import (
    GROUP,
    PLURAL_CONVERSATION,
    PLURAL_REQUEST,
    VERSION,
    ConditionType,
    Phase,
    Reason,
)
from controller.client import settled
from controller.engine.errors import Transient, backoff
from controller.engine.reconcile import Crash, Services, ThreadBusy, reconcile, record_retry
from controller.settings import Settings

log = logging.getLogger("aiop.handlers")
FOLLOW_INTERVAL_S = 60.0
TICK_S = 2.0
_WAITING_PHASES = {Phase.EXECUTING.value, Phase.SYNCING.value, Phase.RESTORING.value}
_STUCK = {Reason.THREAD_ID_TAKEN.value, Reason.TURNS_REWRITTEN.value, "InvalidSpec"}


class HandledGeneration(kopf.DiffBaseStorage):
    """kopf's last-handled state read from the thread: the generation its status says was handled.

    The essence is `{"spec": {"generation": N}}`, so a spec change (a new generation) is a change of
    `spec` for the handlers' `field="spec"` filter; no status yet means never handled (kopf's create).
    """

    def build(self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None) -> kopf.BodyEssence:
        return kopf.BodyEssence({"spec": {"generation": int(body.get("metadata", {}).get("generation") or 0)}})

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        handled = (body.get("status") or {}).get("observedGeneration")
        return kopf.BodyEssence({"spec": {"generation": int(handled)}}) if handled else None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        """Nothing: the engine's own status write is the record."""


def make_memo(settings: Settings, services: Services) -> kopf.Memo:
    """What every handler of one operator instance sees as `memo`."""
    return kopf.Memo(settings=settings, services=services)


@kopf.on.startup()
def _startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="aiop.dev")
    settings.persistence.diffbase_storage = HandledGeneration()
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 60
    settings.execution.max_workers = 16


@kopf.on.login()
def _login(memo: kopf.Memo, **_: Any) -> kopf.ConnectionInfo:
    """The same credentials as the engine's client (kubeconfig from the settings, or in-cluster)."""
    services: Services = memo.services
    conf = services.kube.api_client.configuration
    auth = (conf.api_key or {}).get("authorization") or (conf.api_key or {}).get("BearerToken") or ""
    scheme, _sep, token = auth.partition(" ")
    return kopf.ConnectionInfo(
        server=conf.host, scheme=scheme or None, token=token or None, insecure=not conf.verify_ssl,
        ca_path=conf.ssl_ca_cert, certificate_path=conf.cert_file, private_key_path=conf.key_file,
        default_namespace=None)


def needs_attention(body: dict[str, Any]) -> bool:
    """The thread has work left: something written is not handled yet (a change kopf may have missed
    while a watch was down), or it waits for something that is not a change of spec."""
    status = body.get("status") or {}
    ready: dict[str, Any] = next((c for c in status.get("conditions") or []
                                  if c.get("type") == ConditionType.READY.value), {})
    if ready.get("reason") in _STUCK:
        return False  # nothing more happens until someone changes the object
    if not settled(body):
        return True
    if status.get("phase") in _WAITING_PHASES:
        return True
    if status.get("phase") == Phase.COMPLETED.value and status.get("ratedRevision") != status.get("currentRevision"):
        return True
    waiting = {ConditionType.LOCKED.value, ConditionType.RECONCILING.value}
    return any(c.get("type") in waiting and c.get("status") == "True" for c in status.get("conditions") or [])


def following(status: dict[str, Any]) -> bool:
    """Completed (pull requests to follow), or Restored with snapshots not deleted yet (retention, issue 14)."""
    if status.get("phase") == Phase.COMPLETED.value:
        return True
    snapshots = (status.get("execution") or {}).get("snapshots") or []
    return status.get("phase") == Phase.RESTORED.value and any(s.get("state") != "Deleted" for s in snapshots)


def _run(memo: kopf.Memo, body: kopf.Body, retry: int, timer: bool = False) -> None:
    """One reconcile. A transient error of a change handler is kopf's `TemporaryError` (kopf keeps the
    change unhandled and calls again after the delay); a timer's is only recorded: the timer calls again
    at its next tick anyway, and a timer that raised was seen to stop for good (a 500-turn thread waited
    in Planning until an unrelated write woke it)."""
    services: Services = memo.services
    try:
        reconcile(services, dict(body))
    except Crash:
        return  # a crash test killed "the process" here: nothing more happens in this reconcile
    except Transient as exc:
        delay = TICK_S if timer else backoff(retry, exc.delay)
        if not isinstance(exc, ThreadBusy):  # another reconcile of the thread is running: nothing to tell
            log.warning("retrying", extra={"object": body.get("metadata", {}).get("name"), "error": exc.message,
                                           "delay_s": round(delay, 1)})
            record_retry(services, dict(body), exc.message, delay)
        if not timer:
            raise kopf.TemporaryError(exc.message, delay=delay) from exc


for _plural in (PLURAL_CONVERSATION, PLURAL_REQUEST):

    # Handler ids name kopf's progress annotations (aiop.dev/<id>): they must be valid annotation names.
    @kopf.on.resume(GROUP, VERSION, _plural, id="reconcile", retries=None)
    @kopf.on.create(GROUP, VERSION, _plural, id="reconcile", retries=None)
    @kopf.on.update(GROUP, VERSION, _plural, id="reconcile", field="spec", retries=None)
    def _reconcile(body: kopf.Body, memo: kopf.Memo, retry: int, **_: Any) -> None:
        _run(memo, body, retry)

    @kopf.timer(GROUP, VERSION, _plural, id="tick", interval=TICK_S, initial_delay=TICK_S,
                when=lambda body, **_: needs_attention(dict(body)))
    def _tick(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        """Verification, lock waits, retries and unrecorded promotions move on without a spec change."""
        _run(memo, body, 0, timer=True)

    @kopf.timer(GROUP, VERSION, _plural, id="follow", interval=FOLLOW_INTERVAL_S, initial_delay=FOLLOW_INTERVAL_S,
                when=lambda status, **_: following(dict(status or {})))
    def _follow(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        """Completed threads: follow their pull requests' review and merge state back into the thread;
        closed threads with snapshots left: delete them once their grace period is over."""
        _run(memo, body, 0, timer=True)

    # Not optional: kopf keeps its finalizer on every thread for good. Optional, the finalizer came and went
    # with the timers' `when` filter — 4 of the ≈7 writes of every turn of a long thread were kopf adding and
    # removing it (bench.long_thread), and each addition deferred the change handler to the next event.
    # A thread is then deleted by a running operator, which also makes giving its locks back certain.
    @kopf.on.delete(GROUP, VERSION, _plural, id="release")
    def _deleted(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        """A deleted conversation gives its locks and thread id back (a lease left behind by a failed release
        is taken over once its holder is gone)."""
        from controller.engine.locks import Holder

        services: Services = memo.services
        meta, status = body.get("metadata", {}), dict(body.get("status") or {})
        thread_id = status.get("threadId") or ""
        holder = Holder(thread_id, body["kind"], meta.get("namespace", ""), meta.get("name", ""), meta.get("uid", ""))
        try:
            services.locks.release(holder, list(status.get("locks") or []))
            services.thread_ids.leases.release(thread_id, holder)
        except Exception as exc:  # a lease left behind is taken over once its holder is gone
            log.info("release on delete failed", extra={"thread_id": thread_id, "error": str(exc)})
