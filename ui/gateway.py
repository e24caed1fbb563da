"""Everything the UI does to the cluster, as the signed-in user: the one place that does I/O.

Why a gateway: the UI is a client of the custom resources (DESIGN principle 1), exactly like
`aiop chat` and kubectl. Every request here is impersonated (`Kube.as_user`), reads included, so
the thread list shows what *this person* may see and every write passes their RBAC and the
chart's admission policy. The UI's own service account only has the right to impersonate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from controller.adapters.kube import Forbidden, Kube, KubeError, NotFound
from controller.api.types import Identity
from controller.client import ChatError, ConversationClient
from ui.model import ThreadView


class Gateway:
    def __init__(self, kube: Kube, who: Identity, namespaces: tuple[str, ...]) -> None:
        self.who = who
        self.namespaces = namespaces
        self.kube = kube.as_user(who)
        self.client = ConversationClient(self.kube)

    def threads(self) -> list[dict[str, Any]]:
        """Every conversation this person may list: cluster-wide if allowed, else per namespace."""
        try:
            return self.client.list(None)
        except Forbidden:
            pass
        found: list[dict[str, Any]] = []
        denied: Forbidden | None = None
        for namespace in self.namespaces:
            try:
                found.extend(self.client.list(namespace))
            except (Forbidden, NotFound) as exc:
                denied = exc if isinstance(exc, Forbidden) else denied
        if not found and denied is not None and len(self.namespaces) == 1:
            raise denied
        return found

    def get(self, namespace: str, name: str) -> ThreadView | None:
        obj = self.client.get(namespace, name)
        return ThreadView.of(obj) if obj is not None else None

    def say(self, namespace: str, name: str, text: str) -> ThreadView:
        """Send a message. It is never re-sent on its own (a retry after a lost answer would add it twice),
        so a transient failure says that it may have arrived: the page shows the thread as stored."""
        try:
            return ThreadView.of(self.client.say(namespace, name, text, self.who))
        except KubeError as exc:
            if not exc.transient:
                raise
            raise ChatError(f"The message may or may not have reached the thread: the Kubernetes API answered "
                            f"{exc.code} {exc.reason} ({exc.message}). The thread below is as stored now; send "
                            "the message again only if it is not there.") from exc

    def approve(self, namespace: str, name: str, revision: int) -> ThreadView:
        """Approve exactly the revision the page showed (its digest, as the controller recorded it)."""
        return ThreadView.of(self.client.approve(namespace, name, self.who, revision))

    def rate(self, namespace: str, name: str, score: int, comment: str) -> ThreadView:
        return ThreadView.of(self.client.rate(namespace, name, self.who, score, comment))

    def restore(self, namespace: str, name: str, reason: str = "") -> ThreadView:
        return ThreadView.of(self.client.restore(namespace, name, self.who, reason))

    def keep_snapshots(self, namespace: str, name: str, keep: bool) -> ThreadView:
        return ThreadView.of(self.client.keep_snapshots(namespace, name, self.who, keep))

    def follow(self, namespace: str, name: str, timeout: float, poll: float = 0.3,
               on_change: Callable[[ThreadView], None] | None = None) -> ThreadView:
        """Re-read the thread until the controller has handled everything written so far.

        `on_change` sees every new version, so the page can show each phase as it passes.
        Raises TimeoutError when the controller is still busy at the deadline.
        """
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            view = self.get(namespace, name)
            if view is None:
                raise NotFound(404, "NotFound", f"conversation {namespace}/{name} is gone")
            if on_change is not None and view.resource_version != last:
                on_change(view)
                last = view.resource_version
            if not view.working:
                return view
            if time.monotonic() >= deadline:
                raise TimeoutError(f"conversation {namespace}/{name} is still {view.phase.value}")
            time.sleep(poll)
