"""A scripted backend: the fake at the `Backend` seam (like simonw/llm's MockModel).

Tests enqueue the answers a backend would give; each `propose` pops the next one and records the
request it was given, so a test can assert on exactly what a backend was shown.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from controller.planning.types import ClusterReader, PlanningRequest, PlanningResult

Reply = PlanningResult | Callable[[PlanningRequest, ClusterReader], PlanningResult]


class ScriptedBackend:
    def __init__(self, replies: Iterable[Reply] = (), name: str = "scripted") -> None:
        self.name = name
        self.replies: deque[Reply] = deque(replies)
        self.requests: list[PlanningRequest] = []

    def enqueue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def propose(self, request: PlanningRequest, cluster: ClusterReader) -> PlanningResult:
        self.requests.append(request)
        if not self.replies:
            return PlanningResult(kind="unsupported", answer="(the script has no more replies)")
        reply = self.replies.popleft()
        return reply(request, cluster) if callable(reply) else reply
