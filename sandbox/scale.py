"""The scale subresource (autoscaling/v1 `Scale`) of Deployments, StatefulSets and ReplicaSets.

Why: `kubectl scale` and HPAs read and write replicas through `/scale`, never through the main
resource; a Scale write must behave like a spec write of the owner (generation, conflicts, the
simulator reacting) while speaking the Scale shape.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from sandbox import errors
from sandbox.identity import UserInfo
from sandbox.patching import PatchError, apply_json_merge_patch, apply_json_patch
from sandbox.resources import ResourceType
from sandbox.selectors import format_label_selector, selector_from_label_selector_object
from sandbox.store import Store
from sandbox.writes import (
    ALL_PATCH_TYPES,
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_PATCH,
    WriteOptions,
    parse_json,
)


class ScaleMixin:
    """GET/PUT/PATCH of `<resource>/scale`. Mixed into `Operations`."""

    store: Store

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        raise NotImplementedError

    def _commit_update(
        self,
        rt: ResourceType,
        old: dict[str, Any],
        new: dict[str, Any],
        user: UserInfo,
        opts: WriteOptions,
        subresource: str,
        managed_fields: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        raise NotImplementedError

    def get_scale(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self.get(rt, namespace, name)
        meta = obj["metadata"]
        selector = selector_from_label_selector_object((obj.get("spec") or {}).get("selector") or {})
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
            "status": {
                "replicas": (obj.get("status") or {}).get("replicas", 0),
                "selector": format_label_selector(selector),
            },
        }

    def replace_scale(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        scale: Any,
        user: UserInfo,
        opts: WriteOptions = WriteOptions(),
    ) -> dict[str, Any]:
        if not isinstance(scale, dict):
            raise errors.bad_request("the body of the request must be a Scale object")
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise errors.ApiError(
                422,
                "Invalid",
                f'Scale.autoscaling "{name}" is invalid: spec.replicas: '
                f"Invalid value: {replicas}: must be greater than or equal to 0",
                {
                    "name": name,
                    "group": "autoscaling",
                    "kind": "Scale",
                    "causes": [
                        {
                            "reason": "FieldValueInvalid",
                            "field": "spec.replicas",
                            "message": f"Invalid value: {replicas}: must be greater than or equal to 0",
                        }
                    ],
                },
            )
        old = self.store.get((rt.store_group, rt.store_plural, namespace, name))
        if old is None:
            raise errors.not_found(rt, name)
        new = copy.deepcopy(old)
        new.setdefault("spec", {})["replicas"] = replicas
        requested_rv = (scale.get("metadata") or {}).get("resourceVersion")
        new["metadata"]["resourceVersion"] = requested_rv or old["metadata"]["resourceVersion"]
        self._commit_update(rt, old, new, user, opts, "scale")
        return self.get_scale(rt, namespace, name)

    def patch_scale(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        raw: bytes,
        user: UserInfo,
        opts: WriteOptions = WriteOptions(),
    ) -> dict[str, Any]:
        current = self.get_scale(rt, namespace, name)
        ctype = content_type.split(";")[0].strip().lower()
        doc = parse_json(raw) if ctype != APPLY_PATCH else yaml.safe_load(raw.decode("utf-8") or "{}")
        try:
            if ctype == JSON_PATCH:
                patched = apply_json_patch(current, doc)
            elif ctype in (MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH):
                patched = apply_json_merge_patch(current, doc)
            else:
                raise errors.unsupported_media_type(ctype, ALL_PATCH_TYPES)
        except PatchError as exc:
            raise errors.ApiError(422, "Invalid", str(exc)) from exc
        return self.replace_scale(rt, namespace, name, patched, user, opts)
