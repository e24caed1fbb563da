"""The chat dashboard: `streamlit run ui/app.py` (started by `aiop up`, or the chart's UI Deployment).

Why it is shaped like this: the UI is one more client of the AIConversation resources. A message
is a new turn in `spec`, Approve writes `spec.approval` naming the digest of the revision on the
screen, Rate writes `spec.rating`, Restore writes `spec.restore`; the controller answers in
`status`, which the page reads and shows. Every request acts as the signed-in person
(impersonation, see `ui.identity`), so RBAC and the admission policy decide, not the UI.

Flow of one run: identify the person → sidebar (threads they may see, search, new chat) → the
open thread (messages, proposal, status) → if a button was just pressed, follow the controller
with a progress box and reveal its answer → offer what the phase allows (approve, rate, restore,
chat) → keep re-reading while the controller works. Widgets act in callbacks (which run before the
page is drawn), so an Approve click carries the revision that was on the screen when it was drawn.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from controller.adapters.kube import Kube, load_api_client
from controller.api.constants import ConditionType, Phase
from controller.api.types import Identity
from controller.cloud.seam import Directory
from ui import views
from ui.config import UiConfig, load_config
from ui.gateway import Gateway
from ui.groups import directory, group_labels
from ui.identity import Refusal, resolve
from ui.model import (
    PHASE_TEXT,
    ThreadSummary,
    ThreadView,
    explain_error,
    new_thread_name,
    search,
    sort_recent,
    summarize,
)
from ui.similar import KnowledgeSearch, open_knowledge, similar_resolutions
from ui.snapshots import restore_blocked, restore_question, retention

PENDING_LABEL = {"answer": "The operator is thinking…", "approve": "Running the approved plan…",
                 "rate": "Recording your rating…", "restore": "Restoring the state before this chat…"}


@st.cache_resource(show_spinner=False)
def _kube(kubeconfig: str | None, context: str | None) -> Kube:
    """One API connection per process; every request through it impersonates the person."""
    return Kube(load_api_client(kubeconfig, context))


@st.cache_resource(show_spinner=False)
def _knowledge(url: str) -> KnowledgeSearch | None:
    return open_knowledge(url)


@st.cache_resource
def _directory(_config: UiConfig) -> Directory | None:
    """One Graph client per UI process (its names are cached for a while); `_config` is not hashed."""
    return directory(_config)


def _state() -> Any:
    return st.session_state


def _flash(kind: str, text: str) -> None:
    _state().setdefault("flash", []).append((kind, text))


def _show_flash() -> None:
    for kind, text in _state().pop("flash", []):
        (st.error if kind == "error" else st.success if kind == "success" else st.info)(text)


# ------------------------------------------------------------------------------------ identity


def _headers() -> dict[str, str]:
    try:
        return {k: v for k, v in st.context.headers.items()}
    except Exception:  # no request (AppTest, bare mode): no headers
        return {}


def _identity(config: UiConfig) -> Identity | Refusal:
    picked = groups = None
    if config.sandbox:
        with st.sidebar.expander("Sandbox user (sandbox mode only)", icon=":material/science:",
                                 expanded=False):
            picked = st.text_input("Act as user", value=config.sandbox_users[0], key="sandbox_user",
                                   help="Without an auth proxy header the sandbox lets you pick a user.")
            groups = st.text_input("Groups (comma-separated)", value="", key="sandbox_groups")
    return resolve(_headers(), config, picked, groups or "")


# ----------------------------------------------------------------------------------- callbacks
# Run before the next page run; they write the CR and leave a note for the page to follow.


def _open(namespace: str, name: str) -> None:
    _state()["current"] = (namespace, name)
    _state()["confirm_restore"] = None


def _new_chat() -> None:
    _state()["current"] = None
    _state()["confirm_restore"] = None


def _act(kind: str, gateway: Gateway, namespace: str, name: str, write: Any) -> None:
    try:
        view: ThreadView = write()
    except Exception as exc:
        _flash("error", explain_error(exc, gateway.who))
        return
    last = max((m.id for m in view.status.messages), default=0)
    _state()["pending"] = {"kind": kind, "key": (namespace, name), "last": last}


def _send_new(gateway: Gateway, namespace: str) -> None:
    text = (_state().get("chat-new") or "").strip()
    if not text:
        return
    name = new_thread_name(text)
    _state()["current"] = (namespace, name)
    _act("answer", gateway, namespace, name, lambda: gateway.say(namespace, name, text))


def _send(gateway: Gateway, namespace: str, name: str) -> None:
    text = (_state().get(f"chat-{namespace}-{name}") or "").strip()
    if text:
        _act("answer", gateway, namespace, name, lambda: gateway.say(namespace, name, text))


def _approve(gateway: Gateway, namespace: str, name: str, revision: int) -> None:
    _act("approve", gateway, namespace, name, lambda: gateway.approve(namespace, name, revision))


def _rate(gateway: Gateway, namespace: str, name: str) -> None:
    score = int(_state().get(f"score-{namespace}-{name}", 0))
    comment = str(_state().get(f"comment-{namespace}-{name}", ""))
    _act("rate", gateway, namespace, name, lambda: gateway.rate(namespace, name, score, comment))


def _ask_restore(namespace: str, name: str) -> None:
    _state()["confirm_restore"] = (namespace, name)


def _cancel_restore() -> None:
    _state()["confirm_restore"] = None


def _restore(gateway: Gateway, namespace: str, name: str) -> None:
    _state()["confirm_restore"] = None
    reason = str(_state().get(f"restore-reason-{namespace}-{name}", ""))
    _act("restore", gateway, namespace, name, lambda: gateway.restore(namespace, name, reason))


def _keep(gateway: Gateway, namespace: str, name: str, key: str) -> None:
    """The keep toggle writes `spec.keepSnapshots` as the person; a refusal puts the toggle back."""
    keep = bool(_state().get(key))
    try:
        gateway.keep_snapshots(namespace, name, keep)
    except Exception as exc:
        _state()[key] = not keep
        _flash("error", explain_error(exc, gateway.who))
        return
    _flash("success", "The snapshots are kept after the thread closes." if keep
           else "The snapshots are no longer kept: retention deletes them after the thread closes.")


# ------------------------------------------------------------------------------------- sidebar


def _sidebar(config: UiConfig, gateway: Gateway) -> list[dict[str, Any]]:
    """The thread list (mine, then all others I may see), search, and where new chats go."""
    sidebar = st.sidebar
    groups = group_labels(list(gateway.who.groups), _directory(config))  # Entra ID names (ui/groups.py)
    sidebar.markdown(f"Signed in as **{gateway.who.user}**" + (f"  \ngroups: {', '.join(groups)}" if groups else ""))
    sidebar.button("New chat", icon=":material/add_comment:", on_click=_new_chat, width="stretch")
    if len(config.namespaces) > 1:
        sidebar.selectbox("Namespace for new chats", config.namespaces, key="new_ns")
    try:
        objects = gateway.threads()
    except Exception as exc:
        sidebar.error(explain_error(exc, gateway.who))
        return []
    summaries = sort_recent([summarize(o, gateway.who) for o in objects])
    with sidebar:
        query = st.text_input("Search threads", key="search", placeholder="e.g. scale web",
                              icon=":material/search:")
        shown = search(summaries, query) if query.strip() else summaries
        current = _state().get("current")
        mine: list[ThreadSummary] = [t for t in shown if t.mine]
        views.thread_list("My threads", mine, current, _open)
        views.thread_list("Others I may see", [t for t in shown if not t.mine], current, _open)
    return objects


# ------------------------------------------------------------------------------------- a thread


def _follow(gateway: Gateway, config: UiConfig, pending: dict[str, Any]) -> ThreadView | None:
    """Show the controller's progress on what was just written, until it has handled it."""
    namespace, name = pending["key"]
    kind = pending["kind"]
    with st.chat_message("assistant", avatar=views.AVATARS["assistant"]):
        box = st.status(PENDING_LABEL[kind], expanded=True)
        # each snapshot's step, redrawn in place under the box (in Chromium the box's body stayed folded while
        # a restore confirmed on the same page was followed, so the steps are not only inside it)
        steps = st.empty()
        seen: list[Phase] = []

        def progress(view: ThreadView) -> None:
            if not seen or seen[-1] is not view.phase:
                seen.append(view.phase)
                icon, meaning = PHASE_TEXT.get(view.phase, ("", ""))
                box.write(f"{icon} **{view.phase.value}** — {meaning}")
                box.update(label=f"{PENDING_LABEL[kind]} ({view.phase.value})")
            if kind == "restore":
                views.data_restore(view, steps)
        try:
            view = gateway.follow(namespace, name, config.answer_timeout, on_change=progress)
            steps.empty()  # the thread's header shows where each snapshot ended
        except TimeoutError as exc:
            box.update(label="Still working; this page updates on its own", state="running", expanded=False)
            st.info(explain_error(exc, gateway.who))
            return None
        except Exception as exc:
            box.update(label="Could not follow the thread", state="error")
            st.error(explain_error(exc, gateway.who))
            return None
        failed = view.phase in {Phase.FAILED, Phase.REJECTED} or view.approval_refusal is not None
        box.update(label=f"Done: {view.phase.value}", state="error" if failed else "complete", expanded=False)
    return view


def _watch(gateway: Gateway, namespace: str, name: str, version: str) -> None:
    """While the controller works, re-read the thread and redraw the page when it changed."""
    try:
        view = gateway.get(namespace, name)
    except Exception:
        return  # the next tick tries again; the page already shows the last state
    if view is not None and view.resource_version != version:
        st.rerun(scope="app")
    st.caption(":material/autorenew: The operator is working; this page updates as it goes.")


def _thread(config: UiConfig, gateway: Gateway, namespace: str, name: str, objects: list[dict[str, Any]]) -> None:
    try:
        view = gateway.get(namespace, name)
    except Exception as exc:
        st.error(explain_error(exc, gateway.who))
        return
    if view is None:
        st.info(f"Conversation {namespace}/{name} does not exist (any more), or you may not see it.")
        return
    title = (view.spec.get("turns") or [{}])[0].get("text", name)
    st.subheader(title)
    head = st.container()  # filled last, so it shows the state after any progress followed below
    views.earlier_messages(view)
    for msg in view.status.messages:
        views.message(msg)
    views.pending_turns(view)

    pending = _state().pop("pending", None)
    if pending and tuple(pending["key"]) == (namespace, name):
        followed = _follow(gateway, config, pending)
        if followed is not None:
            for msg in followed.status.messages:
                # an answered turn is already on the page; a rating's echo ("Rated 100/100") is not
                if msg.id > pending["last"] and not (msg.role == "user" and pending["kind"] == "answer"):
                    views.message(msg, stream=msg.role == "assistant")
            view = followed

    with head:
        views.phase_badge(view.phase)
        views.status_panel(view)
        views.data_restore(view)
        _restore_control(gateway, view)
        _keep_control(config, gateway, view)
    _proposal(config, gateway, view, objects)
    _outcome(gateway, view)
    if view.can_chat:
        st.chat_input("Reply, refine the plan, or ask a question", key=f"chat-{namespace}-{name}",
                      on_submit=_send, args=(gateway, namespace, name))
    if view.working:
        st.fragment(_watch, run_every=config.poll_seconds)(gateway, namespace, name, view.resource_version)


def _proposal(config: UiConfig, gateway: Gateway, view: ThreadView, objects: list[dict[str, Any]]) -> None:
    rev = view.latest
    if rev is None or not (rev.actions or rev.graph):
        return
    request = " ".join(t.get("text", "") for t in view.spec.get("turns") or [])
    similar = similar_resolutions(request, rev.reused_from, objects, view.status.thread_id,
                                  _knowledge(config.knowledge_url))
    with st.chat_message("assistant", avatar=views.AVATARS["assistant"]):
        decided = view.status.approved_revision == rev.revision
        if decided:  # once approved, the plan steps aside for what happened next
            with st.expander(f"The approved plan (revision {rev.revision})", icon=":material/approval:"):
                views.revision(rev, similar, latest=True, nested=True)
        else:
            st.markdown("#### The proposal")
            views.revision(rev, similar, latest=True)
        refusal = view.approval_refusal
        if refusal:
            st.error(refusal, icon=":material/block:")
        locked = view.condition("Locked")
        if locked is not None and locked.status == "True":
            st.warning(f"Approved, and waiting: another thread holds an object this plan changes. "
                       f"It runs as soon as that thread is completed or restored.\n\n{locked.message}",
                       icon=":material/lock_clock:")
        approvable = view.approvable
        if approvable is not None:
            st.info(f"Nothing runs until you approve. Approving names revision {approvable.revision} "
                    f"(digest `{approvable.digest[:19]}…`); if the plan changes, approve again. "
                    "Or keep chatting to refine it.", icon=":material/approval:")
            st.button(f"Approve revision {approvable.revision}", type="primary", icon=":material/check:",
                      key=f"approve-{view.namespace}-{view.name}-{approvable.revision}", on_click=_approve,
                      args=(gateway, view.namespace, view.name, approvable.revision))


def _outcome(gateway: Gateway, view: ThreadView) -> None:
    """What the phase means for the person: missing rights, refusals, failures, rating, PRs."""
    if view.status.missing_permissions and view.phase is Phase.PERMISSIONS_MISSING:
        views.missing_permissions(view)
    if view.phase is Phase.REJECTED:
        cond = view.condition(ConditionType.POLICY)
        st.error("Refused by policy; nothing ran." + (f"\n\n{cond.message}" if cond else ""), icon=":material/block:")
    if view.phase is Phase.FAILED:
        cond = view.condition(ConditionType.READY)
        st.error("The change failed." + (f"\n\n{cond.message}" if cond else "")
                 + ("\n\nUse *Restore* above to go back to the state before this chat." if view.restore_offered
                    else ""), icon=":material/error:")
    if view.phase is Phase.RESTORED:
        cond = view.condition(ConditionType.RESTORED)
        st.success("Restored to the state before this chat." + (f"\n\n{cond.message}" if cond else ""),
                   icon=":material/history:")
    if view.show_pull_requests:
        views.pull_requests(view)
    if view.can_rate:
        _rating_form(gateway, view)


def _rating_form(gateway: Gateway, view: ThreadView) -> None:
    ns, name = view.namespace, view.name
    with st.form(f"rate-{ns}-{name}", border=True):
        st.markdown("**How well did it go?** A rating closes the thread: 100 promotes the branch to a pull "
                    "request and keeps the resolution as knowledge; less sends the operator back to planning "
                    "with your comment.")
        st.slider("Rating", 0, 100, 100, key=f"score-{ns}-{name}")
        st.text_area("Comment", key=f"comment-{ns}-{name}", placeholder="What was good, what was missing?")
        st.form_submit_button("Rate", type="primary", icon=":material/star:", on_click=_rate,
                              args=(gateway, ns, name))


def _restore_control(gateway: Gateway, view: ThreadView) -> None:
    """Restore is always visible once anything has run (a backup exists), and asks first."""
    if not view.restore_offered:
        return
    ns, name = view.namespace, view.name
    if _state().get("confirm_restore") == (ns, name):
        with st.container(border=True):
            ask = st.error if restore_blocked(view.status) else st.warning
            ask(restore_question(view.status), icon=":material/restore:")
            st.text_input("Reason (optional)", key=f"restore-reason-{ns}-{name}")
            left, right = st.columns(2)
            left.button("Yes, restore", type="primary", key=f"restore-yes-{ns}-{name}", on_click=_restore,
                        args=(gateway, ns, name), width="stretch")
            right.button("Cancel", key=f"restore-no-{ns}-{name}", on_click=_cancel_restore, width="stretch")
    else:
        st.button("Restore to the state before this chat", icon=":material/restore:", key=f"restore-{ns}-{name}",
                  on_click=_ask_restore, args=(ns, name))


def _keep_control(config: UiConfig, gateway: Gateway, view: ThreadView) -> None:
    """A thread with snapshots: how long they stay, and a toggle that writes `spec.keepSnapshots` as the person."""
    kept = retention(view.status, view.keep_snapshots, config.snapshot_grace_hours)
    if kept is None:
        return
    ns, name = view.namespace, view.name
    with st.container(border=True):
        views.snapshots(view, kept.text)
        if kept.offer_keep:  # the key names the stored value, so a change made elsewhere redraws the toggle
            key = f"keep-{ns}-{name}-{int(view.keep_snapshots)}"
            st.toggle("Keep these snapshots after the thread closes", value=view.keep_snapshots, key=key,
                      on_change=_keep, args=(gateway, ns, name, key),
                      help="Writes spec.keepSnapshots on this conversation, as you (your RBAC decides).")


def _home(config: UiConfig, gateway: Gateway) -> None:
    st.subheader("Talk to the operator")
    st.markdown("Say what you need in plain words, like to a colleague: *scale web in shop to 3*, "
                "*why is the worker crashing?*, *create a namespace analytics with a quota*. "
                "The operator answers with a plan; **nothing changes until you approve that exact plan.**")
    namespace = _state().get("new_ns") or config.namespaces[0]
    st.caption(f"New chats go to namespace `{namespace}`.")
    st.chat_input("Describe what you need", key="chat-new", on_submit=_send_new, args=(gateway, namespace))


# ---------------------------------------------------------------------------------------- main


def main(config: UiConfig) -> None:
    st.title("ai-operator", anchor=False)
    who = _identity(config)
    if isinstance(who, Refusal):
        st.error(who.message, icon=":material/no_accounts:")
        return
    gateway = Gateway(_kube(config.kubeconfig, config.kube_context), who, config.namespaces)
    objects = _sidebar(config, gateway)
    _show_flash()
    current = _state().get("current")
    if current:
        _thread(config, gateway, current[0], current[1], objects)
    else:
        _home(config, gateway)


st.set_page_config(page_title="ai-operator chat", page_icon=":material/forum:", layout="wide")
_config = load_config()
try:
    main(_config)
except Exception as _exc:  # never a traceback; st.rerun/st.stop are BaseExceptions and pass through
    st.error(explain_error(_exc))
