"""Builders for actions on one workload: scale, restart, rollback, image, resources, HPA, PDB, expose.

Why one function per action: each reads its own values from the text (via `extract`) and grounds
the target (via `Ctx.workload`); when a required value is missing it asks instead of guessing.
Answers name the object with its old and new values, so the person approves something concrete.
"""

from __future__ import annotations

import re
from typing import Any

from controller.planning.offline import extract, quantities, specs
from controller.planning.offline.context import (
    Ctx,
    Outcome,
    containers,
    pick_container,
    repo_of,
    workload_container,
    workload_params,
)
from controller.planning.offline.grounding import Ref

DEFAULT_CPU_LIMIT = "500m"
DEFAULT_MEMORY_LIMIT = "512Mi"


def build_scale(ctx: Ctx) -> Outcome:
    ref = ctx.workload()
    if isinstance(ref, Outcome):
        return ref
    current = int(ref.obj.get("spec", {}).get("replicas", 1) or 0)
    how = ""
    factor = specs.relative_factor(ctx.latest)
    replicas = None
    if factor is not None:
        replicas = 0 if factor == 0 else max(1, int(current * factor + 0.5))
        how = f" ({factor:g} x {current}, as asked)"
    if replicas is None:
        replicas = extract.relative_replicas(ctx.latest, current)
        if replicas is not None:
            how = f" ({'+' if replicas >= current else ''}{replicas - current} from {current}, as asked)"
    if replicas is None:
        replicas = ctx.first(extract.replica_count)
    if replicas is None and ctx.seed.get("replicas") is not None:
        replicas = int(ctx.seed["replicas"])
    if replicas is None and (pref := ctx.preference("replicas")) is not None:
        replicas = int(pref)
        ctx.notes.append(f"Used your preferred default of {replicas} replicas.")
    if replicas is None:
        return Outcome.ask(f"How many replicas should {ref.kind} {ref.label} have? It has {current} now.")
    if not 0 <= replicas <= 1000:
        return Outcome.ask(f"{replicas} replicas is outside what I can set (0-1000). How many should {ref.name} have?")
    answer = f"Scale {ref.kind} {ref.label} from {current} to {replicas} replicas{how}."
    return Outcome.plan("scale", workload_params(ref, replicas=replicas), answer)


def build_restart(ctx: Ctx) -> Outcome:
    ref = ctx.workload()
    if isinstance(ref, Outcome):
        return ref
    answer = f"Restart {ref.kind} {ref.label} (a rolling restart of its pods; the spec is otherwise unchanged)."
    return Outcome.plan("restart", workload_params(ref), answer)


def build_rollback(ctx: Ctx) -> Outcome:
    ref = ctx.workload("Deployment", (("apps/v1", "Deployment"),))
    if isinstance(ref, Outcome):
        return ref
    revision = ctx.first(lambda t: _int(re.search(r"\brevision\s*(?:#|number\s*)?(\d+)\b", t, re.I)))
    params: dict[str, Any] = {"name": ref.name, "namespace": ref.namespace}
    if revision:
        params["to_revision"] = revision
        answer = f"Roll back Deployment {ref.label} to revision {revision}."
    else:
        answer = f"Roll back Deployment {ref.label} to its previous revision."
    return Outcome.plan("rollback", params, answer)


def _int(m: re.Match[str] | None) -> int | None:
    return int(m.group(1)) if m else None


def build_set_image(ctx: Ctx) -> Outcome:
    ref = ctx.workload()
    if isinstance(ref, Outcome):
        return ref
    image = ctx.first(lambda t: next(iter(extract.images(t)), None))
    version = None if image else ctx.first(extract.version_mention)
    container = pick_container(ctx, ref, image or (version[0] if version and version[0] else None))
    if isinstance(container, Outcome):
        return container
    current = str((container or {}).get("image", ""))
    if image is None and version is not None:
        repo, tag = version
        base = repo_of(current) if current else repo
        if repo and current and repo_of(current).rsplit("/", 1)[-1] != repo:
            base = repo
        if not base:
            return Outcome.ask(f"Which image should {ref.kind} {ref.label} run (for example repo:tag)?")
        image = f"{base}:{tag}"
    if image is None:
        return Outcome.ask(f"Which image (repo:tag) should {ref.kind} {ref.label} run? It runs {current or 'nothing'} now.")
    params = workload_params(ref, image=image)
    name = str((container or {}).get("name", ""))
    if len(containers(ref)) > 1:
        params["container"] = name
    answer = f"Set the image of {ref.kind} {ref.label} container {name} from {current} to {image}."
    return Outcome.plan("set-image", params, answer)


def build_set_resources(ctx: Ctx) -> Outcome:
    found = workload_container(ctx)
    if isinstance(found, Outcome):
        return found
    ref, container = found
    res = (container or {}).get("resources") or {}
    cur_req: dict[str, str] = dict(res.get("requests") or {})
    cur_lim: dict[str, str] = dict(res.get("limits") or {})
    ask = ctx.first(lambda t: quantities.resources(t) if _has_values(quantities.resources(t)) else None)
    if ask is None:
        ask = quantities.resources(ctx.latest)
    requests, limits = dict(ask.requests), dict(ask.limits)
    factor = specs.relative_factor(ctx.latest) if not requests and not limits else None
    scaled: list[str] = []
    if factor is not None:  # "50% more memory", "double the cpu limit": from the live values
        for resource in quantities.resource_words(ctx.latest.lower()) or ["memory"]:
            target, current = (limits, cur_lim.get(resource)) if cur_lim.get(resource) or not cur_req.get(resource) \
                else (requests, cur_req.get(resource))
            if current:
                target[resource] = _times(resource, current, factor)
                scaled.append(f"{resource} {current} x {factor:g} = {target[resource]}")
        ask = quantities.ResourceAsk(requests, limits)
    seeded = not requests and not limits and (ctx.seed.get("requests") or ctx.seed.get("limits"))
    if seeded:  # no number said, but a previous plan or a reused thread has them: take those
        requests, limits = dict(ctx.seed.get("requests") or {}), dict(ctx.seed.get("limits") or {})
        ask = quantities.ResourceAsk(requests, limits)
    for resource in ask.more:  # "more memory" with no number: double what is there
        current = cur_lim.get(resource) or cur_req.get(resource)
        limits[resource] = _doubled(resource, current)
    if not requests and not limits:
        seed_req, seed_lim = ctx.seed.get("requests") or {}, ctx.seed.get("limits") or {}
        if seed_req or seed_lim:
            requests, limits = dict(seed_req), dict(seed_lim)
        else:
            return Outcome.ask(f"Which CPU/memory requests or limits should {ref.kind} {ref.label} get "
                               f"(for example memory limit 512Mi, cpu request 250m)? Now: requests {cur_req or 'none'}, "
                               f"limits {cur_lim or 'none'}.")
    for resource, value in list(limits.items()):  # keep request <= limit
        req = requests.get(resource) or cur_req.get(resource)
        if req and _cmp(resource, req, value) > 0:
            requests[resource] = value
    for resource, value in list(requests.items()):
        lim = limits.get(resource) or cur_lim.get(resource)
        if lim and _cmp(resource, value, lim) > 0:
            limits[resource] = value
    params = workload_params(ref)
    if len(containers(ref)) > 1 and container:
        params["container"] = container.get("name")
    if requests:
        params["requests"] = requests
    if limits:
        params["limits"] = limits
    parts = [f"{k} request {v}" for k, v in requests.items()] + [f"{k} limit {v}" for k, v in limits.items()]
    answer = f"Set {', '.join(parts)} on {ref.kind} {ref.label}"
    if container:
        answer += f" container {container.get('name')}"
    answer += f" (now: requests {cur_req or 'none'}, limits {cur_lim or 'none'})."
    if ask.more:
        answer += " You asked for more without a number, so I doubled the current value (or used a default)."
    if scaled:
        answer += f" Computed from the live values: {'; '.join(scaled)}."
    return Outcome.plan("set-resources", params, answer)


def _has_values(ask: quantities.ResourceAsk) -> bool:
    return bool(ask.requests or ask.limits or ask.more)


def _doubled(resource: str, current: str | None) -> str:
    if resource == "memory":
        mib = quantities.parse_quantity_mi(current) if current else None
        return quantities.format_mi(mib * 2) if mib else DEFAULT_MEMORY_LIMIT
    milli = _cpu_milli(current) if current else None
    return f"{int(milli * 2)}m" if milli else DEFAULT_CPU_LIMIT


def _times(resource: str, current: str, factor: float) -> str:
    if resource == "memory":
        mib = quantities.parse_quantity_mi(current)
        return quantities.format_mi(mib * factor) if mib else current
    milli = _cpu_milli(current)
    return f"{int(milli * factor)}m" if milli else current


def _cpu_milli(value: str) -> float | None:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(m?)", value.strip())
    if not m:
        return None
    return float(m.group(1)) if m.group(2) else float(m.group(1)) * 1000


def _cmp(resource: str, a: str, b: str) -> int:
    fa = quantities.parse_quantity_mi(a) if resource == "memory" else _cpu_milli(a)
    fb = quantities.parse_quantity_mi(b) if resource == "memory" else _cpu_milli(b)
    if fa is None or fb is None:
        return 0
    return (fa > fb) - (fa < fb)


def build_hpa(ctx: Ctx) -> Outcome:
    ref = ctx.workload()
    if isinstance(ref, Outcome):
        return ref
    lo, hi = quantities.hpa_bounds(ctx.latest)
    for text in ctx.values[1:]:
        olo, ohi = quantities.hpa_bounds(text)
        lo, hi = lo if lo is not None else olo, hi if hi is not None else ohi
    lo = lo if lo is not None else ctx.seed.get("min_replicas")
    hi = hi if hi is not None else ctx.seed.get("max_replicas")
    current = int(ref.obj.get("spec", {}).get("replicas", 1) or 1)
    if hi is None:  # "grow to 5 instances when busy": the one count given is the ceiling
        hi = ctx.first(lambda t: n if (n := extract.replica_count(t)) and n != lo else None)
    if hi is None:
        return Outcome.ask(f"Up to how many replicas may the autoscaler scale {ref.kind} {ref.label} "
                           f"(it has {current} now)?")
    notes = []
    if lo is None:
        lo = max(1, min(current, hi))
        notes.append(f"minimum {lo} (the current replica count)")
    if lo > hi or lo < 1:
        return Outcome.ask(f"The minimum ({lo}) must be between 1 and the maximum ({hi}). Which bounds do you want?")
    pcts = ctx.first(lambda t: quantities.percentages(t) or None) or []
    cpu = next((v for v, r in pcts if r in ("cpu", "")), None)
    mem = next((v for v, r in pcts if r == "memory"), None)
    if cpu is None and mem is None:
        cpu = ctx.seed.get("cpu_utilization") or 80
        notes.append(f"target {cpu}% CPU (default)")
    params = workload_params(ref, min_replicas=lo, max_replicas=hi)
    params["cpu_utilization"] = cpu
    if mem is not None:
        params["memory_utilization"] = mem
    targets = " and ".join(t for t in (f"{cpu}% CPU" if cpu else "", f"{mem}% memory" if mem else "") if t)
    answer = f"Create a HorizontalPodAutoscaler for {ref.kind} {ref.label}: {lo} to {hi} replicas, target {targets}."
    if notes:
        answer += f" Not stated, so I chose: {', '.join(notes)}."
    return Outcome.plan("create-hpa", params, answer)


def build_pdb(ctx: Ctx) -> Outcome:
    ref = ctx.workload()
    if isinstance(ref, Outcome):
        return ref
    budget = ctx.first(lambda t: b if (b := quantities.pdb_budget(t)) != (None, None) else None)
    min_available, max_unavailable = budget or (None, None)
    params: dict[str, Any] = {"name": ref.name, "namespace": ref.namespace}
    if max_unavailable is not None:
        params["min_available"] = None
        params["max_unavailable"] = max_unavailable
        what = f"at most {max_unavailable} pod(s) unavailable"
    else:
        params["min_available"] = min_available if min_available is not None else 1
        what = f"at least {params['min_available']} pod(s) available"
    answer = f"Create a PodDisruptionBudget for {ref.kind} {ref.label} keeping {what} during voluntary disruptions."
    return Outcome.plan("create-pdb", params, answer)


def build_expose(ctx: Ctx) -> Outcome:
    ref = ctx.workload()
    if isinstance(ref, Outcome):
        return ref
    port, target = ctx.first(lambda t: p if (p := quantities.ports(t)) != (None, None) else None) or (None, None)
    container_ports = [int(p["containerPort"]) for c in containers(ref) for p in c.get("ports") or []
                       if p.get("containerPort")]
    note = ""
    if port is None:
        if not container_ports:
            return Outcome.ask(f"On which port should {ref.kind} {ref.label} be exposed?")
        port = container_ports[0]
        note = f" (port {port}: the container port, since none was given)"
    if target is None and container_ports and container_ports[0] != port:
        target = container_ports[0]
    low = ctx.text_all().lower()
    service_type = "ClusterIP"
    if re.search(r"load ?balancer|\bpublic(ly)?\b|\binternet\b|\bexternal(ly)?\b|outside (of )?the cluster", low):
        service_type = "LoadBalancer"
    elif re.search(r"node ?port", low):
        service_type = "NodePort"
    params: dict[str, Any] = {"name": ref.name, "namespace": ref.namespace, "port": port, "service_type": service_type}
    if target is not None:
        params["target_port"] = target
    m = re.search(r"\b(?:service|svc)\s+(?:named|called)\s+['\"]?([a-z0-9][a-z0-9-]*[a-z0-9])", low) or re.search(
        r"\b(?:named|called|name it)\s+['\"]?([a-z0-9][a-z0-9-]*[a-z0-9])['\"]?", low)
    if m and m.group(1) != ref.name:
        params["service_name"] = m.group(1)
    answer = (f"Expose {ref.kind} {ref.label} as a {service_type} Service "
              f"{params.get('service_name', ref.name)} on port {port}"
              + (f" -> target port {target}" if target else "") + f"{note}.")
    return Outcome.plan("expose-service", params, answer)


def target_ref_kind(ref: Ref) -> str:
    return f"{ref.kind} {ref.label}"
