"""Held-out check of chat redaction (issue 13 §7): phrasings written without reading the patterns.

redaction_corpus.yaml was written together with the patterns (a tuning set); redaction_heldout.yaml
was written afterwards by someone who had not read controller/redact.py, and committed before it was
scored. Each row is its own test: a secret must disappear and leave a mask, an ordinary request must
come through unchanged. Rows the patterns miss are listed in `KNOWN_MISSES` (strict xfail: a fixed miss
fails until it is taken off the list and the README's figure is updated).
Run with -s to print the figures the README reports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.redact import MASK, redact_text

HELDOUT: dict[str, Any] = yaml.safe_load(
    Path(__file__).with_name("redaction_heldout.yaml").read_text(encoding="utf-8"))

# The first score was 6/15 secrets masked, 0/15 ordinary requests changed (9 misses: "pw is X", "login is
# admin / X", "user mailer, pass X", "changed the password to X", "Basic X" without "Authorization:", a
# quoted passphrase after "passphrase:", "the secret's value is X", the line after "password below:", "log
# in as admin with X"). The patterns were then fixed for those phrasings (15/15, 0/15; the tuning corpus
# unchanged), so this set is no longer held out: the next change needs new phrasings. No miss is left.
KNOWN_MISSES: frozenset[str] = frozenset()


def _masked(row: dict[str, Any]) -> bool:
    out = redact_text(row["text"])
    return str(row["secret"]) not in out and MASK in out


def test_the_figures() -> None:
    """Prints the held-out figures; the rows below are the checks."""
    masked = sum(_masked(r) for r in HELDOUT["secrets"])
    changed = [t for t in HELDOUT["ordinary"] if redact_text(t) != t]
    print(f"\nredaction held-out: {masked}/{len(HELDOUT['secrets'])} secrets masked, "
          f"{len(changed)}/{len(HELDOUT['ordinary'])} ordinary requests changed: {changed}")
    assert len(HELDOUT["secrets"]) == len(HELDOUT["ordinary"]) == 15


@pytest.mark.parametrize("row", [
    pytest.param(r, id=str(r["secret"]), marks=[pytest.mark.xfail(strict=True, reason="missed at the first score")]
                 if str(r["secret"]) in KNOWN_MISSES else [])
    for r in HELDOUT["secrets"]])
def test_a_held_out_secret_is_masked(row: dict[str, Any]) -> None:
    assert _masked(row), redact_text(row["text"])


@pytest.mark.parametrize("text", HELDOUT["ordinary"])
def test_a_held_out_ordinary_request_is_untouched(text: str) -> None:
    assert redact_text(text) == text
