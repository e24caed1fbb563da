"""A conversation as text for the terminal (`aiop chat show`): messages, the plan, conditions, links."""

from __future__ import annotations

from typing import Any

from controller.api.types import ConversationStatus


def render_thread(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata", {})
    status = ConversationStatus.model_validate(obj.get("status") or {})
    lines = [f"{meta.get('namespace')}/{meta.get('name')}  phase: {status.phase.value}  thread: {status.thread_id}"]
    for message in status.messages:
        who = {"user": "you", "assistant": "operator", "system": "system"}[message.role]
        lines.append(f"\n[{who}] {message.text}")
    if status.revisions:
        rev = status.revisions[-1]
        lines.append(f"\n--- plan revision {rev.revision} ({rev.digest}) {'mutating' if rev.mutating else 'read-only'}")
        for action in rev.actions:
            lines.append(f"  * {action.title}  [risk {action.risk}]")
            if action.permissions:
                lines.append("    needs: " + ", ".join(p.describe() for p in action.permissions))
            if action.backup:
                lines.append(f"    backup: {action.backup}")
            if action.restore:
                lines.append(f"    restore: {action.restore}")
            if action.diff:
                lines.extend("    " + line for line in action.diff.splitlines())
    if status.missing_permissions:
        lines.append("\nmissing permissions: " + "; ".join(p.describe() for p in status.missing_permissions))
    for cond in status.conditions:
        lines.append(f"condition {cond.type}={cond.status} {cond.reason}: {cond.message}")
    links = status.links
    if links.branch:
        lines.append(f"branch: {links.branch}  commits: {', '.join(c[:12] for c in links.commits)}")
    for pr in links.pull_requests:
        lines.append(f"pull request #{pr.number} ({pr.state}): {pr.url}")
    return "\n".join(lines)
