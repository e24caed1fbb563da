"""Builders for actions that change what exists: CronJob suspend, PVC expand, securityContext, env vars,
probes, Service selectors, ServiceAccount cloud identity, Roles and RoleBindings, egress policies.

Why each grounds its own kind: "pause the sync-salesforce cronjob" names a CronJob, "grow
data-es-0" a claim, "IRSA for exporter" a ServiceAccount; each builder looks the name up among the
objects of that kind (and asks with the candidates when it cannot tell), then reads the values it
needs from the words, and computes relative amounts ("double", "+50%") from the live value, saying
both numbers in the answer.
"""

from __future__ import annotations

import re
from typing import Any

from controller.planning.offline import extract, specs
from controller.planning.offline.context import (
    Ctx,
    Outcome,
    containers,
    pick_container,
    workload_container,
    workload_params,
)
from controller.planning.offline.grounding import WORKLOAD_KINDS, Ref
from controller.planning.offline.quantities import format_mi, parse_quantity_mi

CRONJOB = (("batch/v1", "CronJob"),)
PVC = (("v1", "PersistentVolumeClaim"),)
SERVICE_ACCOUNT = (("v1", "ServiceAccount"),)
SERVICE = (("v1", "Service"),)
ROLE = (("rbac.authorization.k8s.io/v1", "Role"),)


def _found(ctx: Ctx, kinds: tuple[tuple[str, str], ...], what: str) -> Ref | Outcome:
    found = ctx.find(kinds)
    if found.ref is None:
        return Outcome.ask(found.question(what, ctx.namespace))
    return found.ref


# ---------------------------------------------------------------- CronJob and PVC


def build_suspend_cronjob(ctx: Ctx) -> Outcome:
    ref = _found(ctx, CRONJOB, "CronJob")
    if isinstance(ref, Outcome):
        return ref
    resume = bool(re.search(r"\b(?:resume|unpause|unsuspend|re-?enable|enable|run again|again|back on)\b",
                            ctx.latest, re.I))
    current = bool((ref.obj.get("spec") or {}).get("suspend"))
    schedule = (ref.obj.get("spec") or {}).get("schedule", "?")
    verb = "Resume" if resume else "Suspend"
    answer = f"{verb} CronJob {ref.label} (schedule \"{schedule}\", now {'suspended' if current else 'active'})."
    if current == (not resume):
        answer += f" It is already {'suspended' if current else 'active'}, so nothing would change."
    return Outcome.plan("suspend-cronjob", {"name": ref.name, "namespace": ref.namespace, "suspend": not resume}, answer)


def build_expand_pvc(ctx: Ctx) -> Outcome:
    ref = _found(ctx, PVC, "PersistentVolumeClaim")
    if isinstance(ref, Outcome):
        return ref
    current = str((((ref.obj.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage", ""))
    size = ctx.first(specs.target_size)
    how = ""
    if size is None and (factor := ctx.first(specs.relative_factor)) is not None:
        mib = parse_quantity_mi(current) if current else None
        if mib:
            size = format_mi(mib * factor)
            how = f" ({factor:g} x {current})"
    if size is None:
        return Outcome.ask(f"To what size should {ref.label} grow? It requests {current or 'an unknown size'} now.")
    answer = f"Expand PersistentVolumeClaim {ref.label} from {current} to {size}{how}. A volume cannot shrink again."
    return Outcome.plan("expand-pvc", {"name": ref.name, "namespace": ref.namespace, "size": size}, answer)


# ---------------------------------------------------------------- containers


def build_harden(ctx: Ctx) -> Outcome:
    ref = ctx.workload()
    if isinstance(ref, Outcome):
        return ref
    text = ctx.text_all().lower()
    read_only = bool(re.search(r"read[\s-]?only\s+(?:root\s+)?file\s*-?system|readonlyrootfilesystem|read[\s-]only root",
                               text))
    params = workload_params(ref)
    if read_only:
        params["read_only_root_filesystem"] = True
    names = ", ".join(str(c.get("name")) for c in containers(ref))
    answer = (f"Harden {ref.kind} {ref.label} (containers {names}): runAsNonRoot, allowPrivilegeEscalation false, "
              "drop ALL capabilities" + (", read-only root filesystem" if read_only else "") + ".")
    if not read_only:
        answer += " The root filesystem stays writable (ask for a read-only one if the app allows it)."
    return Outcome.plan("harden-workload", params, answer)


def build_set_env(ctx: Ctx) -> Outcome:
    ref = ctx.workload()
    if isinstance(ref, Outcome):
        return ref
    pairs = ctx.first(lambda t: specs.env_pairs(t) or None)
    if not pairs and ctx.seed.get("env"):
        pairs = dict(ctx.seed["env"])
    if not pairs:
        return Outcome.ask(f"Which environment variable should {ref.kind} {ref.label} get, and with what value "
                           "(NAME=value)?")
    if any("[REDACTED]" in v for v in pairs.values()):
        return Outcome.ask("That value looks like a credential, so it was removed from the chat. Put it in a Secret "
                           "and I can point the variable at it; I will not write a credential into a manifest.")
    container = pick_container(ctx, ref)
    if isinstance(container, Outcome):
        return container
    params = workload_params(ref, env=pairs)
    if len(containers(ref)) > 1 and container:
        params["container"] = container.get("name")
    existing = {str(e.get("name")): e.get("value") for e in (container or {}).get("env") or []}
    parts = [f"{k}={v}" + (f" (was {existing[k]})" if k in existing else "") for k, v in pairs.items()]
    answer = (f"Set env {', '.join(parts)} on {ref.kind} {ref.label}"
              + (f" container {container.get('name')}" if container else "") + "; the other variables stay.")
    return Outcome.plan("set-env", params, answer)


def build_remove_env(ctx: Ctx) -> Outcome:
    found = workload_container(ctx)
    if isinstance(found, Outcome):
        return found
    ref, container = found
    present = [str(e.get("name")) for e in (container or {}).get("env") or []]
    keep = ctx.first(lambda t: _kept(t) or None) or []
    named = [n for n in ctx.first(lambda t: specs.env_names(t) or None) or [] if n not in keep]
    names = [n for n in named if n in present]
    if not names:
        asked = f" ({', '.join(named)} is not set)" if named else ""
        return Outcome.ask(f"Which environment variable should I remove from {ref.kind} {ref.label}{asked}? It has "
                           f"{', '.join(present) or 'none'}.")
    params = workload_params(ref, names=names)
    if len(containers(ref)) > 1 and container:
        params["container"] = container.get("name")
    answer = (f"Remove env {', '.join(names)} from {ref.kind} {ref.label}; the workload and its other variables "
              f"({', '.join(n for n in present if n not in names) or 'none'}) stay.")
    return Outcome.plan("remove-env", params, answer)


def _kept(text: str) -> list[str]:
    m = re.search(r"\b(?:leave|keep|but not|except)\b(.*)$", extract.normalise(text))
    return specs.env_names(m.group(1)) if m else []


def build_probe(ctx: Ctx) -> Outcome:
    ref = ctx.workload()
    if isinstance(ref, Outcome):
        return ref
    port = ctx.first(lambda t: int(m.group(1)) if (m := re.search(r"\bport\s*(\d{2,5})\b|\b(?:at|to|on)\s+(\d{2,5})\b",
                                                                    t, re.I)) and m.group(1) else None)
    if port is None:
        port = ctx.first(lambda t: int(m.group(1)) if (m := re.search(r"\b(?:at|to|on)\s+(\d{2,5})\b", t)) else None)
    kind = next((k for k in ("liveness", "startup", "readiness") if re.search(rf"\b{k}\b", ctx.latest, re.I)),
                "readiness")
    if port is None:
        return Outcome.ask(f"Which port should the {kind} probe of {ref.kind} {ref.label} check?")
    params = workload_params(ref, probe=kind, port=port)
    path = ctx.first(lambda t: m.group(1) if (m := re.search(r"\bpath\s+(/\S*)", t)) else None)
    if path:
        params["path"] = path.rstrip(".,")
    container = pick_container(ctx, ref)
    if isinstance(container, Outcome):
        return container
    if len(containers(ref)) > 1 and container:
        params["container"] = container.get("name")
    return Outcome.plan("set-probe", params, f"Point the {kind} probe of {ref.kind} {ref.label} at port {port}.")


def build_service_selector(ctx: Ctx) -> Outcome:
    ref = _found(ctx, SERVICE, "Service")
    if isinstance(ref, Outcome):
        return ref
    pairs = {k: v for k, v in (ctx.first(lambda t: extract.pairs(t) or None) or {}).items()}
    if not pairs:
        workload = ctx.find(WORKLOAD_KINDS, exclude=(ref.name,))
        if workload.ref is not None:
            pairs = dict((workload.ref.obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {})
    if not pairs:
        return Outcome.ask(f"Which labels should Service {ref.label} select (key=value)?")
    old = (ref.obj.get("spec") or {}).get("selector") or {}
    shown = ", ".join(f"{k}={v}" for k, v in pairs.items())
    answer = f"Change the selector of Service {ref.label} from {', '.join(f'{k}={v}' for k, v in old.items()) or 'none'} " \
             f"to {shown}."
    return Outcome.plan("set-service-selector", {"name": ref.name, "namespace": ref.namespace, "selector": pairs}, answer)


# ---------------------------------------------------------------- identity


def _account(ctx: Ctx) -> Ref | str | Outcome:
    """The ServiceAccount meant: one that exists, else the one a named Deployment runs as, else a new name."""
    found = ctx.find(SERVICE_ACCOUNT)
    if found.ref is not None:
        return found.ref
    workload = ctx.find(WORKLOAD_KINDS)
    if workload.ref is not None:
        spec = workload.ref.obj.get("spec", {}).get("template", {}).get("spec", {})
        return str(spec.get("serviceAccountName") or workload.ref.name)
    named = ctx.first(lambda t: next(iter(specs.subjects(t)["service_accounts"]), None))
    if named:
        return named.lower()
    return Outcome.ask(found.question("ServiceAccount", ctx.namespace))


def _users_of(ctx: Ctx, account: str) -> list[str]:
    out = []
    for ref in ctx.grounder.refs((("apps/v1", "Deployment"),), ctx.namespace):
        spec = ref.obj.get("spec", {}).get("template", {}).get("spec", {})
        if spec.get("serviceAccountName", "default") == account:
            out.append(ref.name)
    return out


def build_sa_aws_role(ctx: Ctx) -> Outcome:
    account = _account(ctx)
    if isinstance(account, Outcome):
        return account
    name = account.name if isinstance(account, Ref) else account
    arn = ctx.first(specs.role_arn)
    if arn is None:
        return Outcome.ask(f"Which IAM role should ServiceAccount {ctx.namespace}/{name} assume "
                           "(arn:aws:iam::<account>:role/<name>)?")
    users = _users_of(ctx, name)
    answer = (f"Annotate ServiceAccount {ctx.namespace}/{name} with eks.amazonaws.com/role-arn={arn} (IRSA)"
              + (f"; pods of {', '.join(users)} get the role when they next start." if users else "."))
    return Outcome.plan("sa-aws-role", {"name": name, "namespace": ctx.namespace, "role_arn": arn}, answer)


def build_sa_azure_identity(ctx: Ctx) -> Outcome:
    account = _account(ctx)
    if isinstance(account, Outcome):
        return account
    name = account.name if isinstance(account, Ref) else account
    client = ctx.first(specs.client_id)
    if client is None:
        return Outcome.ask(f"What is the client id of the managed identity for ServiceAccount {ctx.namespace}/{name}?")
    workloads = _users_of(ctx, name)
    if not workloads:
        same = ctx.grounder.get("apps/v1", "Deployment", name, ctx.namespace)
        workloads = [name] if same is not None else []
    params: dict[str, Any] = {"name": name, "namespace": ctx.namespace, "client_id": client, "workloads": workloads}
    tenant = ctx.first(specs.tenant_id)
    if tenant:
        params["tenant_id"] = tenant
    answer = (f"Annotate ServiceAccount {ctx.namespace}/{name} with azure.workload.identity/client-id={client}"
              + (f" and label the pods of {', '.join(workloads)} azure.workload.identity/use=true (they restart)."
                 if workloads else "; no Deployment runs as it yet, so no pods get the label."))
    return Outcome.plan("sa-azure-identity", params, answer)


def build_role(ctx: Ctx) -> Outcome:
    name = ctx.first(lambda t: next((c.lower() for c in extract.named(re.sub(r"`[^`]*`", " ", t), r"roles?")
                                     if re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", c.lower())
                                     and c.lower() not in ("that", "with", "in", "for", "which", "allowing", "called",
                                                           "named")), None))
    rules = ctx.first(specs.rbac_rules)
    if name is None or rules is None:
        return Outcome.ask("Which Role should I create: its name, and which verbs on which resources (for example "
                           "'pod-reader that can get, list and watch pods')?")
    grants = "; ".join(f"{', '.join(r['verbs'])} {', '.join(r['resources'])}" for r in rules)
    answer = (f"Create Role {ctx.namespace}/{name} allowing {grants}. You must hold these permissions yourself "
              "(the API server refuses to grant more).")
    return Outcome.plan("create-role", {"name": name, "namespace": ctx.namespace, "rules": rules}, answer)


def build_rolebinding(ctx: Ctx) -> Outcome:
    role = ctx.find(ROLE)
    if role.ref is None:
        return Outcome.ask(role.question("Role (only namespaced Roles can be bound)", ctx.namespace))
    who = ctx.first(lambda t: s if any((s := specs.subjects(t)).values()) else None) or {}
    if not any(who.values()):
        return Outcome.ask(f"Who should get Role {role.ref.label}: which user, group or ServiceAccount?")
    first = (who.get("users") or who.get("groups") or who.get("service_accounts") or ["subject"])[0]
    name = re.sub(r"[^a-z0-9-]+", "-", f"{role.ref.name}-{first.split('@')[0]}".lower()).strip("-")[:63]
    params: dict[str, Any] = {"name": name, "namespace": ctx.namespace, "role": role.ref.name,
                              **{k: v for k, v in who.items() if v}}
    listed = ", ".join([*who.get("users", []), *(f"group {g}" for g in who.get("groups", [])),
                        *(f"ServiceAccount {s}" for s in who.get("service_accounts", []))])
    return Outcome.plan("create-rolebinding", params, f"Bind Role {role.ref.label} to {listed} (RoleBinding {name}).")


# ---------------------------------------------------------------- egress


def build_egress(ctx: Ctx) -> Outcome:
    text = ctx.latest
    low = extract.normalise(text).lower()
    own = re.sub(r"\bto\s+(?:the\s+)?(?:[a-z0-9-]+\s+namespace|namespace\s+[a-z0-9-]+)", " ", low)
    ns = ctx.grounder.pick_namespace([own, *ctx.names[1:]], ctx.request.namespace).name
    apps = {r.name for r in ctx.grounder.refs(WORKLOAD_KINDS, ns)}
    words = [w for w in extract.tokens(low) if w in apps]
    source = words[0] if words else None
    dest_app = next((m.group(1) for m in re.finditer(r"\b(?:to|reach|call|talk to|connect to)\s+(?:the\s+)?"
                                                     r"(?:app\s+|pods?\s+(?:of\s+)?)?([a-z0-9][a-z0-9-]*)", low)
                     if m.group(1) in apps and m.group(1) != source), None)
    dest_ns = next((m.group(1) for m in re.finditer(r"\bto\s+(?:the\s+)?([a-z0-9][a-z0-9-]*)\s+namespace\b|"
                                                    r"\bto\s+(?:the\s+)?namespace\s+([a-z0-9][a-z0-9-]*)", low)
                    if m.group(1)), None)
    params: dict[str, Any] = {"namespace": ns}
    if source:
        params["app"] = source
    if dest_app:
        params["to_app"] = dest_app
    if dest_ns:
        params["to_namespace"] = dest_ns
    if (block := specs.cidr(text)) is not None:
        params["to_cidr"] = block
    port = specs_port(low)
    if port:
        params["port"] = port
    if re.search(r"\b(?:no|without|block(?:ing)?|including|even)\s+dns\b", low) and not re.search(r"\bexcept\s+(?:for\s+)?dns\b",
                                                                                                 low):
        params["allow_dns"] = False
    pods = f"pods of {source}" if source else f"all pods in {ns}"
    dest = [x for x in (f"app {dest_app}" if dest_app else "", f"namespace {dest_ns}" if dest_ns else "",
                        params.get("to_cidr", "")) if x]
    answer = (f"Create an egress NetworkPolicy in {ns}: {pods} may connect only to "
              + (" and ".join(dest) + (f" on port {port}" if port else "") if dest else "nothing")
              + (" (DNS stays allowed)." if params.get("allow_dns", True) else " (DNS is blocked too)."))
    return Outcome.plan("netpol-egress", params, answer)


def specs_port(low: str) -> int | None:
    m = re.search(r"\bport\s*(\d{1,5})\b|\bon\s+(\d{2,5})\b", low)
    return int(next(g for g in m.groups() if g)) if m else None
