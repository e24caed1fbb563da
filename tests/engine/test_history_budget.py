"""A 500-turn thread's status stays under 256 KiB, and what status writes of old revisions reads back whole.

Pure: `history.split` and `ConversationStatus.wire` on a status shaped like the one `bench.long_thread`
measured at turn 500 (297 KiB before archived summaries were written compactly): 500 revisions with
realistic summaries and answers, the last few in full with their manifests, 40 messages of chat.
"""

from __future__ import annotations

import json

from controller.api.types import ConversationStatus, Message, PlanRevision
from controller.engine.history import SUMMARY_CHARS, Limits, split

BUDGET = 256 * 1024


def _revision(n: int) -> PlanRevision:
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "shop", "labels": {"aiop.dev/thread": "t-long"}},
                "spec": {"replicas": 2 + n % 7}}
    return PlanRevision(
        revision=n, digest="sha256:" + f"{n:064x}", based_on_turn=n, mutating=True, backend="offline",
        summary=f"Scale Deployment shop/web from {1 + n % 7} to {2 + n % 7} replicas, as asked in message {n} "
                "of this conversation, keeping the rollout strategy and the pod disruption budget as they are",
        answer="I will scale web. " * 40, created_at="2026-12-01T03:00:00Z", shaped_by=["demo@example.com"],
        manifests=[manifest], graph="flowchart TD\n  a[scale web] --> b[verify]\n" * 5)


def _long_status(turns: int) -> ConversationStatus:
    status = ConversationStatus(thread_id="t-long", processed_turns=turns, current_revision=turns,
                                message_count=2 * turns,
                                messages=[Message(id=2 * turns - 40 + i, role="assistant", text="ok " * 100)
                                          for i in range(40)],
                                revisions=[_revision(n) for n in range(1, turns + 1)])
    return split(status, Limits(), force=True).status


def test_a_500_turn_status_stays_within_256_kib() -> None:
    status = _long_status(500)
    archived = [r for r in status.revisions if r.archived]
    assert len(archived) >= 490 and len(status.revisions) == 500
    size = len(json.dumps(status.wire()))
    assert size < BUDGET, f"status is {size} bytes at 500 turns"


def test_archived_revisions_read_back_whole_and_detailed_ones_unchanged() -> None:
    status = _long_status(60)
    back = ConversationStatus.model_validate(status.wire())
    assert back == status
    detailed = next(r for r in status.wire()["revisions"] if not r.get("archived"))
    assert detailed["manifests"] and "answer" in detailed and detailed["findings"] == []


def test_an_archived_summary_keeps_number_digest_and_a_cut_summary() -> None:
    entry = next(r for r in _long_status(30).wire()["revisions"] if r.get("archived"))
    assert entry["revision"] == 1 and entry["digest"] == "sha256:" + f"{1:064x}"
    assert len(entry["summary"]) == SUMMARY_CHARS and entry["summary"].endswith("…")
    assert "answer" not in entry and "manifests" not in entry and entry["mutating"] is True
    assert set(entry) == {"revision", "digest", "basedOnTurn", "summary", "mutating", "archived"}, entry


def test_an_archived_revision_with_nothing_to_say_reads_back() -> None:
    """A revision archived with an empty summary and nothing to change (a plan that only answered) keeps its
    required fields in status: leaving out the empty summary made the whole status unreadable."""
    status = _long_status(30)
    quiet = status.revisions[0].model_copy(update={"summary": "", "mutating": False, "reused_from": ["k-1"]})
    status = status.model_copy(update={"revisions": [quiet, *status.revisions[1:]]})
    entry = status.wire()["revisions"][0]
    assert entry == {"revision": 1, "digest": quiet.digest, "basedOnTurn": 1, "summary": "",
                     "mutating": False, "reusedFrom": ["k-1"], "archived": True}
    assert ConversationStatus.model_validate(status.wire()) == status
