"""Changes inside a workload's containers: securityContext hardening, env vars, probe ports.

Why partial containers again: like set-image, each renders only the containers it changes, merged by
name under server-side apply, and only the fields asked for (one env var, one probe port), so the
rest of the pod template and its owner stay untouched.

Why removing an env var uses a `$patch: delete` item: an env entry another field manager owns is not
removed by leaving it out of an apply. The strategic-merge directive names exactly the entry to
delete; the executor must send a manifest holding such a directive as a strategic merge patch (as the
requester), since a real API server accepts the directive in a patch but not in an apply body.

Why env values that hold a redacted secret are refused: the chat is redacted before planning, so a
value of `[REDACTED]` means the person typed a credential; it belongs in a Secret, not in a manifest
committed to git.
"""

from __future__ import annotations

from typing import Any, TypeVar

from controller.api.types import ObjectRef
from controller.catalog.base import (
    NOW_PLACEHOLDER,
    ActionSpec,
    Check,
    Rendered,
    describe_ref,
    live_object,
    missing,
    nothing,
    short,
)
from controller.catalog.params import WORKLOAD_KINDS
from controller.catalog.params_everyday import EnvParams, HardenParams, ProbeParams, RemoveEnvParams
from controller.catalog.workloads import containers_of, pick_container, workload_ref
from controller.planning.types import ClusterReader
from renderer.manifests import render_manifest

APPS = "apps/v1"
DELETE_DIRECTIVE = "$patch"
PROBE_FIELDS = {"readiness": "readinessProbe", "liveness": "livenessProbe", "startup": "startupProbe"}
PORT_HANDLERS = ("httpGet", "tcpSocket", "grpc")


W = TypeVar("W", HardenParams, EnvParams, RemoveEnvParams, ProbeParams)


class ContainerChange(ActionSpec[W]):
    """A change inside one workload's pod template: the workload is the only target."""

    def targets(self, params: W, cluster: ClusterReader) -> list[ObjectRef]:
        return [workload_ref(params.kind, params.name, params.namespace)]

    def where(self, params: W) -> str:
        container = getattr(params, "container", None)
        return (f"container {container} in " if container else "") + \
            describe_ref(workload_ref(params.kind, params.name, params.namespace))

    def container(self, params: W, cluster: ClusterReader, doing: str) -> tuple[ObjectRef, dict[str, Any]] | Rendered:
        """The workload and the container to change, or a render that says why there is none."""
        r = self.targets(params, cluster)[0]
        live = live_object(cluster, r)
        if live is None:
            return missing(r)
        chosen, why = pick_container(live, getattr(params, "container", None))
        if chosen is None:
            return nothing(f"Cannot {doing} {describe_ref(r)}: {why}.")
        return r, chosen


def _containers_manifest(kind: str, name: str, namespace: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return render_manifest("workload-containers", api_version=APPS, kind=kind, name=name, namespace=namespace,
                           containers=items)


def security_context(params: HardenParams) -> dict[str, Any]:
    out: dict[str, Any] = {"runAsNonRoot": params.run_as_non_root,
                           "allowPrivilegeEscalation": params.allow_privilege_escalation}
    if params.drop_all_capabilities:
        out["capabilities"] = {"drop": ["ALL"]}
    if params.read_only_root_filesystem:
        out["readOnlyRootFilesystem"] = True
    if params.run_as_user is not None:
        out["runAsUser"] = params.run_as_user
    return out


def _describe_context(params: HardenParams) -> str:
    parts = ["runAsNonRoot" if params.run_as_non_root else "",
             "no privilege escalation" if not params.allow_privilege_escalation else "",
             "drop ALL capabilities" if params.drop_all_capabilities else "",
             "read-only root filesystem" if params.read_only_root_filesystem else "",
             f"runAsUser {params.run_as_user}" if params.run_as_user is not None else ""]
    return ", ".join(p for p in parts if p)


class Harden(ContainerChange[HardenParams]):
    def title(self, params: HardenParams, cluster: ClusterReader | None = None) -> str:
        which = f" (containers {', '.join(params.containers)})" if params.containers else " (every container)"
        return (f"Harden {describe_ref(workload_ref(params.kind, params.name, params.namespace))}: "
                f"{_describe_context(params)}{which}")

    def render(self, params: HardenParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        r = self.targets(params, cluster)[0]
        live = live_object(cluster, r)
        if live is None:
            return missing(r)
        names = [str(c.get("name")) for c in containers_of(live)]
        unknown = [c for c in params.containers if c not in names]
        if unknown:
            return nothing(f"{describe_ref(r)} has no container {', '.join(unknown)} (containers: {', '.join(names)}).")
        chosen = params.containers or names
        context = security_context(params)
        notes = ["The pods are replaced. An image that runs as root fails to start under runAsNonRoot "
                 "(CreateContainerConfigError); restore re-applies the saved workload."]
        if params.read_only_root_filesystem:
            notes.append("With a read-only root filesystem, writes outside mounted volumes (e.g. /tmp) fail.")
        privileged = {str(c.get("name")) for c in containers_of(live) if (c.get("securityContext") or {}).get("privileged")}
        if privileged & set(chosen):  # allowPrivilegeEscalation false is invalid next to privileged true
            notes.append(f"Containers {', '.join(sorted(privileged & set(chosen)))} run privileged: that is turned off.")
        items = [{"name": name, "securityContext": {**context, **({"privileged": False} if name in privileged else {})}}
                 for name in chosen]
        return Rendered(manifests=[_containers_manifest(params.kind, params.name, params.namespace, items)],
                        notes=notes)


class SetEnv(ContainerChange[EnvParams]):
    def title(self, params: EnvParams, cluster: ClusterReader | None = None) -> str:
        shown = ", ".join(f"{k}={short(v)}" for k, v in params.env.items())
        return f"Set env {shown} on {self.where(params)}"

    def render(self, params: EnvParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        found = self.container(params, cluster, "set env on")
        if isinstance(found, Rendered):
            return found
        _r, chosen = found
        existing = {str(e.get("name")): e for e in chosen.get("env") or []}
        from_refs = [k for k in params.env if "valueFrom" in existing.get(k, {})]
        if from_refs:
            return nothing(f"{', '.join(from_refs)} in container {chosen['name']} comes from a Secret or ConfigMap "
                           "(valueFrom); change it there, or remove it first.")
        notes = [f"{k} was {short(str(existing[k].get('value', '')))}" for k in params.env if k in existing]
        notes.append("The other env vars stay as they are; the pods are replaced (a rolling update).")
        items = [{"name": chosen["name"], "env": [{"name": k, "value": v} for k, v in params.env.items()]}]
        return Rendered(manifests=[_containers_manifest(params.kind, params.name, params.namespace, items)],
                        notes=notes)


class RemoveEnv(ContainerChange[RemoveEnvParams]):
    def title(self, params: RemoveEnvParams, cluster: ClusterReader | None = None) -> str:
        return f"Remove env {', '.join(params.names)} from {self.where(params)}"

    def render(self, params: RemoveEnvParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        found = self.container(params, cluster, "remove env from")
        if isinstance(found, Rendered):
            return found
        r, chosen = found
        present = {str(e.get("name")) for e in chosen.get("env") or []}
        gone = [n for n in params.names if n not in present]
        if len(gone) == len(params.names):
            return nothing(f"Container {chosen['name']} of {describe_ref(r)} has no env var {', '.join(gone)} "
                           f"(it has {', '.join(sorted(present)) or 'none'}).")
        notes = [f"{', '.join(gone)} is not set, so only the others are removed."] if gone else []
        notes.append("Only these variables are removed; the Deployment and its other settings stay. The pods are "
                     "replaced (a rolling update).")
        items = [{"name": chosen["name"], "env": [{"name": n, DELETE_DIRECTIVE: "delete"}
                                                  for n in params.names if n in present]}]
        return Rendered(manifests=[_containers_manifest(params.kind, params.name, params.namespace, items)],
                        notes=notes)

    def checks(self, params: RemoveEnvParams, cluster: ClusterReader) -> list[Check]:
        r = self.targets(params, cluster)[0]
        return [Check(ref=r, rollout=True)] if live_object(cluster, r) is not None else []


class SetProbe(ContainerChange[ProbeParams]):
    def title(self, params: ProbeParams, cluster: ClusterReader | None = None) -> str:
        path = f" path {params.path}" if params.path else ""
        return f"Point the {params.probe} probe of {self.where(params)} at port {params.port}{path}"

    def render(self, params: ProbeParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        found = self.container(params, cluster, "change a probe of")
        if isinstance(found, Rendered):
            return found
        r, chosen = found
        field = PROBE_FIELDS[params.probe]
        probe = chosen.get(field) or {}
        handler = next((h for h in PORT_HANDLERS if h in probe), None)
        if handler is None:
            return nothing(f"Container {chosen['name']} of {describe_ref(r)} has no {params.probe} probe on a port "
                           "to change.")
        new_handler: dict[str, Any] = {"port": params.port}
        if handler == "httpGet":
            new_handler["path"] = params.path or probe[handler].get("path", "/")
        notes = [f"The {params.probe} probe checked port {probe[handler].get('port')}; it will check {params.port}."]
        listening = [p.get("containerPort") for p in chosen.get("ports") or []]
        if listening and params.port not in listening:
            notes.append(f"Port {params.port} is not one the container declares ({', '.join(map(str, listening))}).")
        items = [{"name": chosen["name"], field: {handler: new_handler}}]
        return Rendered(manifests=[_containers_manifest(params.kind, params.name, params.namespace, items)],
                        notes=notes)


HARDEN_WORKLOAD = Harden(
    name="harden-workload", context="security", params=HardenParams, risk="medium",
    existing={"name": WORKLOAD_KINDS},
    description=("Harden the securityContext of a Deployment's or StatefulSet's containers: runAsNonRoot, "
                 "allowPrivilegeEscalation false, drop ALL capabilities, and a read-only root filesystem when asked."),
)
SET_ENV = SetEnv(
    name="set-env", context="k8s", params=EnvParams, risk="medium",
    existing={"name": WORKLOAD_KINDS},
    description=("Set (add or change) environment variables on one container of a Deployment or StatefulSet; the "
                 "other variables stay. Never for credentials: those belong in a Secret."),
)
REMOVE_ENV = RemoveEnv(
    name="remove-env", context="k8s", params=RemoveEnvParams, risk="medium",
    existing={"name": WORKLOAD_KINDS},
    description="Remove (unset) environment variables from one container of a Deployment or StatefulSet.",
)
SET_PROBE = SetProbe(
    name="set-probe", context="sre", params=ProbeParams, risk="medium",
    existing={"name": WORKLOAD_KINDS},
    description=("Fix the port (and path) a readiness, liveness or startup probe of a container checks, e.g. when "
                 "the probe fails because it targets a port the app does not listen on."),
)
ACTIONS: tuple[ActionSpec[Any], ...] = (HARDEN_WORKLOAD, SET_ENV, REMOVE_ENV, SET_PROBE)
