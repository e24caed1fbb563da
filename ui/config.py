"""The UI's settings, read from the environment in this one module (STYLE.md: no os.getenv elsewhere).

Why a module of its own instead of `controller.settings`: the UI runs as a different deployable
with a different identity (it may only impersonate), and its knobs (which headers the auth proxy
sets, whether the sandbox user picker is allowed) mean nothing to the controller. The chart's
ConfigMap feeds both from the same `AIOP_*` variables, so the names below match the chart's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_USER_HEADER = "X-Forwarded-Email"
DEFAULT_GROUPS_HEADER = "X-Forwarded-Groups"
SANDBOX_DEFAULT_USER = "demo@example.com"


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


@dataclass(frozen=True)
class UiConfig:
    kubeconfig: str | None  # None: the in-cluster service account (which may only impersonate)
    kube_context: str | None
    home: str
    sandbox: bool  # the local user picker is offered only in sandbox mode
    user_header: str
    groups_header: str
    namespaces: tuple[str, ...]  # where to look for threads when a cluster-wide list is not allowed
    sandbox_users: tuple[str, ...]
    poll_seconds: float  # how often a busy thread is re-read
    answer_timeout: float  # how long a click waits for the controller before handing over to live updates
    knowledge_url: str


def load_config(env: Mapping[str, str] | None = None) -> UiConfig:
    """The UI's settings from the environment (or the given mapping, for tests)."""
    e = dict(os.environ if env is None else env)
    sandbox = _flag(e.get("AIOP_UI_SANDBOX"))
    namespaces = (_list(e.get("AIOP_UI_NAMESPACES")) or _list(e.get("AIOP_WATCH_NAMESPACES"))
                  or _list(e.get("AIOP_NAMESPACES")) or (("shop",) if sandbox else ("default",)))
    users = _list(e.get("AIOP_UI_SANDBOX_USERS")) or (SANDBOX_DEFAULT_USER,)
    return UiConfig(
        kubeconfig=e.get("AIOP_KUBECONFIG") or e.get("KUBECONFIG") or None,
        kube_context=e.get("AIOP_KUBE_CONTEXT") or None,
        home=e.get("AIOP_HOME") or os.path.expanduser("~/.aiop"),
        sandbox=sandbox,
        # AIOP_UI_IDENTITY_HEADER is the name the chart's ConfigMap uses.
        user_header=e.get("AIOP_UI_USER_HEADER") or e.get("AIOP_UI_IDENTITY_HEADER") or DEFAULT_USER_HEADER,
        groups_header=e.get("AIOP_UI_GROUPS_HEADER") or DEFAULT_GROUPS_HEADER,
        namespaces=namespaces,
        sandbox_users=users,
        poll_seconds=float(e.get("AIOP_UI_POLL_SECONDS") or "1.5"),
        answer_timeout=float(e.get("AIOP_UI_ANSWER_TIMEOUT") or "90"),
        knowledge_url=e.get("AIOP_KNOWLEDGE_URL") or e.get("AIOP_KNOWLEDGE_CENTRAL_URL") or "",
    )
