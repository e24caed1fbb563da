"""A container's environment and a pod's QoS class, resolved as the kubelet resolves them.

Why: `env` with `valueFrom` (ConfigMap and Secret keys, the downward API), `envFrom` and `$(VAR)`
references decide what a command sees, and a reference to a missing ConfigMap, Secret or key is
one of the most common reasons a pod never starts (`CreateContainerConfigError` with
`configmap "x" not found` or `couldn't find key k in ConfigMap ns/x`).
"""

from __future__ import annotations

import base64
import re
from typing import Any

from sandbox import quantity
from sandbox.store import Store

BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "KUBERNETES_SERVICE_HOST": "10.96.0.1",
    "KUBERNETES_SERVICE_PORT": "443",
    "KUBERNETES_SERVICE_PORT_HTTPS": "443",
    "KUBERNETES_PORT": "tcp://10.96.0.1:443",
}


def pod_hostname(pod: dict[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("hostname") or pod["metadata"]["name"])


def _data(store: Store, namespace: str, kind: str, name: str) -> dict[str, str] | None:
    plural = "configmaps" if kind == "ConfigMap" else "secrets"
    obj = store.get(("", plural, namespace, name))
    if obj is None:
        return None
    if kind == "ConfigMap":
        return {k: str(v) for k, v in (obj.get("data") or {}).items()}
    out = {}
    for key, value in (obj.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(str(value)).decode("utf-8", "replace")
        except ValueError:
            out[key] = ""
    return out


def _field(pod: dict[str, Any], path: str) -> str:
    meta = pod["metadata"]
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    values = {
        "metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""), "spec.nodeName": (pod.get("spec") or {}).get("nodeName", ""),
        "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName", "default"),
        "status.podIP": (pod.get("status") or {}).get("podIP", ""),
        "status.hostIP": (pod.get("status") or {}).get("hostIP", ""),
    }
    return str(values.get(path, ""))


def _resource(spec: dict[str, Any], ref: dict[str, Any]) -> str:
    kind, _, name = str(ref.get("resource", "")).partition(".")
    value = ((spec.get("resources") or {}).get(kind) or {}).get(name)
    if value is None:
        return "0"
    divisor = quantity.parse(ref.get("divisor") or "1")
    return str(int(-(-quantity.parse(value) // divisor)))


def container_env(store: Store, pod: dict[str, Any], spec: dict[str, Any]) -> tuple[dict[str, str], str]:
    """(environment, error): the error is the kubelet's CreateContainerConfigError message, or ''."""
    namespace = pod["metadata"].get("namespace", "")
    env = dict(BASE_ENV)
    env["HOSTNAME"] = pod_hostname(pod)
    for source in spec.get("envFrom") or []:
        for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            ref = source.get(key)
            if ref is None:
                continue
            data = _data(store, namespace, kind, ref.get("name", ""))
            if data is None:
                if ref.get("optional"):
                    continue
                return env, f'{kind.lower()} "{ref.get("name", "")}" not found'
            prefix = source.get("prefix", "")
            env.update({prefix + k: v for k, v in data.items()})
    for item in spec.get("env") or []:
        name = item.get("name", "")
        if "value" in item or "valueFrom" not in item:
            value = str(item.get("value", ""))
            env[name] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), value)
            continue
        source = item["valueFrom"] or {}
        if "fieldRef" in source:
            env[name] = _field(pod, str(source["fieldRef"].get("fieldPath", "")))
        elif "resourceFieldRef" in source:
            env[name] = _resource(spec, source["resourceFieldRef"])
        for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
            ref = source.get(key)
            if ref is None:
                continue
            data = _data(store, namespace, kind, ref.get("name", ""))
            if data is None:
                if ref.get("optional"):
                    continue
                return env, f'{kind.lower()} "{ref.get("name", "")}" not found'
            if ref.get("key") not in data:
                if ref.get("optional"):
                    continue
                return env, f"couldn't find key {ref.get('key')} in {kind} {namespace}/{ref.get('name', '')}"
            env[name] = data[ref["key"]]
    return env, ""


def qos_class(pod: dict[str, Any]) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' requests and limits."""
    containers = list((pod.get("spec") or {}).get("containers") or []) + \
        list((pod.get("spec") or {}).get("initContainers") or [])
    any_set = False
    guaranteed = True
    for c in containers:
        resources = c.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        if requests or limits:
            any_set = True
        for name in ("cpu", "memory"):
            limit = limits.get(name)
            request = requests.get(name, limit)
            if limit is None or request is None or quantity.parse(limit) != quantity.parse(request):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
