"""Regenerate `protobuf_schema.json`: the wire facts of the Kubernetes types the sandbox decodes.

Why generated: kubectl's generators (`create deployment|service|job|cronjob|quota|...`, `run`,
`expose`) send `application/vnd.kubernetes.protobuf`, and decoding a Deployment means knowing some
hundred messages (PodSpec, Container, Probe, Volume sources ...). Those facts - each field's number,
JSON name, whether it is a pointer, repeated, a map, `omitempty` or inlined - are written in the Go
struct tags of k8s.io/api and k8s.io/apimachinery. This reads the tags from a checkout of both and
writes only those facts (no code) for the messages reachable from the kinds in `KINDS`.

    python -m sandbox.protobuf_gen K8S_IO_API_DIR K8S_IO_APIMACHINERY_DIR > sandbox/protobuf_schema.json

Type names in the table are `<package>.<Type>` (`apps/v1.Deployment`, `meta/v1.ObjectMeta`); the
well-known wrappers (`Time`, `MicroTime`, `Duration`, `Quantity`, `IntOrString`, `RawExtension`,
`FieldsV1`) are left to the decoder.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

# The kinds the sandbox accepts as protobuf: (apiVersion, kind) -> package of their Go type.
KINDS: dict[tuple[str, str], str] = {
    **{("v1", k): "core/v1" for k in (
        "Namespace", "Pod", "Service", "ConfigMap", "Secret", "ServiceAccount", "Event", "ResourceQuota",
        "LimitRange", "PersistentVolumeClaim", "PersistentVolume", "Node", "Endpoints", "Binding")},
    **{("apps/v1", k): "apps/v1" for k in (
        "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ControllerRevision")},
    ("batch/v1", "Job"): "batch/v1",
    ("batch/v1", "CronJob"): "batch/v1",
    ("autoscaling/v1", "Scale"): "autoscaling/v1",
    ("autoscaling/v1", "HorizontalPodAutoscaler"): "autoscaling/v1",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "autoscaling/v2",
    ("policy/v1", "PodDisruptionBudget"): "policy/v1",
    ("policy/v1", "Eviction"): "policy/v1",
    ("networking.k8s.io/v1", "NetworkPolicy"): "networking/v1",
    ("networking.k8s.io/v1", "Ingress"): "networking/v1",
    ("networking.k8s.io/v1", "IngressClass"): "networking/v1",
    **{("rbac.authorization.k8s.io/v1", k): "rbac/v1" for k in (
        "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")},
    **{("authorization.k8s.io/v1", k): "authorization/v1" for k in (
        "SubjectAccessReview", "SelfSubjectAccessReview", "LocalSubjectAccessReview", "SelfSubjectRulesReview")},
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "authentication/v1",
    ("authentication.k8s.io/v1", "TokenRequest"): "authentication/v1",
    ("authentication.k8s.io/v1", "TokenReview"): "authentication/v1",
    ("coordination.k8s.io/v1", "Lease"): "coordination/v1",
    ("discovery.k8s.io/v1", "EndpointSlice"): "discovery/v1",
    ("events.k8s.io/v1", "Event"): "events/v1",
    ("scheduling.k8s.io/v1", "PriorityClass"): "scheduling/v1",
    ("storage.k8s.io/v1", "StorageClass"): "storage/v1",
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"): "admissionregistration/v1",
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"): "admissionregistration/v1",
}
# Go import path -> package key, for the apimachinery packages whose structs we read.
APIMACHINERY_PACKAGES = {"k8s.io/apimachinery/pkg/apis/meta/v1": "meta/v1"}
# Types the decoder handles itself (their own Marshal code, not struct tags).
WELL_KNOWN = {
    "meta/v1.Time": "Time", "meta/v1.MicroTime": "MicroTime", "meta/v1.Duration": "Duration",
    "meta/v1.FieldsV1": "FieldsV1", "resource.Quantity": "Quantity", "intstr.IntOrString": "IntOrString",
    "runtime.RawExtension": "RawExtension", "types.UID": "string",
}
SCALARS = {"string": "string", "bool": "bool", "int": "int", "int32": "int", "int64": "int", "uint32": "int",
           "uint64": "int", "float64": "double", "float32": "double", "[]byte": "bytes", "byte": "int"}

_STRUCT = re.compile(r"^type (\w+) struct \{\s*$")
_ALIAS = re.compile(r"^type (\w+) (\S.*?)\s*(//.*)?$")
_FIELD = re.compile(r"^\s*(?:(\w+)\s+)?([^\s`]+)\s+`([^`]*)`")
_TAG = re.compile(r'(\w+):"([^"]*)"')
_IMPORT = re.compile(r'^\s*(?:(\w+)\s+)?"([^"]+)"')


@dataclass
class GoField:
    number: int
    json_name: str
    go_type: str
    omitempty: bool
    inline: bool


def _package_key(import_path: str) -> str:
    if import_path in APIMACHINERY_PACKAGES:
        return APIMACHINERY_PACKAGES[import_path]
    if import_path.startswith("k8s.io/api/"):
        return import_path[len("k8s.io/api/"):]
    return import_path.rsplit("/", 1)[-1]  # resource, intstr, runtime, types


def read_package(directory: Path, key: str) -> tuple[dict[str, list[GoField]], dict[str, str]]:
    """Structs (name -> fields with protobuf tags) and named types (name -> qualified underlying type)."""
    structs: dict[str, list[GoField]] = {}
    aliases: dict[str, str] = {}
    for path in sorted(directory.glob("*.go")):
        if path.name.endswith("_test.go") or path.name.startswith("zz_") or path.name.startswith("generated"):
            continue
        imports: dict[str, str] = {}
        current: str | None = None
        in_imports = False
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("import ("):
                in_imports = True
                continue
            if in_imports:
                if line.startswith(")"):
                    in_imports = False
                elif (m := _IMPORT.match(line)) is not None:
                    alias = m.group(1) or m.group(2).rsplit("/", 1)[-1]
                    imports[alias] = _package_key(m.group(2))
                continue
            if line.startswith("import \""):
                target = line.split('"')[1]
                imports[target.rsplit("/", 1)[-1]] = _package_key(target)
                continue
            if current is None:
                if (m := _STRUCT.match(line)) is not None:
                    current = m.group(1)
                    structs[current] = []
                elif (m := _ALIAS.match(line)) is not None and not m.group(2).startswith(("struct", "interface", "=")):
                    aliases[m.group(1)] = _qualify(m.group(2), key, imports)
                continue
            if line.startswith("}"):
                current = None
                continue
            field = _field(line, key, imports)
            if field is not None:
                structs[current].append(field)
    return structs, aliases


def _qualify(go_type: str, key: str, imports: dict[str, str]) -> str:
    """`*metav1.Time` -> `*meta/v1.Time`; `[]Container` -> `[]core/v1.Container`; scalars stay."""
    prefix = ""
    while go_type.startswith(("*", "[]")) and go_type != "[]byte":
        step = "*" if go_type.startswith("*") else "[]"
        prefix += step
        go_type = go_type[len(step):]
    if go_type.startswith("map["):
        inner_key, _, value = go_type[4:].partition("]")
        return f"{prefix}map[{_qualify(inner_key, key, imports)}]{_qualify(value, key, imports)}"
    if go_type in SCALARS:
        return prefix + go_type
    if "." in go_type:
        alias, _, name = go_type.partition(".")
        return f"{prefix}{imports.get(alias, alias)}.{name}"
    return f"{prefix}{key}.{go_type}"


def _field(line: str, key: str, imports: dict[str, str]) -> GoField | None:
    m = _FIELD.match(line)
    if m is None:
        return None
    tags = dict(_TAG.findall(m.group(3)))
    if "protobuf" not in tags or tags["protobuf"] == "-":
        return None
    proto = tags["protobuf"].split(",")
    json_tag = tags.get("json", "").split(",")
    embedded = m.group(1) is None
    return GoField(
        number=int(proto[1]),
        json_name=json_tag[0],
        go_type=_qualify(m.group(2), key, imports),
        omitempty="omitempty" in json_tag[1:],
        inline=(embedded and json_tag[0] == "") or "inline" in json_tag[1:],
    )


def build(api_root: Path, apimachinery_root: Path) -> dict[str, dict[str, list[object]]]:
    structs: dict[str, list[GoField]] = {}
    aliases: dict[str, str] = {}
    # Every package of k8s.io/api: fields of the kinds above may refer to any of them (alpha ones too).
    packages = sorted({str(p.parent.relative_to(api_root)) for p in api_root.glob("*/*/types.go")})
    sources = [(api_root / pkg, pkg) for pkg in packages]
    sources += [(apimachinery_root / path.removeprefix("k8s.io/apimachinery/"), key)
                for path, key in APIMACHINERY_PACKAGES.items()]
    for directory, key in sources:
        found, named = read_package(directory, key)
        structs.update({f"{key}.{name}": fields for name, fields in found.items()})
        aliases.update({f"{key}.{name}": target for name, target in named.items()})

    def resolve(go_type: str) -> tuple[str, str]:
        """(flags, type) of a qualified Go type: r repeated, p pointer, m map; type scalar or message."""
        flags = ""
        while True:
            if go_type.startswith("*"):
                flags, go_type = flags + "p", go_type[1:]
            elif go_type.startswith("[]") and go_type != "[]byte":
                flags, go_type = flags + "r", go_type[2:]
            elif go_type in WELL_KNOWN:
                return flags, WELL_KNOWN[go_type]
            elif go_type in SCALARS:
                return flags, SCALARS[go_type]
            elif go_type.startswith("map["):
                inner_flags, value = resolve(go_type[4:].partition("]")[2])
                return flags + "m" + inner_flags, value
            elif go_type in aliases:
                go_type = aliases[go_type]
            elif go_type in structs:
                return flags, go_type
            else:
                raise KeyError(f"unknown Go type {go_type}")

    table: dict[str, dict[str, list[object]]] = {}
    pending = [f"{pkg}.{kind}" for (_, kind), pkg in KINDS.items()]
    while pending:
        name = pending.pop()
        if name in table:
            continue
        entry: dict[str, list[object]] = {}
        for field in structs[name]:
            flags, kind = resolve(field.go_type)
            flags += ("o" if field.omitempty else "") + ("i" if field.inline else "")
            entry[str(field.number)] = [field.json_name, kind, flags]
            if kind in structs:
                pending.append(kind)
        table[name] = entry
    return dict(sorted(table.items()))


def main() -> None:
    table = build(Path(sys.argv[1]), Path(sys.argv[2]))
    kinds = {f"{api_version} {kind}": f"{pkg}.{kind}" for (api_version, kind), pkg in sorted(KINDS.items())}
    json.dump({"kinds": kinds, "messages": table}, sys.stdout, separators=(",", ":"), sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
