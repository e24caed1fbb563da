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

# Words that follow "password is" without being the password ("the password is stored in ...").
_NOT_A_VALUE = (r"(?:(?:stored|kept|saved|in|inside|under|from|missing|wrong|incorrect|expired|invalid|empty|not|set|"
                r"rotated|correct|the|a|an|named|called|located|there|fine|ok|okay|unknown|required|needed|changed|"
                r"same|different|reset|being|also|still|now|too|my|our|your|their|its|this|that|what|which|where|"
                r"redacted|\[redacted\])(?=\s|$|[,.;!?]))")
_SECRET_WORD = (r"(?:password|passwd|pwd|pw|passphrase|pass ?code|secret(?: key)?|client secret|api[ _-]?key|apikey|"
                r"access[ _-]?key|secret[ _-]access[ _-]key|auth[ _-]?token|access[ _-]?token|token|pin|credentials?)")

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # private keys, whole or cut off
    (re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----|.*)", re.S), MASK),
    # cloud and forge tokens with a recognisable shape
    (re.compile(r"\b(AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b"), MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"), MASK),
    (re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|"
                r"gl(?:pat|dt|rt|ptt|cbt|soat|oas|ft|imt|agent)-[A-Za-z0-9_-]{20,}|GR1348941[A-Za-z0-9_-]{20,})\b"), MASK),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"), MASK),
    (re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}\b|\bsk-[A-Za-z0-9_-]{20,}\b"), MASK),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b|\bnpm_[A-Za-z0-9]{36}\b|\bSG\.[\w-]{16,}\.[\w-]{16,}\b"), MASK),
    # HTTP credentials
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{16,}"), r"\1 " + MASK),
    (re.compile(r"(?i)\b(authorization\s*:\s*basic)\s+[A-Za-z0-9+/=]{8,}"), r"\1 " + MASK),
    (re.compile(r"(?i)\b(basic)\s+(?=[A-Za-z0-9+/]*[0-9+/])[A-Za-z0-9+/]{12,}={0,2}(?![\w+/=])"), r"\1 " + MASK),
    # URLs and connection strings with credentials
    (re.compile(r"(?i)(://[^/\s:@]*:)[^@\s]+(@)"), r"\1" + MASK + r"\2"),
    (re.compile(r"(?i)([?&;](?:sig|password|pwd|token|secret|key)=)[^&;\s]+"), r"\1" + MASK),
    (re.compile(r"(?i)(AccountKey=|SharedAccessKey=)[^;\s]+"), r"\1" + MASK),
    # command-line flags
    (re.compile(r"(?i)((?<!\S)--?(?:password|passwd|pass|token|secret|api-key|access-key)(?:=|\s+))(?!-)(\S+)"), r"\1" + MASK),
    # key = value assignments (env files, YAML, connection strings)
    (re.compile(r"(?i)\b((?:[a-z0-9_]*_)?(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|"
                r"client[_-]?secret|private[_-]?key|auth)\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s;,]+)"), r"\1" + MASK),
    # plain words: "the db password is hunter2", "my token: abc", "use hunter2 as the password"
    (re.compile(rf"(?i)\b({_SECRET_WORD}(?:'s\s+value)?(?:\s+(?:for|of|to)\s+(?:the\s+)?(?:[\w.@-]+\s+){{0,2}}?[\w.@-]+)?"
                rf"(?:\s+(?:is|was|will be|should be|are|=|:|equals|set to|reads)|\s*:)\s+)(?!{_NOT_A_VALUE})(\"[^\"]+\"|'[^']+'|\S+?(?=[,.;!?]?(?:\s|$)))"),
     r"\1" + MASK),
    (re.compile(rf"(?i)\b(use|using|with|try)\s+(?!{_NOT_A_VALUE})(\"[^\"]+\"|'[^']+'|\S+)(\s+as\s+(?:the\s+|my\s+|our\s+|a\s+)?"
                rf"(?:\w+\s+)?{_SECRET_WORD})\b"), r"\1 " + MASK + r"\3"),
    # "changed the password to X", "the password below:" and the value on the next line
    (re.compile(rf"(?i)\b((?:changed|set|reset|updated?)\s+(?:the\s+|my\s+|our\s+|its\s+)?(?:[\w-]+\s+)?{_SECRET_WORD}"
                rf"\s+to\s+)(?!{_NOT_A_VALUE})(\"[^\"]+\"|'[^']+'|\S+?(?=[,.;!?]?(?:\s|$)))"), r"\1" + MASK),
    (re.compile(rf"(?i)\b({_SECRET_WORD}\s+(?:below|follows|here)\s*:?\s*)(\S+)"), r"\1" + MASK),
    # user and password pairs: "login is admin / X", "user mailer, pass X", "log in as admin with X"
    (re.compile(r"(?i)\b((?:login|logon|creds|credentials?)\b[^\n/]{0,20}?[\w.@-]+\s*/\s*)(\S+)"), r"\1" + MASK),
    (re.compile(r"(?i)\b(user(?:name)?\s+[\w.@-]+\s*,?\s*(?:pass|password|pw|pwd)\s*:?\s+)(\S+)"), r"\1" + MASK),
    (re.compile(r"(?i)\b(log\s?(?:in|on)\b[^.\n]{0,40}?\bas\s+[\w.@-]+\s+with\s+)(\S+)"), r"\1" + MASK),
    # a bare 40-character AWS secret access key (upper, lower and digits; not a hex commit id)
    (re.compile(r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=]))(?=[^\s]*[A-Z])(?=[^\s]*[a-z])(?=[^\s]*[0-9])"
                r"[A-Za-z0-9/+]{40}"), MASK),
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
