"""Kubernetes value semantics for comparing objects: quantities by value, named list items by key.

Used wherever "does the live object contain what we expect?" is asked: verifying a sync and
checking an eval's end state. Values compare as Kubernetes serializes them: `1Gi` == `1024Mi`,
`10` == `"10"`, `250m` == `0.25`; a list matches item by item (same length), except lists of named
things (containers, env, ports, volumes...), which match by name or port wherever they are.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

KEYED_LISTS = {"containers": ("name",), "initContainers": ("name",), "env": ("name",),
               "ports": ("name", "containerPort", "port"),
               "volumes": ("name",), "volumeMounts": ("mountPath",), "imagePullSecrets": ("name",)}

_SUFFIX: dict[str, Decimal | int] = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
           "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1, "k": 10**3, "M": 10**6,
           "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$")


def quantity(value: Any) -> Decimal | None:
    """The numeric value of a Kubernetes quantity (or plain number), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    match = _QUANTITY.match(str(value).strip())
    if not match:
        return None
    number, suffix = match.group(1), match.group(2) or ""
    try:
        base = Decimal(number)
    except InvalidOperation:
        return None
    if suffix[:1] in {"e", "E"} and len(suffix) > 1:
        return base * (Decimal(10) ** int(suffix[1:]))
    return base * Decimal(_SUFFIX[suffix])


def scalar_equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return bool(expected == actual)
    if expected == actual:
        return True
    q1, q2 = quantity(expected), quantity(actual)
    return q1 is not None and q2 is not None and q1 == q2


def subset_mismatch(expected: Any, actual: Any, path: str = "", field: str = "") -> str:
    """'' when `expected` is contained in `actual`, else the path of the first difference."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path or '.'}: expected an object, found {json.dumps(actual)[:80]}"
        for key, value in expected.items():
            problem = subset_mismatch(value, actual.get(key), f"{path}.{key}", key)
            if problem:
                return problem
        return ""
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{path}: expected a list, found {json.dumps(actual)[:80]}"
        if field in KEYED_LISTS and all(isinstance(i, dict) for i in expected):
            return _keyed_mismatch(expected, actual, path, KEYED_LISTS[field])
        if len(expected) != len(actual):
            return f"{path}: expected {len(expected)} items, found {len(actual)}"
        for index, (exp, act) in enumerate(zip(expected, actual, strict=True)):
            problem = subset_mismatch(exp, act, f"{path}[{index}]")
            if problem:
                return problem
        return ""
    if not scalar_equal(expected, actual):
        return f"{path}: expected {expected!r}, found {actual!r}"
    return ""


def _keyed_mismatch(expected: list[dict[str, Any]], actual: list[Any], path: str, keys: tuple[str, ...]) -> str:
    for index, item in enumerate(expected):
        key = next((k for k in keys if k in item), None)
        if key is None:
            candidates = actual[index:index + 1]
        else:
            candidates = [a for a in actual if isinstance(a, dict) and scalar_equal(item[key], a.get(key))]
        if not candidates:
            return f"{path}[{index}]: no item with {key}={item.get(key)!r}" if key else f"{path}[{index}]: missing"
        problem = subset_mismatch(item, candidates[0], f"{path}[{key}={item.get(key)}]" if key else path)
        if problem:
            return problem
    return ""


def project(live: Any, shape: Any, field: str = "") -> Any:
    """The part of `live` at the paths `shape` names (keyed lists matched by name), for fingerprints.

    Why: a plan records the state of each target *in the fields it changes*, so that a change to one of
    those fields (someone scaled the Deployment) makes the plan stale, while unrelated churn (status,
    resourceVersion, another container's image) does not.
    """
    if isinstance(shape, dict):
        source = live if isinstance(live, dict) else {}
        return {key: project(source.get(key), sub, key) for key, sub in sorted(shape.items())}
    if isinstance(shape, list):
        items = live if isinstance(live, list) else []
        if field in KEYED_LISTS and all(isinstance(i, dict) for i in shape):
            out = []
            for item in shape:
                key = next((k for k in KEYED_LISTS[field] if k in item), None)
                match = next((a for a in items if key and isinstance(a, dict)
                              and scalar_equal(item[key], a.get(key))), None)
                out.append(project(match, item))
            return out
        return items  # an atomic list: all of it
    if isinstance(live, dict | list):
        return live
    q = quantity(live) if isinstance(live, str) else None
    return str(q.normalize()) if q is not None and not isinstance(live, bool) else live


def fingerprint(live: dict[str, Any] | None, shape: dict[str, Any] | None) -> str:
    """sha256 of the projection of `live` onto `shape` (its whole spec/data when no shape); 'absent'."""
    import hashlib

    if live is None:
        return "absent"
    if shape is None:
        view: Any = {k: v for k, v in live.items() if k not in ("metadata", "status", "apiVersion", "kind")}
    else:
        view = project(live, shape)
    return "sha256:" + hashlib.sha256(json.dumps(view, sort_keys=True, default=str).encode()).hexdigest()
