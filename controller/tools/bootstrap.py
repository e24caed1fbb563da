"""Putting a cluster in shape for the operator: CRDs, conversation rights, and the demo workload.

Used by `aiop up` (the sandbox with a demo shop) and by `aiop eval` (a fresh sandbox per
scenario). Objects are created as they are given, status included (through the status
subresource), so a test can stage a CrashLoopBackOff pod exactly as a kubelet would report it.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import yaml

from controller.adapters.kube import Conflict, Kube, KubeError
from controller.api.constants import (
    GROUP,
    PLURAL_CONVERSATION,
    PLURAL_REQUEST,
    VERB_APPROVE,
    VERB_RATE,
    VERB_RESTORE,
)
from controller.api.crds import all_crds

THIRD_PARTY_CRDS = Path(__file__).resolve().parents[2] / "sandbox" / "crds"


def third_party_crds() -> list[dict[str, Any]]:
    """ACK's S3 Bucket and Azure Service Operator's ResourceGroup and StorageAccount."""
    return [yaml.safe_load(p.read_text()) for p in sorted(THIRD_PARTY_CRDS.glob("*.yaml"))]


def create_object(kube: Kube, obj: dict[str, Any]) -> dict[str, Any]:
    """Create an object (or leave an existing one), then set its status when one is given."""
    body = copy.deepcopy(obj)
    status = body.pop("status", None)
    try:
        created = kube.create(body)
    except Conflict:
        meta = body["metadata"]
        created = kube.get(body["apiVersion"], body["kind"], meta["name"], meta.get("namespace")) or body
    for _ in range(5 if status else 0):
        try:
            return kube.replace({**created, "status": status}, subresource="status")
        except Conflict:  # the sandbox's simulated kubelet or controllers wrote it first: stage over them
            meta = created["metadata"]
            created = kube.get(created["apiVersion"], created["kind"], meta["name"], meta.get("namespace")) or created
        except KubeError:  # a kind without a status subresource (Velero's CRDs): status is written with the object
            try:
                return kube.replace({**created, "status": status})
            except KubeError:
                break
    return created


def install_crds(kube: Kube, extra: list[dict[str, Any]] | None = None) -> None:
    crds = all_crds() + third_party_crds() + (extra or [])
    for crd in crds:
        create_object(kube, crd)
    deadline = time.monotonic() + 30
    for crd in crds:
        group, version = crd["spec"]["group"], crd["spec"]["versions"][0]["name"]
        kind = crd["spec"]["names"]["kind"]
        while True:
            try:
                kube.resource(f"{group}/{version}", kind)
                break
            except KubeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def conversation_rights(user: str, namespace: str) -> list[dict[str, Any]]:
    """A Role and RoleBinding: the user may create, update, approve, rate and restore conversations here."""
    name = "aiop-chat-" + "".join(c if c.isalnum() else "-" for c in user.lower())[:40].strip("-")
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name, "namespace": namespace},
            "rules": [{"apiGroups": [GROUP], "resources": [PLURAL_CONVERSATION, PLURAL_REQUEST],
                       "verbs": ["get", "list", "watch", "create", "update", "patch", VERB_APPROVE, VERB_RATE,
                                 VERB_RESTORE]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": name, "namespace": namespace},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
               "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}]}
    return [role, binding]


def _deployment(name: str, namespace: str, replicas: int, image: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": image,
                                                           "ports": [{"containerPort": 8080}]}]}}}}


DEMO_USER = "demo@example.com"


def demo_objects(namespace: str = "shop") -> list[dict[str, Any]]:
    """The demo of `aiop up`: a shop with web (2 replicas) and worker, whose pod crash-loops."""
    editor = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
              "metadata": {"name": "shop-editor", "namespace": namespace},
              "rules": [{"apiGroups": ["", "apps", "autoscaling", "policy", "networking.k8s.io",
                                       "s3.services.k8s.aws", "resources.azure.com", "storage.azure.com"],
                         "resources": ["*"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}]}
    editor_binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                      "metadata": {"name": "shop-editor", "namespace": namespace},
                      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "shop-editor"},
                      "subjects": [{"kind": "User", "name": DEMO_USER, "apiGroup": "rbac.authorization.k8s.io"}]}
    worker = _deployment("worker", namespace, 1, "busybox:1.36")
    # The sandbox's kubelet runs this as the behaviour file says busybox's shell does: two log lines,
    # exit 1, restarts with back-off - a real CrashLoopBackOff with its Events and `logs --previous`.
    worker["spec"]["template"]["spec"]["containers"][0]["command"] = [
        "sh", "-c", "echo starting worker; echo 'ERROR: QUEUE_URL is not set' >&2; exit 1"]
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
            _deployment("web", namespace, 2, "nginx:1.27"), worker, editor, editor_binding,
            *conversation_rights(DEMO_USER, namespace)]


def install_demo(kube: Kube) -> None:
    for obj in demo_objects():
        create_object(kube, obj)


CHART = Path(__file__).resolve().parents[2] / "charts" / "ai-operator"


def admission_policy_objects(namespace: str = "aiop-system", release: str = "aiop") -> list[dict[str, Any]]:
    """The chart's ValidatingAdmissionPolicy and binding, rendered with Helm as an install would."""
    import helm_python

    with helm_python.Chart.load(str(CHART)) as chart:
        rendered = chart.render({}, name=release, namespace=namespace)
    text = next(v for k, v in rendered.items() if k.endswith("templates/admission-policy.yaml"))
    return [d for d in yaml.safe_load_all(text) if d]


def install_admission(kube: Kube, server: Any | None = None) -> None:
    """Create the chart's admission policy (the sandbox enforces stored policies by itself; `server` is unused)."""
    for obj in admission_policy_objects():
        create_object(kube, obj)
