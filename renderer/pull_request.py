"""The text of a thread's pull request (or merge request), and of its learned runbook.

Why rendered here: a reviewer decides from this text alone whether the branch may land, so it
carries everything the thread knows: what was asked (summary and turns), the approved plan with
its digest, the diff summary of each action, the rating, and links to the thread folder, the other
repos' pull requests and the sync objects. Pure and deterministic, like the rest of the renderer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PullRequestText:
    thread_id: str
    summary: str
    request: Sequence[str]
    revision: int
    digest: str
    actions: Sequence[Mapping[str, str]]  # title, risk, diff
    rating: int
    comment: str
    requester: str
    approver: str
    folder: str
    links: Sequence[tuple[str, str]] = ()  # (label, target)


def _quote(text: str) -> list[str]:
    return ["> " + line if line else ">" for line in text.splitlines()] or [">"]


def _diff_summary(diff: str, limit: int = 12) -> list[str]:
    lines = [ln for ln in diff.splitlines() if ln.startswith(("+", "-")) and not ln.startswith(("+++", "---"))]
    if not lines:
        return []
    shown = lines[:limit] + ([f"… {len(lines) - limit} more changed line(s)"] if len(lines) > limit else [])
    return ["```diff", *shown, "```"]


def render_pull_request(pr: PullRequestText) -> str:
    out = [f"## {pr.summary}", "",
           f"Thread `{pr.thread_id}`, requested by {pr.requester or 'unknown'}, approved by "
           f"{pr.approver or 'unknown'}, rated **{pr.rating}/100**" + (f": {pr.comment}" if pr.comment else "."), "",
           "### Request", ""]
    for turn in pr.request:
        out += [*_quote(turn), ""]
    out += [f"### Approved plan (revision {pr.revision}, `{pr.digest}`)", ""]
    for index, action in enumerate(pr.actions, 1):
        out.append(f"{index}. {action.get('title', '')} (risk {action.get('risk', '')})")
        diff = _diff_summary(str(action.get("diff", "")))
        if diff:
            out += ["", *["   " + ln for ln in diff], ""]
    out += ["", "### Links", "", f"- Thread folder: `{pr.folder}/` (instructions.md, plan.yaml, restore.yaml)"]
    out += [f"- {label}: {target}" for label, target in pr.links]
    return "\n".join(out).rstrip() + "\n"


def render_runbook(thread_id: str, instructions: str, rating: int, links: Sequence[tuple[str, str]]) -> str:
    """The learned runbook for the instructions repo: the thread's instructions.md, marked as proven."""
    head = [f"<!-- learned from thread {thread_id}, rated {rating}/100 -->", ""]
    tail = ["", "## Provenance", "", f"- Rated {rating}/100"] + [f"- {label}: {target}" for label, target in links]
    return "\n".join(head) + instructions.rstrip() + "\n" + "\n".join(tail) + "\n"
