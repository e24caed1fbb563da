"""The cluster network as seen from inside a pod: cluster DNS, Services, and the processes behind them.

Why: verify scripts check traffic the way people do, `kubectl exec client -- wget -qO- http://web`
or `curl web.shop:8080/healthz`. A request is answered the way kube-proxy and the pod would answer
it: the name resolves through the cluster's DNS (`svc`, `svc.ns`, `svc.ns.svc.cluster.local`,
`pod.headless-svc.ns...`), a Service forwards to a *ready* pod selected by its selector on the
resolved targetPort, and the pod answers only if its process listens there (otherwise "connection
refused"). nginx-like processes serve files under their document root (a ConfigMap mounted there).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Protocol
from urllib.parse import urlsplit

from sandbox.process import FileSystem, Process
from sandbox.selectors import labels_match, selector_from_label_selector_object
from sandbox.store import Store

API_SERVICE_IP = "10.96.0.1"
NOT_FOUND_PAGE = "<html>\n<head><title>404 Not Found</title></head>\n<body>\n<center><h1>404 Not Found</h1></center>\n</body>\n</html>\n"


class Processes(Protocol):
    def process_of(self, pod: dict[str, Any], port: int) -> tuple[Process, FileSystem, float] | None: ...


def pod_ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def pod_views(store: Store, namespace: str | None = None) -> list[dict[str, Any]]:
    """Read-only views of the pods (of a namespace): no copies, for use before the next write."""
    return store.objects("", "pods", namespace, read_only=True)


def selected_pods(store: Store, service: dict[str, Any]) -> list[dict[str, Any]]:
    """The running pods a Service's selector picks (read-only views)."""
    selector = (service.get("spec") or {}).get("selector") or {}
    if not selector:
        return []
    reqs = selector_from_label_selector_object({"matchLabels": selector})
    namespace = service["metadata"].get("namespace", "")
    return [p for p in pod_views(store, namespace)
            if labels_match(reqs, p) and (p.get("status") or {}).get("podIP")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            and not p["metadata"].get("deletionTimestamp")]


def target_port(service_port: dict[str, Any], pod: dict[str, Any]) -> int | None:
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        return int(target)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target:
                return int(port["containerPort"])
    return None


class ClusterNetwork:
    def __init__(self, store: Store, processes: Processes, namespace: str, own_ip: str = "") -> None:
        self.store = store
        self.processes = processes
        self.namespace = namespace
        self.own_ip = own_ip  # what localhost means inside the pod

    def _service(self, host: str) -> dict[str, Any] | None:
        parts = host.split(".")
        if (len(parts) >= 3 and parts[2] == "svc") or len(parts) == 2:
            return self.store.get(("", "services", parts[1], parts[0]))
        if len(parts) == 1:
            return self.store.get(("", "services", self.namespace, parts[0]))
        return None

    def resolve(self, host: str) -> str | None:
        host = host.lower().rstrip(".")
        if host in ("localhost", "127.0.0.1", "::1") and self.own_ip:
            return self.own_ip
        try:
            ipaddress.ip_address(host)
            return host
        except ValueError:
            pass
        if host in ("kubernetes", "kubernetes.default", "kubernetes.default.svc",
                    "kubernetes.default.svc.cluster.local"):
            return API_SERVICE_IP
        service = self._service(host)
        if service is not None:
            ip = (service.get("spec") or {}).get("clusterIP")
            if ip and ip != "None":
                return str(ip)
            pods = [p for p in selected_pods(self.store, service) if pod_ready(p)]
            return str(pods[0]["status"]["podIP"]) if pods else None
        parts = host.split(".")
        if len(parts) >= 3:  # web-0.web.shop(.svc.cluster.local): a pod behind a headless Service
            service = self.store.get(("", "services", parts[2], parts[1]))
            if service is not None:
                for pod in selected_pods(self.store, service):
                    spec = pod.get("spec") or {}
                    if (spec.get("hostname") or pod["metadata"]["name"]) == parts[0]:
                        return str(pod["status"]["podIP"])
        return None

    def get(self, url: str) -> tuple[int, str] | str:
        split = urlsplit(url if "://" in url else f"http://{url}")
        host = split.hostname or ""
        port = split.port or (443 if split.scheme == "https" else 80)
        ip = self.resolve(host)
        refused = f"Failed to connect to {host} port {port} after 0 ms: Couldn't connect to server"
        if ip is None:
            return f"Could not resolve host: {host}"
        answer = self._pod_answer(ip, port)
        if answer is None:
            answer = self._service_answer(ip, port)
        if answer is None:
            return refused
        process, fs, _ = answer
        if split.scheme == "tcp":
            return 0, ""
        return _http(process, fs, split.path or "/")

    def _pod_answer(self, ip: str, port: int) -> tuple[Process, FileSystem, float] | None:
        for pod in pod_views(self.store):
            if (pod.get("status") or {}).get("podIP") == ip:
                return self.processes.process_of(pod, port)
        return None

    def _service_answer(self, ip: str, port: int) -> tuple[Process, FileSystem, float] | None:
        for service in self.store.objects("", "services"):
            spec = service.get("spec") or {}
            if spec.get("clusterIP") != ip:
                continue
            for service_port in spec.get("ports") or []:
                if int(service_port.get("port", 0)) != port:
                    continue
                for pod in selected_pods(self.store, service):
                    target = target_port(service_port, pod)
                    if pod_ready(pod) and target is not None:
                        found = self.processes.process_of(pod, target)
                        if found is not None:
                            return found
            return None
        return None


def _http(process: Process, fs: FileSystem, path: str) -> tuple[int, str]:
    if process.doc_root:
        file = fs.read(process.doc_root.rstrip("/") + (path if path != "/" else "/index.html"))
        if file is not None:
            return 200, file
    status = process.http_status(path)
    if status == 0:
        return 0, ""
    if path in process.pages:
        return status, process.pages[path]
    if status == 404:
        return 404, NOT_FOUND_PAGE
    return status, process.pages.get("/", "") if status < 300 and not re.search(r"\.\w+$", path) else ""
