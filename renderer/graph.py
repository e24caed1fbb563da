"""The plan's workflow as a Graphviz DOT graph, shown next to the plan (`st.graphviz_chart`).

Why a graph and not only a list: the person approving should see at a glance that nothing runs
before "approve", that a backup comes before the commit, and that restore is always one edge away.
Action nodes are coloured by risk so a high-risk step stands out.

Labels come from plan titles, which are built from AI-chosen parameters: every label is escaped,
so a title cannot add nodes or attributes to the graph.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

RISK_COLORS: dict[str, str] = {"none": "#e8f5e9", "low": "#c8e6c9", "medium": "#fff3b0", "high": "#ffcdd2"}
STAGES_BEFORE: tuple[tuple[str, str], ...] = (
    ("request", "request"), ("permissions", "permissions\\n(as the requester)"), ("knowledge", "knowledge"),
)
STAGES_AFTER: tuple[tuple[str, str], ...] = (
    ("approve", "approve\\n(this exact plan)"), ("backup", "backup"), ("commit", "commit\\n(thread branch)"),
    ("sync", "sync"), ("verify", "verify"), ("rate", "rate"),
)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "")


def _node(node_id: str, label: str, **attrs: str) -> str:
    extra = "".join(f', {k}="{_escape(v)}"' for k, v in sorted(attrs.items()))
    return f'  "{node_id}" [label="{label}"{extra}];'


def workflow_dot(steps: Sequence[Mapping[str, Any]]) -> str:
    """DOT for request → permissions → knowledge → each action → approve → … → rate → PR, with restore.

    Each step is a mapping with `title`, `risk` and optionally `id` and `mutating`.
    Read-only plans stop after the actions: nothing is approved, committed or restored.
    """
    lines = [
        "digraph plan {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fillcolor="#f5f5f5", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    order: list[str] = []
    for node_id, label in STAGES_BEFORE:
        lines.append(_node(node_id, label))
        order.append(node_id)
    mutating = False
    for n, step in enumerate(steps, start=1):
        risk = str(step.get("risk", "low"))
        node_id = f"action-{n}"
        step_id = str(step.get("id", n))
        label = _escape(f"{step_id}. {step.get('title', step.get('action', ''))}\nrisk: {risk}")
        lines.append(_node(node_id, label, fillcolor=RISK_COLORS.get(risk, "#f5f5f5")))
        order.append(node_id)
        mutating = mutating or bool(step.get("mutating", True))
    if mutating:
        for node_id, label in STAGES_AFTER:
            lines.append(_node(node_id, label))
            order.append(node_id)
        lines.append(_node("pr", "pull request\\n(rating 100)", fillcolor="#bbdefb"))
        lines.append(_node("restore", "restore\\n(revert + backups)", fillcolor="#ffe0b2"))
    else:
        lines.append(_node("answer", "answer\\n(read-only)", fillcolor="#e3f2fd"))
        order.append("answer")
    for a, b in itertools.pairwise(order):
        lines.append(f'  "{a}" -> "{b}";')
    if mutating:
        lines.append('  "rate" -> "pr" [label="100"];')
        lines.append('  "rate" -> "knowledge" [label="< 100: replan", style=dashed];')
        lines.append('  "verify" -> "restore" [label="restore", style=dashed, color="#e65100"];')
        lines.append('  "rate" -> "restore" [style=dashed, color="#e65100"];')
    lines.append("}")
    return "\n".join(lines) + "\n"
