"""Kubernetes resource quantities (`250m`, `1.5`, `128Mi`, `1G`, `1e3`) as numbers.

Why: the scheduler adds up requests against node allocatable, the kubelet compares a container's
memory with its limit, PVC sizes are compared with PV capacities, and each must read quantities
exactly as the API server does (binary suffixes are powers of 1024, decimal ones of 1000, `m` is
a thousandth). Formatting goes back the same way for the values the sandbox writes.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$")


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""


def parse(value: Any) -> Decimal:
    """The value of a quantity (`"128Mi"` -> 134217728, `"250m"` -> 0.25); raises QuantityError."""
    if isinstance(value, bool):
        raise QuantityError(f"quantities must match the regular expression: {value!r}")
    if isinstance(value, int | float):
        return Decimal(str(value))
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise QuantityError(
            f"quantities must match the regular expression "
            f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {text!r}"
        )
    number, exponent, suffix = match.groups()
    try:
        base = Decimal(number)
        if exponent:
            return base * (Decimal(10) ** int(exponent[1:]))
        return base * _SUFFIXES[suffix or ""]
    except InvalidOperation as exc:
        raise QuantityError(f"invalid quantity {text!r}") from exc


def millicores(value: Any) -> int:
    """CPU in millicores (`"1"` -> 1000, `"250m"` -> 250), rounded up like the API server."""
    return int((parse(value) * 1000).to_integral_value(rounding="ROUND_CEILING"))


def to_bytes(value: Any) -> int:
    return int(parse(value).to_integral_value(rounding="ROUND_CEILING"))


def mib(value: Any) -> float:
    return float(parse(value) / _SUFFIXES["Mi"])


def format_bytes(n: int) -> str:
    """Bytes in the largest binary suffix that divides them exactly (`1073741824` -> `1Gi`)."""
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = int(_SUFFIXES[suffix])
        if n and n % unit == 0:
            return f"{n // unit}{suffix}"
    return str(n)


def format_millicores(m: int) -> str:
    return str(m // 1000) if m % 1000 == 0 else f"{m}m"
