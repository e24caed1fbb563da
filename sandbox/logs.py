"""Pod logs served from staged annotations.

Why: there is no kubelet, yet tests of diagnosis flows need `kubectl logs` and
`read_namespaced_pod_log` to return realistic text (a stack trace, an OOM message). Tests stage it
on the pod: `sandbox.aiop.dev/logs` (one string for every container, or a JSON object container →
text) and `sandbox.aiop.dev/previous-logs` for `previous=true`.
"""

from __future__ import annotations

import json
from typing import Any

from sandbox.errors import ApiError, bad_request

LOGS_ANNOTATION = "sandbox.aiop.dev/logs"
PREVIOUS_LOGS_ANNOTATION = "sandbox.aiop.dev/previous-logs"


def _containers(pod: dict[str, Any]) -> list[str]:
    spec = pod.get("spec") or {}
    return [c.get("name", "") for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])]


def _staged_text(raw: str | None, container: str) -> str:
    if raw is None:
        return ""
    try:
        parsed = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(parsed, dict):
        return str(parsed.get(container, ""))
    return raw


def pod_log(
    pod: dict[str, Any], container: str = "", previous: bool = False, tail_lines: int | None = None
) -> str:
    """The log text of one container of a pod, as `GET .../pods/<name>/log` answers it."""
    name = pod["metadata"]["name"]
    containers = _containers(pod)
    main_containers = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    if not container:
        if len(main_containers) != 1:
            raise bad_request(
                f"a container name must be specified for pod {name}, choose one of: "
                f"[{' '.join(main_containers)}]"
            )
        container = main_containers[0]
    if container not in containers:
        raise bad_request(f"container {container} is not valid for pod {name}")
    annotations = pod["metadata"].get("annotations") or {}
    key = PREVIOUS_LOGS_ANNOTATION if previous else LOGS_ANNOTATION
    if previous and key not in annotations:
        raise ApiError(
            400, "BadRequest", f'previous terminated container "{container}" in pod "{name}" not found'
        )
    text = _staged_text(annotations.get(key), container)
    if tail_lines is not None and tail_lines >= 0:
        lines = text.splitlines(keepends=True)
        text = "".join(lines[-tail_lines:]) if tail_lines else ""
    return text
