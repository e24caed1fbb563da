"""Pure text extraction: the values a request spells out (numbers, images, quantities, labels...).

Why a module of its own: the intent classifier says *what* kind of change is asked for, but the
parameters must come from the words themselves, deterministically and explainably. Nothing here
looks at the cluster; `grounding` turns the name-like words found here into real objects.
Every function takes one piece of text and returns plain values (or None when absent).
"""

from __future__ import annotations

import re


def _words(block: str) -> frozenset[str]:
    return frozenset(block.split())


WORD_NUMBERS: dict[str, int] = {
    "zero": 0, "none": 0, "one": 1, "single": 1, "a single": 1, "two": 2, "a couple of": 2, "a pair of": 2,
    "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "a dozen": 12, "dozen": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "hundred": 100,
}

STOPWORDS = _words("""
a an the and or but if then than so to of in on at by for from with without into onto over under
up down out off about as is are be been being was were am do does did done doing have has had it its
it's this that these those there here my our your their his her we you i me us them they he she
please pls could would should can will shall may might must just now right currently current
make made set change update modify adjust configure put get give let keep ensure sure want need like
new create add added adding remove delete drop all any some every each more less fewer many much
what which who whom whose why how when where whats what's hows how's is isn't doesn't don't not no yes
ok okay thanks thank hey hi hello also too very really actually instead rather only same again back
deployment deployments deploy deploys statefulset statefulsets sts app apps application applications
service services svc pod pods container containers workload workloads replica replicas instance
instances copies copy namespace namespaces ns cluster clusters image images version tag tags
memory mem ram cpu cpus core cores limit limits request requests resource resources quota quotas
label labels annotation annotations key keys value values configmap configmaps config cm setting
settings port ports traffic ingress egress network policy policies bucket buckets s3 aws azure
storage account accounts group groups region location rg hpa pdb autoscaler autoscaling minimum
maximum min max target utilization percent percentage scale scaling scaled restart restarted rollout
rollback roll rolled revert undo previous prior last expose exposed reachable available unavailable
running run runs go goes going least most one two three four five six seven eight nine ten
stuff thing things something everything nothing one's named called name using use via per
bump raise lower increase decrease reduce grow shrink double triple half twice
should we them time times number count amount size zero
env var vars variable variables environment probe probes selector claim claims volume volumes pvc cronjob
cronjob job jobs cron securitycontext capabilities privilege escalation filesystem root canary ingress host path
schedule command role binding rolebinding identity arn traffic egress
""")

DNS_NAME = r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?"

_IMAGE_RE = re.compile(
    r"(?<![\w./:@-])((?:[a-z0-9][a-z0-9.-]*(?::\d+)?/)?[a-z0-9][a-z0-9._/-]*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(?:@sha256:[a-f0-9]{64})?|@sha256:[a-f0-9]{64}))"
    r"(?![\w/:@-])"
)
_TOKEN_RE = re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?")


def normalise(text: str) -> str:
    """Unify quotes, dashes and whitespace; keep case (keys and values may be case-sensitive)."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    text = text.replace("\u2013", "-").replace("\u2014", "-")
    return re.sub(r"\s+", " ", text).strip()


def tokens(text: str) -> list[str]:
    """Lower-case name-shaped tokens, in order ("web's" -> "web"; trailing dots dropped)."""
    lowered = normalise(text).lower().replace("'s ", " ")
    return [t.rstrip(".") for t in _TOKEN_RE.findall(lowered)]


def name_tokens(text: str) -> list[str]:
    """Tokens that could be object names: not stop words, not bare numbers, not quantities."""
    out = []
    for tok in tokens(strip_values(text)):
        if tok in STOPWORDS or tok in WORD_NUMBERS or re.fullmatch(r"x?\d+(\.\d+)?[a-z]{0,3}", tok):
            continue
        out.append(tok)
    return out


def strip_values(text: str) -> str:
    """Remove images, label pairs, quantities and percentages so that names stand alone."""
    text = _IMAGE_RE.sub(" ", normalise(text))
    text = re.sub(r"\S+=\S*", " ", text)
    text = re.sub(r"\b\d+(\.\d+)?\s*(%|percent\b)", " ", text)
    return text


def quoted(text: str) -> list[str]:
    return [a or b for a, b in re.findall(r"'([^']+)'|\"([^\"]+)\"", text)]


# ---------------------------------------------------------------- numbers


def _word_number_pattern() -> str:
    words = sorted(WORD_NUMBERS, key=len, reverse=True)
    return "|".join(re.escape(w) for w in words)


_WORDNUM = _word_number_pattern()
NUMBER = rf"(\d+|{_WORDNUM})"
_NUM = NUMBER


def to_int(word: str) -> int | None:
    word = word.lower().strip()
    if word.isdigit():
        return int(word)
    return WORD_NUMBERS.get(word)


def standalone_numbers(text: str) -> list[int]:
    """Integers written as digits or words that are not part of a name, image, quantity or port spec."""
    text = strip_values(text).lower()
    found: list[tuple[int, int]] = []
    for m in re.finditer(r"(?<![\w.:/-])(?:x)?(\d+)(?:x)?(?![\w.:/%-]|\.\d)", text):
        found.append((m.start(), int(m.group(1))))
    for m in re.finditer(rf"\b({_WORDNUM})\b", text):
        value = WORD_NUMBERS[m.group(1)]
        if m.group(1) in ("none", "single") or (m.group(1) == "one" and re.match(r"one\s+of\b", text[m.start():])):
            continue
        found.append((m.start(), value))
    return [v for _, v in sorted(found)]


def replica_count(text: str) -> int | None:
    """The target replica count: "to 5", "5 replicas", "x3", "five instances", "scale down to zero"."""
    m = re.search(r"\b(?:replicas?|instances?|replica_?count|count)\s*[=:]\s*(\d+)\b", text, re.I)
    if m:
        return int(m.group(1))
    low = strip_values(text).lower()
    noun = r"(?:replicas?|instances?|copies|copy|pods?|nodes?|workers?|containers?)"
    patterns = [
        rf"\b{_NUM}\s+(?:\w+\s+)?{noun}\b",
        rf"\b(?:to|at|=|of|with|be|have|run|keep|use|make it|make that|go with|try)\s+{_NUM}\b(?!\s*(?:%|mi|gi|m\b))",
        rf"\b{noun}\s*(?:to|=|:|count to|count of|count)\s*{_NUM}\b",
        r"(?<![\w-])x\s?(\d+)\b",
        r"\b(\d+)x\b",
    ]
    for pattern in patterns:
        m = re.search(pattern, low)
        if m:
            value = to_int(m.group(1))
            if value is not None:
                return value
    nums = standalone_numbers(text)
    return nums[-1] if nums else None


def relative_replicas(text: str, current: int) -> int | None:
    """Relative changes: "add 2 more replicas", "by 3", "double", "halve"."""
    low = text.lower()
    if re.search(r"\bdouble\b|\btwice\b", low):
        return current * 2
    if re.search(r"\btriple\b", low):
        return current * 3
    if re.search(r"\bhalve\b|\bhalf\b", low):
        return max(current // 2, 1)
    m = re.search(rf"\b(?:add|another)\s+{_NUM}\s+(?:more\s+)?", low) or re.search(rf"\b{_NUM}\s+more\b", low)
    if m and (n := to_int(m.group(1))) is not None:
        return current + n
    m = re.search(rf"\b(?:by|remove|minus)\s+{_NUM}\b", low) or re.search(rf"\b{_NUM}\s+(?:less|fewer)\b", low)
    if m and (n := to_int(m.group(1))) is not None:
        down = re.search(r"\b(down|decrease|reduce|lower|shrink|remove|less|fewer|minus|cut)\b", low)
        return max(current - n, 0) if down else current + n
    if re.search(r"\b(one more|another (?:replica|instance|pod|copy))\b", low):
        return current + 1
    if re.search(r"\b(one (?:less|fewer))\b", low):
        return max(current - 1, 0)
    return None


# ---------------------------------------------------------------- images


def images(text: str) -> list[str]:
    """Image references with a tag or digest: nginx:1.27.2, ghcr.io/acme/app:v2, repo/app@sha256:..."""
    out = []
    for m in _IMAGE_RE.finditer(normalise(text)):
        ref = m.group(1).rstrip(".,;")
        # "key: value" with a space is not an image, and neither is a bare port "host:80" with no repo part
        port = re.fullmatch(r"([a-z]+):(\d{2,5})", ref)
        if port and (port.group(1) in ("port", "host", "localhost", "http", "https", "tcp", "udp")
                     or int(port.group(2)) >= 1024 or port.group(2) in ("80", "443")):
            continue
        if ref.startswith(("http:", "https:")) or re.fullmatch(r"\d{1,2}:\d{2}(?::\d{2})?", ref):
            continue  # a URL scheme or a time of day ("at 02:30")
        out.append(ref)
    return out


def version_mention(text: str) -> tuple[str | None, str] | None:
    """ "nginx 1.27.2" / "version 1.28" / "tag v2.3.1" -> (repository or None, tag)."""
    low = normalise(text)
    m = re.search(r"\b(?:version|tag|release|v)\s*[:=]?\s*(v?\d+(?:\.\d+){0,3}(?:-[A-Za-z0-9.]+)?)\b", low, re.I)
    if m:
        return None, m.group(1)
    m = re.search(r"\b([a-z][a-z0-9._/-]*)\s+(v?\d+\.\d+(?:\.\d+){0,2}(?:-[A-Za-z0-9.]+)?)\b", low, re.I)
    if m:
        repo = m.group(1).lower()
        return (None if repo in STOPWORDS else repo), m.group(2)
    return None


# ---------------------------------------------------------------- labels


_PAIR_RE = re.compile(r"(?<![\w./-])([A-Za-z0-9][A-Za-z0-9./_-]*)\s*=\s*([A-Za-z0-9._-]*)")
_COLON_PAIR_RE = re.compile(r"(?<![\w./-])([A-Za-z][A-Za-z0-9./_-]*):\s+['\"]?([A-Za-z0-9._-]+)['\"]?")


def pairs(text: str) -> dict[str, str]:
    """key=value pairs, "key: value" pairs and "label K with value V" / "K set to V" phrases."""
    text = normalise(text)
    out: dict[str, str] = {}
    for key, val in _PAIR_RE.findall(text):
        out[key] = val.rstrip(".")
    for key, val in _COLON_PAIR_RE.findall(text):
        if key.lower() in ("namespace", "ns", "image", "port", "note", "please", "mode", "min", "max", "target"):
            continue
        out.setdefault(key, val.rstrip("."))
    for m in re.finditer(
        r"\b([A-Za-z0-9./_-]+)\s+(?:label|annotation)\s+(?:on|of|for)\s+(?:the\s+)?[\w.-]+(?:\s+\w+)?\s+"
        r"(?:to|as|=)\s+['\"]?([A-Za-z0-9._-]+)['\"]?", text, re.I,
    ):
        if m.group(1).lower() not in STOPWORDS:
            out.setdefault(m.group(1), m.group(2).rstrip("."))
    for m in re.finditer(
        r"\b(?:label|annotation|tag|key)\s+['\"]?([A-Za-z0-9./_-]+)['\"]?\s+(?:with (?:the )?value|set to|to|as|of|=)\s+"
        r"['\"]?([A-Za-z0-9._-]+)['\"]?", text, re.I,
    ):
        if m.group(1).lower() not in STOPWORDS:
            out.setdefault(m.group(1), m.group(2).rstrip("."))
    return out


def removed_keys(text: str) -> list[str]:
    """Keys to remove: "remove the label tier", "drop annotation x", kubectl's "tier-"."""
    low = normalise(text)
    out = []
    for m in re.finditer(
        r"\b(?:remove|drop|delete|strip|unset|clear|take off|get rid of)\s+(?:the\s+)?(?:labels?|annotations?)\s+"
        r"['\"]?([A-Za-z0-9./_-]+)['\"]?", low, re.I,
    ):
        out.append(m.group(1).rstrip("."))
    for m in re.finditer(
        r"\b(?:remove|drop|delete|strip|unset|clear|get rid of)\s+(?:the\s+)?['\"]?([A-Za-z0-9./_-]+)['\"]?\s+"
        r"(?:label|annotation)", low, re.I,
    ):
        if m.group(1).lower() not in STOPWORDS:
            out.append(m.group(1))
    for m in re.finditer(r"(?<![\w./-])([A-Za-z][A-Za-z0-9./_]*)-(?=\s|$)", low):
        out.append(m.group(1))
    return list(dict.fromkeys(out))


def named(text: str, nouns: str) -> list[str]:
    """Names given for a new thing: quoted, after "named/called", or right after/before one of `nouns`."""
    text = normalise(text)
    out = list(quoted(text))
    for m in re.finditer(r"\b(?:named|called|name(?:d)? it|name of|with the name)\s+['\"]?([A-Za-z0-9][\w.()-]*)", text, re.I):
        out.append(m.group(1).rstrip(".,"))
    for m in re.finditer(rf"\b(?:{nouns})\s+(?:named\s+|called\s+)?['\"]?([A-Za-z0-9][\w.()-]*)", text, re.I):
        out.append(m.group(1).rstrip(".,"))
    for m in re.finditer(rf"\b([A-Za-z0-9][\w.()-]*)\s+(?:{nouns})\b", text, re.I):
        out.append(m.group(1).rstrip(".,"))
    return [o for o in dict.fromkeys(out) if o.lower() not in STOPWORDS and not o.isdigit()
            and not re.fullmatch(r"(new|an?|the|my|our|aws|azure|s3|one|some|private|public|versioned|encrypted)", o, re.I)]


# ---------------------------------------------------------------- namespaces and kinds


def namespace_mentions(text: str) -> tuple[list[str], list[str]]:
    """(explicit, loose): "namespace X", "X namespace", "-n X", "ns X" are explicit; "in X" is loose."""
    low = normalise(text).lower()
    explicit: list[str] = []
    for m in re.finditer(r"(?:^|\s)(?:-n|--namespace(?:=|\s))\s*([a-z0-9][a-z0-9-]*)", low):
        explicit.append(m.group(1))
    for m in re.finditer(r"\b(?:namespace|ns)\s*[:=]?\s*['\"]?([a-z0-9][a-z0-9-]*[a-z0-9]|[a-z0-9])['\"]?", low):
        if m.group(1) not in STOPWORDS:
            explicit.append(m.group(1))
    for m in re.finditer(r"\b([a-z0-9][a-z0-9-]*[a-z0-9]|[a-z0-9])['\"]?\s+(?:namespace|ns)\b", low):
        if m.group(1) not in STOPWORDS and m.group(1) not in ("new", "a", "the", "own", "one"):
            explicit.append(m.group(1))
    loose = re.findall(r"\b(?:in|into|on|from|within|inside|under|across)\s+(?:the\s+)?['\"]?([a-z0-9][a-z0-9-]*[a-z0-9])", low)
    return list(dict.fromkeys(explicit)), list(dict.fromkeys(loose))


KIND_WORDS: list[tuple[str, str, str]] = [
    (r"statefulsets?|stateful sets?|sts", "apps/v1", "StatefulSet"),
    (r"daemonsets?|daemon sets?|ds", "apps/v1", "DaemonSet"),
    (r"deployments?|deploys?", "apps/v1", "Deployment"),
    (r"replicasets?|rs", "apps/v1", "ReplicaSet"),
    (r"cronjobs?|cron jobs?", "batch/v1", "CronJob"),
    (r"jobs?", "batch/v1", "Job"),
    (r"config ?maps?|cm", "v1", "ConfigMap"),
    (r"secrets?", "v1", "Secret"),
    (r"services?|svc", "v1", "Service"),
    (r"persistent ?volume ?claims?|pvcs?|volume claims?", "v1", "PersistentVolumeClaim"),
    (r"persistent ?volumes?|pvs?", "v1", "PersistentVolume"),
    (r"service ?accounts?", "v1", "ServiceAccount"),
    (r"ingress(?:es)?", "networking.k8s.io/v1", "Ingress"),
    (r"network ?polic(?:y|ies)|netpols?", "networking.k8s.io/v1", "NetworkPolicy"),
    (r"hpas?|(?:horizontal )?(?:pod )?autoscalers?", "autoscaling/v2", "HorizontalPodAutoscaler"),
    (r"pdbs?|pod ?disruption ?budgets?|disruption budgets?", "policy/v1", "PodDisruptionBudget"),
    (r"resource ?quotas?|quotas?", "v1", "ResourceQuota"),
    (r"roles?", "rbac.authorization.k8s.io/v1", "Role"),
    (r"cluster ?roles?", "rbac.authorization.k8s.io/v1", "ClusterRole"),
    (r"nodes?", "v1", "Node"),
    (r"pods?", "v1", "Pod"),
    (r"namespaces?|ns", "v1", "Namespace"),
    (r"buckets?|s3 buckets?", "s3.services.k8s.aws/v1alpha1", "Bucket"),
    (r"resource ?groups?|rgs?", "resources.azure.com/v1api20200601", "ResourceGroup"),
    (r"storage ?accounts?", "storage.azure.com/v1api20230101", "StorageAccount"),
]


def kind_mentions(text: str) -> list[tuple[str, str]]:
    """(apiVersion, kind) for the kinds named in the text, in order of appearance."""
    low = normalise(text).lower()
    found: list[tuple[int, tuple[str, str]]] = []
    taken: list[tuple[int, int]] = []
    for pattern, api, kind in KIND_WORDS:
        for m in re.finditer(rf"(?<![\w-])(?:{pattern})(?![\w-])", low):
            if any(s <= m.start() < e for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append((m.start(), (api, kind)))
    return [k for _, k in sorted(found)]


# ---------------------------------------------------------------- config keys


def config_assignments(text: str) -> list[tuple[str, str]]:
    """(key, value) pairs for a ConfigMap: KEY=VALUE, "set KEY to VALUE", "KEY: VALUE", "key K with value V"."""
    text = normalise(text)
    out: list[tuple[str, str]] = []
    for m in re.finditer(r"(?<![\w./-])([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s,;]+)", text):
        out.append((m.group(1), unquote(m.group(2))))
    value = r"(\"[^\"]*\"|'[^']*'|[^\s,;]+)"
    for m in re.finditer(
        rf"\b(?:set|change|update|switch|flip|put|make|turn|add|configure)\s+(?:the\s+)?(?:key\s+|value\s+of\s+|setting\s+)?"
        rf"['\"]?([A-Za-z_][A-Za-z0-9_.-]*)['\"]?\s+(?:(?:key|setting|value|entry)\s+)?(?:in\s+[\w.-]+(?:\s+(?:config ?map|configmap|config|cm))?\s+)?"
        rf"(?:to|=|as|:)\s+{value}", text, re.I,
    ):
        out.append((m.group(1), unquote(m.group(2))))
    explicit = []
    for m in re.finditer(rf"\bkey\s+['\"]?([A-Za-z_][A-Za-z0-9_.-]*)['\"]?\s+(?:with (?:the )?value|=|to|as|set to)\s+{value}",
                         text, re.I):
        explicit.append((m.group(1), unquote(m.group(2)).rstrip(".")))
    for m in re.finditer(rf"\b([A-Z][A-Z0-9_]+[A-Z0-9])\s+(?:to|=|:|as|set to)\s+{value}", text):
        out.append((m.group(1), unquote(m.group(2))))
    for m in re.finditer(r"\b(turn on|switch on|enable|activate|turn off|switch off|disable|deactivate)\s+(?:the\s+)?"
                         r"(?:flag\s+|setting\s+|key\s+)?['\"]?([A-Za-z_][A-Za-z0-9_.-]*)", text, re.I):
        on = m.group(1).lower() in ("turn on", "switch on", "enable", "activate")
        out.append((m.group(2), "true" if on else "false"))
    return explicit + [(k, v.rstrip(".")) for k, v in out if k.lower() not in STOPWORDS or k.isupper()]


def unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value
