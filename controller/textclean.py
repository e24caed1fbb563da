"""Input hygiene for what people type: no control characters, ANSI escapes or bidi overrides.

Why: a turn is shown in terminals (`aiop chat show`, `kubectl get -o yaml`), in the UI and in pull
requests, and read by planners. An ANSI escape (`\\x1b[31m`) there can repaint a terminal or, worse,
be read by a planner as text ("cpu=31m"); a bidi override can make a plan read differently from
what it does. So before planning and display the text keeps its printable characters, newlines and
tabs, and nothing else. Pure: used by the engine, the CLI and the UI alike.
"""

from __future__ import annotations

import re
import unicodedata

# CSI (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC \\), and two-character ESC sequences.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]")
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_KEEP = frozenset("\n\t")


def clean_text(text: str) -> str:
    """The text without escape sequences, control characters (but newline and tab) and bidi controls."""
    text = _ANSI.sub("", text)
    return "".join(ch for ch in text
                   if ch in _KEEP or (ch not in _BIDI and unicodedata.category(ch) not in {"Cc", "Cf", "Cs"}))


def is_clean(text: str) -> bool:
    return clean_text(text) == text
