"""Deep copies of stored objects, fast enough for objects of hundreds of KiB.

Why: the sandbox API server hands out and keeps copies, never shared objects (a client or a hook that
changes what it got must not change the store), so every read and write copies whole objects, several
times per write (store, admission, the simulated cluster's controllers). `copy.deepcopy` costs about
30 ms for a 190 KiB conversation, and a 500-turn thread is written several times per turn; a
`marshal` round trip copies the same JSON tree in about 1 ms (measured, tests/sandbox/test_jsoncopy.py
checks it is a real copy). Values marshal cannot write (subclasses, custom objects) fall back to
`copy.deepcopy`, so the result is always what `copy.deepcopy` gives.

Beside the copy, the other JSON-value helpers every layer of the server shares: `identical` (the
same JSON, types included, compared at C speed: the schema walk's and CEL's "unchanged" shortcut),
`strict_loads` (request bodies parsed as the API server parses them) and `compact` (the one encoding
the server writes: responses, watch lines, the size etcd is asked to store).
"""

from __future__ import annotations

import copy
import json
import marshal
from typing import Any, TypeVar, cast

T = TypeVar("T")


def copy_json(value: T) -> T:
    """A deep copy of a JSON-like value (dicts, lists, str, int, float, bool, None)."""
    try:
        copied: T = marshal.loads(marshal.dumps(cast(Any, value)))
    except ValueError:  # something marshal does not know: the general path
        return copy.deepcopy(value)
    return copied


def _not_json(constant: str) -> Any:
    raise ValueError(f"invalid character '{constant[0]}' looking for beginning of value ({constant} is not JSON)")


def strict_loads(raw: bytes | str) -> Any:
    """JSON as the API server reads it: Python's parser also takes NaN and Infinity, which are not JSON
    (Go's decoder refuses them), so an object the sandbox stores never holds a value no CEL or schema
    check of a real cluster could meet, and never one that is unequal to itself."""
    return json.loads(raw, parse_constant=_not_json)


def compact(value: Any) -> str:
    """JSON as the API server writes it: no spaces, non-ASCII escaped (the stored size, every response and
    watch line use this one encoding, so the store's text of a version can be sent as it is)."""
    return json.dumps(value, separators=(",", ":"))


def identical(left: Any, right: Any) -> bool:
    """The same JSON value with every nested type the same too (`==` alone takes 1 for True and for 1.0):
    the `==` answers most differences without a copy, marshal's bytes settle the rest, since it writes
    each type apart. Key order counts, so a False may still be equal JSON (callers then look closer)."""
    if left is right:  # one write's object shares the parts it did not change with the stored one
        return True
    if type(left) is not type(right) or left != right:
        return False
    try:
        return marshal.dumps(left) == marshal.dumps(right)
    except ValueError:
        return False
