"""The offline planner's cloud half: questions, reviews, troubleshooting and changes of AWS and Azure
resources, answered from live cloud data.

Why a route of its own in front of the intents: the intent anchors know how to *create* a bucket or a
resource group, but "which of our buckets are not encrypted?", "billing can't write to s3://invoices"
or "block public access on shop-assets" need the cloud's own state: what exists, what a role may do,
what is public. `route()` claims a request only when its words are about cloud resources *and* read
as one of the kinds in `cloud_text.kind` — anything else (creating resources, ServiceAccount
annotations, out-of-catalog requests that merely mention S3) stays with the intents. Without cloud
access configured it says so instead of guessing.

Reviews and diagnoses are answers (`kind="answer"`) that may offer a fix; commands are plans. Every
change is a catalog call (ACK/ASO objects), so it goes through validation, RBAC, the cloud permission
check, approval, git and restore like anything else.
"""

from __future__ import annotations

import re
from typing import Any

from controller.cloud import findings as rules
from controller.cloud.model import Finding, Remediation
from controller.cloud.review import Review, review_aws, review_azure
from controller.cloud.seam import CloudAccess, CloudError, cloud_of
from controller.cloud.troubleshoot import blob_access, ecr_pull, s3_access, workload_of
from controller.planning.offline import cloud_text as words
from controller.planning.offline.context import Ctx, Outcome
from controller.planning.types import ActionCall, ClusterReader
from controller.redact import redact_text

# Intents whose own builders handle the request (creating resources, ServiceAccount annotations).
OWN_BUILDERS = ("create-s3-bucket", "create-azure-resource-group", "create-azure-storage-account", "sa-aws-role",
                "sa-azure-identity")
MAX_LINES = 12


def route(ctx: Ctx, intent: str, cluster: ClusterReader, read_only: bool = False) -> tuple[str, Outcome] | None:
    """(intent, outcome) when this is a cloud request of ours; None leaves it to the intents.

    `read_only` (the person said not to change anything): answers only, no fix is offered.
    """
    text = ctx.text_all()
    which = words.clouds(text)
    if not which:
        return None
    if intent in OWN_BUILDERS and (words.CREATE.search(words.low(text)) or intent.startswith("sa-")):
        return None
    kind = words.kind(text)
    if kind is None:
        return None
    cloud = cloud_of(cluster)
    missing = [c for c in sorted(which) if (cloud.aws if c == "aws" else cloud.azure) is None]
    if len(missing) == len(which):
        names = {"aws": "AWS (AIOP_AWS)", "azure": "Azure (AIOP_AZURE_SUBSCRIPTION_ID)"}
        return f"cloud-{kind}", Outcome(answer=f"I cannot see {' or '.join(names[c] for c in missing)}: the operator has no "
                                        "access to it configured, so I cannot answer from live data.", kind="answer")
    handler = {"review": _review, "troubleshoot": _troubleshoot, "harden": _harden, "grant": _grant,
               "irsa": _irsa, "inventory": _inventory, "modify-db": _modify_db}[kind]
    outcome = handler(ctx, cloud, which, text)
    if outcome is None:
        return None
    if read_only and outcome.actions:
        outcome = Outcome(answer=outcome.answer, findings=outcome.findings, kind="answer")
    # cloud text (Security Hub descriptions, policy documents) is redacted like cluster data before it is stored
    outcome.answer = redact_text(outcome.answer)
    outcome.question = redact_text(outcome.question)
    outcome.findings = [redact_text(f) for f in outcome.findings]
    return f"cloud-{kind}", outcome


def _calls(fixes: list[Remediation], why: str) -> list[ActionCall]:
    return [ActionCall(action=f.action, params=dict(f.params), reason=why) for f in fixes]


# ---------------------------------------------------------------------------------------- review


def _keep(f: Finding, subjects: set[str], aspects: set[str]) -> bool:
    title, resource = f.title.lower(), f.resource.lower()
    by_subject = {"bucket": resource.startswith("arn:aws:s3") or "s3 bucket" in title,
                  "storage": "storageaccounts" in resource or "storage account" in title,
                  "rds": "rds " in title or ":rds:" in resource, "role": "iam role" in title,
                  "volume": "ebs " in title, "disk": "disk" in title,
                  "provider": f.source != "operator check"}
    if subjects & set(by_subject) and not any(by_subject[s] for s in subjects & set(by_subject)):
        return False
    by_aspect = {"encryption": "encrypt" in title, "public": any(w in title for w in ("public", "anonymous",
                                                                                   "any network", "everything")),
                 "tls": "tls" in title or "http" in title, "versioning": "versioned" in title}
    return not aspects or any(by_aspect[a] for a in aspects)


def _review(ctx: Ctx, cloud: CloudAccess, which: set[str], text: str) -> Outcome:
    reviews: list[tuple[str, Review]] = []
    if "aws" in which and cloud.aws is not None:
        reviews.append(("AWS", review_aws(cloud.aws, ctx.namespace)))
    if "azure" in which and cloud.azure is not None:
        reviews.append(("Azure", review_azure(cloud.azure, ctx.namespace)))
    subjects, aspects = words.subjects(text), words.aspects(text)
    found = [f for _name, r in reviews for f in r.findings if _keep(f, subjects, aspects)]
    seen = "; ".join(f"{name}: {r.seen()}" for name, r in reviews)
    gaps = [g for _name, r in reviews for g in r.gaps]
    if not found:
        answer = f"No findings for that: I looked at {seen}, and none of it matches."
    else:
        lines = [f.line() for f in found[:MAX_LINES]]
        more = f"\n(and {len(found) - MAX_LINES} more)" if len(found) > MAX_LINES else ""
        answer = (f"Cloud security review ({rules.summary(found)}), from live data ({seen}):\n- " + "\n- ".join(lines)
                  + more)
    fixes = rules.remediations(found)
    if fixes:
        answer += ("\nI propose fixes for what the catalog can change (" + ", ".join(_fix_label(f) for f in fixes)
                   + "); approve them to apply through ACK/ASO, or ask for a subset.")
    if gaps:
        answer += "\nNot checked: " + "; ".join(gaps)
    return Outcome(_calls(fixes, "fix a cloud security finding"), answer,
                   findings=[f"cloud: {f.line()}" for f in found[:MAX_LINES]], kind="answer")


def _fix_label(r: Remediation) -> str:
    target = r.params.get("bucket") or r.params.get("name") or r.params.get("role") or r.params.get("identifier") or ""
    return f"{r.action} {target}".strip()


# ------------------------------------------------------------------------------- troubleshooting


def _workload(ctx: Ctx, cluster: Any) -> Any:
    found = ctx.find()
    if found.ref is None:
        return None
    return workload_of(cluster, found.ref.kind, found.ref.name, found.ref.namespace or ctx.namespace)


def _troubleshoot(ctx: Ctx, cloud: CloudAccess, which: set[str], text: str) -> Outcome | None:
    cluster = ctx.grounder.cluster
    if "aws" in which and cloud.aws is not None and ("ecr" in words.low(text) or "pull" in words.low(text)):
        pulled = _ecr(ctx, cloud, text)
        if pulled is not None:
            return pulled
    w = _workload(ctx, cluster)
    if w is None:
        found = ctx.find()
        return Outcome.ask(found.question("workload", ctx.namespace))
    op = words.operation(text)
    try:
        if "aws" in which and cloud.aws is not None:
            bucket = words.s3_url(text) or next(iter(words.named(text, [b.name for b in cloud.aws.buckets()])), None)
            if bucket is None:
                return Outcome.ask("Which S3 bucket does it fail on?")
            d = s3_access(cluster, cloud.aws, w, bucket, op)
        elif cloud.azure is not None:
            account = next(iter(words.named(text, [a.name for a in cloud.azure.storage_accounts()])), None)
            if account is None:
                return Outcome.ask("Which storage account does it fail on?")
            d = blob_access(cluster, cloud.azure, w, account, op)
        else:
            return None
    except CloudError as exc:
        return Outcome(answer=f"I could not read the cloud to answer: {exc}", kind="answer")
    return Outcome(_calls(d.fixes, "fix the missing cloud permission"), d.answer,
                   findings=[f"cloud: {f}" for f in d.findings], kind="answer")


def _ecr(ctx: Ctx, cloud: CloudAccess, text: str) -> Outcome | None:
    assert cloud.aws is not None
    images = [str(c.get("image", "")) for p in ctx.grounder.objects("v1", "Pod", ctx.namespace)
              for c in (p.get("spec") or {}).get("containers") or []]
    images += [w for w in words.low(text).split() if ".dkr.ecr." in w]
    for image in dict.fromkeys(images):
        d = ecr_pull(cloud.aws, image, ctx.namespace)
        if d is not None:
            return Outcome(_calls(d.fixes, "let the nodes pull from ECR"), d.answer,
                           findings=[f"cloud: {f}" for f in d.findings], kind="answer")
    return None


# ------------------------------------------------------------------------------------ commands


def _harden(ctx: Ctx, cloud: CloudAccess, which: set[str], text: str) -> Outcome | None:
    t = words.low(text)
    if "aws" in which and cloud.aws is not None:
        buckets = words.named(text, [b.name for b in cloud.aws.buckets()])
        if not buckets:
            return Outcome.ask("Which S3 bucket should I change?")
        change: dict[str, Any] = {}
        if "encrypt" in t:
            change["encryption"] = "aws:kms" if "kms" in t else "AES256"
        if "version" in t:
            change["versioning"] = not re.search(r"\b(disable|turn off|suspend)\w*\s+(?:the\s+)?version", t)
        if "public" in t or "private" in t:
            change["block_public_access"] = not re.search(r"\b(allow|enable|open)\w*\s+public", t)
        if not change:
            return Outcome.ask("What should change on the bucket: default encryption, versioning, or the public "
                               "access block?")
        calls = [ActionCall(action="secure-s3-bucket", params={"bucket": b, "namespace": ctx.namespace, **change},
                            reason="harden an S3 bucket") for b in buckets]
        return Outcome(calls, "Change " + ", ".join(buckets) + " through ACK: " + ", ".join(
            f"{k.replace('_', ' ')} {v}" for k, v in change.items()) + ".")
    if cloud.azure is not None:
        accounts = words.named(text, [a.name for a in cloud.azure.storage_accounts()])
        if not accounts:
            return Outcome.ask("Which storage account should I harden?")
        network = bool(re.search(r"public network|private endpoint|firewall|(?:block|disable) (?:all )?public access", t))
        calls = [ActionCall(action="harden-storage-account", params={
            "name": a, "namespace": ctx.namespace, "disable_public_network_access": network}, reason="harden storage")
            for a in accounts]
        return Outcome(calls, "Harden " + ", ".join(accounts) + " through Azure Service Operator: no anonymous blob "
                       "access, TLS 1.2, HTTPS only" + (", no public network access" if network else "") + ".")
    return None


def _modify_db(ctx: Ctx, cloud: CloudAccess, which: set[str], text: str) -> Outcome | None:
    """An RDS instance's class, allocated storage or engine version, through its ACK DBInstance (the engine
    takes an RDS DB snapshot before it is applied: the instance is data at risk)."""
    if "aws" not in which or cloud.aws is None:
        return None
    t = words.low(text)
    known = [d.identifier for d in cloud.aws.db_instances()]
    named = words.named(text, known)
    if not named:
        return Outcome.ask("Which RDS instance should I change? I see: " + (", ".join(known) or "none") + ".")
    change: dict[str, Any] = {}
    if m := words.DB_CLASS.search(t):
        change["instance_class"] = m.group(1)
    if m := words.DB_STORAGE.search(t):
        change["allocated_storage_gib"] = int(m.group(1) or m.group(2))
    if m := words.DB_ENGINE.search(t):
        change["engine_version"] = m.group(1)
    calls = [ActionCall(action="modify-rds-instance", params={"identifier": named[0], "namespace": ctx.namespace,
                                                               **change}, reason="change an RDS instance")]
    return Outcome(calls, f"Change RDS instance {named[0]} through ACK: " + ", ".join(
        f"{k.replace('_', ' ')} {v}" for k, v in change.items()) + ".")


def _grant(ctx: Ctx, cloud: CloudAccess, which: set[str], text: str) -> Outcome | None:
    role, client = words.azure_role(text), words.client_id(text)
    if cloud.azure is not None and role and client:
        accounts = words.named(text, [a.name for a in cloud.azure.storage_accounts()])
        groups = words.named(text, [g.name for g in cloud.azure.resource_groups()])
        scope = {"storage_account": accounts[0]} if accounts else {"resource_group": groups[0]} if groups else None
        if scope is None:
            return Outcome.ask(f"On which storage account or resource group should {client} get {role}?")
        return Outcome([ActionCall(action="assign-azure-role", params={"namespace": ctx.namespace, "client_id": client,
                                                                         "role": role, **scope})],
                       f"Give {client} the role {role} on {next(iter(scope.values()))} (ASO RoleAssignment).")
    outcome = _troubleshoot(ctx, cloud, which, text)
    if outcome is None or not outcome.actions:
        return outcome
    return Outcome(outcome.actions, outcome.answer, findings=outcome.findings)  # a command: the fix is the plan


def _irsa(ctx: Ctx, cloud: CloudAccess, which: set[str], text: str) -> Outcome | None:
    if cloud.aws is None:
        return None
    accounts = [a["metadata"]["name"] for a in ctx.grounder.objects("v1", "ServiceAccount", ctx.namespace)]
    named_accounts = words.named(text, accounts)
    if not named_accounts:
        return Outcome.ask(f"Which ServiceAccount in {ctx.namespace} should the role be for?")
    buckets = words.named(text, [b.name for b in cloud.aws.buckets()])
    if not buckets:
        return Outcome.ask("What should the role be allowed to do (for example: read the bucket audit-logs)?")
    op = words.operation(text)
    action = {"write": "s3:PutObject", "delete": "s3:DeleteObject", "list": "s3:ListBucket"}.get(op, "s3:GetObject")
    resources = [f"arn:aws:s3:::{b}" if op == "list" else f"arn:aws:s3:::{b}/*" for b in buckets]
    sa = named_accounts[0]
    params = {"role": f"{ctx.namespace}-{sa}"[:64], "namespace": ctx.namespace, "service_account": sa,
              "actions": [action], "resources": resources}
    return Outcome([ActionCall(action="create-irsa-role", params=params, reason="an IAM role for a ServiceAccount")],
                   f"Create IAM role {params['role']} for ServiceAccount {ctx.namespace}/{sa}, allowed {action} on "
                   f"{', '.join(resources)}; then annotate the ServiceAccount with it (sa-aws-role).")


# ----------------------------------------------------------------------------------- inventory


def _inventory(ctx: Ctx, cloud: CloudAccess, which: set[str], text: str) -> Outcome | None:
    subjects = words.subjects(text) or {"bucket", "storage"}
    lines: list[str] = []
    try:
        if "aws" in which and cloud.aws is not None:
            lines += _aws_inventory(ctx, cloud, subjects)
        if "azure" in which and cloud.azure is not None:
            lines += _azure_inventory(cloud, subjects)
    except CloudError as exc:
        return Outcome(answer=f"I could not read the cloud to answer: {exc}", kind="answer")
    if not lines:
        return None
    return Outcome(answer="From live data:\n- " + "\n- ".join(lines[:MAX_LINES * 2]), kind="answer")


def _aws_inventory(ctx: Ctx, cloud: CloudAccess, subjects: set[str]) -> list[str]:
    aws = cloud.aws
    assert aws is not None
    out = []
    if "bucket" in subjects:
        for b in aws.buckets():
            block = b.public_access_block
            out.append(f"S3 bucket {b.name} ({b.region}): encryption {b.encryption or 'none'}, versioning "
                       f"{b.versioning or 'off'}, public access block "
                       f"{'complete' if block and block.complete else 'partial' if block else 'none'}"
                       f"{', bucket policy' if b.policy else ''}")
    if "role" in subjects:
        w = _workload(ctx, ctx.grounder.cluster)
        sa = ctx.grounder.cluster.get("v1", "ServiceAccount", w.service_account, w.namespace) if w else None
        arn = ((sa or {}).get("metadata", {}).get("annotations") or {}).get("eks.amazonaws.com/role-arn", "")
        role = aws.role(arn) if arn else None
        if w is not None and role is not None:
            policies = ", ".join(p.name for p in (*role.attached, *role.inline)) or "no policies"
            out.append(f"{w.kind} {w.name} runs as ServiceAccount {w.service_account}, which uses IAM role {role.name} "
                       f"({policies})")
        elif w is not None:
            out.append(f"{w.kind} {w.name} runs as ServiceAccount {w.service_account}, "
                       + (f"annotated with {arn}, which does not exist" if arn else "without an IAM role (no IRSA)"))
    if "rds" in subjects:
        out += [f"RDS {d.identifier} ({d.engine}, {d.status}): public {d.publicly_accessible}, encrypted {d.encrypted}, "
                f"backups {d.backup_retention_days} days" for d in aws.db_instances()]
    if "alarm" in subjects:
        out += [f"alarm {a.name} is in ALARM: {a.reason} ({a.namespace} {a.metric})" for a in aws.alarms()] or \
            ["no CloudWatch alarm is in ALARM"]
    if "nodes" in subjects:
        out += [f"EKS node group {g.cluster}/{g.name}: {g.status}, {g.desired} nodes ({g.minimum}-{g.maximum})"
                + (f", issues: {'; '.join(g.health)}" if g.health else "") for g in aws.node_groups()]
    if "volume" in subjects:
        out += [f"EBS volume {v.volume_id}{' ' + v.name if v.name else ''}: {v.size_gib} GiB, {v.state}, encrypted "
                f"{v.encrypted}" for v in aws.volumes()]
    return out


def _azure_inventory(cloud: CloudAccess, subjects: set[str]) -> list[str]:
    azure = cloud.azure
    assert azure is not None
    out = []
    if "storage" in subjects:
        out += [f"storage account {a.name} ({a.resource_group}, {a.location}): anonymous blob access "
                f"{'allowed' if a.allow_blob_public_access else 'off'}, minimum TLS {a.minimum_tls_version or 'unset'}, "
                f"public network {a.public_network_access or 'unset'}" for a in azure.storage_accounts()]
    if "nodes" in subjects:
        out += [f"AKS node pool {p.cluster}/{p.name}: {p.count} x {p.vm_size}, {p.power_state or p.provisioning_state}"
                for p in azure.node_pools()]
    if "disk" in subjects:
        out += [f"managed disk {d.name} ({d.resource_group}): {d.size_gib} GiB, {d.state}" for d in azure.disks()]
    if "identity" in subjects:
        for i in azure.identities():
            held = ", ".join(f"{a.role_name} on {a.scope.rsplit('/', 1)[-1]}" for a in azure.role_assignments(i.principal_id))
            out.append(f"managed identity {i.name} (client id {i.client_id}): {held or 'no role assignments'}")
    return out
