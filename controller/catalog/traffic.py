"""Traffic: an Ingress to a Service, a Service's selector, and a NetworkPolicy for outgoing traffic.

Why the Ingress reads its Service first: a backend that names a Service or a port that does not exist
gives a 503 for every request, silently. The port defaults to the Service's only port, and a port the
Service does not have is refused with the ports it does have.

Why the selector fix writes nulls: server-side apply merges maps, so a selector `{app: report,
tier: web}` applied as `{app: reports}` would keep `tier`; a key that no longer belongs is sent as
`null`, which removes it.

Why egress policies always allow DNS unless told otherwise: an egress policy that forgets DNS breaks
every name lookup of the pods, which looks like a network outage, not like the policy asked for.
"""

from __future__ import annotations

import re
from typing import Any

from controller.api.types import ObjectRef, Permission
from controller.catalog.base import (
    NOW_PLACEHOLDER,
    ActionSpec,
    Check,
    Rendered,
    describe_ref,
    live_object,
    missing,
    nothing,
    ref,
)
from controller.catalog.params_everyday import EgressParams, IngressParams, ServiceSelectorParams
from controller.planning.types import ClusterReader
from renderer.manifests import render_manifest

NETWORKING = "networking.k8s.io/v1"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DNS_RULE: dict[str, Any] = {
    "to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}


def service_ports(service: dict[str, Any]) -> list[int]:
    return [int(p["port"]) for p in (service.get("spec") or {}).get("ports") or [] if isinstance(p.get("port"), int)]


def _ingress_port(params: IngressParams, service: dict[str, Any]) -> tuple[int | None, str]:
    ports = service_ports(service)
    if params.port is not None:
        if params.port in ports:
            return params.port, ""
        return None, f"Service {params.namespace}/{params.service} has no port {params.port} (its ports: " \
                     f"{', '.join(map(str, ports)) or 'none'})"
    if len(ports) == 1:
        return ports[0], ""
    return None, (f"Service {params.namespace}/{params.service} has ports {', '.join(map(str, ports)) or 'none'}; "
                  "say which one the Ingress should send traffic to")


class CreateIngress(ActionSpec[IngressParams]):
    def title(self, params: IngressParams, cluster: ClusterReader | None = None) -> str:
        port = f":{params.port}" if params.port else ""
        where = f"{params.host or '*'}{params.path}"
        extras = [x for x in (f"TLS from Secret {params.tls_secret}" if params.tls_secret else "",
                              f"class {params.ingress_class}" if params.ingress_class else "") if x]
        return (f"Create Ingress {params.namespace}/{params.name}: {where} -> Service {params.service}{port}"
                + (f" ({', '.join(extras)})" if extras else ""))


    def targets(self, params: IngressParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(NETWORKING, "Ingress", params.name, params.namespace)]

    def reads(self, params: IngressParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref("v1", "Service", params.service, params.namespace)]

    def render(self, params: IngressParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        service_ref = self.reads(params, cluster)[0]
        service = live_object(cluster, service_ref)
        if service is None:
            return missing(service_ref)
        port, why = _ingress_port(params, service)
        if port is None:
            return nothing(f"Cannot route the Ingress: {why}.")
        rule: dict[str, Any] = {}
        if params.host:
            rule["host"] = params.host
        rule["http"] = {"paths": [{"path": params.path, "pathType": params.path_type,
                                   "backend": {"service": {"name": params.service, "port": {"number": port}}}}]}
        tls: list[dict[str, Any]] = []
        notes = []
        if params.tls_secret:
            tls = [{"hosts": [params.host], "secretName": params.tls_secret} if params.host
                   else {"secretName": params.tls_secret}]
            if live_object(cluster, ref("v1", "Secret", params.tls_secret, params.namespace)) is None:
                notes.append(f"I could not see a Secret {params.tls_secret} in {params.namespace} (it may not exist, "
                             "or you may not be allowed to read Secrets): the Ingress controller serves its default "
                             "certificate until it exists.")
        if not params.ingress_class:
            notes.append("No ingress class given: the cluster's default IngressClass (if any) serves it.")
        if live_object(cluster, self.targets(params, cluster)[0]) is not None:
            notes.append(f"Ingress {params.name} exists already: its rule for this host and path is updated.")
        manifest = render_manifest("ingress", name=params.name, namespace=params.namespace,
                                   ingress_class=params.ingress_class or "", tls=tls, rule=rule)
        return Rendered(manifests=[manifest], notes=notes)


class SetServiceSelector(ActionSpec[ServiceSelectorParams]):
    def title(self, params: ServiceSelectorParams, cluster: ClusterReader | None = None) -> str:
        r = ref("v1", "Service", params.name, params.namespace)
        old = ((live_object(cluster, r) or {}).get("spec") or {}).get("selector") if cluster is not None else None
        new = ", ".join(f"{k}={v}" for k, v in sorted(params.selector.items()))
        if old:
            return f"Change the selector of {describe_ref(r)} from " + \
                ", ".join(f"{k}={v}" for k, v in sorted(old.items())) + f" to {new}"
        return f"Set the selector of {describe_ref(r)} to {new}"


    def targets(self, params: ServiceSelectorParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref("v1", "Service", params.name, params.namespace)]

    def extra_permissions(self, params: ServiceSelectorParams, cluster: ClusterReader) -> list[Permission]:
        return [Permission(verb="list", group="", resource="pods", namespace=params.namespace)]

    def render(self, params: ServiceSelectorParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        r = self.targets(params, cluster)[0]
        live = live_object(cluster, r)
        if live is None:
            return missing(r)
        old: dict[str, str] = dict((live.get("spec") or {}).get("selector") or {})
        if old == params.selector:
            return nothing(f"{describe_ref(r)} already selects {params.selector}.")
        selection = ",".join(f"{k}={v}" for k, v in sorted(params.selector.items()))
        pods = cluster.list("v1", "Pod", params.namespace, label_selector=selection)
        notes = [f"{len(pods)} pod(s) match the new selector" + (f": {', '.join(p['metadata']['name'] for p in pods[:5])}."
                                                                  if pods else ".")]
        if not pods:
            notes.append("No pod matches it either: the Service would still have no endpoints.")
        selector: dict[str, str | None] = {k: None for k in old if k not in params.selector}
        selector.update(params.selector)
        manifest = render_manifest("service-selector", name=params.name, namespace=params.namespace,
                                   selector=dict(sorted(selector.items())))
        return Rendered(manifests=[manifest], notes=notes)

    def checks(self, params: ServiceSelectorParams, cluster: ClusterReader) -> list[Check]:
        return [Check(ref=self.targets(params, cluster)[0], expect={"spec": {"selector": dict(params.selector)}})]


def egress_policy_name(params: EgressParams) -> str:
    if params.policy_name:
        return params.policy_name
    parts = ["egress", _part(params.app) if params.app else "all"]
    if params.to_namespace:
        parts.append(f"to-ns-{params.to_namespace}")
    if params.to_app:
        parts.append(f"to-{_part(params.to_app)}")
    if params.to_cidr:
        parts.append("to-" + _part(params.to_cidr))
    if params.port:
        parts.append(f"port-{params.port}")
    if not (params.to_namespace or params.to_app or params.to_cidr):
        parts.append("deny")
    return "-".join(parts)[:253].rstrip("-")


def _part(value: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-") or "x"


class EgressPolicy(ActionSpec[EgressParams]):
    def title(self, params: EgressParams, cluster: ClusterReader | None = None) -> str:
        pods = f"pods app={params.app}" if params.app else "all pods"
        dest = [x for x in (f"namespace {params.to_namespace}" if params.to_namespace else "",
                            f"pods app={params.to_app}" if params.to_app else "",
                            params.to_cidr or "") if x]
        where = (" and ".join(dest) + (f" on port {params.port}" if params.port else "")) if dest else "nowhere"
        dns = " (and DNS)" if params.allow_dns else ""
        return f"Let {pods} in {params.namespace} connect only to {where}{dns}"


    def targets(self, params: EgressParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(NETWORKING, "NetworkPolicy", egress_policy_name(params), params.namespace)]

    def render(self, params: EgressParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        peer: dict[str, Any] = {}
        if params.to_namespace:
            peer["namespaceSelector"] = {"matchLabels": {NAMESPACE_NAME_LABEL: params.to_namespace}}
        if params.to_app:
            peer["podSelector"] = {"matchLabels": {"app": params.to_app}}
        rules: list[dict[str, Any]] = []
        if params.to_cidr:
            rule: dict[str, Any] = {"to": [{"ipBlock": {"cidr": params.to_cidr}}]}
            if params.port:
                rule["ports"] = [{"protocol": "TCP", "port": params.port}]
            rules.append(rule)
        if peer:
            rule = {"to": [peer]}
            if params.port:
                rule["ports"] = [{"protocol": "TCP", "port": params.port}]
            rules.append(rule)
        elif params.port and not params.to_cidr:
            rules.append({"ports": [{"protocol": "TCP", "port": params.port}]})
        if params.allow_dns:
            rules.append(DNS_RULE)
        notes = ["Pods selected by an egress policy may connect only where a policy allows; it takes effect only "
                 "where the cluster's network plugin enforces NetworkPolicies."]
        if not params.allow_dns:
            notes.append("DNS is not allowed: the pods cannot resolve names.")
        pod_selector = {"matchLabels": {"app": params.app}} if params.app else {}
        manifest = render_manifest("netpol-egress", name=egress_policy_name(params), namespace=params.namespace,
                                   pod_selector=pod_selector, rules=rules)
        return Rendered(manifests=[manifest], notes=notes)


CREATE_INGRESS = CreateIngress(
    name="create-ingress", context="k8s", params=IngressParams, risk="medium",
    existing={"service": ("Service",)},
    description=("Create an Ingress (networking.k8s.io/v1) that routes a host and path to a Service port, "
                 "optionally terminating TLS with a certificate Secret and using an ingress class."),
)
SET_SERVICE_SELECTOR = SetServiceSelector(
    name="set-service-selector", context="sre", params=ServiceSelectorParams, risk="medium",
    existing={"name": ("Service",)},
    description="Change which pods a Service sends traffic to (its selector), e.g. when it has no endpoints.",
)
NETPOL_EGRESS = EgressPolicy(
    name="netpol-egress", context="security", params=EgressParams, risk="medium",
    description=("Create a NetworkPolicy limiting outgoing traffic (egress) of pods (all, or an app): only to a "
                 "namespace, an app, a CIDR and/or a port, plus DNS; with no destination, block all egress."),
)
ACTIONS: tuple[ActionSpec[Any], ...] = (CREATE_INGRESS, SET_SERVICE_SELECTOR, NETPOL_EGRESS)
