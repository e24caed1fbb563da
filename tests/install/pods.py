"""What a kubelet would give a rendered container: its command, environment, ports and probes.

Why: the install test starts the controller and the UI *as the rendered Deployments say*, and the
chart tests check that what users put in values reaches `load_settings()`. Both need the container's
environment resolved the way the kubelet resolves it: `envFrom` ConfigMaps and Secrets first, then
`env` entries (literal values, `fieldRef` to the pod's name and namespace, `secretKeyRef` and
`configMapKeyRef`, optional ones skipped when missing), later entries winning.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import helm_python
import yaml

from tests.charts.paths import CHART


def render(values: dict[str, Any] | None = None, namespace: str = "aiop-system",
           release: str = "aiop") -> list[dict[str, Any]]:
    with helm_python.Chart.load(CHART) as chart:
        manifests = chart.render(values or {}, name=release, namespace=namespace)
    return [doc for text in manifests.values() for doc in yaml.safe_load_all(text) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def _data(obj: dict[str, Any]) -> dict[str, str]:
    if obj["kind"] == "Secret":
        out = {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
        return {**out, **(obj.get("stringData") or {})}
    return dict(obj.get("data") or {})


@dataclass(frozen=True)
class Container:
    name: str
    command: list[str]
    env: dict[str, str]
    ports: dict[str, int]  # port name -> containerPort
    probes: dict[str, dict[str, Any]]  # liveness/readiness/startup -> the httpGet
    service_account: str
    mounts: dict[str, str]  # mountPath -> volume name

    def probe_port(self, probe: str) -> int:
        port = self.probes[probe]["port"]
        return self.ports[port] if isinstance(port, str) else int(port)


def container(deployment: dict[str, Any], objects: list[dict[str, Any]], pod_name: str = "pod-0") -> Container:
    """The first container of a rendered Deployment, with its environment resolved from `objects`."""
    pod = deployment["spec"]["template"]["spec"]
    spec = pod["containers"][0]
    namespace = deployment["metadata"]["namespace"]
    by_ref = {(o["kind"], o["metadata"]["name"]): o for o in objects if o["kind"] in ("ConfigMap", "Secret")}
    env: dict[str, str] = {}
    for source in spec.get("envFrom", []):
        kind, ref = ("ConfigMap", source["configMapRef"]) if "configMapRef" in source else ("Secret", source["secretRef"])
        obj = by_ref.get((kind, ref["name"]))
        assert obj is not None or ref.get("optional"), f"{kind} {ref['name']} named in envFrom is missing"
        env.update(_data(obj) if obj else {})
    fields = {"metadata.name": pod_name, "metadata.namespace": namespace}
    for item in spec.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        source = item["valueFrom"]
        if "fieldRef" in source:
            env[item["name"]] = fields[source["fieldRef"]["fieldPath"]]
            continue
        kind, ref = ("Secret", source["secretKeyRef"]) if "secretKeyRef" in source else ("ConfigMap", source["configMapKeyRef"])
        obj = by_ref.get((kind, ref["name"]))
        value = _data(obj).get(ref["key"]) if obj else None
        assert value is not None or ref.get("optional"), f"{item['name']}: {kind} {ref['name']} key {ref['key']} missing"
        if value is not None:
            env[item["name"]] = value
    probes = {kind.removesuffix("Probe"): spec[kind]["httpGet"] for kind in ("livenessProbe", "readinessProbe",
                                                                             "startupProbe") if kind in spec}
    return Container(spec["name"], list(spec["command"]) + list(spec.get("args", [])), env,
                     {p["name"]: p["containerPort"] for p in spec.get("ports", [])}, probes,
                     pod.get("serviceAccountName", "default"),
                     {m["mountPath"]: m["name"] for m in spec.get("volumeMounts", [])})


def secret(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    """A Secret as a user creates it (`kubectl create secret generic --from-literal`)."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "type": "Opaque", "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}
