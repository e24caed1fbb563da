"""Which resources are served right now: the built-in table plus every established CRD.

Why separate from the table: custom kinds come and go at run time when CRDs are created or deleted,
and routing, discovery and RBAC messages must see the change at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.resources import BUILTIN_RESOURCES, SCALE, STATUS, ResourceType


@dataclass(frozen=True)
class GroupInfo:
    """One API group as `/apis` reports it: its versions, preferred first."""

    name: str
    versions: tuple[str, ...]


class Registry:
    """Look-ups of served resources by group/version/plural, by kind and by group."""

    def __init__(self) -> None:
        self._builtin: list[ResourceType] = list(BUILTIN_RESOURCES)
        self._custom: dict[str, list[ResourceType]] = {}  # CRD name -> its served versions

    def all(self) -> list[ResourceType]:
        out = list(self._builtin)
        for types in self._custom.values():
            out.extend(types)
        return out

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        for rt in self.all():
            if rt.group == group and rt.version == version and rt.plural == plural:
                return rt
        return None

    def any_version(self, group: str, plural: str) -> ResourceType | None:
        """The preferred served version of a group/plural (for GC and cascades, which are version-free)."""
        for rt in self.all():
            if rt.group == group and rt.plural == plural:
                return rt
        return None

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rt in self.all():
            if rt.group == group and rt.version == version and rt.kind == kind:
                return rt
        return None

    def versions_of(self, group: str) -> list[str]:
        seen: list[str] = []
        for rt in self.all():
            if rt.group == group and rt.version not in seen:
                seen.append(rt.version)
        return seen

    def groups(self) -> list[GroupInfo]:
        """Named groups (not core), in first-seen order, each with its versions."""
        order: list[str] = []
        for rt in self.all():
            if rt.group and rt.group not in order:
                order.append(rt.group)
        return [GroupInfo(name=g, versions=tuple(self.versions_of(g))) for g in order]

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self.all() if rt.group == group and rt.version == version]

    def kinds_with_plural(self, group: str, plural: str) -> list[ResourceType]:
        return [rt for rt in self.all() if rt.group == group and rt.plural == plural]

    # -- custom resources -------------------------------------------------------------------------

    def register_crd(self, crd: dict[str, Any]) -> list[ResourceType]:
        """Serve the CRD's versions; returns the resource types now served for it."""
        types = resource_types_from_crd(crd)
        self._custom[crd["metadata"]["name"]] = types
        return types

    def unregister_crd(self, name: str) -> None:
        self._custom.pop(name, None)

    def is_custom_group_plural(self, group: str, plural: str) -> bool:
        return any(rt.custom for rt in self.kinds_with_plural(group, plural))


def resource_types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """Turn a CustomResourceDefinition into one ResourceType per served version (storage version first)."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    group = spec.get("group", "")
    namespaced = spec.get("scope", "Namespaced") == "Namespaced"
    versions = sorted(spec.get("versions", []), key=lambda v: not v.get("storage", False))
    out: list[ResourceType] = []
    for ver in versions:
        if not ver.get("served", True):
            continue
        subs: list[str] = []
        sub_spec = ver.get("subresources") or {}
        if "status" in sub_spec:
            subs.append(STATUS)
        if "scale" in sub_spec:
            subs.append(SCALE)
        schema = (ver.get("schema") or {}).get("openAPIV3Schema")
        out.append(
            ResourceType(
                group=group,
                version=ver["name"],
                plural=names.get("plural", ""),
                kind=names.get("kind", ""),
                namespaced=namespaced,
                short_names=tuple(names.get("shortNames", []) or []),
                categories=tuple(names.get("categories", []) or []),
                subresources=tuple(subs),
                custom=True,
                printer_columns=tuple(ver.get("additionalPrinterColumns", []) or []),
                schema=schema,
                singular_name=names.get("singular", "") or names.get("kind", "").lower(),
            )
        )
    return out
