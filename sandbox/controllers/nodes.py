"""The nodes of the behaviour file, registered and kept Ready as their kubelets would keep them.

Why: `kubectl get nodes`, the scheduler's capacity checks, node selectors and taints all need Node
objects with real labels (`kubernetes.io/hostname`, `kubernetes.io/os`, zones), capacity,
allocatable and conditions. A deleted node registers again, as a kubelet re-registers; a node the
file does not declare (created by hand) has no kubelet, so pods bound to it never start.
"""

from __future__ import annotations

from typing import Any

from sandbox.controllers.base import Controller
from sandbox.discovery import SERVER_VERSION
from sandbox.store import ObjectKey


def node_ip(index: int) -> str:
    return f"172.18.0.{index + 2}"


class NodeController(Controller):
    name = "node-lifecycle"
    watches = (("", "nodes"),)

    def seed(self) -> None:
        for name in self.behaviour.node_names():
            self.reconcile(("", "nodes", "", name))

    def resync_keys(self) -> list[ObjectKey]:
        return [("", "nodes", "", name) for name in self.behaviour.node_names()]

    def _spec_of(self, name: str) -> tuple[int, Any] | None:
        index = 0
        for spec in self.behaviour.nodes:
            for candidate in spec.names():
                if candidate == name:
                    return index, spec
                index += 1
        return None

    def reconcile(self, key: ObjectKey) -> float | None:
        found = self._spec_of(key[3])
        if found is None:
            return None
        index, spec = found
        name = key[3]
        rt = self.rt("", "v1", "nodes")
        node = self.get("", "nodes", "", name)
        if node is None:
            labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                      "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64", **spec.labels}
            body = {"apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": name, "labels": labels,
                                 "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                                 "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
                    "spec": {"podCIDR": f"10.244.{index + 1}.0/24", "podCIDRs": [f"10.244.{index + 1}.0/24"],
                             "providerID": f"sandbox://{name}",
                             **({"taints": [t.model_dump(exclude_defaults=True) for t in spec.taints]}
                                if spec.taints else {})}}
            node = self.create(rt, "", body)
            if node is None:
                return None
        stamp = node["metadata"]["creationTimestamp"]
        capacity = dict(spec.capacity)
        version = SERVER_VERSION["gitVersion"]
        status = {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "conditions": [
                _cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available", stamp),
                _cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", stamp),
                _cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available", stamp),
                _cond("Ready", "True", "KubeletReady", "kubelet is posting ready status", stamp),
            ],
            "addresses": [{"type": "InternalIP", "address": node_ip(index)}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"architecture": "amd64", "bootID": node["metadata"]["uid"],
                         "containerRuntimeVersion": "containerd://1.7.24", "kernelVersion": "6.8.0-sandbox",
                         "kubeProxyVersion": version, "kubeletVersion": version,
                         "machineID": node["metadata"]["uid"].replace("-", ""), "operatingSystem": "linux",
                         "osImage": "Debian GNU/Linux 12 (bookworm)",
                         "systemUUID": node["metadata"]["uid"]},
        }
        if self.staged(node):
            return None
        self.write_status(rt, node, status)
        return None


def _cond(type_: str, status: str, reason: str, message: str, stamp: str) -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}
