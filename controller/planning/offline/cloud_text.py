"""Reading cloud requests: which cloud, which resources, which operation, what kind of request. Pure.

Why separate from the answers: the words decide the route (a review, a troubleshooting question, a
hardening or a grant command, an inventory question), and a wrong route is the planner's worst
failure, so these rules are small regexes tested as a table. Names are grounded in what the cloud
actually holds (a word counts as a bucket only if such a bucket exists), never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

AWS_WORDS = re.compile(r"\b(aws|s3|buckets?|iam|irsa|rds|ebs|ecr|eks|cloudwatch|alarms?|security hub|node ?groups?)\b"
                       r"|s3://")
AZURE_WORDS = re.compile(r"\b(azure|storage accounts?|blobs?|resource groups?|managed identit(y|ies)|role assignments?|"
                         r"aks|node ?pools?|managed disks?|defender|entra|workload identity|acr)\b")
CLOUD_WORDS = re.compile(r"\bcloud\b")

TROUBLE = re.compile(r"\b(can'?t|cannot|can not|unable to|fails? to|failing to|failed to|won'?t|doesn'?t|does not|"
                     r"not able to|not allowed to|no (?:longer )?(?:access|permission))\b|access ?denied|\bforbidden\b|"
                     r"\b403\b|\bdenied\b|imagepullbackoff|errimagepull|\bwhy can'?t\b")
OPERATION = {"write": r"writ\w*|upload\w*|put\w*|sav\w*|stor\w*|push\w*",
             "read": r"read\w*|download\w*|get\w*|fetch\w*|access\w*|see",
             "delete": r"delet\w*|remov\w*",
             "list": r"list\w*"}
REVIEW = re.compile(r"\b(review|audit|scan|findings?|insecure|secure\??|security|exposed|public(?:ly)?|open to|"
                    r"anonymous|(?:not |un)encrypted|encrypted\?|encryption|tls|vulnerab\w*|misconfig\w*|risky?|"
                    r"compliance|hardened\?)\b")
ASK = re.compile(r"^(which|what|is|are|do|does|how|any|list|show|tell|give me|can you (?:check|tell|list|show))\b"
                 r"|\?\s*$")
HARDEN = re.compile(r"\b(enable|turn on|switch on|add|set up|configure|require|enforce|turn off|disable|block|"
                    r"disallow|forbid|remove|close|harden|lock down|encrypt|make \S+ private)\b")
GRANT = re.compile(r"\b(give|grant|allow|let|permit)\b")
IRSA = re.compile(r"\b(create|make|set up|new)\b.{0,40}\b(iam )?role\b.{0,40}\bservice ?accounts?\b"
                  r"|\birsa role\b")
CREATE = re.compile(r"\b(create|make|new|set up|provision|spin up)\b")
# A change of an RDS instance's size or engine (modify-rds-instance): an instance class, storage or an engine version
DB_CLASS = re.compile(r"\b(db\.[a-z0-9]+\.[a-z0-9]+)\b")
DB_STORAGE = re.compile(r"\bstorage\b.{0,30}?\b(\d{2,5})\s*(?:gib|gb|gi|g)\b|\b(\d{2,5})\s*(?:gib|gb|gi|g)\b.{0,20}\bstorage\b")
DB_ENGINE = re.compile(r"\b(?:engine(?: version)?|version|postgres(?:ql)?|mysql|mariadb)\s+(?:to\s+|=\s*)?v?"
                       r"(\d{1,2}(?:\.\d{1,2}){0,2})\b")
MODIFY_DB = re.compile(r"\b(rds|db instances?|database instances?)\b")
LIST = re.compile(r"\b(list|show|which|what|how many|do we have|inventory)\b")

SUBJECTS: dict[str, str] = {
    "bucket": r"\bbuckets?\b|\bs3\b",
    "storage": r"\bstorage accounts?\b|\bblobs?\b",
    "rds": r"\brds\b|\bdatabases?\b|\bdb instances?\b",
    "role": r"\biam\b|\broles?\b",
    "volume": r"\bebs\b|\bvolumes?\b|\bsnapshots?\b",
    "disk": r"\bdisks?\b",
    "alarm": r"\balarms?\b|\bcloudwatch\b",
    "nodes": r"\bnode ?groups?\b|\bnode ?pools?\b",
    "identity": r"\bmanaged identit(?:y|ies)\b|\brole assignments?\b",
    "provider": r"\bsecurity hub\b|\bdefender\b",
}
ASPECTS: dict[str, str] = {
    "encryption": r"encrypt",
    "public": r"public|internet|anonymous|open to|exposed|anyone",
    "tls": r"\btls\b|\bhttps?\b",
    "versioning": r"version",
}


def low(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower().replace("\u2019", "'")).strip()


def clouds(text: str) -> set[str]:
    """The clouds a text is about: {"aws"}, {"azure"}, both, or empty."""
    t = low(text)
    out = set()
    if AWS_WORDS.search(t):
        out.add("aws")
    if AZURE_WORDS.search(t):
        out.add("azure")
    if not out and CLOUD_WORDS.search(t):
        out = {"aws", "azure"}
    return out


def operation(text: str) -> str:
    """write | read | delete | list: what the workload tries to do (write when unsure: the usual complaint)."""
    t = low(text)
    for op in ("write", "delete", "list", "read"):
        if re.search(rf"\b(?:{OPERATION[op]})\b", t):
            return op
    return "write"


def kind(text: str) -> str | None:
    """troubleshoot | review | irsa | grant | modify-db | harden | inventory, or None when it is not a cloud
    request we route."""
    t = low(text)
    if TROUBLE.search(t):
        return "troubleshoot"
    if IRSA.search(t):
        return "irsa"
    asked = bool(ASK.search(t))
    if GRANT.search(t) and not asked and (re.search(r"\b(access|write|read|upload|download|role|permission)", t)
                                          or azure_role(t)):
        return "grant"
    if MODIFY_DB.search(t) and not asked and (DB_CLASS.search(t) or DB_STORAGE.search(t) or DB_ENGINE.search(t)):
        return "modify-db"
    if HARDEN.search(t) and not asked:
        return "harden"
    if REVIEW.search(t):
        return "review"
    if LIST.search(t) or asked:
        return "inventory"
    return None


def subjects(text: str) -> set[str]:
    t = low(text)
    return {name for name, pattern in SUBJECTS.items() if re.search(pattern, t)}


def aspects(text: str) -> set[str]:
    t = low(text)
    return {name for name, pattern in ASPECTS.items() if re.search(pattern, t)}


def named(text: str, known: Iterable[str]) -> list[str]:
    """The known names the text mentions (as words, or in s3:// URLs), in the order they appear."""
    t = low(text)
    hits = []
    for name in known:
        m = re.search(rf"(?<![\w.-]){re.escape(name.lower())}(?![\w-])", t)
        if m:
            hits.append((m.start(), name))
    return [n for _pos, n in sorted(hits)]


def s3_url(text: str) -> str | None:
    m = re.search(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])", low(text))
    return m.group(1) if m else None


def client_id(text: str) -> str | None:
    m = re.search(r"\b([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b", low(text))
    return m.group(1) if m else None


def azure_role(text: str) -> str | None:
    t = low(text)
    for role in ("Storage Blob Data Contributor", "Storage Blob Data Reader", "Storage Account Contributor", "AcrPull",
                 "Contributor", "Reader"):
        if role.lower() in t:
            return role
    return None
