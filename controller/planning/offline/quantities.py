"""Quantities in requests: CPU/memory values, ports, percentages, autoscaler and disruption bounds.

Why apart from `extract`: these parsers carry the unit rules (Mi vs Gi vs "gig", millicores vs
cores, "50%" vs 1) and the clause logic that decides whether a value is a request or a limit; they
are pure functions of one text, like the rest of the extraction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from controller.planning.offline.extract import NUMBER as _NUM
from controller.planning.offline.extract import normalise, strip_values, to_int

# ---------------------------------------------------------------- quantities

_MEM_UNITS = {
    "mi": "Mi", "mib": "Mi", "m": "Mi", "mb": "Mi", "meg": "Mi", "megs": "Mi", "megabyte": "Mi", "megabytes": "Mi",
    "gi": "Gi", "gib": "Gi", "g": "Gi", "gb": "Gi", "gig": "Gi", "gigs": "Gi", "gigabyte": "Gi", "gigabytes": "Gi",
    "ki": "Ki", "kib": "Ki", "ti": "Ti", "tib": "Ti", "tb": "Ti",
}
_MEM_RE = re.compile(
    r"(?<![\w.])(\d+(?:\.\d+)?)\s*(mib|gib|kib|tib|mi|gi|ki|ti|mb|gb|tb|megabytes?|gigabytes?|megs?|gigs?)(?![a-z])",
    re.I,
)
_CPU_RE = re.compile(
    r"(?<![\w.])(?:(\d+)\s*(?:m|millicores?|millicpu)(?![a-z])|(\d+(?:\.\d+)?)\s*(?:cores?|cpus?|vcpus?)\b)",
    re.I,
)
_HALF_CPU = re.compile(r"\b(half a|half of a|a half|0\.5)\s*(cpu|core|vcpu)\b", re.I)
_QUARTER_CPU = re.compile(r"\b(a quarter of a|quarter)\s*(cpu|core|vcpu)\b", re.I)


@dataclass(frozen=True)
class ResourceAsk:
    """Requested resources: {"requests": {...}, "limits": {...}} plus whether "more" was asked without values."""

    requests: dict[str, str]
    limits: dict[str, str]
    more: tuple[str, ...] = ()


def _mem(value: str, unit: str) -> str:
    norm = _MEM_UNITS.get(unit.lower(), "Mi")
    if "." in value:
        number = float(value)
        if norm == "Gi":
            return f"{int(number * 1024)}Mi"
        return f"{int(number)}{norm}"
    return f"{int(value)}{norm}"


def _cpu_values(seg: str) -> list[str]:
    out = []
    if _HALF_CPU.search(seg):
        out.append("500m")
    if _QUARTER_CPU.search(seg):
        out.append("250m")
    for m in _CPU_RE.finditer(seg):
        if m.group(1):
            out.append(f"{int(m.group(1))}m")
        else:
            val = m.group(2)
            out.append(f"{int(float(val) * 1000)}m" if "." in val else val)
    return out


def resources(text: str) -> ResourceAsk:
    """CPU/memory requests and limits from phrases like "memory limit to 512Mi and cpu request 250m".

    Clauses are split on "and", commas and semicolons; a clause's resource comes from its words
    (cpu/memory) or its unit (Mi/Gi vs m/cores); whether it is a request or a limit comes from the
    clause, else from the clause before it, else from the whole text, else it is a limit.
    """
    low = normalise(text).lower()
    low = re.sub(r"\bsame\b", "", low)
    clauses = re.split(r",|;|\band\b|\bplus\b|\bwith\b|\bwhile\b", low)
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    carry_types: set[str] = set()
    carry_resource: str | None = None
    last_types: set[str] = set()
    whole_types = _types(low)
    for clause in clauses:
        types = _types(clause)
        words_here = resource_words(clause)
        mem_vals = [_mem(v, u) for v, u in _MEM_RE.findall(clause)]
        cpu_vals = _cpu_values(_MEM_RE.sub(" ", clause))
        bare = re.findall(r"(?:to|=|of|at|:)\s*(\d+(?:\.\d+)?)(?![\w.%])", _MEM_RE.sub(" ", _CPU_RE.sub(" ", clause)))
        if not mem_vals and not cpu_vals and not bare:
            carry_types |= types
            if words_here:
                carry_resource = words_here[-1]
            continue
        types = (types | carry_types) or last_types or (whole_types if len(whole_types) == 1 else set()) or {"limit"}
        last_types = types
        if "cpu" in words_here and not cpu_vals and bare:
            val = bare[0]
            cpu_vals = [f"{int(float(val) * 1000)}m" if "." in val else val]
        if "memory" in words_here and not mem_vals and bare:
            mem_vals = [f"{bare[0]}Mi"] if float(bare[0]) >= 16 else [f"{bare[0]}Gi"]
        if not words_here and carry_resource == "cpu" and bare and not mem_vals and not cpu_vals:
            cpu_vals = [bare[0]]
        for kind in types:
            target = requests if kind == "request" else limits
            if mem_vals:
                target["memory"] = mem_vals[0]
            if cpu_vals:
                target["cpu"] = cpu_vals[0]
        carry_types = set()
    more: list[str] = []
    if re.search(r"\b(more|extra|additional|double|increase|raise|bump|higher|bigger|larger)\b", low):
        for res in resource_words(low):
            if res not in requests and res not in limits and res not in more:
                more.append(res)
    return ResourceAsk(requests, limits, tuple(more))


def _types(clause: str) -> set[str]:
    out = set()
    if re.search(r"\b(requests?|requested|reserve[ds]?|guarantee[ds]?|minimum|baseline)\b", clause):
        out.add("request")
    if re.search(r"\b(limits?|limited|cap|capped|ceiling|max(imum)?|at most)\b", clause):
        out.add("limit")
    return out


def resource_words(clause: str) -> list[str]:
    out = []
    for m in re.finditer(r"\b(cpu|cpus|cores?|vcpus?|processor|compute|memory|mem|ram|heap)\b", clause):
        res = "memory" if m.group(1) in ("memory", "mem", "ram", "heap") else "cpu"
        if res not in out:
            out.append(res)
    return out


def parse_quantity_mi(value: str) -> float | None:
    """A memory quantity in MiB (for doubling limits)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGTE]i?|k|m)?", value.strip())
    if not m:
        return None
    number = float(m.group(1))
    factor = {None: 1 / 2**20, "Ki": 1 / 1024, "k": 1000 / 2**20, "Mi": 1.0, "M": 10**6 / 2**20, "Gi": 1024.0,
              "G": 10**9 / 2**20, "Ti": 1024.0**2, "T": 10**12 / 2**20, "Ei": 1024.0**4, "m": 1 / 2**20 / 1000}
    return number * factor.get(m.group(2), 1.0)


def format_mi(mib: float) -> str:
    if mib >= 1024 and mib % 1024 == 0:
        return f"{int(mib // 1024)}Gi"
    return f"{round(mib)}Mi"


# ---------------------------------------------------------------- ports, percentages, bounds


def ports(text: str) -> tuple[int | None, int | None]:
    """(service port, target port) from "port 80", "on 80", "80:8080", "80 -> 8080", "target port 8080"."""
    low = normalise(text).lower()
    m = re.search(r"\b(\d{2,5})\s*(?::|->|=>|→)\s*(\d{2,5})\b", low)
    if m and not re.search(r"[a-z]:\d", low[max(m.start() - 1, 0):m.start() + 1]):
        return int(m.group(1)), int(m.group(2))
    target = None
    t = re.search(r"\b(?:target(?:ing)?|container|backend|forward(?:ing|ed)? to|to the pods'? port|targetport)"
                  r"\s*(?:port)?\s*(?:of|:|=)?\s*(\d{2,5})\b", low)
    if t:
        target = int(t.group(1))
        low = low[:t.start()] + " " + low[t.end():]
    p = re.search(r"\bport\s*(?:number\s*)?(?:of|:|=)?\s*(\d{1,5})\b", low) or re.search(
        r"\b(?:on|at|via|through|over)\s+(?:port\s+)?(\d{2,5})\b", low) or re.search(r"\b(\d{2,5})\s*(?:/tcp|port)\b", low)
    return (int(p.group(1)) if p else None), target


def percentages(text: str) -> list[tuple[int, str]]:
    """(value, resource) for "70% cpu", "cpu at 70 percent", "memory 80%"; resource "" when unknown."""
    low = normalise(text).lower()
    out = []
    for m in re.finditer(r"(\d{1,3})\s*(?:%|percent\b)", low):
        before = low[max(0, m.start() - 40):m.start()]
        after = low[m.end():m.end() + 25]
        res = ""
        near_after = re.search(r"\b(cpu|memory|mem|ram|processor)\b", after)
        near_before = list(re.finditer(r"\b(cpu|memory|mem|ram|processor)\b", before))
        if near_after and near_after.start() < 12:
            res = near_after.group(1)
        elif near_before:
            res = near_before[-1].group(1)
        res = "memory" if res in ("memory", "mem", "ram") else ("cpu" if res else "")
        out.append((int(m.group(1)), res))
    return out


def hpa_bounds(text: str) -> tuple[int | None, int | None]:
    """(min, max) replicas for an autoscaler."""
    low = strip_values(text).lower()
    low = re.sub(r"\b\d{1,3}\s*(%|percent)", " ", low)
    lo = hi = None
    m = re.search(rf"\bbetween\s+{_NUM}\s+(?:and|to|-)\s+{_NUM}\b", low) or re.search(
        rf"\bfrom\s+{_NUM}\s+(?:to|up to|-)\s+{_NUM}\b", low) or re.search(
        rf"\b{_NUM}\s*(?:-|to|\.\.)\s*{_NUM}\s+(?:replicas|pods|instances|copies)\b", low)
    if m:
        lo, hi = to_int(m.group(1)), to_int(m.group(2))
    m1 = re.search(rf"\bmin(?:imum)?(?:\s+(?:of|replicas|pods|instances))?\s*(?:=|:|of|at)?\s*{_NUM}\b", low) or re.search(
        rf"\b(?:at least|no (?:less|fewer) than|never (?:below|under|less than)|not below)\s+{_NUM}\b", low) or re.search(
        rf"\b{_NUM}\s+min(?:imum)?\b", low)
    if m1:
        lo = to_int(m1.group(1))
    m2 = re.search(rf"\bmax(?:imum)?(?:\s+(?:of|replicas|pods|instances))?\s*(?:=|:|of|at)?\s*{_NUM}\b", low) or re.search(
        rf"\b(?:up to|at most|no more than|never (?:above|over|more than)|not above|upper limit of|cap(?:ped)? at)\s+{_NUM}\b",
        low) or re.search(rf"\b{_NUM}\s+max(?:imum)?\b", low)
    if m2:
        hi = to_int(m2.group(1))
    return lo, hi


def pdb_budget(text: str) -> tuple[int | str | None, int | str | None]:
    """(min_available, max_unavailable) for a disruption budget: "at least 2", "50%", "max 1 unavailable"."""
    low = normalise(text).lower()
    qty = rf"(\d+\s*%|{_NUM})"

    def val(raw: str) -> int | str:
        raw = raw.replace(" ", "")
        if raw.endswith("%"):
            return raw
        number = to_int(raw)
        return number if number is not None else raw

    m = re.search(rf"\b(?:take|bring|have|go)\s+(?:down|offline)\s+(?:more than|over)\s+{qty}", low) or re.search(
        rf"\blos(?:e|ing)\s+(?:at most\s+|up to\s+|only\s+|no more than\s+)?{qty}", low) or re.search(
        rf"\b(?:max(?:imum)?|at most|no more than|up to|only)\s+{qty}\s*(?:\w+\s+){{0,2}}?(?:unavailable|down|"
                  r"disrupted|offline|missing|out|evicted|at a time)", low) or re.search(
        rf"\bmax(?:imum)?[\s_-]?unavailable\s*(?:of|=|:|to)?\s*{qty}", low)
    if m:
        return None, val(m.group(1))
    m = re.search(rf"\b(?:at least|minimum of|min(?:imum)?|no (?:less|fewer) than|keep|always)\s+{qty}", low) or re.search(
        rf"\bmin[\s_-]?available\s*(?:of|=|:|to)?\s*{qty}", low) or re.search(
        rf"\b{qty}\s+(?:\w+\s+){{0,3}}?(?:stays?|remains?|always|available|up|running|alive)", low)
    if m:
        return val(m.group(1)), None
    return None, None
