"""Prompt-injection and impersonation phrasing: detect it, report it, and cut it out of the request.

Why: identity comes from the API server and rules come from policy, never from the text. A request
that says "ignore previous instructions" or "as user bob" is still a request, and what it asks for is
extracted exactly as if those words were absent; the words themselves only become a finding
("suspicious: ...") so the controller can alert admins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# (pattern, why) - the pattern spans the whole manipulative clause so that it can be removed.
_RULES: list[tuple[str, str]] = [
    (r"\b(?:please\s+)?(?:ignore|disregard|forget|override|bypass|skip)\s+(?:all\s+|any\s+|the\s+|your\s+|my\s+)*"
     r"(?:previous|prior|earlier|above|preceding|former|existing|system|safety|security)?\s*"
     r"(?:instructions?|rules?|prompts?|guidelines?|polic(?:y|ies)|guardrails?|restrictions?|checks?|approvals?|constraints?)"
     r"(?:\s+(?:steps?|process|flow|gates?))?"
     r"(?:\s+(?:and|or)\s+(?:rules?|guidelines?|polic(?:y|ies)|restrictions?))?[.!:;,]?",
     "tries to override the operator's instructions"),
    (r"\byou\s+are\s+(?:now\s+)?(?:in\s+)?(?:an?\s+)?(?:admin|administrator|root|god|developer|dev|unrestricted|sudo|"
     r"superuser|jailbreak|dan|privileged|maintenance|debug)(?:\s*(?:mode|user|assistant|account))?"
     r"(?:\s+with\s+(?:full|all|unrestricted)\s+(?:access|rights|permissions|privileges))?[.!:;,]?",
     "tries to switch the assistant into a privileged mode"),
    (r"\b(?:system|admin|security|safety)\s+override\b[.!:;,]?|\bnew instructions(?:\s+follow)?\b[.!:;,]?"
     r"|\bfrom now on,?\s+you\s+(?:will|must|are)\b[^.!:;]*[.!:;]?", "tries to override the operator's instructions"),
    (r"\b(?:previous|prior|earlier|all|the|your|these|those|usual|normal)\s+(?:rules|instructions|restrictions|guidelines|"
     r"policies|limits)\s+(?:no longer apply|are (?:void|cancelled|canceled|lifted|suspended|disabled|off)|"
     r"(?:don't|do not) apply(?: anymore)?)[.!:;,]?", "tries to override the operator's instructions"),
    (r"^\s*[\[(<]\s*(?:system|admin|developer|root)\s*[\])>]\s*:?|^\s*(?:system|developer)\s*:",
     "poses as a system or developer message"),
    (r"\bjailbreak\w*\b[.!:;,]?|\bdo anything now\b", "tries to switch the assistant into a privileged mode"),
    (r"\byou\s+(?:now\s+)?have\s+(?:full\s+|unrestricted\s+|elevated\s+)?(?:root|admin|administrator|cluster-admin|sudo|"
     r"full|unrestricted|elevated|god)\s+(?:access|rights|privileges|permissions|mode)(?:\s+now)?[.!:;,]?"
     r"|\byou\s+(?:may|can|are allowed to|are permitted to)\s+now\s+(?=read|access|delete|bypass|ignore|do anything|"
     r"run anything|execute|reveal|see secrets)", "tries to grant the assistant privileges"),
    (r"^\s*(?:admin|administrator|root|cluster[- ]admin|your (?:admin|owner|creator))\s+here\b[.!:;,]?",
     "claims a privileged identity"),
    (r"\bact\s+(?:like|as if you were|as though you were)\s+(?:an?\s+|the\s+)?(?:[\w-]+\s+){0,2}?"
     r"(?:admin|administrator|root|superuser|owner)\b[.!:;,]?", "tries to act as another identity"),
    (r"\b(?:enter|enable|activate|switch to|turn on)\s+(?:admin|god|developer|sudo|root|unrestricted|jailbreak|dan)\s+"
     r"mode\b[.!:;]?", "tries to switch the assistant into a privileged mode"),
    (r"\b(?:act|acting|pretend(?:ing)?|speak(?:ing)?|(?:do|run|execute|perform) (?:this|it|that))\s+(?:to be\s+|you are\s+)?"
     r"(?:as|on behalf of)\s+(?:the\s+)?(?:user\s+|admin\s+|administrator\s+)?[\w.@-]+", "tries to act as another identity"),
    (r"(?<!running )(?<!runs )(?<!run )(?<!running processes )\bas\s+(?:the\s+)?(?:user|admin|administrator|cluster[- ]admin|superuser|system:[\w:-]+)\b(?:\s+[\w.@-]+@[\w.-]+|"
     r"\s+(?!to\b|in\b|on\b|and\b)[a-z][\w.-]*)?", "tries to act as another identity"),
    (r"\bi\s*(?:am|'m)\s+(?:the\s+|an?\s+)?(?:admin|administrator|cluster[- ]admin|root|superuser|owner|boss|cto|sre lead)\b"
     r"[.!:;,]?", "claims a privileged identity"),
    (r"\bpretend(?:ing)?\s+(?:to be|you(?:'re| are)|that you(?:'re| are)|i(?:'m| am)|that i(?:'m| am))\s+(?:the\s+|an?\s+)?(?:user\s+)?[\w.@-]+"
     r"[.!:;,]?", "tries to act as another identity"),
    (r"\bon behalf of\s+(?:the\s+)?(?:user\s+)?[\w.@-]+[.!:;,]?", "tries to act as another identity"),
    (r"\b(?:log(?:ged)?\s*in|sign(?:ed)?\s*in|switch(?:ing)?\s+(?:user\s+)?to|su)\s+as\s+[\w.@-]+[.!:;,]?"
     r"|\b(?:my|the)\s+(?:user(?:name)?|identity)\s+is\s+[\w.@-]+[.!:;,]?"
     r"|\bi\s*(?:am|'m)\s+(?:actually\s+|really\s+)?(?:user\s+)?[\w.-]+@[\w.-]+[.!:;,]?",
     "tries to act as another identity"),
    (r"\b(?:impersonat\w+|sudo|with cluster-admin|grant (?:me|myself)\s+[\w-]+|make me (?:an? )?admin|"
     r"escalate (?:my )?privileges?)\b", "tries to escalate privileges"),
    (r"\b(?:no|without)\s+(?:need (?:for|of)\s+)?(?:approval|review|confirmation|asking)"
     r"(?:\s+(?:needed|required|necessary|first))?[.!:;,]?",
     "tries to skip approval"),
    (r"\b(?:reveal|show|print|repeat|change|rewrite)\s+(?:your|the)\s+(?:system|developer)\s*prompt\b[.!:;,]?", "asks about or rewrites the system prompt"),
]
_COMPILED = [(re.compile(p, re.I), why) for p, why in _RULES]


@dataclass(frozen=True)
class Screened:
    """The request with manipulative clauses removed, and why each was flagged."""

    text: str
    reasons: tuple[str, ...]

    @property
    def findings(self) -> list[str]:
        return [f"suspicious: {why}" for why in self.reasons]


def screen(text: str) -> Screened:
    """Find manipulation phrases; return the text without them (what is left is the real request)."""
    reasons: list[str] = []
    cleaned = text
    for pattern, why in _COMPILED:
        if pattern.search(cleaned):
            if why not in reasons:
                reasons.append(why)
            cleaned = pattern.sub(" ", cleaned)
    cleaned = re.sub(r"\s+", " ", cleaned).strip(" .,:;-")
    cleaned = re.sub(r"^(?:and|then|so|now|also)\s+", "", cleaned, flags=re.I)
    if not re.search(r"[a-zA-Z0-9]", cleaned):
        cleaned = ""
    return Screened(cleaned, tuple(reasons))
