"""Which past threads a request names ("do what shop-scale-web did", "like in thread abc123").

Why the engine reads this before planning: the knowledge search ranks by words and meaning, so in a
large central store the thread a person names is often not among the few hits a planner is given
(a request like "do what X did, for api" shares almost no words with X). A named thread is fetched
by its id and handed to the planner with the search hits, whatever backend plans.

Only referring phrasings count (after "thread", before "did"), so an ordinary object name is not
looked up as a thread; a candidate that is no thread id costs one primary-key lookup and is dropped.
Pure: text in, candidate ids out.
"""

from __future__ import annotations

import re

_ID = r"[#\"'`]?([A-Za-z0-9][A-Za-z0-9._:-]*[A-Za-z0-9])"
_REFERRING = [
    re.compile(rf"\bthreads?\s+(?:id\s+)?{_ID}", re.IGNORECASE),  # "thread abc123", "in thread `x`"
    re.compile(rf"\b(?:what|like|as)\s+{_ID}[\"'`]?\s+(?:did|does|has done|had done)\b", re.IGNORECASE),
    re.compile(rf"\b(?:same\s+as|like\s+in|as\s+in)\s+{_ID}", re.IGNORECASE),  # "same as X", "like in X"
]
_NOT_AN_ID = frozenset({"thread", "threads", "the", "that", "this", "last", "before", "you", "we", "i", "it",
                        "they", "he", "she", "someone", "id"})
MAX_REFERENCES = 3


def referenced_threads(text: str) -> list[str]:
    """Thread ids the text refers to, in order, at most `MAX_REFERENCES` (as typed; ids are matched exactly)."""
    found: dict[str, None] = {}
    for pattern in _REFERRING:
        for match in pattern.finditer(text):
            candidate = match.group(1).rstrip(".:")
            if candidate.lower() not in _NOT_AN_ID:
                found[candidate] = None
    return list(found)[:MAX_REFERENCES]
