"""How a conversation looks: messages, the proposal, the thread's status, the sidebar list.

Why separate from `app.py`: these functions only draw what the view model (`ui.model`) decided;
they never call the cluster. `app.py` owns the flow (who is signed in, what was clicked, waiting
for the controller) and passes widgets' callbacks in, so the layout can change without touching
what the buttons do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import streamlit as st

from controller.api.constants import Phase
from controller.api.types import Message, PlanRevision
from controller.textclean import clean_text
from ui.model import PHASE_TEXT, RISK_COLOR, ThreadSummary, ThreadView
from ui.similar import Similar
from ui.snapshots import held, restore_progress

AVATARS = {"user": ":material/person:", "assistant": ":material/smart_toy:", "system": ":material/info:"}
Callback = Callable[..., None]


def phase_badge(phase: Phase) -> None:
    icon, meaning = PHASE_TEXT.get(phase, ("", ""))
    color = {Phase.COMPLETED: "green", Phase.AWAITING_RATING: "green", Phase.AWAITING_APPROVAL: "blue",
             Phase.PERMISSIONS_MISSING: "orange", Phase.REJECTED: "red", Phase.FAILED: "red",
             Phase.RESTORED: "violet"}.get(phase, "gray")
    st.badge(phase.value, icon=icon or None, color=color)  # type: ignore[arg-type]
    st.caption(meaning)


def _words(text: str, delay: float) -> Iterator[str]:
    """A streamed-looking reveal of an answer that arrived whole from the controller."""
    for index, word in enumerate(text.split(" ")):
        yield word if index == 0 else " " + word
        time.sleep(delay)


def message(msg: Message, stream: bool = False, delay: float = 0.01) -> None:
    with st.chat_message(msg.role, avatar=AVATARS.get(msg.role)):
        if msg.author and msg.role == "user":
            st.caption(msg.author)  # who wrote it, as the API server authenticated them
        if stream:
            st.write_stream(_words(msg.text, delay))
        else:
            st.markdown(msg.text)


def earlier_messages(view: ThreadView) -> None:
    """A long thread keeps its older messages and revisions in git; say where."""
    shown = len(view.status.messages)
    earlier = (view.status.messages[0].id - 1) if shown else 0
    if earlier > 0:
        where = f" (git ref `{view.status.history_ref}`)" if view.status.history_ref else ""
        st.caption(f":material/history: {earlier} earlier message(s) are in the thread's history{where}.")


def pending_turns(view: ThreadView) -> None:
    """Turns people wrote that the controller has not answered yet (not in status.messages)."""
    for turn in (view.spec.get("turns") or [])[view.status.processed_turns:]:
        with st.chat_message("user", avatar=AVATARS["user"]):
            author = (turn.get("author") or {}).get("user")
            if author:
                st.caption(author)
            st.markdown(clean_text(turn.get("text", "")))


def _section(title: str, icon: str, nested: bool, expanded: bool) -> Any:
    """An expander, or a plain container inside one (Streamlit does not nest expanders)."""
    if nested:
        st.markdown(f"**{title}**")
        return st.container()
    return st.expander(title, expanded=expanded, icon=icon)


def revision(rev: PlanRevision, similar: list[Similar], latest: bool, nested: bool = False) -> None:
    """One proposal, explicitly: graph, ordered actions with risk/permissions/backup/restore, diffs."""
    st.markdown(f"**Plan revision {rev.revision}**{' (latest)' if latest else ''} · digest `{rev.digest}`"
                + (f" · planner `{rev.backend}`" if rev.backend else ""))
    if rev.findings:
        st.markdown("**Findings**\n" + "\n".join(f"- {f}" for f in rev.findings))
    if rev.restore_warnings:
        st.warning("Restore caveats: " + "; ".join(rev.restore_warnings), icon=":material/warning:")
    if rev.graph:
        with _section("Workflow graph", ":material/account_tree:", nested, expanded=latest):
            st.graphviz_chart(rev.graph, width="stretch")
    if rev.actions:
        st.markdown(f"**Actions, in order** ({len(rev.actions)})")
    for number, action in enumerate(rev.actions, start=1):
        with st.container(border=True):
            st.markdown(f"**{number}. {action.title}** :{RISK_COLOR.get(action.risk, 'gray')}-badge[risk {action.risk}]"
                        + ("" if action.mutating else " :gray-badge[read-only]"))
            lines = []
            if action.permissions:
                lines.append("- **Needs (your RBAC):** " + "; ".join(p.describe() for p in action.permissions))
            if action.backup:
                lines.append(f"- **Backup:** {action.backup}")
            if action.restore:
                lines.append(f"- **Restore:** {action.restore}")
            if action.verify:
                lines.append(f"- **Verify:** {action.verify}")
            if lines:
                st.markdown("\n".join(lines))
            if action.diff:
                st.code(action.diff, language="diff")
    similar_resolutions(similar, nested)


def similar_resolutions(rows: list[Similar], nested: bool = False) -> None:
    if not rows:
        return
    with _section(f"Similar past resolutions ({len(rows)})", ":material/history_edu:", nested, expanded=True):
        for row in rows:
            rating = "unrated" if row.rating is None else f"rated {row.rating}/100"
            reused = " · **the plan builds on this one**" if row.reused else ""
            st.markdown(f"- `{row.thread_id}` ({rating}{reused}): {row.request} → {row.resolution}")
        st.caption(f"Source: {rows[0].source}.")


def status_panel(view: ThreadView) -> None:
    """Per-thread status: phase, conditions, branch, commits, pull requests, Argo CD application."""
    status, links = view.status, view.status.links
    cols = st.columns(4)
    cols[0].metric("Plan revision", status.current_revision or "—")
    cols[1].metric("Approved revision", status.approved_revision or "—")
    cols[2].metric("Rating", "—" if status.last_rating is None else f"{status.last_rating}/100")
    cols[3].metric("Pull requests", len(links.pull_requests) or "—")
    with st.expander("Thread details: conditions, branch, commits, pull requests", icon=":material/info:"):
        requester = (view.spec.get("requester") or {}).get("user", "")
        st.markdown(f"- **Conversation:** `{view.namespace}/{view.name}` · thread `{status.thread_id or '—'}`"
                    f" · requested by `{requester}`")
        if links.repo or links.branch:
            st.markdown(f"- **Branch:** `{links.branch or '—'}` · folder `{links.folder or '—'}`"
                        + (f" · repo `{links.repo}`" if links.repo else ""))
        if links.pre_chat_commit:
            st.markdown(f"- **Pre-chat commit:** `{links.pre_chat_commit[:12]}`")
        if links.commits:
            st.markdown("- **Commits:** " + ", ".join(f"`{c[:12]}`" for c in links.commits))
        for pr in links.pull_requests:
            st.markdown(f"- **Pull request** #{pr.number} ({pr.state}) on `{pr.repo}`: {pr.url}")
        if links.argo_application:
            st.markdown(f"- **Argo CD application:** `{links.argo_application}`")
        if status.conditions:
            st.dataframe([{"type": c.type, "status": c.status, "reason": c.reason, "message": c.message,
                           "since": c.last_transition_time or ""} for c in status.conditions],
                         hide_index=True, width="stretch")


def data_restore(view: ThreadView, where: Any = None) -> None:
    """Per snapshot, where its restore is (while restoring, and what came back once restored).

    `where`: a placeholder (`st.empty()`) to redraw in place while following a restore; else the page."""
    lines = restore_progress(view.status)
    if lines:
        (where or st).info("**Data from the snapshots taken before the change**\n" + "\n".join(f"- {line}" for line in lines),
                icon=":material/restore:")


def snapshots(view: ThreadView, retention: str) -> None:
    """The snapshots the thread holds and how long they stay (the keep toggle is drawn by app.py)."""
    lines = held(view.status)
    st.markdown(f"**Snapshots taken before the change** ({len(lines)})")
    st.markdown(retention)
    with st.expander("Which snapshots", icon=":material/backup:"):
        st.markdown("\n".join(f"- {line}" for line in lines))


def pull_requests(view: ThreadView) -> None:
    prs = view.status.links.pull_requests
    st.success("Rated 100: the change is promoted. Pull requests:\n\n"
               + "\n".join(f"- [#{pr.number} on {pr.repo}]({pr.url}) ({pr.state}) — {pr.url}" for pr in prs),
               icon=":material/merge:")


def thread_list(title: str, threads: list[ThreadSummary], current: tuple[str, str] | None,
                on_open: Callback) -> None:
    st.markdown(f"**{title}** ({len(threads)})")
    if not threads:
        st.caption("none")
    for thread in threads:
        who = "" if thread.mine else f" · {thread.requester}"
        st.button(thread.label(), key=f"open-{thread.namespace}-{thread.name}", on_click=on_open,
                  args=(thread.namespace, thread.name), width="stretch",
                  type="primary" if thread.key == current else "secondary",
                  help=f"{thread.namespace}/{thread.name} · {thread.phase.value}{who}")


def missing_permissions(view: ThreadView) -> None:
    missing = view.status.missing_permissions
    st.warning("You lack permissions this plan needs, so it cannot be approved and nothing runs. "
               "An admin has been alerted. Missing:\n\n" + "\n".join(f"- {p.describe()}" for p in missing)
               + "\n\nAsk for them, or ask for something within your rights.", icon=":material/lock:")
