"""The kinds the sandbox serves, as data.

Why a table: discovery, routing, RBAC messages, tables and the store all need the same facts about a
kind (plural, scope, verbs, subresources). Keeping them in one list of frozen records means adding a
built-in kind is one line here, and custom resources become the same record built from a CRD.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.conversion import storage_of

STANDARD_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)
NO_COLLECTION_DELETE: tuple[str, ...] = ("create", "delete", "get", "list", "patch", "update", "watch")
CREATE_ONLY: tuple[str, ...] = ("create",)

STATUS = "status"
SCALE = "scale"
LOG = "log"
TOKEN = "token"
EXEC = "exec"


@dataclass(frozen=True)
class ResourceType:
    """One served resource (a group/version/plural) and everything the server needs to know about it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS
    subresources: tuple[str, ...] = ()
    custom: bool = False
    printer_columns: tuple[dict[str, Any], ...] = ()
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    singular_name: str = ""

    @property
    def singular(self) -> str:
        return self.singular_name or self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """`deployments.apps` / `pods`: how the apiserver names a resource in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """`Deployment.apps` / `Pod`: how the apiserver names a kind in `is invalid` messages."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def store_group(self) -> str:
        """The group under which this resource's objects are stored (events.k8s.io Events live in core)."""
        return storage_of(self.group, self.plural)[0]

    @property
    def store_plural(self) -> str:
        return storage_of(self.group, self.plural)[1]

    @property
    def has_status(self) -> bool:
        return STATUS in self.subresources

    @property
    def only_create(self) -> bool:
        return self.verbs == CREATE_ONLY


def _core(plural: str, kind: str, namespaced: bool = True, **kw: Any) -> ResourceType:
    return ResourceType(group="", version="v1", plural=plural, kind=kind, namespaced=namespaced, **kw)


def _res(
    group: str, version: str, plural: str, kind: str, namespaced: bool = True, **kw: Any
) -> ResourceType:
    return ResourceType(group=group, version=version, plural=plural, kind=kind, namespaced=namespaced, **kw)


BUILTIN_RESOURCES: tuple[ResourceType, ...] = (
    # core/v1
    _core(
        "namespaces",
        "Namespace",
        False,
        short_names=("ns",),
        verbs=NO_COLLECTION_DELETE,
        subresources=(STATUS,),
    ),
    _core("pods", "Pod", short_names=("po",), categories=("all",), subresources=(STATUS, LOG, EXEC)),
    _core("services", "Service", short_names=("svc",), categories=("all",), subresources=(STATUS,)),
    _core("configmaps", "ConfigMap", short_names=("cm",)),
    _core("secrets", "Secret"),
    _core("serviceaccounts", "ServiceAccount", short_names=("sa",), subresources=(TOKEN,)),
    _core("events", "Event", short_names=("ev",)),
    _core("resourcequotas", "ResourceQuota", short_names=("quota",), subresources=(STATUS,)),
    _core("limitranges", "LimitRange", short_names=("limits",)),
    _core("persistentvolumeclaims", "PersistentVolumeClaim", short_names=("pvc",), subresources=(STATUS,)),
    _core("persistentvolumes", "PersistentVolume", False, short_names=("pv",), subresources=(STATUS,)),
    _core("nodes", "Node", False, short_names=("no",), subresources=(STATUS,)),
    _core("endpoints", "Endpoints", short_names=("ep",)),
    # apps/v1
    _res(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short_names=("deploy",),
        categories=("all",),
        subresources=(STATUS, SCALE),
    ),
    _res(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        short_names=("sts",),
        categories=("all",),
        subresources=(STATUS, SCALE),
    ),
    _res(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        short_names=("ds",),
        categories=("all",),
        subresources=(STATUS,),
    ),
    _res(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        short_names=("rs",),
        categories=("all",),
        subresources=(STATUS, SCALE),
    ),
    _res("apps", "v1", "controllerrevisions", "ControllerRevision"),
    # batch/v1
    _res("batch", "v1", "jobs", "Job", categories=("all",), subresources=(STATUS,)),
    _res(
        "batch", "v1", "cronjobs", "CronJob", short_names=("cj",), categories=("all",), subresources=(STATUS,)
    ),
    # autoscaling, policy, networking
    _res(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        short_names=("hpa",),
        categories=("all",),
        subresources=(STATUS,),
    ),
    _res(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        short_names=("pdb",),
        subresources=(STATUS,),
    ),
    _res("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short_names=("netpol",)),
    _res("networking.k8s.io", "v1", "ingresses", "Ingress", short_names=("ing",), subresources=(STATUS,)),
    # rbac
    _res("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _res("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _res("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _res("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    # events.k8s.io
    _res("events.k8s.io", "v1", "events", "Event", short_names=("ev",)),
    # reviews: create-only, never stored
    _res(
        "authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", False, verbs=CREATE_ONLY
    ),
    _res(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        verbs=CREATE_ONLY,
    ),
    _res(
        "authorization.k8s.io",
        "v1",
        "localsubjectaccessreviews",
        "LocalSubjectAccessReview",
        verbs=CREATE_ONLY,
    ),
    _res(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "SelfSubjectRulesReview",
        False,
        verbs=CREATE_ONLY,
    ),
    _res("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False, verbs=CREATE_ONLY),
    # admission policies (evaluated in CEL by sandbox/vap.py once enabled on the server)
    _res("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", "ValidatingAdmissionPolicy", False,
         subresources=(STATUS,)),
    _res("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings",
         "ValidatingAdmissionPolicyBinding", False),
    # coordination, apiextensions
    _res("coordination.k8s.io", "v1", "leases", "Lease"),
    # served for the simulated cluster (sandbox/controllers: storage, endpoints)
    _res("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, short_names=("sc",)),
    _res("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    # what `kubectl create priorityclass` writes
    _res("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, short_names=("pc",)),
    _res(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        subresources=(STATUS,),
    ),
)

# Subresource kinds as discovery reports them: subresource -> (group, version, kind, verbs).
SUBRESOURCE_KINDS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    STATUS: ("", "", "", ("get", "patch", "update")),
    SCALE: ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
    LOG: ("", "v1", "", ("get",)),
    TOKEN: ("authentication.k8s.io", "v1", "TokenRequest", ("create",)),
    EXEC: ("", "v1", "PodExecOptions", ("create", "get")),
}

# The namespaces a fresh cluster has.
INITIAL_NAMESPACES: tuple[str, ...] = ("default", "kube-system", "kube-public", "kube-node-lease")
