"""Render one manifest from a jinja2 template into a plain dict.

Why templates at all: a reviewer can read the shape of every object the operator may write in
`renderer/templates/` without reading Python, as Helm users read a chart.

Why `| tojson` on every value: the values come from an AI backend's parameters and from the live
cluster, i.e. from untrusted text. JSON is valid YAML, and a JSON string literal cannot end a line
or open a new key, so a value such as `"x\\nkind: Secret"` stays one string. The test suite checks
that every `{{ ... }}` in every template ends with `| tojson`; the environment also refuses
undefined variables, so a typo in a template is an error rather than an empty field.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2
from ruamel.yaml import YAML

TEMPLATES_DIR = Path(__file__).parent / "templates"
SUFFIX = ".yaml.j2"


class RenderError(ValueError):
    """A template is missing, or did not produce one Kubernetes object."""


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def template_names() -> list[str]:
    """The templates shipped, without the `.yaml.j2` suffix, sorted."""
    return sorted(p.name[: -len(SUFFIX)] for p in TEMPLATES_DIR.glob(f"*{SUFFIX}"))


def render_text(template: str, /, **context: Any) -> str:
    """The YAML text a template produces (for debugging and the injection tests)."""
    name = template if template.endswith(SUFFIX) else template + SUFFIX
    try:
        tpl = _environment().get_template(name)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"no template {name!r}; known: {', '.join(template_names())}") from exc
    try:
        return tpl.render(**context)
    except jinja2.UndefinedError as exc:
        raise RenderError(f"template {name!r}: {exc.message}") from exc
    except TypeError as exc:  # `undefined | tojson`, or a value JSON cannot represent
        raise RenderError(f"template {name!r}: a value is undefined or not serializable ({exc})") from exc


def render_manifest(template: str, /, **context: Any) -> dict[str, Any]:
    """Render `template` (name with or without `.yaml.j2`) and parse it as one object.

    Parsed with ruamel's safe loader, so the result holds only dicts, lists and scalars.
    """
    text = render_text(template, **context)
    loaded = YAML(typ="safe", pure=True).load(text)
    if not isinstance(loaded, dict) or "apiVersion" not in loaded or "kind" not in loaded:
        raise RenderError(f"template {template!r} did not render one Kubernetes object")
    plain: dict[str, Any] = _plain(loaded)
    return plain


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
