"""Configuration and metadata: set one ConfigMap key; add or remove labels and annotations.

Why a single key: "set LOG_LEVEL to debug in web-config" must not rewrite the rest of the
ConfigMap. Server-side apply of `data: {LOG_LEVEL: debug}` changes that key only.

Why removals render `null`: a label that another manager set cannot be removed by omitting it
from an apply; a `null` value says "remove this key" explicitly, and the preview and the executor
both treat it so. The executor applies labels of its own (`aiop.dev/thread`), never this module.
"""

from __future__ import annotations

from typing import Any

from controller.api.types import ObjectRef
from controller.catalog.base import (
    NOW_PLACEHOLDER,
    ActionSpec,
    Check,
    Rendered,
    Risk,
    describe_ref,
    live_object,
    missing,
    nothing,
    ref,
    short,
)
from controller.catalog.params import ConfigMapKeyParams, LabelsParams
from controller.planning.types import ClusterReader
from renderer.manifests import render_manifest


class SetConfigMapKey(ActionSpec[ConfigMapKeyParams]):
    def title(self, params: ConfigMapKeyParams, cluster: ClusterReader | None = None) -> str:
        r = ref("v1", "ConfigMap", params.name, params.namespace)
        live = live_object(cluster, r) if cluster is not None else None
        if live is None and cluster is not None:
            return f"Create {describe_ref(r)} with {params.key}={short(params.value)}"
        old = ((live or {}).get("data") or {}).get(params.key)
        if old is not None:
            return f"Set {params.key} in {describe_ref(r)} from {short(old)} to {short(params.value)}"
        return f"Set {params.key}={short(params.value)} in {describe_ref(r)}"

    def targets(self, params: ConfigMapKeyParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref("v1", "ConfigMap", params.name, params.namespace)]

    def render(self, params: ConfigMapKeyParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        r = self.targets(params, cluster)[0]
        live = live_object(cluster, r)
        if live is not None and live.get("immutable"):
            return nothing(f"{describe_ref(r)} is immutable; it cannot be changed, only replaced.")
        notes = ["Pods read ConfigMaps at start (env) or after a delay (volumes); restart the workload "
                 "if it must pick the value up now."]
        if live is None:
            notes.insert(0, f"{describe_ref(r)} does not exist yet: it is created with this one key.")
        manifest = render_manifest("configmap-data", name=params.name, namespace=params.namespace,
                                   key=params.key, value=params.value)
        return Rendered(manifests=[manifest], notes=notes)


class SetLabels(ActionSpec[LabelsParams]):
    def title(self, params: LabelsParams, cluster: ClusterReader | None = None) -> str:
        r = ref(params.api_version, params.kind, params.name, params.namespace)
        parts = []
        if params.labels:
            parts.append("add labels " + ", ".join(f"{k}={v}" for k, v in sorted(params.labels.items())))
        if params.remove_labels:
            parts.append("remove labels " + ", ".join(params.remove_labels))
        if params.annotations:
            parts.append("add annotations " + ", ".join(sorted(params.annotations)))
        if params.remove_annotations:
            parts.append("remove annotations " + ", ".join(params.remove_annotations))
        change = "; ".join(parts) or "change nothing"
        return f"On {describe_ref(r)}: {change}"

    def risk_of(self, params: LabelsParams, cluster: ClusterReader | None = None) -> Risk:
        # Labels select pods: changing them on a workload or Service can cut traffic.
        touches_selection = params.kind in ("Pod", "Service") and (params.labels or params.remove_labels)
        return "medium" if touches_selection else self.risk

    def targets(self, params: LabelsParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(params.api_version, params.kind, params.name, params.namespace)]

    def _changes(self, params: LabelsParams) -> tuple[dict[str, str | None], dict[str, str | None]]:
        labels: dict[str, str | None] = {k: None for k in params.remove_labels}
        labels.update(params.labels)
        annotations: dict[str, str | None] = {k: None for k in params.remove_annotations}
        annotations.update(params.annotations)
        return dict(sorted(labels.items())), dict(sorted(annotations.items()))

    def render(self, params: LabelsParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        r = self.targets(params, cluster)[0]
        if live_object(cluster, r) is None:
            return missing(r)
        labels, annotations = self._changes(params)
        if not labels and not annotations:
            return nothing("No labels or annotations to add or remove.")
        manifest = render_manifest("object-metadata", api_version=params.api_version, kind=params.kind,
                                   name=params.name, namespace=r.namespace, labels=labels,
                                   annotations=annotations)
        notes = []
        if params.remove_labels or params.remove_annotations:
            notes.append("Removals are rendered as null values: server-side apply cannot unset a key another "
                         "manager owns (KEP-5051), so they are sent as a JSON merge patch.")
        return Rendered(manifests=[manifest], notes=notes)

    def checks(self, params: LabelsParams, cluster: ClusterReader) -> list[Check]:
        r = self.targets(params, cluster)[0]
        if live_object(cluster, r) is None:
            return []
        meta: dict[str, Any] = {}
        if params.labels:
            meta["labels"] = dict(params.labels)
        if params.annotations:
            meta["annotations"] = dict(params.annotations)
        return [Check(ref=r, expect={"metadata": meta} if meta else {})]


SET_CONFIGMAP_KEY = SetConfigMapKey(
    name="set-configmap-key", context="k8s", params=ConfigMapKeyParams, risk="low",
    description=("Create or change one key of a ConfigMap (a setting, a feature flag, a config value). "
                 "Other keys are left as they are; creates the ConfigMap when it does not exist."),
)
SET_LABELS = SetLabels(
    name="set-labels", context="k8s", params=LabelsParams, risk="low",
    existing={"name": ("Deployment", "StatefulSet", "Service", "ConfigMap")},
    description=("Add, change or remove labels and annotations on one Kubernetes object "
                 "(Deployment, Service, Namespace, ConfigMap...). Only the named keys change."),
)
ACTIONS: tuple[ActionSpec[Any], ...] = (SET_CONFIGMAP_KEY, SET_LABELS)
