"""Label and field selectors, parsed and matched as the apiserver does.

Why pure and separate: list, watch, deletecollection, Deployments' `spec.selector` and the
simulator all filter objects the same way, and selector syntax is easy to get subtly wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.errors import ApiError, bad_request

Matcher = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Requirement:
    """One term of a label selector: `key op values`."""

    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if self.op == "exists":
            return present
        return not present


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    terms: list[str] = []
    depth = 0
    current = ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += ch
    terms.append(current)
    return [t.strip() for t in terms if t.strip()]


def parse_label_selector(text: str) -> list[Requirement]:
    """Parse `a=b,c!=d,e in (x,y),f notin (z),g,!h`; raises a 400 ApiError on bad syntax."""
    reqs: list[Requirement] = []
    for term in _split_terms(text or ""):
        words = term.split()
        if len(words) >= 2 and words[1] in ("in", "notin"):
            rest = term.split(None, 2)[2] if len(words) > 2 else ""
            rest = rest.strip()
            if not (rest.startswith("(") and rest.endswith(")")):
                raise bad_request(f"unable to parse requirement: found '{rest}', expected: '('")
            values = tuple(v.strip() for v in rest[1:-1].split(",") if v.strip())
            reqs.append(Requirement(words[0], words[1], values))
        elif "!=" in term:
            key, value = term.split("!=", 1)
            reqs.append(Requirement(key.strip(), "!=", (value.strip(),)))
        elif "==" in term:
            key, value = term.split("==", 1)
            reqs.append(Requirement(key.strip(), "=", (value.strip(),)))
        elif "=" in term:
            key, value = term.split("=", 1)
            reqs.append(Requirement(key.strip(), "=", (value.strip(),)))
        elif term.startswith("!"):
            reqs.append(Requirement(term[1:].strip(), "!exists"))
        elif " " in term:
            raise bad_request(f"unable to parse requirement: {term}")
        else:
            reqs.append(Requirement(term, "exists"))
    return reqs


def selector_from_label_selector_object(sel: dict[str, Any]) -> list[Requirement]:
    """Convert a `metav1.LabelSelector` (matchLabels/matchExpressions) into requirements."""
    reqs = [Requirement(k, "=", (str(v),)) for k, v in (sel.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
    for expr in sel.get("matchExpressions") or []:
        reqs.append(
            Requirement(expr["key"], ops.get(expr["operator"], "exists"), tuple(expr.get("values") or ()))
        )
    return reqs


def format_label_selector(reqs: list[Requirement]) -> str:
    parts: list[str] = []
    for r in reqs:
        if r.op in ("=", "!="):
            parts.append(f"{r.key}{r.op}{r.values[0]}")
        elif r.op in ("in", "notin"):
            parts.append(f"{r.key} {r.op} ({','.join(r.values)})")
        elif r.op == "exists":
            parts.append(r.key)
        else:
            parts.append(f"!{r.key}")
    return ",".join(parts)


def labels_match(reqs: list[Requirement], obj: dict[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(r.matches(labels) for r in reqs)


@dataclass(frozen=True)
class FieldTerm:
    path: str
    negate: bool
    value: str


def parse_field_selector(text: str) -> list[FieldTerm]:
    terms: list[FieldTerm] = []
    for term in _split_terms(text or ""):
        if "!=" in term:
            key, value = term.split("!=", 1)
            terms.append(FieldTerm(key.strip(), True, value.strip()))
        elif "==" in term:
            key, value = term.split("==", 1)
            terms.append(FieldTerm(key.strip(), False, value.strip()))
        elif "=" in term:
            key, value = term.split("=", 1)
            terms.append(FieldTerm(key.strip(), False, value.strip()))
        else:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
    return terms


def field_value(obj: dict[str, Any], path: str) -> str:
    """The string value of a dotted field path (`metadata.name`, `involvedObject.kind`); "" when absent."""
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def fields_match(terms: list[FieldTerm], obj: dict[str, Any]) -> bool:
    for t in terms:
        equal = field_value(obj, t.path) == t.value
        if equal == t.negate:
            return False
    return True


def make_matcher(label_selector: str | None, field_selector: str | None) -> Matcher:
    """One predicate for both selectors; raises ApiError (400) on syntax errors."""
    try:
        labels = parse_label_selector(label_selector or "")
        fields = parse_field_selector(field_selector or "")
    except ApiError:
        raise

    def match(obj: dict[str, Any]) -> bool:
        return labels_match(labels, obj) and fields_match(fields, obj)

    return match
