"""What an action is: the data and the pure functions every catalog entry provides.

Why a class per action with shared defaults instead of free functions: most actions touch one or two
objects, and what they need (permissions, what to back up, what restore deletes, what to verify)
follows from one fact each: which objects they write, and whether those objects exist now. The base
class derives all of that from `targets()`; an action overrides only what is special about it
(rollback also lists ReplicaSets; delete-object deletes instead of applying). So the rules of
principle 4 (permissions as the requester) and of restore live in one place.

Everything here is pure: the live cluster is read only through `ClusterReader`, and time enters
only as the `now` argument of `render`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeVar

from controller.api.types import ObjectRef, Permission
from controller.catalog.params import Params
from controller.planning.types import ClusterReader

Risk = Literal["none", "low", "medium", "high"]
ActionContext = Literal["k8s", "cloud-aws", "cloud-azure", "sre", "security"]
RISK_ORDER: dict[str, int] = {"none": 0, "low": 1, "medium": 2, "high": 3}

# `render(now=...)` default: keeps render pure and golden-testable; the executor passes the real time.
NOW_PLACEHOLDER = "1970-01-01T00:00:00Z"

P = TypeVar("P", bound=Params)


class CatalogError(ValueError):
    """An unknown action, parameters that do not validate, or an action that can never run."""


@dataclass(frozen=True)
class Rendered:
    """What to server-side apply and delete. No manifests and no deletes: nothing to do (see notes)."""

    manifests: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[ObjectRef] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The change is well defined but resolved only when the plan runs (like `kubectl rollout undo`
    #: with no earlier revision recorded yet): the plan shows the notes, the executor renders again
    #: at execution and stops with the notes if there is still nothing to apply.
    deferred: bool = False

    @property
    def empty(self) -> bool:
        return not self.manifests and not self.deletes


@dataclass(frozen=True)
class AtRisk:
    """Data a step can lose (issue 14): a volume (its PersistentVolumeClaim), an RDS instance (named by the
    ACK DBInstance object) or an Azure resource group (`cloud_id`, the group an ASO object's resource lives
    in; its ARM template is exported). The engine snapshots it before the first change; `required` steps may
    not run without that snapshot (deletes, irreversible upgrades)."""

    kind: Literal["volume", "db-instance", "azure-resource-group"]
    ref: ObjectRef
    why: str
    cloud_id: str = ""
    required: bool = False


@dataclass(frozen=True)
class Check:
    """One thing verify looks at after sync.

    `expect` is a subset of the live object (Kubernetes serialization); `rollout` waits for a
    Deployment/StatefulSet rollout to finish; `absent` means the object must be gone.
    """

    ref: ObjectRef
    expect: dict[str, Any] = field(default_factory=dict)
    rollout: bool = False
    absent: bool = False


# ------------------------------------------------------------------------- Kubernetes resources

# apiVersion/kind -> (resource plural, namespaced). Unknown kinds fall back to a lowercase plural.
RESOURCES: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "Service"): ("services", True),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "Pod"): ("pods", True),
    ("v1", "PersistentVolumeClaim"): ("persistentvolumeclaims", True),
    ("v1", "PersistentVolume"): ("persistentvolumes", False),
    ("storage.k8s.io/v1", "StorageClass"): ("storageclasses", False),
    ("v1", "Endpoints"): ("endpoints", True),
    ("v1", "Node"): ("nodes", False),
    ("v1", "ResourceQuota"): ("resourcequotas", True),
    ("v1", "LimitRange"): ("limitranges", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apps/v1", "StatefulSet"): ("statefulsets", True),
    ("apps/v1", "DaemonSet"): ("daemonsets", True),
    ("apps/v1", "ReplicaSet"): ("replicasets", True),
    ("batch/v1", "Job"): ("jobs", True),
    ("batch/v1", "CronJob"): ("cronjobs", True),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): ("horizontalpodautoscalers", True),
    ("policy/v1", "PodDisruptionBudget"): ("poddisruptionbudgets", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("networkpolicies", True),
    ("networking.k8s.io/v1", "Ingress"): ("ingresses", True),
    ("rbac.authorization.k8s.io/v1", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("rolebindings", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ("clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): ("clusterrolebindings", False),
    ("s3.services.k8s.aws/v1alpha1", "Bucket"): ("buckets", True),
    ("resources.azure.com/v1api20200601", "ResourceGroup"): ("resourcegroups", True),
    ("storage.azure.com/v1api20230101", "StorageAccount"): ("storageaccounts", True),
}


def group_of(api_version: str) -> str:
    """`apps/v1` -> `apps`; `v1` -> `` (the core group)."""
    return api_version.rpartition("/")[0]


def resource_of(api_version: str, kind: str) -> str:
    """The REST resource (plural) of a kind, as RBAC names it."""
    known = RESOURCES.get((api_version, kind))
    if known:
        return known[0]
    lower = kind.lower()
    if lower.endswith("y") and not lower.endswith(("ay", "ey", "oy", "uy")):
        return lower[:-1] + "ies"
    if lower.endswith(("s", "x", "ch", "sh")):
        return lower + "es"
    return lower + "s"


def is_namespaced(api_version: str, kind: str) -> bool:
    known = RESOURCES.get((api_version, kind))
    return known[1] if known else True


def ref(api_version: str, kind: str, name: str, namespace: str | None = None) -> ObjectRef:
    """An ObjectRef; the namespace is dropped for cluster-scoped kinds."""
    ns = (namespace or "") if is_namespaced(api_version, kind) else ""
    return ObjectRef(api_version=api_version, kind=kind, name=name, namespace=ns)


def describe_ref(r: ObjectRef) -> str:
    """`Deployment shop/web`, `Namespace analytics`."""
    return f"{r.kind} {r.namespace}/{r.name}" if r.namespace else f"{r.kind} {r.name}"


def live_object(cluster: ClusterReader, r: ObjectRef) -> dict[str, Any] | None:
    return cluster.get(r.api_version, r.kind, r.name, r.namespace or None)


def permission(verb: str, r: ObjectRef, *, with_name: bool = True) -> Permission:
    return Permission(
        verb=verb,
        group=group_of(r.api_version),
        resource=resource_of(r.api_version, r.kind),
        namespace=r.namespace,
        name=r.name if with_name else "",
    )


def unique_permissions(perms: Iterable[Permission]) -> list[Permission]:
    seen: set[tuple[str, ...]] = set()
    out: list[Permission] = []
    for p in perms:
        key = (p.verb, p.group, p.resource, p.subresource, p.namespace, p.name, p.user)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def k8s_name(text: str, max_length: int = 63) -> str:
    """A DNS-1123 label made from free text (`RG_Shop (dev)` -> `rg-shop-dev`); may be empty."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return name[:max_length].strip("-")


def short(value: str, limit: int = 40) -> str:
    """One line of at most `limit` characters, for titles (`a long value…`)."""
    one_line = value.replace("\n", "\\n")
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def manifest_ref(manifest: dict[str, Any]) -> ObjectRef:
    meta = manifest.get("metadata") or {}
    return ref(str(manifest["apiVersion"]), str(manifest["kind"]), str(meta.get("name", "")),
               meta.get("namespace"))


def expectation(manifest: dict[str, Any]) -> dict[str, Any]:
    """The fields a rendered manifest sets, as a subset to find on the live object after sync."""
    out: dict[str, Any] = _without_deletions({k: v for k, v in manifest.items()
                                              if k not in ("apiVersion", "kind", "metadata")})
    meta = {k: v for k, v in (manifest.get("metadata") or {}).items() if k not in ("name", "namespace")}
    meta = {k: _without_nones(v) for k, v in meta.items()}
    meta = {k: v for k, v in meta.items() if v}
    if meta:
        out["metadata"] = meta
    return out


def _without_nones(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nones(v) for k, v in value.items() if v is not None}
    return value


def _without_deletions(value: Any) -> Any:
    """The manifest without `{..., $patch: delete}` list items: they remove, they set nothing to find."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            kept = _without_deletions(item)
            if isinstance(item, list) and item and kept == []:
                continue  # every item of the list was a deletion
            out[key] = kept
        return out
    if isinstance(value, list):
        return [_without_deletions(v) for v in value if not (isinstance(v, dict) and v.get("$patch") == "delete")]
    return value


# ------------------------------------------------------------------------------- the action

@dataclass(frozen=True)
class ActionSpec(Generic[P]):
    """One catalog entry. Subclasses override `title`, `targets` and `render`, and more when needed.

    `targets` are the objects the action writes (the first is the one shown as the plan step's
    target); `reads` are objects it only reads. From those, and from whether each target exists
    now, the defaults derive permissions, creates, backup targets, checks and the human texts.
    """

    name: str
    description: str
    context: ActionContext
    params: type[P]
    mutating: bool = True
    risk: Risk = "low"
    executable: bool = True
    #: Parameters that must name an object that exists now, with the kinds it may be: a planner that can only
    #: pick from lists (controller/backends/narrowing.py) is offered those objects' names and nothing else.
    existing: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: `namespace` may name one that does not exist yet (or `name` is a namespace): not narrowed to existing ones.
    new_namespace: bool = False
    #: Kinds this action rolls out (a check waits for the rollout when one of them is rendered).
    ROLLOUT_KINDS: ClassVar[frozenset[str]] = frozenset({"Deployment", "StatefulSet", "DaemonSet"})

    # -- what the person reads

    def title(self, params: P, cluster: ClusterReader | None = None) -> str:
        return f"{self.name} {params.model_dump_json()}"

    def risk_of(self, params: P, cluster: ClusterReader | None = None) -> Risk:
        """The risk of this call; the default is the action's risk, some calls raise it."""
        return self.risk

    def backup(self, params: P, cluster: ClusterReader) -> str:
        refs = self.backup_targets(params, cluster)
        if not refs:
            return "Nothing to back up: every object this step writes is new."
        return "Save the current state of " + ", ".join(describe_ref(r) for r in refs) + " before the change."

    def restore(self, params: P, cluster: ClusterReader) -> str:
        parts = []
        backups = self.backup_targets(params, cluster)
        if backups:
            parts.append("re-apply the saved " + ", ".join(describe_ref(r) for r in backups))
        created = self.creates(params, cluster)
        if created:
            parts.append("delete " + ", ".join(describe_ref(r) for r in reversed(created)))
        if not parts:
            return "Nothing to restore."
        return "Revert the thread commit, then " + " and ".join(parts) + "."

    def verify(self, params: P, cluster: ClusterReader) -> str:
        lines = []
        for c in self.checks(params, cluster):
            what = describe_ref(c.ref)
            if c.absent:
                lines.append(f"{what} no longer exists")
            else:
                lines.append(f"{what} has the new settings" + (" and its rollout completed" if c.rollout else ""))
        return ("Check that " + "; ".join(lines) + ".") if lines else "Nothing to verify."

    # -- what the action touches

    def targets(self, params: P, cluster: ClusterReader) -> list[ObjectRef]:
        raise NotImplementedError

    def reads(self, params: P, cluster: ClusterReader) -> list[ObjectRef]:
        """Objects read (not written) to build the change; each needs `get`."""
        return []

    def extra_permissions(self, params: P, cluster: ClusterReader) -> list[Permission]:
        """Permissions beyond get/patch/create on targets and get on reads (e.g. list replicasets)."""
        return []

    def permissions(self, params: P, cluster: ClusterReader) -> list[Permission]:
        """Every permission the requester needs: server-side apply is a PATCH, creating needs create."""
        perms: list[Permission] = []
        for r in self.targets(params, cluster):
            perms.append(permission("get", r))
            if live_object(cluster, r) is None:
                perms.append(permission("create", r))
            perms.append(permission("patch", r))
        perms.extend(permission("get", r) for r in self.reads(params, cluster))
        perms.extend(self.extra_permissions(params, cluster))
        return unique_permissions(perms)

    def restore_permissions(self, params: P, cluster: ClusterReader) -> list[Permission]:
        """What restore will need (warned about, not required): delete what this step creates."""
        return unique_permissions(permission("delete", r) for r in self.creates(params, cluster))

    def creates(self, params: P, cluster: ClusterReader) -> list[ObjectRef]:
        """Targets that do not exist now: restore deletes them."""
        return [r for r in self.targets(params, cluster) if live_object(cluster, r) is None]

    def backup_targets(self, params: P, cluster: ClusterReader) -> list[ObjectRef]:
        """Targets that exist now: their full state is saved before the change and re-applied on restore."""
        return [r for r in self.targets(params, cluster) if live_object(cluster, r) is not None]

    def data_at_risk(self, params: P, cluster: ClusterReader) -> list[AtRisk]:
        """Volumes and databases this step can lose data of (snapshotted before it runs); none by default."""
        return []

    # -- the change itself

    def render(self, params: P, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        raise NotImplementedError

    def checks(self, params: P, cluster: ClusterReader) -> list[Check]:
        """By default: each rendered manifest's fields must be found on the live object."""
        rendered = self.render(params, cluster)
        out = [
            Check(ref=manifest_ref(m), expect=expectation(m),
                  rollout=m["kind"] in self.ROLLOUT_KINDS and "template" in (m.get("spec") or {}))
            for m in rendered.manifests
        ]
        out.extend(Check(ref=r, absent=True) for r in rendered.deletes)
        return out


def nothing(*notes: str) -> Rendered:
    """A render with nothing to do, and why (the planner does not offer it)."""
    return Rendered(manifests=[], deletes=[], notes=list(notes))


def missing(r: ObjectRef) -> Rendered:
    return nothing(f"{describe_ref(r)} does not exist, so there is nothing to change.")
