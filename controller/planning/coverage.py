"""Does the plan account for what the request names? Checked for every backend before a plan is shown.

Why: a plan that reads as sound but does something else moves the whole burden onto the reviewer.
"Create an ingress for inventory" answered with a NetworkPolicy, "resize the mongo volume to 100Gi"
answered with a 100Gi memory limit, "set up a cronjob to restart cart every night" answered with an
immediate restart, "remove the DEBUG env var" answered with deleting the Deployment: each names a
thing (an Ingress object, a volume, a schedule, an env var) that no step of the plan touches. Such a
plan is refused with the reason, never shown as a plan.

How: the request's words name *concepts* (a table of patterns below); each catalog action accounts
for a set of concepts. A concept the request names that no step accounts for is reported. Purpose
clauses ("so the renderer can read our blob container") and object names (`nightly-export`,
`blog.acme-corp.dev` as a name) are not requests and are ignored. An action this table does not
know (a cloud module's, a free-form manifest) accounts for everything: the check never refuses what
it cannot judge. Pure: text and plain data in, the unaccounted concepts out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# concept -> (pattern over the cleaned, lower-cased request, how a person reads it)
CONCEPTS: dict[str, tuple[str, str]] = {
    "ingress-object": (r"\b(?:an?|the|new|nginx|traefik|haproxy|alb|public|my|our|this|that|its)\s+ingress(?:es)?\b"
                       r"(?!\s+(?:traffic|from|to\b|into|rules? (?:from|to)|polic|controller|class\b|gateway))"
                       r"|\bingress(?:es)?\s+(?:called|named|resource|object|route)\b",
                       "an Ingress"),
    "tls": (r"\btls\b|\bhttps\b|\bcertificate\b|\bcert\b", "TLS"),
    "host": (r"\b(?:host(?:name)?|domain|url)\b", "a host name"),
    "schedule": (r"\bcron\w*\b|\bevery (?:day|night|morning|evening|hour|minute|week|month|monday|tuesday|wednesday|"
                 r"thursday|friday|saturday|sunday|weekday|\d+ (?:minutes?|hours?|days?))\b|\bnightly\b|\bdaily\b|"
                 r"\bhourly\b|\bweekly\b|\bon a schedule\b|\bat midnight\b", "a schedule"),
    "job": (r"\b(?:one-off )?jobs?\b", "a Job"),
    "volume": (r"\bpvcs?\b|\bpersistent ?volume(?: ?claim)?s?\b|\bvolume ?claims?\b|\bvolumes?\b|\bdisks?\b",
               "a volume"),
    "env": (r"\benv(?:ironment)?(?: ?var(?:iable)?s?)?\b(?!\s*[=:])|\benv vars?\b|\bvariables?\b", "an environment variable"),
    "security-context": (r"non-?root|\bas root\b|privilege escalation|\bcapabilit(?:y|ies)\b|read-only (?:root )?"
                         r"file ?system|security ?context|\bharden", "the securityContext"),
    "service-account": (r"service ?accounts?|\birsa\b|workload identity|\biam role\b|role[- ]arn|managed identity|"
                        r"\bclient[- ]id\b", "a ServiceAccount identity"),
    "rbac": (r"\brole ?bindings?\b|\brbac\b|\b(?:a|the|new)\s+role\b(?! arn)|\broles? (?:called|named)\b|"
             r"\bbind (?:the )?(?:role|\S+ role)\b", "RBAC"),
    "probe": (r"\b(?:readiness|liveness|startup)\b|\bprobes?\b|\bhealth ?checks?\b", "a probe"),
    "selector": (r"\bselectors?\b", "a selector"),
    "network": (r"\bnetwork ?polic(?:y|ies)\b|\bnetpols?\b|\btraffic\b|\bingress\b|\begress\b|\binbound\b|"
                r"\boutbound\b|\bfirewall\b|\bconnections?\b|\b(?:reach|talk to|connect to)\b", "network access"),
    "autoscaling": (r"\bautoscal\w*|\bhpa\b|horizontal pod", "an autoscaler"),
    "disruption": (r"\bdisruption|\bpdbs?\b|\bdrain\w*", "a disruption budget"),
    "quota": (r"\bquotas?\b", "a quota"),
    "configmap": (r"\bconfig ?maps?\b", "a ConfigMap"),
    "canary": (r"\bcanary\b", "a canary"),
    "image": (r"\bimages?\b", "an image"),
    "bucket": (r"\bs3\b|\bbuckets?\b", "an S3 bucket"),
    "azure-storage": (r"\bstorage ?accounts?\b|\bblob\b", "an Azure storage account"),
    "resource-group": (r"\bresource ?groups?\b", "an Azure resource group"),
    "node": (r"\bnodes?\b(?! ?port)", "nodes"),
}

ALL = frozenset(CONCEPTS)
WORKLOAD_EXTRAS = frozenset({"image"})
# action -> the concepts its steps account for
ACCOUNTS: dict[str, frozenset[str]] = {
    "scale": frozenset(),
    "restart": frozenset(),
    "rollback": frozenset({"image"}),
    "set-image": frozenset({"image"}),
    "set-resources": frozenset(),
    "harden-workload": frozenset({"security-context"}),
    "set-env": frozenset({"env"}),
    "remove-env": frozenset({"env"}),
    "set-probe": frozenset({"probe"}),
    "create-namespace": frozenset({"quota"}),
    "set-configmap-key": frozenset({"configmap"}),
    "set-labels": frozenset({"selector"}),
    "create-hpa": frozenset({"autoscaling"}),
    "create-pdb": frozenset({"disruption", "node"}),
    "expose-service": frozenset({"network"}),
    "netpol-deny-ingress": frozenset({"network"}),
    "netpol-allow-ingress": frozenset({"network"}),
    "netpol-egress": frozenset({"network"}),
    "create-ingress": frozenset({"ingress-object", "tls", "host", "network"}),
    "set-service-selector": frozenset({"selector", "network"}),
    "create-pvc": frozenset({"volume"}),
    "expand-pvc": frozenset({"volume"}),
    "create-cronjob": frozenset({"schedule", "job", "image"}),
    "suspend-cronjob": frozenset({"schedule", "job"}),
    "create-job": frozenset({"job", "image"}),
    "create-pod": frozenset({"image"}),
    "create-statefulset": frozenset({"volume", "image"}),
    "create-canary": frozenset({"canary", "image", "network"}),  # the traffic split is by pods
    "sa-aws-role": frozenset({"service-account"}),
    "sa-azure-identity": frozenset({"service-account"}),
    "create-role": ALL,  # a Role's rules may name any resource
    "create-rolebinding": frozenset({"rbac", "service-account"}),
    "create-s3-bucket": frozenset({"bucket"}),
    "create-azure-resource-group": frozenset({"resource-group"}),
    "create-azure-storage-account": frozenset({"azure-storage", "resource-group"}),
    "delete-object": frozenset(),
    "read-secret": frozenset(),
}
# What a step targeting a kind accounts for, whatever the action (a delete of a CronJob is about a schedule).
KIND_CONCEPTS: dict[str, frozenset[str]] = {
    "Ingress": frozenset({"ingress-object", "tls", "host"}),
    "CronJob": frozenset({"schedule", "job"}),
    "Job": frozenset({"job"}),
    "PersistentVolumeClaim": frozenset({"volume"}),
    "NetworkPolicy": frozenset({"network"}),
    "ServiceAccount": frozenset({"service-account"}),
    "Role": frozenset({"rbac"}),
    "RoleBinding": frozenset({"rbac"}),
    "HorizontalPodAutoscaler": frozenset({"autoscaling"}),
    "PodDisruptionBudget": frozenset({"disruption"}),
    "ConfigMap": frozenset({"configmap"}),
    "ResourceQuota": frozenset({"quota"}),
    "Service": frozenset({"selector"}),
}
_PURPOSE = re.compile(r"\b(?:so (?:that )?(?:the|it|they|we|i|our|he|she|you|its|their)\b|in order to\b|because\b|"
                      r"since\b|as (?:we|they|it)\b|until\b|unless\b|if (?:an?|the|it|we)\b).*$")
_NAME_TOKEN = re.compile(r"(?<![\w/])[a-z0-9]+(?:[-.][a-z0-9]+)+(?![\w/])|\S+[:/@]\S+|`[^`]*`|\"[^\"]*\"|'[^']*'")
# Words of the vocabulary that look like object names (hyphenated) and must survive the masking.
VOCABULARY = frozenset({"non-root", "read-only", "one-off", "role-arn", "client-id", "cluster-admin", "node-port",
                        "default-deny", "read-write", "pod-security", "health-check"})


def _mask_names(text: str) -> str:
    return _NAME_TOKEN.sub(lambda m: m.group(0) if m.group(0) in VOCABULARY else " x ", text)


@dataclass(frozen=True)
class Step:
    """One planned step as the check sees it: the action and the kinds of the objects it writes."""

    action: str
    kinds: tuple[str, ...] = ()


def request_concepts(text: str) -> list[str]:
    """The concepts a request names, in table order (purpose clauses and object names removed)."""
    low = re.sub(r"\s+", " ", text.lower().replace("\u2019", "'"))
    low = ". ".join(_PURPOSE.sub("", s) for s in re.split(r"(?<=[.!?])\s+", low))
    low = re.sub(r"\b(named|called)\s+\S+", r"\1 x", _mask_names(low))
    return [concept for concept, (pattern, _) in CONCEPTS.items() if re.search(pattern, low)]


def accounted(steps: Iterable[Step]) -> frozenset[str]:
    out: set[str] = set()
    for step in steps:
        out |= ACCOUNTS.get(step.action, ALL)
        for kind in step.kinds:
            out |= KIND_CONCEPTS.get(kind, frozenset())
    return frozenset(out)


def unaccounted(text: str, steps: list[Step]) -> list[str]:
    """The concepts the request names that no step accounts for ([] when the plan covers the request).

    A plan with no steps accounts for nothing and is not judged (answers and questions are not plans).
    """
    if not steps:
        return []
    covered = accounted(steps)
    return [c for c in request_concepts(text) if c not in covered]


def describe(concepts: list[str]) -> str:
    """`an Ingress and a host name`."""
    words = [CONCEPTS[c][1] for c in concepts]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def refusal(text: str, steps: list[Step], titles: list[str]) -> str | None:
    """The honest answer when the plan does not cover the request, else None."""
    missing = unaccounted(text, steps)
    if not missing:
        return None
    planned = "; ".join(titles) if titles else ", ".join(s.action for s in steps)
    return (f"I cannot plan this as asked: the request is about {describe(missing)}, but the only plan I could make "
            f"({planned}) does not touch {'it' if len(missing) == 1 else 'them'}. Nothing was proposed. Rephrase, "
            "or ask for one of the actions I can do.")
