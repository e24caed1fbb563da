"""YAML output with a stable key order, so that committed files are reviewable and golden-testable.

Why not `yaml.safe_dump(sort_keys=True)`: a manifest sorted alphabetically puts `apiVersion` after
`metadata` and `spec` after `status`, which no one reading a pull request expects. The order here is
the one kubectl users know (apiVersion, kind, metadata, spec...), and it is a pure function of the
data, so the same plan always produces the same bytes and a commit is never made twice.

Why the extra quoting: the consumers of these files (kubectl, Argo CD, Flux, kustomize) parse YAML
with Go libraries that follow YAML 1.1, where `yes`, `on`, `off`, `y` and `1:20` are not strings.
ruamel.yaml writes YAML 1.2 and would leave them bare, so a ConfigMap value "on" would become `true`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString, SingleQuotedScalarString

# Top-level keys of a Kubernetes object, in the order people read them; the rest alphabetically.
TOP_ORDER: tuple[str, ...] = (
    "apiVersion", "kind", "metadata", "spec", "data", "stringData", "binaryData", "type",
    "rules", "roleRef", "subjects", "resources",
)
METADATA_ORDER: tuple[str, ...] = ("name", "namespace", "labels", "annotations")
# Inside nested mappings: identity first (containers' `name`, scaleTargetRef's apiVersion/kind/name).
NESTED_ORDER: tuple[str, ...] = ("apiVersion", "kind", "name", "namespace")

# Plain scalars that a YAML 1.1 parser would not read back as the same string.
_YAML11_SPECIAL = re.compile(
    r"""^(?:
        y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF
      | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?   # sexagesimal 1:20
      | [-+]?0b[01_]+
      | [-+]?[0-9][0-9_]*_[0-9_]*                          # 1_000
      | =
    )$""",
    re.VERBOSE,
)


def _ordered_keys(keys: list[str], first: Sequence[str]) -> list[str]:
    head = [k for k in first if k in keys]
    return head + sorted(k for k in keys if k not in first)


def _scalar(value: Any) -> Any:
    if isinstance(value, str):
        if "\n" in value and not value.startswith((" ", "\t")) and "\r" not in value:
            # Block style keeps multi-line values (config files, runbooks) readable in a diff.
            return LiteralScalarString(value)
        if _YAML11_SPECIAL.match(value):
            return SingleQuotedScalarString(value)
    return value


def ordered(obj: Any, _path: tuple[str, ...] = ()) -> Any:
    """A copy of `obj` with mappings re-ordered (plain dicts and lists only, no ruamel types)."""
    if isinstance(obj, Mapping):
        keys = [str(k) for k in obj]
        if not _path:
            order = _ordered_keys(keys, TOP_ORDER)
        elif _path == ("metadata",):
            order = _ordered_keys(keys, METADATA_ORDER)
        elif _path[-1] in ("labels", "annotations", "data", "matchLabels", "selector", "hard"):
            order = sorted(keys)
        else:
            order = _ordered_keys(keys, NESTED_ORDER)
        return {k: ordered(obj[k], (*_path, k)) for k in order}
    if isinstance(obj, list | tuple):
        return [ordered(item, (*_path, "[]")) for item in obj]
    return obj


def _styled(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _styled(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_styled(v) for v in obj]
    return _scalar(obj)


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.default_flow_style = False
    yaml.indent(mapping=2, sequence=2, offset=0)
    yaml.width = 4096
    yaml.allow_unicode = True
    return yaml


def dump_yaml(obj: Any) -> str:
    """`obj` as YAML, keys in the stable order described above; the same input gives the same bytes."""
    stream = io.StringIO()
    _yaml().dump(_styled(ordered(obj)), stream)
    return stream.getvalue()


def dump_yaml_all(objs: Sequence[Any]) -> str:
    """Several documents separated by `---`."""
    return "---\n".join(dump_yaml(o) for o in objs)
