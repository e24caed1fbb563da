"""Builders for actions that create objects: Ingress, CronJob, Job, Pod, StatefulSet, PVC, canary.

Why they ask more than they guess: a new object's name, image, command or schedule cannot be read from
the cluster, only from the words. When one is missing the builder asks for it (naming what it did
understand) instead of inventing a default that would then be approved without being noticed. What
can be read from the cluster is: the Service port an Ingress routes to, the image repository a canary
keeps, whether a name is already taken.
"""

from __future__ import annotations

import re
from typing import Any

from controller.planning.offline import extract, specs
from controller.planning.offline.context import Ctx, Outcome, containers, pick_container, repo_of

SERVICE = (("v1", "Service"),)
PVC = (("v1", "PersistentVolumeClaim"),)
DEPLOYMENT = (("apps/v1", "Deployment"),)
_NOT_NAMES = {"for", "with", "that", "which", "to", "in", "on", "at", "of", "using", "called", "named", "running",
              "from", "and", "the", "a", "an", "new", "one-off", "single", "debug", "test", "temporary", "nightly",
              "daily", "weekly", "hourly", "image", "class", "pod", "job", "cronjob", "claim", "ingress",
              "statefulset", "please", "each", "every", "runs", "run", "it", "is"}


def new_name(ctx: Ctx, nouns: str) -> str | None:
    """The name given for a new object ("called X", "named X", "<noun> X"), DNS-1123 only."""
    for text in ctx.values:
        masked = re.sub(r"`[^`]*`", " ", text)
        explicit = re.search(r"\b(?:named|called)\s+['\"]?([a-z0-9]([-a-z0-9]*[a-z0-9])?)\b(?![:/.]\w)", masked, re.I)
        if explicit and explicit.group(1).lower() not in ("the", "a", "an"):
            return explicit.group(1).lower()
        for cand in extract.named(masked, nouns):
            low = cand.lower().strip(".,:;")
            if low in _NOT_NAMES or ":" in low or "/" in low or not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", low):
                continue
            if extract.images(cand) or re.fullmatch(r"\d+(?:\.\d+)?[a-z]{0,3}", low):
                continue
            return low
    return None


def image_of(ctx: Ctx) -> str | None:
    return ctx.first(lambda t: next(iter(extract.images(re.sub(r"`[^`]*`", " ", t))), None))


def _missing(what: str, understood: list[str]) -> Outcome:
    got = f" I understood: {'; '.join(understood)}." if understood else ""
    return Outcome.ask(f"{what}?{got}")


# ---------------------------------------------------------------- Ingress


def build_ingress(ctx: Ctx) -> Outcome:
    ns = ctx.namespace
    found = ctx.find(SERVICE)
    if found.ref is None:
        return Outcome.ask(found.question("Service to route to", ns))
    service = found.ref
    ports = [int(p["port"]) for p in (service.obj.get("spec") or {}).get("ports") or [] if isinstance(p.get("port"), int)]
    port = ctx.first(lambda t: p if (p := _port(t)) in ports else None)
    asked_port = ctx.first(_port)
    if port is None and asked_port is not None and asked_port not in ports:
        return Outcome.ask(f"Service {service.label} has no port {asked_port}; it has {', '.join(map(str, ports))}. "
                           "Which one should the Ingress use?")
    if port is None and len(ports) == 1:
        port = ports[0]
    if port is None:
        return Outcome.ask(f"Service {service.label} has ports {', '.join(map(str, ports)) or 'none'}: which one should "
                           "the Ingress send traffic to?")
    host = ctx.first(specs.host)
    klass = ctx.first(specs.ingress_class)
    name = new_name(ctx, r"ingress(?:es)?")
    if name is None or name == klass or name in specs.INGRESS_CLASSES:
        name = service.name
    params: dict[str, Any] = {"name": name, "namespace": ns, "service": service.name, "port": port}
    if host:
        params["host"] = host
    path = ctx.first(specs.http_path)
    if path:
        params["path"] = path
    tls = ctx.first(specs.tls_secret)
    if tls:
        params["tls_secret"] = tls
    if klass:
        params["ingress_class"] = klass
    where = f"{host or 'every host'}{path or '/'}"
    extras = [x for x in (f"TLS with Secret {tls}" if tls else "", f"ingress class {klass}" if klass else "") if x]
    answer = (f"Create Ingress {ns}/{name} routing {where} to Service {service.name} port {port}"
              + (f" ({', '.join(extras)})" if extras else "") + ".")
    if not host:
        answer += " No host was named, so it answers for every host."
    return Outcome.plan("create-ingress", params, answer)


def _port(text: str) -> int | None:
    m = re.search(r"\bport\s*(?:number\s*)?(\d{2,5})\b|\bon\s+(\d{2,5})\b(?!\s*(?:%|gi|mi|replicas|pods))",
                  extract.normalise(text), re.I)
    if not m:
        return None
    return int(next(g for g in m.groups() if g))


# ---------------------------------------------------------------- CronJob, Job, Pod


def build_cronjob(ctx: Ctx) -> Outcome:
    name = new_name(ctx, r"cron ?jobs?|jobs?")
    image = image_of(ctx)
    schedule = ctx.first(specs.schedule)
    command = ctx.first(specs.command)
    understood = [x for x in (f"name {name}" if name else "", f"image {image}" if image else "",
                              f"schedule {schedule}" if schedule else "",
                              f"command {' '.join(command)}" if command else "") if x]
    if schedule is None:
        return _missing("When should the CronJob run (for example 'every day at 02:30' or '30 2 * * *')", understood)
    if image is None:
        return _missing("Which image (repo:tag) should the CronJob run", understood)
    if name is None:
        return _missing("What should the CronJob be called", understood)
    params: dict[str, Any] = {"name": name, "namespace": ctx.namespace, "schedule": schedule, "image": image}
    if command:
        params["command"] = command
    answer = (f"Create CronJob {ctx.namespace}/{name} on schedule \"{schedule}\" running {image}"
              + (f" with `{' '.join(command)}`" if command else " with its default command") + ".")
    return Outcome.plan("create-cronjob", params, answer)


def _one_off(ctx: Ctx, action: str, kind: str, nouns: str) -> Outcome:
    name = new_name(ctx, nouns)
    image = image_of(ctx)
    command = ctx.first(specs.command)
    understood = [x for x in (f"name {name}" if name else "", f"image {image}" if image else "",
                              f"command {' '.join(command)}" if command else "") if x]
    if image is None:
        return _missing(f"Which image (repo:tag) should the {kind} run", understood)
    if name is None:
        return _missing(f"What should the {kind} be called", understood)
    params: dict[str, Any] = {"name": name, "namespace": ctx.namespace, "image": image}
    if command:
        params["command"] = command
    answer = (f"Create {kind} {ctx.namespace}/{name} running {image}"
              + (f" with `{' '.join(command)}`" if command else " with its default command") + ".")
    return Outcome.plan(action, params, answer)


def build_job(ctx: Ctx) -> Outcome:
    return _one_off(ctx, "create-job", "Job", r"jobs?")


def build_pod(ctx: Ctx) -> Outcome:
    return _one_off(ctx, "create-pod", "Pod", r"pods?")


# ---------------------------------------------------------------- StatefulSet and volumes


def build_statefulset(ctx: Ctx) -> Outcome:
    name = new_name(ctx, r"stateful ?sets?|sts")
    image = image_of(ctx)
    understood = [x for x in (f"name {name}" if name else "", f"image {image}" if image else "") if x]
    if image is None:
        return _missing("Which image (repo:tag) should the StatefulSet run", understood)
    if name is None:
        return _missing("What should the StatefulSet be called", understood)
    if ctx.grounder.get("apps/v1", "StatefulSet", name, ctx.namespace) is not None:
        return Outcome.ask(f"StatefulSet {ctx.namespace}/{name} exists already. Do you want to change its image to {image} "
                           "(say 'set the image of ...') or create one with another name?")
    params: dict[str, Any] = {"name": name, "namespace": ctx.namespace, "image": image}
    replicas = ctx.first(lambda t: extract.replica_count(re.sub(r"\d+(?:\.\d+)?\s*[GMT]i?B?\b", " ", t)))
    if replicas is not None and 0 <= replicas <= 1000:
        params["replicas"] = replicas
    size = ctx.first(lambda t: next(iter(specs.sizes(t)), None))
    if size:
        params["storage"] = size
        if (path := ctx.first(specs.mount_path)) is not None:
            params["mount_path"] = path
        if (cls := ctx.first(specs.storage_class)) is not None:
            params["storage_class"] = cls
    port = ctx.first(_port)
    if port:
        params["port"] = port
    answer = (f"Create StatefulSet {ctx.namespace}/{name} with {params.get('replicas', 1)} replica(s) of {image}"
              + (f", each with a {size} volume at {params.get('mount_path', '/data')}" if size else "") + ".")
    return Outcome.plan("create-statefulset", params, answer)


def build_pvc(ctx: Ctx) -> Outcome:
    name = new_name(ctx, r"persistent ?volume ?claims?|persistent ?volumes?|volume ?claims?|pvcs?|claims?|volumes?")
    size = ctx.first(specs.target_size)
    understood = [x for x in (f"name {name}" if name else "", f"size {size}" if size else "") if x]
    if size is None:
        return _missing("How big should the volume claim be (for example 20Gi)", understood)
    if name is None:
        return _missing("What should the volume claim be called", understood)
    existing = ctx.grounder.get("v1", "PersistentVolumeClaim", name, ctx.namespace)
    if existing is not None:
        return Outcome.ask(f"PersistentVolumeClaim {ctx.namespace}/{name} exists already; should I expand it to {size} "
                           "instead?")
    params: dict[str, Any] = {"name": name, "namespace": ctx.namespace, "size": size}
    klass = ctx.first(specs.storage_class)
    if klass:
        params["storage_class"] = klass
    modes = ctx.first(specs.access_modes)
    if modes:
        params["access_modes"] = modes
    answer = (f"Create PersistentVolumeClaim {ctx.namespace}/{name} of {size} "
              f"({', '.join(modes or ['ReadWriteOnce'])}, storage class {klass or 'the default'}).")
    return Outcome.plan("create-pvc", params, answer)


# ---------------------------------------------------------------- canary


def build_canary(ctx: Ctx) -> Outcome:
    ref = ctx.workload("Deployment", DEPLOYMENT)
    if isinstance(ref, Outcome):
        return ref
    image = image_of(ctx)
    version = None if image else ctx.first(extract.version_mention)
    container = pick_container(ctx, ref, image)
    if isinstance(container, Outcome):
        return container
    current = str((container or {}).get("image", ""))
    if image is None and version is not None and current:
        image = f"{repo_of(current)}:{version[1]}"
    if image is None:
        return Outcome.ask(f"Which image should the canary of {ref.label} run? The stable pods run {current}.")
    params: dict[str, Any] = {"name": ref.name, "namespace": ref.namespace, "image": image}
    if len(containers(ref)) > 1 and container:
        params["container"] = container.get("name")
    replicas = ctx.first(lambda t: _canary_replicas(t))
    weight = None if replicas else ctx.first(specs.percent)
    if replicas:
        params["canary_replicas"] = replicas
    elif weight:
        params["weight"] = weight
    stable = int(ref.obj.get("spec", {}).get("replicas", 1) or 0)
    canary = replicas or (max(1, round(stable * weight / (100 - weight))) if weight else 1)
    answer = (f"Start a canary Deployment {ref.namespace}/{ref.name}-canary running {image} with {canary} replica(s) "
              f"next to the {stable} stable pod(s) of {ref.name} (running {current}): traffic splits by pods, about "
              f"{round(100 * canary / (canary + stable)) if canary + stable else 0}% to the canary.")
    return Outcome.plan("create-canary", params, answer)


def _canary_replicas(text: str) -> int | None:
    m = re.search(rf"\b{extract.NUMBER}\s+(?:canary\s+)?(?:replicas?|pods?|instances?)\b", text.lower())
    return extract.to_int(m.group(1)) if m else None
