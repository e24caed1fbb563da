"""Redaction: secrets never leave the cluster (not to an AI backend, the knowledge store, logs or git).

Two passes, both pure. `redact_text` masks what looks like a credential in free text (chat turns,
logs, events, AI answers): private keys, cloud access keys, bearer tokens and JWTs, tokens of common
forges and chat tools, `password=...`-style assignments and URLs with passwords. `redact_object`
removes Secret payloads and masks sensitive-looking env values and annotations in Kubernetes
objects. Callers may add known secret values (for example, values read from Secrets by the
controller itself), which are masked wherever they appear.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

MASK = "[REDACTED]"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S), MASK),
    (re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"), MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"), MASK),
    (re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,})\b"), MASK),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"), MASK),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{20,}\b"), MASK),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{16,}"), r"\1 " + MASK),
    (re.compile(r"(?i)(://[^/\s:@]+:)[^@\s/]+(@)"), r"\1" + MASK + r"\2"),
    (re.compile(r"(?i)\b((?:[a-z_]*_)?(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|"
                r"client[_-]?secret|private[_-]?key)\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|\S+)"), r"\1" + MASK),
    (re.compile(r"(?i)(AccountKey=)[^;\s]+"), r"\1" + MASK),
]

_SENSITIVE_NAME = re.compile(r"(?i)(password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|"
                             r"credential|auth)")


def redact_text(text: str, known_secrets: Iterable[str] = ()) -> str:
    """Mask credentials in free text. Known secret values (≥ 4 characters) are masked verbatim."""
    out = text
    for secret in sorted({s for s in known_secrets if s and len(s) >= 4}, key=len, reverse=True):
        out = out.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        out = pattern.sub(replacement, out)
    return out


def _redact_env(containers: list[dict[str, Any]]) -> None:
    for container in containers:
        for env in container.get("env") or []:
            if "value" in env and _SENSITIVE_NAME.search(str(env.get("name", ""))):
                env["value"] = MASK


def redact_object(obj: dict[str, Any], known_secrets: Iterable[str] = ()) -> dict[str, Any]:
    """A copy of a Kubernetes object that is safe to show, store, send or commit."""
    out = copy.deepcopy(obj)
    if out.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if field in out:
                out[field] = {key: MASK for key in out[field] or {}}
    meta = out.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    if out.get("kind") == "Secret":
        annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    for key in list(annotations):
        if _SENSITIVE_NAME.search(key):
            annotations[key] = MASK
    spec = out.get("spec") or {}
    pod_spec = spec.get("template", {}).get("spec") if isinstance(spec.get("template"), dict) else spec
    if isinstance(pod_spec, dict):
        _redact_env(pod_spec.get("containers") or [])
        _redact_env(pod_spec.get("initContainers") or [])
    redacted: dict[str, Any] = redact_value(out, known_secrets)
    return redacted


def redact_value(value: Any, known_secrets: Iterable[str] = ()) -> Any:
    """Apply `redact_text` to every string inside a JSON-like value."""
    secrets = list(known_secrets)
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, list):
        return [redact_value(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v, secrets) for k, v in value.items()}
    return value
