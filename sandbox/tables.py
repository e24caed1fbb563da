"""Server-side printing: `meta.k8s.io/v1 Table` responses for `kubectl get`.

Why: kubectl asks the server for a Table and prints its cells verbatim, so the columns users see
(Deployment READY, Pod STATUS, a CRD's additionalPrinterColumns) are decided here, as data per kind.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

from sandbox.resources import ResourceType

Cell = Any
Extractor = Callable[[dict[str, Any]], Cell]

NAME_COLUMN: dict[str, Any] = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "priority": 0,
    "description": "Name must be unique within a namespace. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
}


def parse_time(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except (TypeError, ValueError):
        return None


def human_duration(seconds: float) -> str:
    """Kubernetes' `duration.HumanDuration`: 45s, 3m20s, 5h, 3d4h, 2y."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d{h % 24}h" if h % 24 else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        y = h // (24 * 365)
        d = (h // 24) % 365
        return f"{y}y{d}d" if d else f"{y}y"
    return f"{h // (24 * 365)}y"


def age(timestamp: str | None) -> str:
    when = parse_time(timestamp or "")
    if when is None:
        return "<unknown>"
    return human_duration((dt.datetime.now(dt.UTC) - when).total_seconds())


_JSONPATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']+)'\]")


def jsonpath(obj: Any, path: str) -> Any:
    """Evaluate the simple JSONPath of printer columns: `.spec.size`, `.status.conditions[0].type`."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    node = obj
    for m in _JSONPATH_TOKEN.finditer(path):
        key, index, quoted = m.group(1), m.group(2), m.group(3)
        if index is not None:
            if not isinstance(node, list) or int(index) >= len(node):
                return None
            node = node[int(index)]
        else:
            if not isinstance(node, dict):
                return None
            node = node.get(key if key is not None else quoted)
        if node is None:
            return None
    return node


def _spec(o: dict[str, Any]) -> dict[str, Any]:
    return o.get("spec") or {}


def _status(o: dict[str, Any]) -> dict[str, Any]:
    return o.get("status") or {}


def _pod_status(pod: dict[str, Any]) -> str:
    """The STATUS column kubectl shows for a pod: a container's waiting/terminated reason wins."""
    status = _status(pod)
    reason = status.get("reason") or status.get("phase") or "Pending"
    for cs in status.get("initContainerStatuses") or []:
        state = cs.get("state") or {}
        if state.get("terminated", {}).get("exitCode", 0) != 0:
            return f"Init:{state['terminated'].get('reason') or 'Error'}"
        if state.get("waiting", {}).get("reason") not in (None, "PodInitializing"):
            return f"Init:{state['waiting']['reason']}"
    for cs in reversed(status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated", {}).get("reason"):
            reason = state["terminated"]["reason"]
        elif "terminated" in state:
            code = state["terminated"].get("exitCode", 0)
            reason = f"ExitCode:{code}"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    return str(reason)


def _pod_ready(pod: dict[str, Any]) -> str:
    total = len(_spec(pod).get("containers") or [])
    ready = sum(1 for cs in _status(pod).get("containerStatuses") or [] if cs.get("ready"))
    return f"{ready}/{total}"


def _restarts(pod: dict[str, Any]) -> int:
    return sum(int(cs.get("restartCount", 0)) for cs in _status(pod).get("containerStatuses") or [])


def _col(name: str, kind: str = "string", priority: int = 0, fmt: str = "") -> dict[str, Any]:
    return {"name": name, "type": kind, "format": fmt, "description": name, "priority": priority}


def _ports(svc: dict[str, Any]) -> str:
    ports = [f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in _spec(svc).get("ports") or []]
    return ",".join(ports) or "<none>"


AGE: tuple[dict[str, Any], Extractor] = (_col("Age"), lambda o: age(o["metadata"].get("creationTimestamp")))

_ACCESS_MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}


def _access_modes(modes: list[str] | None) -> str:
    return ",".join(_ACCESS_MODES.get(m, m) for m in modes or [])


def _first_three(items: list[str]) -> str:
    """The printers' endpoint lists: up to three, then `+ N more...`."""
    if not items:
        return "<none>"
    shown = ",".join(items[:3])
    return shown + (f" + {len(items) - 3} more..." if len(items) > 3 else "")


def _job_status(job: dict[str, Any]) -> str:
    conditions = {c.get("type"): c.get("status") for c in _status(job).get("conditions") or []}
    for state in ("Failed", "Complete", "Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if conditions.get(state) == "True":
            return {"FailureTarget": "FailureTarget", "SuccessCriteriaMet": "SuccessCriteriaMet"}.get(state, state)
    return "Running"


def _job_duration(job: dict[str, Any]) -> str:
    start = parse_time(_status(job).get("startTime") or "")
    if start is None:
        return ""
    end = parse_time(_status(job).get("completionTime") or "") or dt.datetime.now(dt.UTC)
    return human_duration((end - start).total_seconds())


def _hpa_targets(hpa: dict[str, Any]) -> str:
    current = {m.get("resource", {}).get("name"): m.get("resource", {}).get("current") or {}
               for m in _status(hpa).get("currentMetrics") or [] if m.get("type") == "Resource"}
    parts = []
    for metric in _spec(hpa).get("metrics") or []:
        if metric.get("type") != "Resource":
            continue
        name = metric["resource"].get("name", "")
        target = metric["resource"].get("target") or {}
        now = current.get(name) or {}
        if target.get("type", "Utilization") == "Utilization":
            value = f"{now['averageUtilization']}%" if "averageUtilization" in now else "<unknown>"
            parts.append(f"{name}: {value}/{target.get('averageUtilization', 80)}%")
        else:
            parts.append(f"{name}: {now.get('averageValue', '<unknown>')}/{target.get('averageValue', '')}")
    return ", ".join(parts) or "<none>"

# kind key ("group/Kind") -> columns after Name.
BUILTIN_COLUMNS: dict[str, list[tuple[dict[str, Any], Extractor]]] = {
    "apps/Deployment": [
        (_col("Ready"), lambda o: f"{_status(o).get('readyReplicas', 0)}/{_spec(o).get('replicas', 1)}"),
        (_col("Up-to-date", "integer"), lambda o: _status(o).get("updatedReplicas", 0)),
        (_col("Available", "integer"), lambda o: _status(o).get("availableReplicas", 0)),
        AGE,
    ],
    "apps/StatefulSet": [
        (_col("Ready"), lambda o: f"{_status(o).get('readyReplicas', 0)}/{_spec(o).get('replicas', 1)}"),
        AGE,
    ],
    "apps/ReplicaSet": [
        (_col("Desired", "integer"), lambda o: _spec(o).get("replicas", 1)),
        (_col("Current", "integer"), lambda o: _status(o).get("replicas", 0)),
        (_col("Ready", "integer"), lambda o: _status(o).get("readyReplicas", 0)),
        AGE,
    ],
    "/Pod": [
        (_col("Ready"), _pod_ready),
        (_col("Status"), _pod_status),
        (_col("Restarts", "string"), _restarts),
        AGE,
        (_col("IP", priority=1), lambda o: _status(o).get("podIP") or "<none>"),
        (_col("Node", priority=1), lambda o: _spec(o).get("nodeName") or "<none>"),
        (_col("Nominated Node", priority=1), lambda o: _status(o).get("nominatedNodeName") or "<none>"),
        (_col("Readiness Gates", priority=1), lambda o: "<none>"),
    ],
    "/Namespace": [
        (_col("Status"), lambda o: _status(o).get("phase", "Active")),
        AGE,
    ],
    "/Service": [
        (_col("Type"), lambda o: _spec(o).get("type", "ClusterIP")),
        (_col("Cluster-IP"), lambda o: _spec(o).get("clusterIP", "<none>")),
        (_col("External-IP"), lambda o: "<none>"),
        (_col("Port(s)"), _ports),
        AGE,
    ],
    "/ConfigMap": [
        (_col("Data", "integer"), lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
        AGE,
    ],
    "/Secret": [
        (_col("Type"), lambda o: o.get("type", "Opaque")),
        (_col("Data", "integer"), lambda o: len(o.get("data") or {}) + len(o.get("stringData") or {})),
        AGE,
    ],
    "/Event": [
        (_col("Last Seen"), lambda o: age(o.get("lastTimestamp") or o["metadata"].get("creationTimestamp"))),
        (_col("Type"), lambda o: o.get("type", "")),
        (_col("Reason"), lambda o: o.get("reason", "")),
        (
            _col("Object"),
            lambda o: (
                f"{(o.get('involvedObject') or {}).get('kind', '').lower()}/"
                f"{(o.get('involvedObject') or {}).get('name', '')}"
            ),
        ),
        (_col("Message"), lambda o: o.get("message", "")),
    ],
    "apiextensions.k8s.io/CustomResourceDefinition": [
        (_col("Created At", "date"), lambda o: o["metadata"].get("creationTimestamp")),
    ],
    "batch/Job": [
        (_col("Status"), lambda o: _job_status(o)),
        (_col("Completions"), lambda o: f"{_status(o).get('succeeded', 0)}/{_spec(o).get('completions', 1)}"),
        (_col("Duration"), _job_duration),
        AGE,
    ],
    # The kinds the simulated cluster (sandbox/controllers) fills in, with the real printers' columns.
    "batch/CronJob": [
        (_col("Schedule"), lambda o: _spec(o).get("schedule", "")),
        (_col("Timezone"), lambda o: _spec(o).get("timeZone") or "<none>"),
        (_col("Suspend", "boolean"), lambda o: bool(_spec(o).get("suspend"))),
        (_col("Active", "integer"), lambda o: len(_status(o).get("active") or [])),
        (_col("Last Schedule"), lambda o: age(_status(o).get("lastScheduleTime")) if _status(o).get(
            "lastScheduleTime") else "<none>"),
        AGE,
    ],
    "apps/DaemonSet": [
        (_col("Desired", "integer"), lambda o: _status(o).get("desiredNumberScheduled", 0)),
        (_col("Current", "integer"), lambda o: _status(o).get("currentNumberScheduled", 0)),
        (_col("Ready", "integer"), lambda o: _status(o).get("numberReady", 0)),
        (_col("Up-to-date", "integer"), lambda o: _status(o).get("updatedNumberScheduled", 0)),
        (_col("Available", "integer"), lambda o: _status(o).get("numberAvailable", 0)),
        (_col("Node Selector"), lambda o: ",".join(f"{k}={v}" for k, v in (
            (_spec(o).get("template") or {}).get("spec", {}).get("nodeSelector") or {}).items()) or "<none>"),
        AGE,
    ],
    "/Node": [
        (_col("Status"), lambda o: "Ready" + (",SchedulingDisabled" if _spec(o).get("unschedulable") else "") if any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in _status(o).get("conditions") or [])
         else "NotReady"),
        (_col("Roles"), lambda o: ",".join(sorted(k.split("/", 1)[1] for k in (o["metadata"].get("labels") or {})
                                                  if k.startswith("node-role.kubernetes.io/"))) or "<none>"),
        AGE,
        (_col("Version"), lambda o: (_status(o).get("nodeInfo") or {}).get("kubeletVersion", "")),
        (_col("Internal-IP", priority=1), lambda o: next((a["address"] for a in _status(o).get("addresses") or []
                                                         if a.get("type") == "InternalIP"), "<none>")),
        (_col("External-IP", priority=1), lambda o: "<none>"),
        (_col("OS-Image", priority=1), lambda o: (_status(o).get("nodeInfo") or {}).get("osImage", "")),
        (_col("Kernel-Version", priority=1), lambda o: (_status(o).get("nodeInfo") or {}).get("kernelVersion", "")),
        (_col("Container-Runtime", priority=1), lambda o: (_status(o).get("nodeInfo") or {}).get(
            "containerRuntimeVersion", "")),
    ],
    "/PersistentVolume": [
        (_col("Capacity"), lambda o: (_spec(o).get("capacity") or {}).get("storage", "")),
        (_col("Access Modes"), lambda o: _access_modes(_spec(o).get("accessModes"))),
        (_col("Reclaim Policy"), lambda o: _spec(o).get("persistentVolumeReclaimPolicy", "Retain")),
        (_col("Status"), lambda o: _status(o).get("phase", "")),
        (_col("Claim"), lambda o: "/".join(filter(None, [(_spec(o).get("claimRef") or {}).get("namespace"),
                                                         (_spec(o).get("claimRef") or {}).get("name")]))),
        (_col("StorageClass"), lambda o: _spec(o).get("storageClassName", "")),
        (_col("VolumeAttributesClass"), lambda o: "<unset>"),
        (_col("Reason"), lambda o: _status(o).get("reason", "")),
        AGE,
    ],
    "/PersistentVolumeClaim": [
        (_col("Status"), lambda o: "Terminating" if o["metadata"].get("deletionTimestamp") else _status(o).get(
            "phase", "")),
        (_col("Volume"), lambda o: _spec(o).get("volumeName", "")),
        (_col("Capacity"), lambda o: (_status(o).get("capacity") or {}).get("storage", "")),
        (_col("Access Modes"), lambda o: _access_modes(_status(o).get("accessModes"))),
        (_col("StorageClass"), lambda o: _spec(o).get("storageClassName") or ""),
        (_col("VolumeAttributesClass"), lambda o: "<unset>"),
        AGE,
    ],
    "storage.k8s.io/StorageClass": [
        (_col("Provisioner"), lambda o: o.get("provisioner", "")),
        (_col("ReclaimPolicy"), lambda o: o.get("reclaimPolicy", "Delete")),
        (_col("VolumeBindingMode"), lambda o: o.get("volumeBindingMode", "Immediate")),
        (_col("AllowVolumeExpansion", "boolean"), lambda o: bool(o.get("allowVolumeExpansion"))),
        AGE,
    ],
    "/Endpoints": [
        (_col("Endpoints"), lambda o: _first_three([f"{a['ip']}:{p['port']}" for s in o.get("subsets") or []
                                                    for p in s.get("ports") or [{}] if p
                                                    for a in s.get("addresses") or []])),
        AGE,
    ],
    "discovery.k8s.io/EndpointSlice": [
        (_col("AddressType"), lambda o: o.get("addressType", "")),
        (_col("Ports"), lambda o: ",".join(str(p.get("port")) for p in o.get("ports") or []) or "<unset>"),
        (_col("Endpoints"), lambda o: _first_three([a for e in o.get("endpoints") or [] for a in e.get("addresses")
                                                    or []])),
        AGE,
    ],
    "autoscaling/HorizontalPodAutoscaler": [
        (_col("Reference"), lambda o: f"{(_spec(o).get('scaleTargetRef') or {}).get('kind', '')}/"
                                      f"{(_spec(o).get('scaleTargetRef') or {}).get('name', '')}"),
        (_col("Targets"), _hpa_targets),
        (_col("MinPods", "integer"), lambda o: _spec(o).get("minReplicas", 1)),
        (_col("MaxPods", "integer"), lambda o: _spec(o).get("maxReplicas", 0)),
        (_col("Replicas", "integer"), lambda o: _status(o).get("currentReplicas", 0)),
        AGE,
    ],
}


def _custom_columns(rt: ResourceType) -> list[tuple[dict[str, Any], Extractor]]:
    cols: list[tuple[dict[str, Any], Extractor]] = []
    for pc in rt.printer_columns:
        kind = pc.get("type", "string")
        definition = {
            "name": pc["name"],
            "type": kind,
            "format": pc.get("format", ""),
            "description": pc.get("description", ""),
            "priority": pc.get("priority", 0),
        }

        def extract(o: dict[str, Any], path: str = pc.get("jsonPath", ""), kind: str = kind) -> Cell:
            value = jsonpath(o, path)
            if kind == "date":
                return age(value) if isinstance(value, str) else "<unknown>"
            if isinstance(value, dict | list):
                return json.dumps(value, separators=(",", ":"))
            return value

        cols.append((definition, extract))
    return cols


def columns_for(rt: ResourceType) -> list[tuple[dict[str, Any], Extractor]]:
    if rt.custom:
        return _custom_columns(rt) if rt.printer_columns else [AGE]
    return BUILTIN_COLUMNS.get(f"{rt.group}/{rt.kind}", [AGE])


def partial_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def to_table(
    rt: ResourceType,
    objects: list[dict[str, Any]],
    resource_version: str,
    include_object: str = "Metadata",
    with_headers: bool = True,
) -> dict[str, Any]:
    """A Table of the given objects; `include_object` is None | Metadata | Object."""
    columns = columns_for(rt)
    rows: list[dict[str, Any]] = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [obj["metadata"].get("name", "")] + [fn(obj) for _, fn in columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [NAME_COLUMN] + [c for c, _ in columns] if with_headers else [],
        "rows": rows,
    }


# What a client asks of each object (the Accept header's first choice): the whole object, its metadata
# alone (meta.k8s.io's PartialObjectMetadata, as client-go's metadata client asks on get, list, watch and
# writes), or Table rows.
OBJECTS, METADATA, TABLE = "objects", "metadata", "table"


def response_shape(accept: str) -> str:
    """OBJECTS, METADATA or TABLE, as the Accept header's first media type asks."""
    first = accept.split(",")[0] if accept else ""
    params = {p.strip() for p in first.split(";")[1:]}
    if "g=meta.k8s.io" in params:
        if "as=Table" in params:
            return TABLE
        if params & {"as=PartialObjectMetadata", "as=PartialObjectMetadataList"}:
            return METADATA
    return OBJECTS


def partial_metadata_list(items: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "items": [partial_metadata(i) for i in items]}
