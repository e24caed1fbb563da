"""Builders for actions on other objects: ConfigMap keys, labels, namespaces, network policies, deletes, Secrets.

Why apart from the workload builders: their targets are not Deployments/StatefulSets, so each
grounds its own kind (a ConfigMap and its existing keys, the object to label, the namespace to
lock down, the peers of an allow rule). Deletes and Secret reads are still expressed as actions,
as precisely as possible, so that policy can see and refuse them.
"""

from __future__ import annotations

import re
from typing import Any

from controller.planning.offline import extract, quantities
from controller.planning.offline.context import Ctx, Outcome
from controller.planning.offline.grounding import WORKLOAD_KINDS, Ref

CONFIGMAP = (("v1", "ConfigMap"),)
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
_QUOTA_RESOURCES: list[tuple[str, str, str]] = [
    ("pods", r"pods?", "int"),
    ("services", r"services?", "int"),
    ("configmaps", r"config ?maps?", "int"),
    ("persistentvolumeclaims", r"pvcs?|persistent ?volume ?claims?|volume claims?", "int"),
]


# ---------------------------------------------------------------- ConfigMap


_BE = r"(?:should|must|needs? to|has to|ought to|shall|will) be|becomes?|is now"


def _norm_key(key: str) -> str:
    return re.sub(r"[\s_.-]+", " ", key.lower()).strip()


def build_configmap(ctx: Ctx) -> Outcome:
    found = ctx.find(CONFIGMAP)
    ref: Ref | None = found.ref
    name = ref.name if ref else None
    if ref is None:
        explicit = ctx.first(lambda t: next(iter(extract.named(t, r"config ?map|configmap|cm")), None))
        if explicit and re.fullmatch(extract.DNS_NAME, explicit.lower()) and explicit.lower() not in extract.STOPWORDS:
            name = explicit.lower()
        elif found.candidates:
            return Outcome.ask(found.question("ConfigMap", ctx.namespace))
        else:
            return Outcome.ask(f"Which ConfigMap in {ctx.namespace} should I change? I found none that matches.")
    existing: dict[str, str] = dict((ref.obj.get("data") or {}) if ref else {})
    key, value = _config_key_value(ctx, existing, name or "")
    if key is None:
        keys = ", ".join(existing) or "none yet"
        return Outcome.ask(f"Which key of ConfigMap {ctx.namespace}/{name} should I set, and to what? Keys: {keys}.")
    if value is None:
        if re.search(r"\b(remove|delete|drop|unset|get rid of)\b", ctx.latest, re.I):
            return Outcome.ask(f"I cannot remove a key from a ConfigMap, only set one. Should {key} in "
                               f"{ctx.namespace}/{name} get a new value (for example an empty one)?")
        return Outcome.ask(f"What value should {key} get in ConfigMap {ctx.namespace}/{name}?")
    old = existing.get(key)
    change = f"from {old!r} to {value!r}" if old is not None else f"to {value!r} (new key)"
    verb = "Set" if ref else "Create ConfigMap and set"
    answer = f"{verb} {key} in ConfigMap {ctx.namespace}/{name} {change}."
    return Outcome.plan("set-configmap-key", {"name": name, "namespace": ctx.namespace, "key": key, "value": value},
                        answer)


def _config_key_value(ctx: Ctx, existing: dict[str, str], cm_name: str) -> tuple[str | None, str | None]:
    by_norm = {_norm_key(k): k for k in existing}
    for text in ctx.values:
        pairs = [(k, v) for k, v in extract.config_assignments(text) if k.lower() != cm_name]
        for key, value in pairs:
            if _norm_key(key) in by_norm:
                return by_norm[_norm_key(key)], value
        # an existing key written in words ("the log level ... to warn")
        low = " " + _norm_key(text) + " "
        for norm, key in sorted(by_norm.items(), key=lambda kv: -len(kv[0])):
            if f" {norm} " in low:
                m = re.search(rf"{re.escape(norm)}\b.*?\b(?:to|=|as|:|{_BE})\s+(\"[^\"]*\"|'[^']*'|[^\s,;]+)", low)
                raw = extract.normalise(text)
                said: str | None = None
                if m:
                    # read the value with its original case from the raw text
                    vm = re.search(rf"(?:\b(?:to|as|{_BE})|=|:)\s+(\"[^\"]*\"|'[^']*'|[^\s,;]+)\s*(?:in\b.*)?$", raw,
                                   re.I)
                    said = extract.unquote(vm.group(1)).rstrip(".") if vm else m.group(1)
                return key, said
        if pairs:
            return pairs[0]
    if ctx.seed.get("key"):
        return str(ctx.seed["key"]), ctx.seed.get("value")
    return None, None


# ---------------------------------------------------------------- labels and annotations


def build_labels(ctx: Ctx) -> Outcome:
    text = ctx.first(lambda t: t if (extract.pairs(t) or extract.removed_keys(t)) else None) or ctx.latest
    pairs = {k: v for k, v in extract.pairs(text).items() if not k.lower().startswith(("namespace", "ns"))}
    removed = extract.removed_keys(text)
    annot = bool(re.search(r"\bannotat", text, re.I))
    if not pairs and not removed:
        if ctx.seed.get("labels") or ctx.seed.get("annotations") or ctx.seed.get("remove_labels"):
            return Outcome.plan("set-labels", dict(ctx.seed), "Apply the labels of the previous plan again.")
        return Outcome.ask("Which labels (key=value) should I add or remove, and on which object?")
    target = _label_target(ctx)
    if isinstance(target, Outcome):
        return target
    api, kind, name, namespace, obj = target
    params: dict[str, Any] = {"api_version": api, "kind": kind, "name": name, "namespace": namespace}
    current = (obj.get("metadata", {}).get("annotations" if annot else "labels") or {})
    if annot:
        params["annotations"] = pairs
        params["remove_annotations"] = removed
    else:
        params["labels"] = pairs
        params["remove_labels"] = removed
    params = {k: v for k, v in params.items() if v not in ({}, [], None) or k == "namespace"}
    if namespace is None:
        params.pop("namespace")
    what = "annotation" if annot else "label"
    parts = [f"add {what} {k}={v}" + (f" (was {current[k]})" if k in current else "") for k, v in pairs.items()]
    parts += [f"remove {what} {k}" for k in removed]
    where = f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
    return Outcome.plan("set-labels", params, f"On {where}: {', '.join(parts)}.")


def _label_target(ctx: Ctx) -> tuple[str, str, str, str | None, dict[str, Any]] | Outcome:
    kinds = [k for t in ctx.names for k in extract.kind_mentions(t)]
    if kinds and kinds[0] == ("v1", "Namespace"):
        ns = ctx.namespace
        obj = ctx.grounder.get("v1", "Namespace", ns, None) or {}
        return "v1", "Namespace", ns, None, obj
    lookup = [kinds[0]] if kinds and kinds[0] not in WORKLOAD_KINDS and kinds[0][1] != "Namespace" else list(WORKLOAD_KINDS)
    found = ctx.find(lookup)
    if found.ref is None:
        return Outcome.ask(found.question("object" if len(lookup) == 1 and lookup[0] not in WORKLOAD_KINDS
                                          else "workload", ctx.namespace))
    ref = found.ref
    return ref.api_version, ref.kind, ref.name, ref.namespace, ref.obj


# ---------------------------------------------------------------- namespaces and quotas


def build_namespace(ctx: Ctx) -> Outcome:
    name = ctx.first(_new_namespace_name)
    if name is None and ctx.seed.get("name"):
        name = str(ctx.seed["name"])
    if name is None:
        return Outcome.ask("What should the new namespace be called?")
    text = ctx.first(lambda t: t if _new_namespace_name(t) else None) or ctx.latest
    labels = {k: v for k, v in extract.pairs(text).items() if k not in ("name", "namespace")}
    quota = _quota(text)
    params: dict[str, Any] = {"name": name, "labels": labels}
    if quota:
        params["quota"] = quota
    exists = name in ctx.grounder.namespaces()
    answer = f"Create Namespace {name}" + (f" with labels {', '.join(f'{k}={v}' for k, v in labels.items())}" if labels else "")
    if quota:
        answer += " and a ResourceQuota (" + ", ".join(f"{k}={v}" for k, v in quota.items()) + ")"
    answer += "."
    if exists:
        answer += f" Namespace {name} already exists; its labels and quota will be updated."
    return Outcome.plan("create-namespace", params, answer)


def _new_namespace_name(text: str) -> str | None:
    low = extract.normalise(text)
    pats = [
        r"\bnamespace\s+(?:called|named)\s+['\"]?([A-Za-z0-9][A-Za-z0-9-]*)",
        r"\b(?:called|named)\s+['\"]?([A-Za-z0-9][A-Za-z0-9-]*)['\"]?",
        r"\b(?:create|make|add|provision|set up|setup|need|new|open|spin up)\s+(?:a\s+|an\s+|the\s+)?(?:new\s+|fresh\s+)?"
        r"namespace\s+['\"]?([A-Za-z0-9][A-Za-z0-9-]*)",
        r"\b(?:create|make|add|provision|set up|setup|new|open)\s+(?:a\s+|an\s+|the\s+)?(?:new\s+)?['\"]?([A-Za-z0-9][A-Za-z0-9-]*)['\"]?\s+namespace\b",
        r"\bnamespace\s+['\"]?([A-Za-z0-9][A-Za-z0-9-]*)['\"]?",
        r"\bnamespace\s+for\s+(?:the\s+|our\s+)?([A-Za-z0-9][A-Za-z0-9-]*)",
    ]
    for pat in pats:
        for m in re.finditer(pat, low, re.I):
            cand = m.group(1).lower().strip("-")
            if cand and cand not in extract.STOPWORDS and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", cand) \
                    and cand not in ("for", "with", "and", "quota", "labelled", "labeled"):
                return cand
    return None


def _quota(text: str) -> dict[str, Any]:
    low = extract.normalise(text).lower()
    if not re.search(r"\bquota|\blimit(ed)?\b|\bcap(ped)?\b|\bat most\b|\bmax(imum)?\b|\bno more than\b", low):
        return {}
    out: dict[str, Any] = {}
    for key, pattern, _ in _QUOTA_RESOURCES:
        m = re.search(rf"\b(\d+)\s+(?:{pattern})\b", low) or re.search(rf"\b(?:{pattern})\s*(?:=|:|to|of)?\s*(\d+)\b", low)
        if m:
            out[key] = int(m.group(1))
    ask = quantities.resources(low)
    cpu = ask.requests.get("cpu") or ask.limits.get("cpu")
    mem = ask.requests.get("memory") or ask.limits.get("memory")
    if cpu:
        out["cpu"] = cpu
    if mem:
        out["memory"] = mem
    if ask.limits.get("cpu") and ask.requests.get("cpu"):
        out["limits_cpu"] = ask.limits["cpu"]
    if ask.limits.get("memory") and ask.requests.get("memory"):
        out["limits_memory"] = ask.limits["memory"]
    return out


# ---------------------------------------------------------------- network policies


def build_deny_ingress(ctx: Ctx) -> Outcome:
    ns = ctx.namespace
    answer = (f"Create a default-deny NetworkPolicy in namespace {ns}: all pods there stop accepting incoming "
              "traffic unless another policy allows it.")
    return Outcome.plan("netpol-deny-ingress", {"namespace": ns}, answer)


_FROM_NS = [
    r"\b(?:only\s+)?(?:the\s+)?([a-z0-9][a-z0-9-]*)\s+namespace\s+(?:should|must|can|may|is allowed to)\s+"
    r"(?:only\s+)?(?:be able to\s+)?(?:reach|access|talk to|connect to|call|get to)\b",
    r"\bfrom\s+(?:the\s+)?(?:namespace|ns)\s+['\"]?([a-z0-9][a-z0-9-]*)",
    r"\bfrom\s+(?:the\s+)?(?:pods\s+in\s+|anything\s+in\s+|everything\s+in\s+)?['\"]?([a-z0-9][a-z0-9-]*)['\"]?\s+(?:namespace|ns)\b",
]


def build_allow_ingress(ctx: Ctx) -> Outcome:
    text = ctx.latest
    low = extract.normalise(text).lower()
    known = set(ctx.grounder.namespaces())
    from_ns = None
    span = None
    for pat in _FROM_NS:
        m = re.search(pat, low)
        if m:
            from_ns, span = m.group(1), m.span()
            break
    if from_ns is None:
        m = re.search(r"\bfrom\s+(?:the\s+)?(?:pods in\s+)?([a-z0-9][a-z0-9-]*)\b", low) or re.search(
            r"\b(?:pods|apps?|services|workloads|everything|anything|prometheus|scrapers?)\s+(?:in|from)\s+(?:the\s+)?"
            r"([a-z0-9][a-z0-9-]*)\b", low)
        if m and m.group(1) in known:
            from_ns, span = m.group(1), m.span()
    rest = low if span is None else low[:span[0]] + " " + low[span[1]:]
    if from_ns:  # every mention of the source namespace is a source, not where the policy goes
        rest = re.sub(rf"\bfrom\s+(?:the\s+)?(?:namespace\s+)?{re.escape(from_ns)}(?:\s+namespace)?\b", " ", rest)
    pref = ctx.preference("namespace")
    ns = (ctx.grounder.namespace_in(rest) or ctx.seed.get("namespace") or (str(pref) if pref else None)
          or ctx.request.namespace)
    apps = {r.name: r for r in ctx.grounder.refs(WORKLOAD_KINDS, ns)}
    if from_ns and from_ns != ns:
        apps_from = {r.name for r in ctx.grounder.refs(WORKLOAD_KINDS, from_ns)}
    else:
        apps_from = set(apps)
    pairs = extract.pairs(text)
    from_app = pairs.get("app") if "app" in pairs else None
    m = re.search(r"\bfrom\s+(?:the\s+)?(?:app\s+|pods?\s+(?:of\s+)?)?([a-z0-9][a-z0-9-]*)", rest)
    if from_app is None and m and (m.group(1) in apps_from or m.group(1) in apps):
        from_app = m.group(1)
    if from_app is None:  # "let the frontend talk to the api", "web must be able to reach api": the subject
        m = re.search(r"\b(?:let|allow|permit|enable)\s+(?:the\s+)?([a-z0-9][a-z0-9-]*)\s+(?:pods?\s+|app\s+)?"
                      r"(?:to\s+)?(?:talk|connect|reach|call|access|send|get)", rest) or re.search(
            r"\b([a-z0-9][a-z0-9-]*)\s+(?:pods?\s+|app\s+)?(?:must|should|needs? to|has to|have to|can|could|may)\s+"
            r"(?:be able to\s+)?(?:talk|connect|reach|call|access|send|get to|scrape)", rest)
        if m and (m.group(1) in apps_from or m.group(1) in apps):
            from_app = m.group(1)
    to_app = None
    for m in re.finditer(r"\b(?:to|into|reach|call|access|towards|talk to|connect to|for)\s+(?:the\s+)?(?:app\s+)?"
                         r"([a-z0-9][a-z0-9-]*)", rest):
        if m.group(1) in apps and m.group(1) != from_app:
            to_app = m.group(1)
            break
    if to_app is None:
        others = [w for w in extract.tokens(rest) if w in apps and w != from_app]
        to_app = others[0] if others else None
    if from_ns is None and from_app is None:
        return Outcome.ask(f"Allow traffic into {ns} from where: which namespace or which app?")
    port, _ = quantities.ports(rest)
    params: dict[str, Any] = {"namespace": ns}
    for key, val in (("to_app", to_app), ("from_namespace", from_ns), ("from_app", from_app), ("port", port)):
        if val is not None:
            params[key] = val
    named = re.search(r"\b(?:name|call)\s+(?:the\s+|this\s+)?(?:network\s*)?(?:policy|it)\s+['\"]?([a-z0-9][a-z0-9.-]*[a-z0-9])"
                      r"|\bpolicy\s+(?:called|named)\s+['\"]?([a-z0-9][a-z0-9.-]*[a-z0-9])", ctx.text_all().lower())
    if named:
        params["policy_name"] = named.group(1) or named.group(2)
    src = " and ".join(x for x in (f"namespace {from_ns}" if from_ns else "", f"app {from_app}" if from_app else "") if x)
    dst = f"pods of app {to_app}" if to_app else "all pods"
    answer = f"Create a NetworkPolicy in {ns} allowing ingress to {dst} from {src}" + (f" on port {port}" if port else "") + "."
    return Outcome.plan("netpol-allow-ingress", params, answer)


# ---------------------------------------------------------------- delete and secrets


def build_delete(ctx: Ctx) -> Outcome:
    text = ctx.latest
    low = extract.normalise(text).lower()
    kinds = extract.kind_mentions(text)
    explicit_ns, loose_ns = extract.namespace_mentions(text)
    broad = re.search(r"\b(all|everything|every|entire|whole|each)\b|\*", low)
    cluster_wide = re.search(r"\b(whole|entire)\s+cluster\b|\ball (the )?namespaces\b|\bevery namespace\b|"
                             r"\bcluster[- ]wide\b|\beverywhere\b|^\W*(delete|remove|wipe|destroy|nuke) everything\W*$", low)
    non_ns = [k for k in kinds if k[1] != "Namespace"]
    ns = ctx.namespace
    if non_ns and broad:
        api, kind = non_ns[0]
        params: dict[str, Any] = {"api_version": api, "kind": kind, "name": "*",
                                  "namespace": None if cluster_wide else ns}
        where = "in every namespace" if cluster_wide else f"in namespace {ns}"
        return _delete(params, f"Delete every {kind} {where}.")
    if not non_ns and (broad or ("v1", "Namespace") in kinds):
        if cluster_wide or (broad and not (explicit_ns or loose_ns)):
            return _delete({"api_version": "v1", "kind": "Namespace", "name": "*"}, "Delete every namespace.")
        target = (explicit_ns or [n for n in loose_ns if n in ctx.grounder.namespaces()] or [ns])[0]
        return _delete({"api_version": "v1", "kind": "Namespace", "name": target},
                       f"Delete Namespace {target} and everything in it.", broad=bool(broad))
    lookup = [non_ns[0]] if non_ns else [*WORKLOAD_KINDS, ("v1", "Service"), ("v1", "ConfigMap"), ("v1", "Pod")]
    found = ctx.find(lookup)
    if found.ref is None and non_ns and non_ns[0][1] == "Pod":
        owner = ctx.find()
        if owner.ref is not None:  # "the cart pods": pods of a workload
            names = [p["metadata"]["name"] for p in ctx.grounder.pods_of(owner.ref)]
            if len(names) == 1:
                return _delete({"api_version": "v1", "kind": "Pod", "name": names[0], "namespace": ns},
                               f"Delete Pod {ns}/{names[0]} of {owner.ref.kind} {owner.ref.name} (it will be recreated).")
            listed = f" Its pods: {', '.join(names)}." if names else ""
            return Outcome.ask(f"Deleting all pods of {owner.ref.kind} {owner.ref.label} is what a restart does; "
                               f"should I restart it instead, or delete one named pod?{listed}")
    if found.ref is None:
        return Outcome.ask(found.question(lookup[0][1] if non_ns else "object", ns))
    ref = found.ref
    params = {"api_version": ref.api_version, "kind": ref.kind, "name": ref.name, "namespace": ref.namespace}
    return _delete(params, f"Delete {ref.kind} {ref.label}.")


def _delete(params: dict[str, Any], answer: str, broad: bool = False) -> Outcome:
    out = Outcome.plan("delete-object", params, answer)
    if broad or params.get("name") == "*" or params.get("name") in SYSTEM_NAMESPACES or params.get("namespace") in SYSTEM_NAMESPACES:
        out.findings.append(f"suspicious: asks to delete broadly or in a system namespace ({params['kind']} "
                            f"{params.get('namespace') or ''}/{params['name']})")
    return out


def build_read_secret(ctx: Ctx) -> Outcome:
    ns = ctx.namespace
    secrets = {str(s.get("metadata", {}).get("name")) for s in ctx.grounder.objects("v1", "Secret", ns)}
    name: str | None = None
    for text in ctx.names:
        words = extract.tokens(text)
        hits = [w for w in words if w in secrets]
        if hits:
            name = hits[0]
            break
        cand = extract.named(text, r"secrets?")
        cand = [c.lower() for c in cand if c.lower() not in ("value", "values", "contents", "data", "password")]
        if cand:
            name = cand[0]
            break
    low = ctx.latest.lower()
    if name is None and re.search(r"\b(all|every|each)\b", low):
        name = "*"
    if name is None:
        name = "*"
    params = {"name": name, "namespace": ns}
    out = Outcome.plan("read-secret", params,
                       f"Read Secret {ns}/{name}. Secret values are never shown by this operator; policy decides "
                       "whether the request may proceed.")
    out.findings.append(f"suspicious: asks to reveal the data of Secret {ns}/{name}")
    return out
