"""Policy that no chat can override: checked on every plan, whatever backend proposed it.

The AI is untrusted (principle 4). Before a plan is shown, its actions pass these deny rules:
nothing in kube-system or the other system namespaces (nor the operator's own), no reading of
Secret contents, no cluster-wide or wildcard deletes, no deleting namespaces, no RBAC changes
(escalation) except a namespaced Role or RoleBinding through its own action. The request text is
screened too: attempts to override instructions, to act as somebody else or to exfiltrate credentials
are reported as suspicious so admins are alerted, even when the planner maps them to nothing.

Pure: the inputs are action names, their targets and the text; the verdict is data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from controller.api.types import ObjectRef

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "default-system"})
RBAC_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})
# The only RBAC writes allowed: a namespaced Role or RoleBinding through its own catalog action, which
# lists every permission it grants as one the requester must hold (the API server's escalation check).
RBAC_ACTIONS = {"create-role": "Role", "create-rolebinding": "RoleBinding"}
CLUSTER_SCOPED_SENSITIVE = frozenset({
    "Namespace", "Node", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
})


@dataclass(frozen=True)
class PolicySettings:
    protected_namespaces: frozenset[str] = SYSTEM_NAMESPACES
    operator_namespace: str = "aiop-system"


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str


@dataclass(frozen=True)
class Verdict:
    violations: tuple[Violation, ...] = ()
    suspicious: tuple[str, ...] = field(default_factory=tuple)

    @property
    def allowed(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        return "; ".join(v.message for v in self.violations)


_SUSPICIOUS_TEXT: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\b(ignore|disregard|forget|override)\b.{0,40}\b(instruction|rule|polic|prompt|guardrail)"),
     "tries to override the operator's instructions"),
    (re.compile(r"(?i)\b(you are now|act as|pretend to be|switch to)\b.{0,30}\b(admin|root|cluster-admin|god|developer mode|unrestricted)"),
     "tries to change the operator's role"),
    (re.compile(r"(?i)\b(admin|god|root|developer|jailbreak) mode\b"), "asks for a privileged mode"),
    (re.compile(r"(?i)\b(as|impersonat\w*|on behalf of)\s+(user\s+)?[\w.@-]+@[\w.-]+"), "tries to act as another user"),
    (re.compile(r"(?i)\b(without|skip|bypass)\b.{0,20}\b(approval|review|permission|rbac)"),
     "tries to skip approval or permission checks"),
    (re.compile(r"(?i)\b(print|show|reveal|dump|decode|cat|read|exfiltrate|send)\b.{0,40}\b(secret|password|token|credential|api key|kubeconfig)s?\b"),
     "asks for secret contents"),
]


def screen_text(text: str) -> tuple[str, ...]:
    """Reasons the text looks like an attempt to get around the rules (empty when it does not)."""
    return tuple(reason for pattern, reason in _SUSPICIOUS_TEXT if pattern.search(text))


def check_actions(actions: list[tuple[str, list[ObjectRef]]], settings: PolicySettings) -> tuple[Violation, ...]:
    """Deny-list violations of a plan: each action name with the objects it targets."""
    found: list[Violation] = []
    protected = settings.protected_namespaces | {settings.operator_namespace}
    for action, targets in actions:
        if action == "read-secret":
            found.append(Violation("secret-read", "reading Secret contents is never allowed: secrets stay in the cluster"))
        for ref in targets:
            namespace = ref.namespace or (ref.name if ref.kind == "Namespace" else "")
            if namespace in protected:
                found.append(Violation("protected-namespace",
                                       f"{action} touches namespace {namespace}, which is protected"))
            # RBAC kinds of Kubernetes only: an ACK IAM `Role` (iam.services.k8s.aws) is a cloud object
            if (ref.kind in RBAC_KINDS and ref.api_version.startswith("rbac.authorization.k8s.io/")
                    and RBAC_ACTIONS.get(action) != ref.kind):
                found.append(Violation("rbac-escalation", f"{action} would change RBAC ({ref.kind} {ref.name})"))
            if action == "delete-object":
                found.extend(_delete_violations(ref))
    unique = list(dict.fromkeys(found))
    return tuple(unique)


def _delete_violations(ref: ObjectRef) -> list[Violation]:
    out: list[Violation] = []
    if not ref.name or "*" in ref.name or ref.name in {"all", "everything"}:
        out.append(Violation("broad-delete", f"deleting every {ref.kind or 'object'} at once is never allowed"))
    if ref.kind in CLUSTER_SCOPED_SENSITIVE or (not ref.namespace and ref.kind != ""):
        out.append(Violation("cluster-delete", f"deleting the cluster-scoped {ref.kind} {ref.name} is not allowed"))
    return out


def evaluate(text: str, actions: list[tuple[str, list[ObjectRef]]], settings: PolicySettings) -> Verdict:
    return Verdict(violations=check_actions(actions, settings), suspicious=screen_text(text))
