"""Bounded threads: older plan revisions and messages move from status to the thread's history in git.

Why: a real API server refuses objects over 1.5 MiB (etcd), and a 500-turn conversation that keeps
every revision, diff and message in status grows past it (≈2.9 KB a turn). Status keeps what the
thread needs to act and what people look at first: the current, approved and executed revisions in
full, the last few revisions and messages, and for every older revision its number, digest and
summary. The rest is committed, in batches, to `refs/aiop/history/<thread-id>` of the primary repo —
a ref, not a branch, so no GitOps tool syncs it and no pull request carries it — under
`threads/<id>/history/`. `status.historyRef` names it; `git show <ref>:threads/<id>/history/...`
reads it.

`split` is pure; `History.bound` does the I/O and never loses anything: when git cannot be written,
status keeps the details (up to a hard cap, past which the oldest details are dropped and the thread
says so).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from controller.adapters.gitrepo import GitError, ThreadRepo
from controller.api.constants import HISTORY_REF_PREFIX, THREADS_DIR
from controller.api.types import ConversationStatus, Message, PlanRevision

log = logging.getLogger("aiop.history")


SUMMARY_CHARS = 120


@dataclass(frozen=True)
class Limits:
    keep_revisions: int = 4  # detailed revisions kept besides the current, approved and executed ones
    keep_messages: int = 40
    batch: int = 6  # archive only when this many more than kept have piled up (one commit per batch)
    hard_cap: int = 40  # detailed revisions kept while git cannot be written, at most


@dataclass(frozen=True)
class Split:
    status: ConversationStatus
    revisions: list[PlanRevision]  # to archive, in full
    messages: list[Message]  # to archive


def summary_of(rev: PlanRevision) -> PlanRevision:
    """A revision reduced to what status keeps for history: number, digest, the turn it answered, whether
    it changed anything, its summary, and the knowledge it reused.

    Everything else (answer, actions, manifests, diffs, the planner, when and by whose turns it was made)
    stays in the archived copy in git. The summary is cut to SUMMARY_CHARS. Each archived entry is
    written on every status write and read on every watch event of the thread, so it is kept to what
    tells the revisions apart: ≈200 bytes, 500 of them ≈100 KiB (bench.long_thread)."""
    summary = rev.summary if len(rev.summary) <= SUMMARY_CHARS else rev.summary[:SUMMARY_CHARS - 1] + "…"
    return PlanRevision(revision=rev.revision, digest=rev.digest, based_on_turn=rev.based_on_turn,
                        summary=summary, mutating=rev.mutating, reused_from=rev.reused_from, archived=True)


def split(status: ConversationStatus, limits: Limits, force: bool = False) -> Split:
    """What to move out of status now (nothing until a batch has piled up, unless forced)."""
    pinned = {status.current_revision, status.approved_revision,
              status.execution.revision if status.execution else 0, status.rated_revision}
    detailed = [r for r in status.revisions if not r.archived]
    movable = [r for r in detailed if r.revision not in pinned]
    excess = len(movable) - limits.keep_revisions
    archive_revs = movable[:excess] if (excess >= limits.batch or (force and excess > 0)) else []
    extra_messages = len(status.messages) - limits.keep_messages
    archive_msgs = status.messages[:extra_messages] if (extra_messages >= limits.batch * 2
                                                        or (force and extra_messages > 0)) else []
    if not archive_revs and not archive_msgs:
        return Split(status, [], [])
    gone = {r.revision for r in archive_revs}
    revisions = [summary_of(r) if r.revision in gone else r for r in status.revisions]
    kept = status.messages[len(archive_msgs):]
    return Split(status.model_copy(update={"revisions": revisions, "messages": kept}), archive_revs, archive_msgs)


def files_for(thread_id: str, part: Split) -> dict[str, str]:
    folder = f"{THREADS_DIR}/{thread_id}/history"
    files = {f"{folder}/revision-{r.revision:04d}.json": json.dumps(r.wire(), indent=2, sort_keys=True) + "\n"
             for r in part.revisions}
    if part.messages:
        first, last = part.messages[0].id, part.messages[-1].id
        files[f"{folder}/messages-{first:05d}-{last:05d}.json"] = json.dumps(
            [m.wire() for m in part.messages], indent=2) + "\n"
    return files


class History:
    """Keeps a thread's status within its budget by archiving to the primary repo's history ref."""

    def __init__(self, repo: ThreadRepo, limits: Limits | None = None) -> None:
        self.repo = repo
        self.limits = limits or Limits()

    @staticmethod
    def ref(thread_id: str) -> str:
        return f"{HISTORY_REF_PREFIX}{thread_id}"

    def bound(self, thread_id: str, status: ConversationStatus) -> ConversationStatus:
        part = split(status, self.limits)
        if not part.revisions and not part.messages:
            return status
        ref = self.ref(thread_id)
        try:
            self.repo.append_history(ref, files_for(thread_id, part),
                                     f"{thread_id}: history up to revision {status.current_revision}")
        except GitError as exc:
            detailed = sum(1 for r in status.revisions if not r.archived)
            log.warning("history not archived", extra={"thread_id": thread_id, "error": str(exc)})
            if detailed <= self.limits.hard_cap:
                return status  # kept in status; archived on a later turn
            note = Message(id=status.message_count + 1, role="system",
                           text=f"The details of {len(part.revisions)} older revision(s) were dropped: the "
                                f"history could not be written to git ({exc}).")
            return part.status.model_copy(update={"messages": [*part.status.messages, note],
                                                  "message_count": status.message_count + 1})
        return part.status.model_copy(update={"history_ref": ref})
