"""Backups of live objects, kept in the cluster (a Secret in the operator's namespace).

Restore must bring back the exact state before the chat, env values and all, so backups are
complete; and because complete objects may hold credentials, they never leave the cluster: git
gets a redacted copy for people to read, the exact copy lives here. The first backup of an
object wins: later revisions of the same thread never overwrite the pre-chat state.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from controller.adapters.kube import Conflict, Kube
from controller.api.types import ObjectRef

SERVER_FIELDS = ("uid", "resourceVersion", "generation", "managedFields", "creationTimestamp",
                 "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink")


def clean_for_backup(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without server-set metadata and status: what re-applying needs."""
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_FIELDS}
    out["metadata"] = meta
    return out


@dataclass
class ThreadBackup:
    pre_chat_commit: str = ""
    objects: list[dict[str, Any]] = field(default_factory=list)
    created: list[ObjectRef] = field(default_factory=list)

    def has(self, ref: ObjectRef) -> bool:
        key = ref.key()
        return any(_ref_of(o).key() == key for o in self.objects) or any(c.key() == key for c in self.created)


def _ref_of(obj: dict[str, Any]) -> ObjectRef:
    meta = obj.get("metadata") or {}
    return ObjectRef(api_version=obj["apiVersion"], kind=obj["kind"], name=meta.get("name", ""),
                     namespace=meta.get("namespace") or "")


class BackupStore:
    """One Secret per thread: `aiop-backup-<thread id>` in the operator's namespace."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.kube = kube
        self.namespace = namespace

    def _name(self, thread_id: str) -> str:
        return f"aiop-backup-{thread_id}"[:253]

    def load(self, thread_id: str) -> ThreadBackup | None:
        secret = self.kube.get("v1", "Secret", self._name(thread_id), self.namespace)
        if secret is None:
            return None
        raw = json.loads(base64.b64decode(secret["data"]["backup.json"]).decode())
        return ThreadBackup(pre_chat_commit=raw.get("preChatCommit", ""), objects=raw.get("objects", []),
                            created=[ObjectRef.model_validate(c) for c in raw.get("created", [])])

    def save(self, thread_id: str, backup: ThreadBackup) -> None:
        payload = json.dumps({"preChatCommit": backup.pre_chat_commit, "objects": backup.objects,
                              "created": [c.wire() for c in backup.created]}, sort_keys=True)
        secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                  "metadata": {"name": self._name(thread_id), "namespace": self.namespace,
                               "labels": {"aiop.dev/thread": thread_id[:63], "app.kubernetes.io/managed-by": "ai-operator"}},
                  "data": {"backup.json": base64.b64encode(payload.encode()).decode()}}
        self._ensure_namespace()
        self.kube.apply(secret, "ai-operator")

    def _ensure_namespace(self) -> None:
        """Create-or-exists in one call: two threads backing up at once never fail on the race."""
        if self.kube.get("v1", "Namespace", self.namespace) is not None:
            return
        try:
            self.kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}})
        except Conflict:
            pass

    def capture(self, thread_id: str, pre_chat_commit: str, targets: list[ObjectRef]) -> ThreadBackup:
        """Record the live state of targets not backed up yet (first backup wins), and save it."""
        backup = self.load(thread_id) or ThreadBackup(pre_chat_commit=pre_chat_commit)
        for ref in targets:
            if backup.has(ref):
                continue
            live = self.kube.get(ref.api_version, ref.kind, ref.name, ref.namespace or None)
            if live is None:
                backup.created.append(ref)
            else:
                live.setdefault("apiVersion", ref.api_version)
                live.setdefault("kind", ref.kind)
                backup.objects.append(clean_for_backup(live))
        self.save(thread_id, backup)
        return backup
