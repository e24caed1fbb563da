"""An in-memory `ClusterReader`: the fake of the cluster seam for unit tests of planners and actions.

Integration tests use the real reader against the sandbox API server; this one keeps the planner
and catalog tests fast and lets a table of cases describe a cluster as a list of objects.
Like the real reader, it never hands out Secret data.
"""

from __future__ import annotations

import builtins
import copy
import json
from typing import Any

LOGS_ANNOTATION = "sandbox.aiop.dev/logs"
PREVIOUS_LOGS_ANNOTATION = "sandbox.aiop.dev/previous-logs"


def _matches(labels: dict[str, str], selector: str | None) -> bool:
    if not selector:
        return True
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


def _staged_logs(pod: dict[str, Any], annotation: str, container: str | None) -> str:
    raw = (pod.get("metadata", {}).get("annotations") or {}).get(annotation, "")
    try:
        per_container = json.loads(raw)
    except (ValueError, TypeError):
        return str(raw)
    if isinstance(per_container, dict):
        if container:
            return str(per_container.get(container, ""))
        return "\n".join(str(v) for v in per_container.values())
    return str(raw)


class MemoryCluster:
    """Objects held in a list; `get`/`list` match by apiVersion, kind, namespace and name."""

    def __init__(self, objects: list[dict[str, Any]] | None = None) -> None:
        self.objects: list[dict[str, Any]] = [copy.deepcopy(o) for o in objects or []]

    def add(self, obj: dict[str, Any]) -> None:
        self.objects.append(copy.deepcopy(obj))

    def _redacted(self, obj: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(obj)
        if out.get("kind") == "Secret":
            out.pop("data", None)
            out.pop("stringData", None)
        return out

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        for obj in self.objects:
            meta = obj.get("metadata", {})
            if (obj.get("apiVersion"), obj.get("kind"), meta.get("name")) == (api_version, kind, name) and (
                namespace is None or meta.get("namespace") in (namespace, None)
            ):
                return self._redacted(obj)
        return None

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             label_selector: str | None = None) -> list[dict[str, Any]]:
        found = []
        for obj in self.objects:
            meta = obj.get("metadata", {})
            if (obj.get("apiVersion"), obj.get("kind")) != (api_version, kind):
                continue
            if namespace is not None and meta.get("namespace") != namespace:
                continue
            if _matches(meta.get("labels") or {}, label_selector):
                found.append(self._redacted(obj))
        return found

    def logs(self, namespace: str, pod: str, container: str | None = None, previous: bool = False,
             tail_lines: int = 50) -> str:
        obj = self.get("v1", "Pod", pod, namespace)
        if obj is None:
            return ""
        text = _staged_logs(obj, PREVIOUS_LOGS_ANNOTATION if previous else LOGS_ANNOTATION, container)
        return "\n".join(text.splitlines()[-tail_lines:])

    def events(self, namespace: str, involved_name: str | None = None) -> builtins.list[dict[str, Any]]:
        return [
            e for e in self.list("v1", "Event", namespace)
            if involved_name is None or e.get("involvedObject", {}).get("name") == involved_name
        ]
