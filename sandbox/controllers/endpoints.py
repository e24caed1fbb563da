"""Endpoints and EndpointSlices from Service selectors and ready pods.

Why: "my Service gets no traffic" is diagnosed from its endpoints. As the endpoints and
endpointslice controllers do: a Service with a selector gets an Endpoints object of the same name
(ready pods under `addresses`, the others under `notReadyAddresses`, ports resolved from named
targetPorts) and one EndpointSlice `<service>-<5 chars>` (discovery.k8s.io/v1, owned by the
Service, labelled `kubernetes.io/service-name`) with each pod's ready/serving/terminating
conditions. A selector matching no pod leaves both empty; a Service without selector is left to
whoever manages its Endpoints.
"""

from __future__ import annotations

from typing import Any

from sandbox.controllers.base import Controller, owner_reference
from sandbox.controllers.replicasets import random_suffix
from sandbox.network import pod_ready, selected_pods, target_port
from sandbox.store import ObjectKey, StoreEvent

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"


class EndpointsController(Controller):
    name = "endpoint-controller"
    watches = (("", "services"), ("", "pods"))

    def keys_for(self, event: StoreEvent) -> list[ObjectKey]:
        if event.plural == "services":
            return list(super().keys_for(event))
        if event.old is not None and event.type == "MODIFIED" and \
                _relevant(event.old) == _relevant(event.obj):
            return []
        return [("", "services", event.namespace, s["metadata"]["name"])
                for s in self.store.objects("", "services", event.namespace)
                if (s.get("spec") or {}).get("selector")]

    def reconcile(self, key: ObjectKey) -> float | None:
        _, _, namespace, name = key
        service = self.get(*key)
        ep_rt = self.rt("", "v1", "endpoints")
        if service is None:
            endpoints = self.get("", "endpoints", namespace, name)
            if endpoints is not None and (endpoints["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) != "user":
                self.delete(ep_rt, endpoints)
            return None
        spec = service.get("spec") or {}
        if not spec.get("selector") or spec.get("type") == "ExternalName":
            return None
        pods = selected_pods(self.store, service)
        publish = bool(spec.get("publishNotReadyAddresses"))
        ready: list[dict[str, Any]] = []
        not_ready: list[dict[str, Any]] = []
        for pod in pods:
            address = {"ip": pod["status"]["podIP"], "nodeName": (pod.get("spec") or {}).get("nodeName", ""),
                       "targetRef": {"kind": "Pod", "namespace": namespace, "name": pod["metadata"]["name"],
                                     "uid": pod["metadata"]["uid"]}}
            if (pod.get("spec") or {}).get("hostname") and (pod.get("spec") or {}).get("subdomain") == name:
                address["hostname"] = pod["spec"]["hostname"]
            (ready if pod_ready(pod) or publish else not_ready).append(address)
        ports = []
        for port in spec.get("ports") or []:
            resolved = next((target_port(port, p) for p in pods if target_port(port, p) is not None), None)
            if resolved is None:
                value = port.get("targetPort", port.get("port"))
                resolved = int(value) if isinstance(value, int) or str(value).isdigit() else None
            if resolved is None:
                continue
            entry: dict[str, Any] = {"port": resolved, "protocol": port.get("protocol", "TCP")}
            if port.get("name"):
                entry["name"] = port["name"]
            if port.get("appProtocol"):
                entry["appProtocol"] = port["appProtocol"]
            ports.append(entry)
        subset: dict[str, Any] = {}
        if ready:
            subset["addresses"] = sorted(ready, key=lambda a: a["ip"])
        if not_ready:
            subset["notReadyAddresses"] = sorted(not_ready, key=lambda a: a["ip"])
        if subset:
            subset["ports"] = ports
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": name, "namespace": namespace,
                             "labels": dict(service["metadata"].get("labels") or {})}}
        if subset:
            body["subsets"] = [subset]
        existing = self.get("", "endpoints", namespace, name)
        if existing is None:
            self.create(ep_rt, namespace, body)
        elif existing.get("subsets") != body.get("subsets") or \
                (existing["metadata"].get("labels") or {}) != body["metadata"]["labels"]:
            self.patch(ep_rt, existing, {"metadata": {"labels": body["metadata"]["labels"] or None},
                                         "subsets": body.get("subsets")})
        self._slice(service, pods, ports, publish)
        return None

    def _slice(self, service: dict[str, Any], pods: list[dict[str, Any]], ports: list[dict[str, Any]],
               publish: bool) -> None:
        namespace, name = service["metadata"].get("namespace", ""), service["metadata"]["name"]
        try:
            rt = self.rt("discovery.k8s.io", "v1", "endpointslices")
        except LookupError:
            return
        endpoints = []
        for pod in sorted(pods, key=lambda p: p["status"]["podIP"]):
            ready = pod_ready(pod)
            entry: dict[str, Any] = {
                "addresses": [pod["status"]["podIP"]],
                "conditions": {"ready": ready or publish, "serving": ready, "terminating": False},
                "nodeName": (pod.get("spec") or {}).get("nodeName", ""),
                "targetRef": {"kind": "Pod", "namespace": namespace, "name": pod["metadata"]["name"],
                              "uid": pod["metadata"]["uid"]}}
            node = self.get("", "nodes", "", entry["nodeName"]) if entry["nodeName"] else None
            zone = ((node or {}).get("metadata", {}).get("labels") or {}).get("topology.kubernetes.io/zone")
            if zone:
                entry["zone"] = zone
            endpoints.append(entry)
        slice_ports = [{"name": p.get("name", ""), "port": p["port"], "protocol": p["protocol"]} for p in ports]
        labels = {**(service["metadata"].get("labels") or {}), SERVICE_NAME_LABEL: name, MANAGED_BY_LABEL: MANAGED_BY}
        existing = next((s for s in self.store.objects("discovery.k8s.io", "endpointslices", namespace)
                         if (s["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == name and
                         (s["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY), None)
        if existing is None:
            body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": f"{name}-{random_suffix()}", "namespace": namespace, "labels": labels,
                                 "ownerReferences": [owner_reference(service, "v1", "Service")]},
                    "addressType": "IPv4", "endpoints": endpoints, "ports": slice_ports}
            self.create(rt, namespace, body)
        elif existing.get("endpoints") != endpoints or existing.get("ports") != slice_ports:
            self.patch(rt, existing, {"endpoints": endpoints, "ports": slice_ports})


def _relevant(pod: dict[str, Any]) -> tuple[Any, ...]:
    """What a Service's endpoints depend on: labels, IP, readiness, deletion."""
    status = pod.get("status") or {}
    return (pod["metadata"].get("labels"), status.get("podIP"), status.get("phase"), pod_ready(pod),
            pod["metadata"].get("deletionTimestamp"))
