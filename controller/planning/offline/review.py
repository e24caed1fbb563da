"""Security review of a namespace: what a reviewer would flag in pod specs, with catalog remediations.

Why: the checks are few and mechanical (privileged, root, privilege escalation, missing limits,
`:latest`/untagged images, hostPath, host namespaces, added capabilities), so they are code over
the live specs. Each finding names the object, the container and the finding word. Remediation is
proposed only where the catalog can express it: hardening the securityContext of a workload whose
containers run as root, privileged or with escalation; limits on Deployments/StatefulSets; and pinning
a `:latest` image to the digest a running pod actually pulled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controller.planning.offline.grounding import Grounder, Ref
from controller.planning.types import ActionCall

REVIEWED_KINDS: tuple[tuple[str, str], ...] = (("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"),
                                              ("apps/v1", "DaemonSet"))
DEFAULT_LIMITS = {"cpu": "500m", "memory": "512Mi"}
HARDENED_BY = frozenset({"root", "privileged", "allowPrivilegeEscalation", "capabilities"})
_DANGEROUS_CAPS = {"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "NET_RAW", "DAC_READ_SEARCH"}


@dataclass
class Review:
    answer: str
    findings: list[str] = field(default_factory=list)
    actions: list[ActionCall] = field(default_factory=list)


def _pod_spec(ref: Ref) -> dict[str, Any]:
    if ref.kind == "Pod":
        return dict(ref.obj.get("spec") or {})
    return dict(ref.obj.get("spec", {}).get("template", {}).get("spec") or {})


def _image_unpinned(image: str) -> bool:
    if "@sha256:" in image:
        return False
    last = image.rsplit("/", 1)[-1]
    return ":" not in last or last.endswith(":latest")


def check_spec(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(container, finding word, detail) for one pod spec."""
    out: list[tuple[str, str, str]] = []
    pod_sc = spec.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag):
            out.append(("*", flag, f"pod uses {flag}"))
    for vol in spec.get("volumes") or []:
        if "hostPath" in vol:
            out.append(("*", "hostPath", f"volume {vol.get('name')} mounts hostPath {vol['hostPath'].get('path', '?')}"))
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        name = str(c.get("name", "?"))
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            out.append((name, "privileged", "runs privileged (securityContext.privileged: true)"))
        user = sc.get("runAsUser", pod_sc.get("runAsUser"))
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        if user == 0:
            out.append((name, "root", "runs as root (runAsUser: 0)"))
        elif not non_root and user is None:
            out.append((name, "root", "may run as root (runAsNonRoot is not set)"))
        if sc.get("allowPrivilegeEscalation") is True:
            out.append((name, "allowPrivilegeEscalation", "allows privilege escalation"))
        caps = {str(x).upper() for x in ((sc.get("capabilities") or {}).get("add") or [])}
        if caps & _DANGEROUS_CAPS:
            out.append((name, "capabilities", f"adds capabilities {', '.join(sorted(caps & _DANGEROUS_CAPS))}"))
        image = str(c.get("image", ""))
        if image and _image_unpinned(image):
            out.append((name, "latest", f"image {image} uses the :latest tag or no tag"))
        limits = (c.get("resources") or {}).get("limits") or {}
        missing = [r for r in ("cpu", "memory") if r not in limits]
        if missing:
            out.append((name, "limits", f"has no resource limits for {' and '.join(missing)}"))
    return out


def review_namespace(grounder: Grounder, namespace: str) -> Review:
    workloads = grounder.refs(REVIEWED_KINDS, namespace)
    pods = grounder.refs((("v1", "Pod"),), namespace)
    findings: list[str] = []
    actions: list[ActionCall] = []
    seen: dict[tuple[str, str], set[str]] = {}
    counts: dict[str, int] = {}
    for ref in workloads:
        checks = check_spec(_pod_spec(ref))
        for container, word, detail in checks:
            findings.append(f"{word}: {ref.kind} {ref.label} container {container} {detail}"
                            if container != "*" else f"{word}: {ref.kind} {ref.label} {detail}")
            seen.setdefault((ref.name, container), set()).add(word)
            counts[word] = counts.get(word, 0) + 1
        actions.extend(_remediate(grounder, ref, checks))
    for pod in pods:
        owner = grounder.owner_of_pod(pod.name, namespace, REVIEWED_KINDS[:2])
        for container, word, detail in check_spec(_pod_spec(pod)):
            if owner is not None and word in seen.get((owner.name, container), set()):
                continue
            findings.append(f"{word}: Pod {pod.label} container {container} {detail}"
                            if container != "*" else f"{word}: Pod {pod.label} {detail}")
            counts[word] = counts.get(word, 0) + 1
    if not workloads and not pods:
        return Review(f"Namespace {namespace} has no workloads or pods to review.")
    if not findings:
        return Review(f"Security review of namespace {namespace}: no findings in {len(workloads)} workload(s) "
                      f"and {len(pods)} pod(s).")
    order = ["privileged", "root", "hostPath", "hostNetwork", "hostPID", "hostIPC", "allowPrivilegeEscalation",
             "capabilities", "latest", "limits"]
    summary = ", ".join(f"{counts[w]}x {w}" for w in order if w in counts)
    serious = [f for f in findings if not f.startswith(("root: ", "limits: ")) or "runAsUser: 0" in f]
    shown = (serious + [f for f in findings if f not in serious])[:12]
    answer = (f"Security review of namespace {namespace}: {len(findings)} finding(s) ({summary}). "
              + " ".join(s.rstrip(".") + "." for s in shown))
    if actions:
        answer += (f" Proposed remediation: {len(actions)} change(s) the catalog can make "
                   "(securityContext hardening, resource limits, image pinning); the other findings (host "
                   "namespaces, hostPath) need manifest changes by the owners.")
    else:
        answer += " None of these can be fixed by a catalog action; they need changes to the manifests."
    return Review(answer, findings, actions)


def _remediate(grounder: Grounder, ref: Ref, checks: list[tuple[str, str, str]]) -> list[ActionCall]:
    if ref.kind not in ("Deployment", "StatefulSet"):
        return []
    actions: list[ActionCall] = []
    containers = _pod_spec(ref).get("containers") or []
    single = len(containers) == 1
    risky = sorted({cn for cn, w, _ in checks if w in HARDENED_BY})
    if risky:  # one securityContext change for the whole workload: runAsNonRoot, no escalation, drop ALL
        actions.append(ActionCall(action="harden-workload",
                                  params={"kind": ref.kind, "name": ref.name, "namespace": ref.namespace},
                                  reason=f"containers {', '.join(risky)} run as root, privileged or with escalation"))
    for c in containers:
        name = str(c.get("name"))
        words = {w for cn, w, _ in checks if cn == name}
        if "limits" in words:
            have = (c.get("resources") or {}).get("limits") or {}
            limits = {k: v for k, v in DEFAULT_LIMITS.items() if k not in have}
            params: dict[str, Any] = {"kind": ref.kind, "name": ref.name, "namespace": ref.namespace, "limits": limits}
            if not single:
                params["container"] = name
            actions.append(ActionCall(action="set-resources", params=params,
                                      reason=f"container {name} has no resource limits (defaults to adjust)"))
        if "latest" in words:
            digest = _running_digest(grounder, ref, name, str(c.get("image", "")))
            if digest:
                params = {"kind": ref.kind, "name": ref.name, "namespace": ref.namespace, "image": digest}
                if not single:
                    params["container"] = name
                actions.append(ActionCall(action="set-image", params=params,
                                          reason=f"pin {c.get('image')} to the digest that is running"))
    return actions


def _running_digest(grounder: Grounder, ref: Ref, container: str, image: str) -> str | None:
    repo = image.split("@")[0].rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    for pod in grounder.pods_of(ref):
        for cs in pod.get("status", {}).get("containerStatuses") or []:
            image_id = str(cs.get("imageID", ""))
            if cs.get("name") == container and "@sha256:" in image_id:
                return f"{repo}@sha256:{image_id.split('@sha256:', 1)[1]}"
    return None
