"""Networking: expose a Deployment as a Service; NetworkPolicies that deny or allow ingress.

Why selectors come from the live Deployment: a Service or policy that selects `app=<name>` when the
pods are labelled otherwise routes to nothing, silently. The Service reuses the Deployment's own
`spec.selector.matchLabels` and, unless told, its first container port.

Why policy names are derived from the parameters: two different "allow" requests must not
overwrite each other, and the same request must render the same object (idempotent plans).
"""

from __future__ import annotations

import re
from typing import Any

from controller.api.types import ObjectRef
from controller.catalog.base import (
    NOW_PLACEHOLDER,
    ActionSpec,
    Rendered,
    Risk,
    describe_ref,
    live_object,
    missing,
    ref,
)
from controller.catalog.params import WORKLOAD_KINDS, AllowIngressParams, DenyIngressParams, ExposeParams
from controller.planning.types import ClusterReader
from renderer.manifests import render_manifest

APPS = "apps/v1"
NETPOL_API = "networking.k8s.io/v1"
DENY_NAME = "deny-all-ingress"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def _service_name(params: ExposeParams) -> str:
    return params.service_name or params.name


def _container_port(deployment: dict[str, Any]) -> int | None:
    containers = ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    for c in containers:
        for p in c.get("ports") or []:
            if isinstance(p.get("containerPort"), int):
                return int(p["containerPort"])
    return None


class ExposeService(ActionSpec[ExposeParams]):
    def title(self, params: ExposeParams, cluster: ClusterReader | None = None) -> str:
        return (f"Expose Deployment {params.namespace}/{params.name} as {params.service_type} Service "
                f"{_service_name(params)} on port {params.port}")

    def risk_of(self, params: ExposeParams, cluster: ClusterReader | None = None) -> Risk:
        # A LoadBalancer (and a NodePort) is reachable from outside the cluster.
        return "medium" if params.service_type != "ClusterIP" else self.risk

    def targets(self, params: ExposeParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref("v1", "Service", _service_name(params), params.namespace)]

    def reads(self, params: ExposeParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(APPS, "Deployment", params.name, params.namespace)]

    def render(self, params: ExposeParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        deployment_ref = self.reads(params, cluster)[0]
        deployment = live_object(cluster, deployment_ref)
        if deployment is None:
            return missing(deployment_ref)
        selector = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if not selector:
            return Rendered(notes=[f"{describe_ref(deployment_ref)} has no matchLabels selector to reuse."])
        target_port = params.target_port or _container_port(deployment) or params.port
        notes = []
        if params.service_type == "LoadBalancer":
            notes.append("A LoadBalancer Service gets a cloud load balancer reachable from outside (it costs money).")
        if live_object(cluster, self.targets(params, cluster)[0]) is not None:
            notes.append(f"Service {_service_name(params)} exists already: its port and selector are updated.")
        manifest = render_manifest("service", name=_service_name(params), namespace=params.namespace,
                                   service_type=params.service_type, selector=dict(sorted(selector.items())),
                                   port_name="http" if params.port in (80, 8080) else f"tcp-{params.port}",
                                   port=params.port, target_port=target_port)
        return Rendered(manifests=[manifest], notes=notes)


class DenyIngress(ActionSpec[DenyIngressParams]):
    def title(self, params: DenyIngressParams, cluster: ClusterReader | None = None) -> str:
        return f"Deny all ingress to pods in namespace {params.namespace} (NetworkPolicy {DENY_NAME})"

    def targets(self, params: DenyIngressParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(NETPOL_API, "NetworkPolicy", DENY_NAME, params.namespace)]

    def render(self, params: DenyIngressParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        manifest = render_manifest("netpol-deny-ingress", name=DENY_NAME, namespace=params.namespace)
        return Rendered(manifests=[manifest], notes=[
            f"Every pod in {params.namespace} stops accepting connections unless another policy allows them; "
            "it takes effect only where the cluster's network plugin enforces NetworkPolicies.",
        ])


def _label_part(value: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-") or "x"


def allow_policy_name(params: AllowIngressParams) -> str:
    if params.policy_name:
        return params.policy_name
    parts = ["allow-ingress"]
    if params.to_app:
        parts.append(f"to-{_label_part(params.to_app)}")
    if params.from_namespace:
        parts.append(f"from-ns-{params.from_namespace}")
    if params.from_app:
        parts.append(f"from-{_label_part(params.from_app)}")
    if params.port:
        parts.append(f"port-{params.port}")
    return "-".join(parts)[:253].rstrip("-")


class AllowIngress(ActionSpec[AllowIngressParams]):
    def title(self, params: AllowIngressParams, cluster: ClusterReader | None = None) -> str:
        to = f"pods app={params.to_app}" if params.to_app else "all pods"
        sources = []
        if params.from_app:
            sources.append(f"pods app={params.from_app}")
        if params.from_namespace:
            sources.append(f"namespace {params.from_namespace}")
        source = " in ".join(sources) if sources else "anywhere"
        port = f" on port {params.port}" if params.port else ""
        return f"Allow ingress to {to} in {params.namespace} from {source}{port}"

    def risk_of(self, params: AllowIngressParams, cluster: ClusterReader | None = None) -> Risk:
        return "medium" if not (params.from_app or params.from_namespace) else self.risk

    def targets(self, params: AllowIngressParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(NETPOL_API, "NetworkPolicy", allow_policy_name(params), params.namespace)]

    def render(self, params: AllowIngressParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        peer: dict[str, Any] = {}
        if params.from_namespace:
            peer["namespaceSelector"] = {"matchLabels": {NAMESPACE_NAME_LABEL: params.from_namespace}}
        if params.from_app:
            peer["podSelector"] = {"matchLabels": {"app": params.from_app}}
        rule: dict[str, Any] = {}
        if peer:
            rule["from"] = [peer]
        if params.port:
            rule["ports"] = [{"protocol": "TCP", "port": params.port}]
        notes = []
        if not peer:
            notes.append("No source was named: traffic from anywhere is allowed to the selected pods.")
        if live_object(cluster, ref(NETPOL_API, "NetworkPolicy", DENY_NAME, params.namespace)) is None:
            notes.append(f"There is no {DENY_NAME} policy in {params.namespace}: selecting pods with a policy "
                         "isolates them, so from now on they accept only the traffic a policy allows.")
        pod_selector = {"matchLabels": {"app": params.to_app}} if params.to_app else {}
        manifest = render_manifest("netpol-allow-ingress", name=allow_policy_name(params),
                                   namespace=params.namespace, pod_selector=pod_selector, rule=rule)
        return Rendered(manifests=[manifest], notes=notes)


EXPOSE_SERVICE = ExposeService(
    name="expose-service", context="k8s", params=ExposeParams, risk="low",
    existing={"name": WORKLOAD_KINDS},
    description=("Expose a Deployment as a Service (ClusterIP, NodePort or LoadBalancer) on a port, selecting "
                 "its pods by the Deployment's own selector; the target port defaults to the container port."),
)
NETPOL_DENY_INGRESS = DenyIngress(
    name="netpol-deny-ingress", context="security", params=DenyIngressParams, risk="medium",
    description=("Create a NetworkPolicy that denies all incoming traffic (ingress) to every pod in a namespace: "
                 "default deny, lock down, isolate the namespace."),
)
NETPOL_ALLOW_INGRESS = AllowIngress(
    name="netpol-allow-ingress", context="security", params=AllowIngressParams, risk="low",
    description=("Create a NetworkPolicy that allows incoming traffic to pods (optionally those with a given app "
                 "label) from one namespace and/or app, optionally on one port."),
)
ACTIONS: tuple[ActionSpec[Any], ...] = (EXPOSE_SERVICE, NETPOL_DENY_INGRESS, NETPOL_ALLOW_INGRESS)
