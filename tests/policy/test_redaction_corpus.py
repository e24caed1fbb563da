"""The redaction corpus (issue 13 §7): every secret a person may type disappears, ordinary requests survive.

The corpus (redaction_corpus.yaml) has 50+ phrasings: "password is X", `passwd=`, connection strings with
credentials, AWS access keys, GitHub/GitLab tokens, JWTs, private keys, bearer tokens and other vendors'
tokens; and ordinary requests with image tags, digests, UUID-named objects, commit ids and secret *names*.
The figures (secrets masked, ordinary requests changed) are printed for the README.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from controller.redact import MASK, redact_text

CORPUS: dict[str, Any] = yaml.safe_load(Path(__file__).with_name("redaction_corpus.yaml").read_text(encoding="utf-8"))


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS["secrets"]) >= 50 and len(CORPUS["ordinary"]) >= 50


def test_every_secret_is_masked() -> None:
    """No secret of the corpus survives redaction, and each leaves a mask where it was."""
    leaked = []
    for row in CORPUS["secrets"]:
        out = redact_text(row["text"])
        if str(row["secret"]) in out or MASK not in out:
            leaked.append((row["text"], out))
    print(f"\nredaction corpus: {len(CORPUS['secrets']) - len(leaked)}/{len(CORPUS['secrets'])} secrets masked")
    assert leaked == []


def test_ordinary_requests_are_untouched() -> None:
    """False positives: ordinary requests (image tags, digests, UUIDs, secret names) that redaction changed."""
    changed = [(t, redact_text(t)) for t in CORPUS["ordinary"] if redact_text(t) != t]
    print(f"\nredaction corpus: {len(changed)}/{len(CORPUS['ordinary'])} ordinary requests changed: {changed}")
    assert changed == []


def test_the_text_around_a_secret_stays() -> None:
    """Only the value goes: the person can still read what they asked."""
    assert redact_text("our db password is hunter2, can you put it in the config?") == \
        f"our db password is {MASK}, can you put it in the config?"
