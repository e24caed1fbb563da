"""Field managers: who owns which field (`metadata.managedFields`), and server-side apply conflicts.

Why: two writers of one object must not silently overwrite each other. A real API server records,
for every write, which fields its field manager set: a create, PUT or non-apply PATCH records an
`Update` entry for the fields it added or changed (taking them from whoever owned them), a
server-side apply records an `Apply` entry for the fields its configuration sets. An apply that
would change a field another manager owns is refused with 409 Conflict (`Apply failed with 1
conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas`, causes of type
`FieldManagerConflict`), unless it is forced, which moves the fields to the applier. The operator
moves to a field manager per thread on exactly this, so the sandbox must refuse what a cluster refuses.

Ownership is counted in leaf paths (`sandbox.fieldsets`): scalar fields, atomic lists, set items and
keyed list items. Like structured-merge-diff, a manager's identity is (manager, operation,
subresource); a field set to the value it already has is not a change and conflicts with no one.
Writes to the status subresource own only `status`; writes to the main resource of a kind with a
status subresource never own `status`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.errors import ApiError
from sandbox.fieldsets import MISSING, Path, fieldset, from_leaves, leaves, path_string, value_at
from sandbox.patching import json_equal

ListKey = Callable[[str], "str | None"]
Entry = dict[str, Any]
APPLY = "Apply"
UPDATE = "Update"


@dataclass(frozen=True)
class Changes:
    """Leaf paths a write added, changed the value of, or removed."""

    added: frozenset[Path]
    modified: frozenset[Path]
    removed: frozenset[Path]

    @property
    def set_by_write(self) -> frozenset[Path]:
        return self.added | self.modified


def managed_part(obj: dict[str, Any], has_status: bool, subresource: str) -> dict[str, Any]:
    """The part of an object a write at `subresource` manages."""
    if subresource == "status":
        return {"status": obj["status"]} if "status" in obj else {}
    if has_status:
        return {k: v for k, v in obj.items() if k != "status"}
    return obj


def changes(old: dict[str, Any], new: dict[str, Any], list_key: ListKey) -> Changes:
    before, after = leaves(fieldset(old, list_key)), leaves(fieldset(new, list_key))
    modified = {p for p in before & after if p[-1] != "." and not json_equal(value_at(old, p), value_at(new, p))}
    return Changes(frozenset(after - before), frozenset(modified), frozenset(before - after))


def _identity(entry: Entry) -> tuple[str, str, str]:
    return (str(entry.get("manager", "")), str(entry.get("operation", "")), str(entry.get("subresource", "")))


def _owned(entry: Entry) -> set[Path]:
    return leaves(entry.get("fieldsV1") or {})


def describe(entry: Entry) -> str:
    """How a conflict names a manager (apimachinery's printManager, without the time)."""
    text = json.dumps(entry.get("manager", ""))
    if entry.get("subresource"):
        text += f" with subresource {json.dumps(entry['subresource'])}"
    if entry.get("operation") == UPDATE:
        text += f" using {entry.get('apiVersion', '')}"
    return text


def _entry(manager: str, operation: str, api_version: str, subresource: str, owned: set[Path],
           stamp: str) -> Entry:
    entry: Entry = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": stamp,
                    "fieldsType": "FieldsV1", "fieldsV1": from_leaves(owned)}
    if subresource:
        entry["subresource"] = subresource
    return entry


def _without(entries: list[Entry], me: tuple[str, str, str], taken: frozenset[Path] | set[Path]) -> list[Entry]:
    """Other managers' entries minus the taken fields (entries left with nothing are dropped)."""
    out = []
    for entry in entries:
        if _identity(entry) == me:
            out.append(entry)
            continue
        owned = _owned(entry)
        if not owned & taken:
            out.append(entry)
            continue
        rest = owned - taken
        if rest:
            kept = copy.deepcopy(entry)
            kept["fieldsV1"] = from_leaves(rest)
            out.append(kept)
    return out


def record_update(entries: list[Entry], manager: str, api_version: str, subresource: str,
                  change: Changes, stamp: str) -> list[Entry]:
    """managedFields after an Update operation: the manager takes what it added or changed."""
    me = (manager, UPDATE, subresource)
    gone = change.removed
    current = [e for e in entries if _identity(e) == me]
    owned = ((_owned(current[0]) if current else set()) - gone) | change.set_by_write
    others = [e for e in _without(entries, me, change.set_by_write | gone) if _identity(e) != me]
    if not owned:
        return others
    position = next((i for i, e in enumerate(entries) if _identity(e) == me), len(others))
    updated = _entry(manager, UPDATE, api_version, subresource, owned, stamp)
    return [*others[:position], updated, *others[position:]]


def conflicts(entries: list[Entry], manager: str, subresource: str, change: Changes) -> list[tuple[Entry, Path]]:
    """(other manager's entry, field) for every field an apply would change that someone else owns."""
    me = (manager, APPLY, subresource)
    found = []
    for entry in entries:
        if _identity(entry) == me:
            continue
        for path in sorted(_owned(entry) & change.set_by_write, key=path_string):
            found.append((entry, path))
    return found


def conflict_error(found: list[tuple[Entry, Path]]) -> ApiError:
    """409 as apimachinery's NewConflictError words it."""
    causes = [{"type": "FieldManagerConflict", "message": f"conflict with {describe(entry)}",
               "field": path_string(path)} for entry, path in found]
    if len(found) == 1:
        entry, path = found[0]
        message = f"Apply failed with 1 conflict: conflict with {describe(entry)}: {path_string(path)}"
    else:
        by_manager: dict[str, list[str]] = {}
        for entry, path in found:
            by_manager.setdefault(describe(entry), []).append(path_string(path))
        lines = []
        for name in sorted(by_manager):
            lines.append(f"conflicts with {name}:")
            lines += [f"- {p}" for p in by_manager[name]]
        message = f"Apply failed with {len(found)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, {"causes": causes})


def record_apply(entries: list[Entry], manager: str, api_version: str, subresource: str, change: Changes,
                 applied: dict[str, Any], force: bool, stamp: str) -> list[Entry]:
    """managedFields after an apply (409 on conflicts unless forced): the applier owns what it applied."""
    found = conflicts(entries, manager, subresource, change)
    if found and not force:
        raise conflict_error(found)
    me = (manager, APPLY, subresource)
    taken = {path for _, path in found} | set(change.removed)
    others = [e for e in _without(entries, me, taken) if _identity(e) != me]
    owned = leaves(applied)
    if not owned:
        return others
    position = next((i for i, e in enumerate(entries) if _identity(e) == me), len(others))
    updated = _entry(manager, APPLY, api_version, subresource, owned, stamp)
    return [*others[:position], updated, *others[position:]]


def still_present(obj: dict[str, Any], entries: list[Entry]) -> list[Entry]:
    """Drop from every entry the fields the object no longer has (after an apply pruned them)."""
    out = []
    for entry in entries:
        owned = _owned(entry)
        present = {p for p in owned if value_at(obj, p) is not MISSING}
        if present == owned:
            out.append(entry)
        elif present:
            kept = copy.deepcopy(entry)
            kept["fieldsV1"] = from_leaves(present)
            out.append(kept)
    return out
