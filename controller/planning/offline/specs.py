"""Pure extraction of what new objects are made of: commands, schedules, hosts, paths, sizes, classes,
env vars, identities, RBAC rules, relative amounts.

Why apart from `extract`: these values belong to the everyday actions of issue 13 (Ingress, CronJob,
PVC, env, RBAC...), each with its own spelling rules ("every day at 02:30" is `30 2 * * *`; a command
in backticks is split like a shell would; "RWX" is ReadWriteMany). Like `extract`, every function
takes one text and returns plain values, or None when the text does not say.
"""

from __future__ import annotations

import re
import shlex

from controller.planning.offline.extract import NUMBER, normalise, to_int

# ---------------------------------------------------------------- commands


def command(text: str) -> list[str] | None:
    """The command of a container: `in backticks`, "quoted" after command/running/runs, or after "command"."""
    raw = normalise(text)
    m = re.search(r"`([^`]+)`", raw)
    if m is None:
        m = re.search(r"\b(?:command|cmd|running|runs|run|that runs|executing|execute)\s*:?\s*[\"']([^\"']+)[\"']", raw,
                      re.I)
    if m is None:
        m = re.search(r"\b(?:with (?:the )?command|command\s*:|cmd\s*:)\s+(.+?)(?:\s*(?:[,;]|\.\s|\.$|\band\b|$))",
                      raw, re.I)
    if m is None:
        return None
    try:
        words = shlex.split(m.group(1))
    except ValueError:
        words = m.group(1).split()
    return words or None


# ---------------------------------------------------------------- schedules

_DAYS = {"sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6}


def _clock(low: str) -> tuple[int, int] | None:
    """(hour, minute) of "at 02:30", "23:15", "8am", "at 7 pm", "at midnight", "at noon"."""
    if re.search(r"\bmidnight\b", low):
        return 0, 0
    if re.search(r"\bnoon\b|\bmidday\b", low):
        return 12, 0
    m = re.search(r"\b(\d{1,2}):(\d{2})\s*(am|pm)?\b", low)
    if m:
        hour, minute, suffix = int(m.group(1)), int(m.group(2)), m.group(3) or ""
    else:
        m = re.search(r"\b(\d{1,2})\s*(am|pm|a\.m\.|p\.m\.)(?!\w)", low) or re.search(
            r"\bat\s+(\d{1,2})\s*(o'clock)?(?!\s*(?:%|gi|mi|replicas|pods|[:.]\d))\b", low)
        if m is None:
            return None
        hour, minute, suffix = int(m.group(1)), 0, (m.group(2) or "").replace(".", "")
    if suffix == "pm" and hour < 12:
        hour += 12
    if suffix == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    return hour, minute


def schedule(text: str) -> str | None:
    """A cron schedule: written as cron, or in words ("every day at 02:30", "every 15 minutes")."""
    raw = normalise(text)
    m = re.search(r"(?<![\w*/,-])((?:[\d*/,\-]+\s+){4}[\d*/,\-A-Za-z]+)(?![\w*/,-])", raw)
    if m and len(m.group(1).split()) == 5:
        return m.group(1)
    m = re.search(r"@(yearly|annually|monthly|weekly|daily|midnight|hourly)\b", raw)
    if m:
        return f"@{m.group(1)}"
    low = raw.lower()
    m = re.search(rf"\bevery\s+{NUMBER}\s+minutes?\b", low)
    if m and (n := to_int(m.group(1))):
        return f"*/{n} * * * *"
    if re.search(r"\bevery minute\b", low):
        return "* * * * *"
    m = re.search(rf"\bevery\s+{NUMBER}\s+hours?\b", low)
    if m and (n := to_int(m.group(1))):
        return f"0 */{n} * * *"
    if re.search(r"\bevery hour\b|\bhourly\b", low):
        return "0 * * * *"
    clock = _clock(low)
    day = next((d for name, d in _DAYS.items() if re.search(rf"\b(?:every |on )?{name}s?\b", low)), None)
    if day is not None:
        if clock is None:
            return None
        return f"{clock[1]} {clock[0]} * * {day}"
    if re.search(r"\bevery weekday\b|\bon weekdays\b|\bweekdays\b", low) and clock:
        return f"{clock[1]} {clock[0]} * * 1-5"
    if re.search(r"\bevery (?:day|night|morning|evening)\b|\bdaily\b|\bnightly\b|\beach (?:day|night)\b|"
                 r"\bat midnight\b|\bevery \d{1,2}(?::\d{2})?\s*(?:am|pm)\b", low):
        return f"{clock[1]} {clock[0]} * * *" if clock else None
    if re.search(r"\bevery week\b|\bweekly\b", low) and clock:
        return f"{clock[1]} {clock[0]} * * 0"
    if re.search(r"\bevery month\b|\bmonthly\b", low) and clock:
        return f"{clock[1]} {clock[0]} 1 * *"
    return None


# ---------------------------------------------------------------- Ingress

_TLD = r"(?:com|org|net|io|dev|app|test|example|local|cloud|internal|corp|de|fr|uk|eu|ai|co|me|info|biz|xyz)"


_HOST = rf"(?<![\w@/.-])((?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+{_TLD})(/[a-z0-9/._~-]*)?(?![\w/:@.-])"


def host(text: str) -> str | None:
    """A host name ("blog.acme-corp.dev", also from "shop.acme.dev/api"); image references and e-mails are not hosts."""
    low = re.sub(r"`[^`]*`", " ", normalise(text).lower())
    m = re.search(_HOST, low)
    return m.group(1) if m else None


def http_path(text: str) -> str | None:
    low = normalise(text)
    url = re.search(_HOST, re.sub(r"`[^`]*`", " ", low.lower()))
    if url and url.group(2):
        return url.group(2)
    m = re.search(r"\b(?:path|under|sends?|routes?|route|prefix|serve|serves|at|on)\s+(?:the\s+)?(?:path\s+)?"
                  r"(/[A-Za-z0-9/._~-]*)(?=[\s,.;]|$)", low, re.I)
    return m.group(1) if m else None


def tls_secret(text: str) -> str | None:
    low = normalise(text).lower()
    if not re.search(r"\btls\b|\bhttps\b|\bcert", low):
        return None
    for pattern in (r"\b(?:tls|certificate|cert)\s+(?:secret\s+)?(?:called\s+|named\s+)?([a-z0-9][a-z0-9.-]*)\b",
                    r"\b(?:secret|secretname)\s+(?:called\s+|named\s+)?([a-z0-9][a-z0-9.-]*)",
                    r"\b([a-z0-9][a-z0-9.-]*)\s+(?:tls\s+)?(?:certificate\s+|cert\s+)?secret\b",
                    r"\b([a-z0-9][a-z0-9.-]*-(?:tls|cert|certificate))\b"):
        for m in re.finditer(pattern, low):
            name = m.group(1).strip(".")
            if name not in {"the", "a", "an", "secret", "certificate", "cert", "tls", "with", "from", "using", "via",
                            "and", "terminate", "termination", "its", "our", "my", "existing"}:
                return name
    return None


INGRESS_CLASSES = ("nginx", "traefik", "haproxy", "alb", "gce", "contour", "kong", "istio", "azure-application-gateway",
                   "webapprouting.kubernetes.azure.com", "cilium", "ambassador", "public", "internal")


def ingress_class(text: str) -> str | None:
    low = normalise(text).lower()
    m = re.search(r"\b([a-z0-9][a-z0-9.-]*)\s+ingress\s*class\b", low) or re.search(
        r"\bingress\s*class(?:name)?\s*(?:of\s+|=\s*|:\s*|called\s+|named\s+)?([a-z0-9][a-z0-9.-]*)", low) or re.search(
        r"\bclass\s+([a-z0-9][a-z0-9.-]*)\b", low)
    if m and m.group(1) not in {"the", "an", "a", "its", "default", "with"}:
        return m.group(1)
    for name in INGRESS_CLASSES:
        if re.search(rf"\b{re.escape(name)}\s+ingress\b|\bvia\s+{re.escape(name)}\b", low):
            return name
    return None


# ---------------------------------------------------------------- volumes

_SIZE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(ki|mi|gi|ti|kib|mib|gib|tib|kb|mb|gb|tb|g|m|t)\b", re.I)
_UNIT = {"ki": "Ki", "kib": "Ki", "kb": "Ki", "mi": "Mi", "mib": "Mi", "mb": "Mi", "m": "Mi", "gi": "Gi", "gib": "Gi",
         "gb": "Gi", "g": "Gi", "ti": "Ti", "tib": "Ti", "tb": "Ti", "t": "Ti"}


def sizes(text: str) -> list[str]:
    """Storage sizes in order: `20Gi`, "100 GB" -> `100Gi`, "1.5Ti" -> `1536Gi`."""
    out = []
    for value, unit in _SIZE.findall(normalise(text)):
        norm = _UNIT[unit.lower()]
        if "." in value:
            factor = {"Ti": 1024, "Gi": 1024, "Mi": 1024, "Ki": 1024}[norm]
            smaller = {"Ti": "Gi", "Gi": "Mi", "Mi": "Ki", "Ki": "Ki"}[norm]
            out.append(f"{int(float(value) * factor)}{smaller}")
        else:
            out.append(f"{int(value)}{norm}")
    return out


def target_size(text: str) -> str | None:
    """The size asked for: after "to" when a "from X to Y" is given, else the last one."""
    low = normalise(text)
    m = re.search(rf"\bto\s+({_SIZE.pattern})", low, re.I)
    if m:
        found = sizes(m.group(1))
        if found:
            return found[0]
    found = sizes(low)
    return found[-1] if found else None


ACCESS_MODES = {"readwriteoncepod": "ReadWriteOncePod", "rwop": "ReadWriteOncePod", "readwriteonce": "ReadWriteOnce",
                "rwo": "ReadWriteOnce", "readwritemany": "ReadWriteMany", "rwx": "ReadWriteMany",
                "readonlymany": "ReadOnlyMany", "rox": "ReadOnlyMany"}


def access_modes(text: str) -> list[str] | None:
    low = re.sub(r"[\s_-]", "", normalise(text).lower())
    found = []
    for key in sorted(ACCESS_MODES, key=len, reverse=True):
        if key in low and ACCESS_MODES[key] not in found:
            found.append(ACCESS_MODES[key])
            low = low.replace(key, " ")
    return found or None


def storage_class(text: str) -> str | None:
    low = normalise(text).lower()
    for pattern in (r"\b([a-z0-9][a-z0-9.-]*)\s+storage\s*class\b", r"\b([a-z0-9][a-z0-9.-]*)\s+class\b",
                    r"\bstorage\s*class(?:name)?\s*(?:of\s+|=\s*|:\s*|called\s+|named\s+)?([a-z0-9][a-z0-9.-]*)",
                    r"\bclass\s+([a-z0-9][a-z0-9.-]*)"):
        for m in re.finditer(pattern, low):
            if m.group(1) not in {"the", "a", "an", "default", "its", "same", "with", "using", "on", "and", "of"}:
                return m.group(1)
    return None


def mount_path(text: str) -> str | None:
    m = re.search(r"\b(?:at|on|under|in|mounted at|mount(?:ed)? (?:at|on))\s+(/[A-Za-z0-9/._-]+)", normalise(text), re.I)
    return m.group(1) if m else None


# ---------------------------------------------------------------- relative amounts

_REL_WORDS = {"double": 2.0, "twice": 2.0, "triple": 3.0, "halve": 0.5, "half": 0.5, "quadruple": 4.0}


def relative_factor(text: str) -> float | None:
    """A multiplying change: "double" -> 2, "by 50%" (down) -> 0.5, "50% more" -> 1.5, "up by 100%" -> 2."""
    low = normalise(text).lower()
    m = re.search(r"(\d+(?:\.\d+)?)\s*(?:%|percent)\s*(more|extra|bigger|larger|less|fewer|smaller)\b", low)
    if m:
        pct = float(m.group(1)) / 100
        return 1 + pct if m.group(2) in ("more", "extra", "bigger", "larger") else max(0.0, 1 - pct)
    m = re.search(r"\bby\s+(\d+(?:\.\d+)?)\s*(?:%|percent)", low)
    if m:
        pct = float(m.group(1)) / 100
        down = re.search(r"\b(down|decrease|reduce|lower|shrink|cut|less|fewer|drop)\b", low)
        return max(0.0, 1 - pct) if down else 1 + pct
    for word, factor in _REL_WORDS.items():
        if re.search(rf"\b{word}\b", low):
            return factor
    return None


# ---------------------------------------------------------------- env vars

_ENV_KEY = r"[A-Za-z_][A-Za-z0-9_]*"


def env_pairs(text: str) -> dict[str, str]:
    """KEY=VALUE, "env var KEY with value V", "KEY set to V" (KEY upper case) -> {KEY: V}."""
    raw = re.sub(r"`([^`]*)`", r"\1", normalise(text))
    out: dict[str, str] = {}
    for m in re.finditer(rf"(?<![\w./-])({_ENV_KEY})\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s,;]+)", raw):
        out[m.group(1)] = m.group(2).strip("\"'").rstrip(".")
    for m in re.finditer(rf"\b({_ENV_KEY})\s+(?:env(?:ironment)?\s*var(?:iable)?|variable)\s+(?:of|on|in|for)\s+"
                         rf"(?:the\s+)?\S+(?:\s+\w+)?\s+(?:to|=)\s+(\"[^\"]*\"|'[^']*'|[^\s,;]+)", raw, re.I):
        out.setdefault(m.group(1), m.group(2).strip("\"'").rstrip("."))
    for m in re.finditer(rf"\b(?:env(?:ironment)?\s*(?:var(?:iable)?)?|variable)\s+(?:called\s+|named\s+)?({_ENV_KEY})\s+"
                         rf"(?:with (?:the )?value|set to|to|as|=|:)\s+(\"[^\"]*\"|'[^']*'|[^\s,;]+)", raw, re.I):
        out.setdefault(m.group(1), m.group(2).strip("\"'").rstrip("."))
    for m in re.finditer(r"\b([A-Z][A-Z0-9_]{2,})\s+(?:set to|to|as|:)\s+(\"[^\"]*\"|'[^']*'|[^\s,;]+)", raw):
        out.setdefault(m.group(1), m.group(2).strip("\"'").rstrip("."))
    return out


def env_names(text: str) -> list[str]:
    """Env var names a text mentions: upper-case identifiers and the word after "variable"/"env var"."""
    raw = re.sub(r"`([^`]*)`", r"\1", normalise(text))
    found = re.findall(r"\b([A-Z][A-Z0-9_]*_[A-Z0-9_]+|[A-Z]{2,}[A-Z0-9]*)\b", raw)
    found += [n for n in re.findall(rf"\b(?:env(?:ironment)?\s*var(?:iable)?s?|variables?|env)\s+({_ENV_KEY})\b", raw,
                                    re.I) if re.search(r"[A-Z_0-9]", n)]
    stop = {"ENV", "VAR", "DNS", "TLS", "CPU", "RAM", "API", "IAM", "AWS", "URL", "HTTP", "HTTPS", "ALL", "ID", "IRSA",
            "AKS", "EKS", "PVC", "RBAC", "UTC", "JSON"}
    return [n for n in dict.fromkeys(found) if n not in stop and n.lower() not in ("var", "variable", "env", "the")]


# ---------------------------------------------------------------- identities

ROLE_ARN = re.compile(r"\barn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9_+=,.@/-]+")
UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")


def role_arn(text: str) -> str | None:
    m = ROLE_ARN.search(normalise(text))
    return m.group(0).rstrip(".,") if m else None


def client_id(text: str) -> str | None:
    raw = normalise(text)
    m = re.search(rf"\bclient[\s_-]?id\s*(?:is\s+|of\s+|=\s*|:\s*)?({UUID.pattern})", raw, re.I)
    if m:
        return m.group(1).lower()
    ids = UUID.findall(raw)
    tenant = tenant_id(text)
    ids = [i.lower() for i in ids if i.lower() != tenant]
    return ids[0] if ids else None


def tenant_id(text: str) -> str | None:
    m = re.search(rf"\btenant[\s_-]?id\s*(?:is\s+|of\s+|=\s*|:\s*)?({UUID.pattern})", normalise(text), re.I)
    return m.group(1).lower() if m else None


def cidr(text: str) -> str | None:
    m = re.search(r"\b(\d{1,3}(?:\.\d{1,3}){3}/\d{1,2})\b", normalise(text))
    return m.group(1) if m else None


def percent(text: str) -> int | None:
    low = normalise(text).lower()
    m = re.search(r"\b(\d{1,2})\s*(?:%|percent)", low)
    if m:
        return int(m.group(1))
    if re.search(r"\bhalf\b", low):
        return 50
    if re.search(r"\ba (?:quarter|fourth)\b", low):
        return 25
    if re.search(r"\ba third\b", low):
        return 33
    return None


# ---------------------------------------------------------------- RBAC rules

VERB_WORDS: dict[str, tuple[str, ...]] = {
    "get": ("get",), "list": ("list",), "watch": ("watch",), "create": ("create",), "update": ("update",),
    "patch": ("patch",), "delete": ("delete",), "read": ("get", "list", "watch"), "view": ("get", "list", "watch"),
    "see": ("get", "list", "watch"), "edit": ("get", "list", "watch", "update", "patch"),
    "modify": ("update", "patch"), "change": ("update", "patch"), "write": ("create", "update", "patch", "delete"),
    "manage": ("get", "list", "watch", "create", "update", "patch", "delete"),
}
RESOURCE_GROUPS: dict[str, tuple[str, str]] = {
    "pods": ("", "pods"), "pod": ("", "pods"), "logs": ("", "pods/log"), "log": ("", "pods/log"),
    "configmaps": ("", "configmaps"), "configmap": ("", "configmaps"), "config maps": ("", "configmaps"),
    "secrets": ("", "secrets"), "secret": ("", "secrets"), "services": ("", "services"), "service": ("", "services"),
    "events": ("", "events"), "endpoints": ("", "endpoints"), "serviceaccounts": ("", "serviceaccounts"),
    "service accounts": ("", "serviceaccounts"), "pvcs": ("", "persistentvolumeclaims"),
    "persistentvolumeclaims": ("", "persistentvolumeclaims"), "deployments": ("apps", "deployments"),
    "deployment": ("apps", "deployments"), "statefulsets": ("apps", "statefulsets"),
    "replicasets": ("apps", "replicasets"), "daemonsets": ("apps", "daemonsets"), "jobs": ("batch", "jobs"),
    "cronjobs": ("batch", "cronjobs"), "ingresses": ("networking.k8s.io", "ingresses"),
    "networkpolicies": ("networking.k8s.io", "networkpolicies"), "network policies": ("networking.k8s.io", "networkpolicies"),
    "hpas": ("autoscaling", "horizontalpodautoscalers"), "horizontalpodautoscalers": ("autoscaling", "horizontalpodautoscalers"),
}


def rbac_rules(text: str) -> list[dict[str, list[str]]] | None:
    """One rule per API group: the verbs and resources the text names ("get, list and watch pods")."""
    low = normalise(text).lower()
    low = re.sub(r"\bpod logs\b|\blogs of pods\b", "logs", low)
    grant = re.search(r"\b(?:that|which|who)\s+(?:can|may|is allowed to)\b|\ballow(?:s|ing|ed)?\b|\bpermission(?:s)? to\b|"
                      r"\bable to\b|\bgrant(?:s|ing)?\b|\bwith\s+(?:the\s+)?(?:rights?|access|verbs?)\b|:\s", low)
    if grant:
        low = low[grant.start():]
    verbs: list[str] = []
    for word, mapped in VERB_WORDS.items():
        if re.search(rf"\b{word}\b", low):
            verbs.extend(v for v in mapped if v not in verbs)
    if re.search(r"\bfull access\b|\ball verbs\b|\beverything\b", low):
        verbs = ["*"]
    groups: dict[str, list[str]] = {}
    for word in sorted(RESOURCE_GROUPS, key=len, reverse=True):
        if re.search(rf"\b{word}\b", low):
            group, resource = RESOURCE_GROUPS[word]
            if resource not in groups.setdefault(group, []):
                groups[group].append(resource)
            low = re.sub(rf"\b{word}\b", " ", low)
    if not verbs or not groups:
        return None
    order = ["get", "list", "watch", "create", "update", "patch", "delete", "*"]
    verbs = sorted(verbs, key=order.index)
    return [{"api_groups": [g], "resources": sorted(r), "verbs": verbs} for g, r in groups.items()]


def subjects(text: str) -> dict[str, list[str]]:
    """Users (e-mail addresses or "user X"), groups ("group X") and ServiceAccounts ("service account X")."""
    raw = normalise(text)
    users = re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", raw)
    users += [u for u in re.findall(r"\buser\s+([A-Za-z0-9][\w.@+-]*)", raw, re.I) if u not in users]
    groups = re.findall(r"\bgroup\s+([A-Za-z0-9][\w.:+-]*)", raw, re.I)
    accounts = re.findall(r"\bservice ?account\s+([a-z0-9][a-z0-9.-]*)", raw, re.I)
    accounts += re.findall(r"\b([a-z0-9][a-z0-9.-]*)\s+service ?account\b", raw, re.I)
    accounts = [a for a in dict.fromkeys(accounts) if a.lower() not in ("the", "a", "its", "our", "my", "to", "for", "with",
                                                                          "and", "of", "new", "this", "that")]
    return {"users": list(dict.fromkeys(u.rstrip(".") for u in users)), "groups": groups, "service_accounts": accounts}
