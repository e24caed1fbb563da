"""The live cluster as planners see it: read as the requester, Secrets without data, redacted.

Planners (and so AI backends) never read with the operator's own rights: what the person may not
see, the planner does not see either. Every object passes through `redact_object`, so a token in
an env var or an annotation never reaches a prompt.

The reader also remembers the first state it read of each object (`first_seen`): that is the state
a plan was made against (a relative amount, a title's "from N"), so the plan's staleness fingerprint
is taken from it, not from a later read that another thread's write may already have changed.
"""

from __future__ import annotations

import builtins
import copy
from typing import Any

from controller.adapters.kube import Forbidden, Kube, KubeError
from controller.api.types import ObjectRef
from controller.cloud.seam import CloudAccess
from controller.redact import redact_object, redact_text


class LiveClusterReader:
    """`ClusterReader` over the API server, impersonating the requester."""

    def __init__(self, kube: Kube, cloud: CloudAccess | None = None) -> None:
        self.kube = kube
        self.cloud = cloud  # the cloud half (controller/cloud): planners read it through `cloud_of(reader)`
        self.first_seen: dict[str, dict[str, Any]] = {}  # ObjectRef.key() -> the first state read (redacted)

    def _seen(self, obj: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        key = ObjectRef(api_version=api_version, kind=kind, name=meta.get("name") or "",
                        namespace=meta.get("namespace") or "").key()
        if key not in self.first_seen:
            self.first_seen[key] = copy.deepcopy(obj)  # planners may change what they are handed
        return obj

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        try:
            obj = self.kube.get(api_version, kind, name, namespace)
        except (Forbidden, KubeError):
            return None
        return self._seen(redact_object(obj), api_version, kind) if obj is not None else None

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             label_selector: str | None = None) -> list[dict[str, Any]]:
        try:
            items = self.kube.list(api_version, kind, namespace, label_selector=label_selector)
        except (Forbidden, KubeError):
            return []
        return [self._seen(redact_object(item), api_version, kind) for item in items]

    def logs(self, namespace: str, pod: str, container: str | None = None, previous: bool = False,
             tail_lines: int = 50) -> str:
        return redact_text(self.kube.logs(namespace, pod, container, previous, tail_lines))

    def events(self, namespace: str, involved_name: str | None = None) -> builtins.list[dict[str, Any]]:
        events = self.list("v1", "Event", namespace)
        if involved_name is not None:
            events = [e for e in events if (e.get("involvedObject") or {}).get("name") == involved_name]
        return events
