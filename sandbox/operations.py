"""The verbs: create, get, list, update, patch, status and scale writes, with apiserver semantics.

Why apart from HTTP: these rules (resourceVersion conflicts, generation, status-subresource
isolation, finalizers, no-op writes, dry-run, admission, server-side apply) are the heart of the
fake; keeping them free of aiohttp lets the simulator and the review endpoints call them directly.
Deletion and garbage collection live in `sandbox.deletion`, the scale subresource in
`sandbox.scale`; this class mixes both in.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any

import yaml

from sandbox import errors
from sandbox.admission import AdmissionHook, AdmissionRequest, run_admission
from sandbox.defaults import apply_defaults, initial_status
from sandbox.deletion import CRD_CLEANUP_FINALIZER, DeletionMixin
from sandbox.fieldsets import fieldset, remove_fields, subtract, union, without
from sandbox.identity import MASTERS_GROUP, UserInfo
from sandbox.jsoncopy import copy_json
from sandbox.limits import MAX_JSON_PATCH_OPERATIONS, ObjectTooLarge, too_many_patch_operations
from sandbox.ownership import Changes, changes, managed_part, record_apply, record_update, still_present
from sandbox.patching import (
    PatchError,
    apply_json_merge_patch,
    apply_json_patch,
    apply_strategic_merge_patch,
    merge_key_for,
    merge_patch_sharing,
)
from sandbox.registry import Registry
from sandbox.resources import ResourceType
from sandbox.scale import ScaleMixin
from sandbox.selectors import Matcher
from sandbox.store import ObjectKey, Store, key_of
from sandbox.validation import check_field_validation, prune, validate
from sandbox.writes import (
    ALL_PATCH_TYPES,
    APPLY_PATCH,
    CR_PATCH_TYPES,
    JSON_PATCH,
    MERGE_PATCH,
    WriteOptions,
    now,
    parse_json,
    present,
    served_as_stored,
    stored_form,
)

SYSTEM_USER = UserInfo("system:kube-controller-manager", (MASTERS_GROUP, "system:authenticated"))
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"

# Called after a successful (non dry-run) write of a main resource: (ops, rt, new, old). `new` is the stored
# object itself and `old` may be: hooks read them and never change them (as the store's watchers).
Controller = Callable[["Operations", ResourceType, dict[str, Any], "dict[str, Any] | None"], None]


def _spec_part(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """Everything generation tracks: the object minus metadata (and status, for status kinds)."""
    skip = {"metadata", "apiVersion", "kind"} | ({"status"} if rt.has_status else set())
    return {k: v for k, v in obj.items() if k not in skip}


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """The object minus what a no-op write may differ in, for comparing only: a shallow view, not a copy."""
    out = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    if isinstance(out.get("metadata"), dict):
        out["metadata"] = {k: v for k, v in out["metadata"].items() if k not in ("resourceVersion", "managedFields")}
    return out


def _without_times(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "time"} for e in entries]


def _base_entries(requested: Any, live: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The managedFields an update starts from: the live ones, unless the request replaces them
    (`[{}]` clears them, as `kubectl` users do to reset ownership)."""
    if requested == [{}]:
        return []
    if isinstance(requested, list) and requested and all(
            isinstance(e, dict) and e.get("manager") is not None and e.get("operation") in ("Apply", "Update")
            for e in requested):
        return copy_json(requested)
    return live


def _manager(opts: WriteOptions, user: UserInfo) -> str:
    """fieldManager, else the User-Agent's product (as the apiserver derives it), else the caller's name."""
    if opts.field_manager:
        return opts.field_manager
    agent = "".join(ch for ch in opts.user_agent.split("/")[0] if ch.isprintable())[:128]
    return agent or user.name.removeprefix("system:")


def _list_key_lookup(rt: ResourceType) -> Callable[[str], str | None]:
    """Merge keys of a kind's lists (built-ins only; custom resources' lists are atomic here)."""
    if rt.custom:
        return lambda path: merge_key_for("", path) if path.startswith("metadata.") else None
    return lambda path: merge_key_for(rt.kind, path)


class Operations(ScaleMixin, DeletionMixin):
    """Every write goes through here; mutates the store only from the server loop."""

    def __init__(self, store: Store, registry: Registry, hooks: list[AdmissionHook]) -> None:
        self.store = store
        self.registry = registry
        self.hooks = hooks
        self.controllers: list[Controller] = []
        self._terminating: set[ObjectKey] = set()
        # Custom objects this server wrote after checking them: the schema and the resourceVersion they were
        # stored at. An update of exactly that version need not walk its unchanged parts again (schema.py).
        self._checked: dict[ObjectKey, tuple[dict[str, Any], str]] = {}
        for key in store.all_keys():
            obj = store.get(key)
            if obj is None:
                continue
            if key[0] == "apiextensions.k8s.io" and key[1] == "customresourcedefinitions":
                registry.register_crd(obj)
            if obj["metadata"].get("deletionTimestamp") and key[1] in (
                "namespaces",
                "customresourcedefinitions",
            ):
                self._terminating.add(key)

    # -- reads ------------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get((rt.store_group, rt.store_plural, namespace, name))
        if obj is None:
            raise errors.not_found(rt, name)
        return present(rt, obj)

    def served_text(self, rt: ResourceType, namespace: str, name: str,
                    resource_version: str | None = None) -> str | None:
        """The store's JSON of the object (of that version, when given) if `rt` serves it as stored.

        For the responses of reads and of writes that stored what they return (not dry runs): the text the
        store encoded once for the size check, instead of a copy and another encoding of up to 1.5 MiB."""
        key = (rt.store_group, rt.store_plural, namespace, name)
        stored = self.store.peek(key)
        if stored is None or not served_as_stored(rt, stored):
            return None
        if resource_version is not None and stored["metadata"].get("resourceVersion") != resource_version:
            return None
        return self.store.text(key)

    def list_objects(self, rt: ResourceType, namespace: str | None, match: Matcher) -> list[dict[str, Any]]:
        return [
            present(rt, o) for o in self.store.objects(rt.store_group, rt.store_plural, namespace) if match(o)
        ]

    # -- create -----------------------------------------------------------------------------------

    def _check_namespace(self, rt: ResourceType, namespace: str) -> None:
        if not rt.namespaced:
            return
        ns = self.store.get(("", "namespaces", "", namespace))
        if ns is None:
            raise errors.namespace_not_found(namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.ApiError(
                403,
                "Forbidden",
                f"unable to create new content in namespace {namespace} because it is being terminated",
                {
                    "name": namespace,
                    "kind": "namespaces",
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "field": "metadata.namespace",
                            "message": f"namespace {namespace} is being terminated",
                        }
                    ],
                },
            )

    def create(
        self, rt: ResourceType, namespace: str, body: Any, user: UserInfo, opts: WriteOptions = WriteOptions(),
        *, via_apply: bool = False,
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        obj = copy_json(body)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(secrets.choice(_NAME_CHARS) for _ in range(5))
        name = meta.get("name", "")
        original = obj  # pruning builds a new object
        obj = prune(rt, present(rt, obj))
        check_field_validation(rt, original, obj, opts.field_validation)
        validate(rt, obj)
        self._check_namespace(rt, namespace)
        if self.store.exists((rt.store_group, rt.store_plural, namespace, name)):
            raise errors.already_exists(rt, name)
        meta = obj["metadata"]
        for system_field in (
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ):
            meta.pop(system_field, None)
        if not meta.get("managedFields"):
            meta.pop("managedFields", None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        meta["generation"] = 1
        apply_defaults(rt, obj)
        initial_status(rt, obj)
        if not via_apply:
            requested = meta.pop("managedFields", None)
            added = changes({}, managed_part(obj, rt.has_status, ""), _list_key_lookup(rt))
            managed = record_update(_base_entries(requested, []), _manager(opts, user), rt.api_version, "",
                                    added, now())
            if managed:
                meta["managedFields"] = managed
        if self._is_crd(rt):
            self._prepare_crd(obj)
        run_admission(self.hooks, rt, self._admission("CREATE", rt, "", obj, None, user, opts))
        if opts.dry_run:
            return obj
        stored = self._put(rt, obj, retry_without_managed_fields=not via_apply)
        self._after_write(rt, stored, None)
        return present(rt, copy_json(stored))  # the caller's own

    # -- update -----------------------------------------------------------------------------------

    def replace(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        user: UserInfo,
        opts: WriteOptions = WriteOptions(),
        subresource: str = "",
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        old = self.store.peek((rt.store_group, rt.store_plural, namespace, name))  # read only
        if old is None:
            raise errors.not_found(rt, name)
        body_name = (body.get("metadata") or {}).get("name")
        if body_name and body_name != name:
            raise errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        body_ns = (body.get("metadata") or {}).get("namespace")
        if rt.namespaced and body_ns and body_ns != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        if rt.custom and not (body.get("metadata") or {}).get("resourceVersion"):
            raise errors.invalid(
                rt,
                name,
                [
                    {
                        "reason": "FieldValueInvalid",
                        "field": "metadata.resourceVersion",
                        "message": "Invalid value: 0x0: must be specified for an update",
                    }
                ],
            )
        return self._commit_update(rt, old, copy_json(body), user, opts, subresource)

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        raw: bytes,
        user: UserInfo,
        opts: WriteOptions = WriteOptions(),
        subresource: str = "",
    ) -> tuple[dict[str, Any], bool]:
        """Apply a patch; returns (object, created) - only server-side apply can create."""
        ctype = content_type.split(";")[0].strip().lower()
        accepted = CR_PATCH_TYPES if rt.custom else ALL_PATCH_TYPES
        if ctype not in accepted:
            raise errors.unsupported_media_type(ctype, accepted)
        if ctype == APPLY_PATCH:
            return self._server_side_apply(rt, namespace, name, raw, user, opts, subresource)
        old = self.store.peek((rt.store_group, rt.store_plural, namespace, name))  # read only
        if old is None:
            raise errors.not_found(rt, name)
        doc = parse_json(raw)  # parsed here, for this write alone: its values go into the object as they are
        current = present(rt, old)
        # What this write builds may share the parts it does not change with the stored object when nothing
        # changes them in place later: a status write keeps only the status it built, and a custom resource
        # gets no defaults. A built-in kind's defaults fill in its spec in place, so it patches a copy.
        share = subresource == "status" or rt.custom
        try:
            if ctype == JSON_PATCH:
                if not isinstance(doc, list):
                    raise errors.bad_request("json patch must be a JSON array of operations")
                if len(doc) > MAX_JSON_PATCH_OPERATIONS:
                    raise too_many_patch_operations(len(doc))
                patched = apply_json_patch(current, doc, share_target=share)
            elif not isinstance(doc, dict):
                raise errors.bad_request("the patch must be a JSON object")
            elif ctype == MERGE_PATCH:
                patched = merge_patch_sharing(current if share else copy_json(current), doc)
            else:
                patched = apply_strategic_merge_patch(current, doc, rt.api_version, rt.kind)
        except PatchError as exc:
            raise errors.ApiError(422, "Invalid", str(exc)) from exc
        if not isinstance(patched, dict):
            raise errors.ApiError(422, "Invalid", "the patch produced something that is not an object")
        return self._commit_update(rt, old, patched, user, opts, subresource), False

    def _server_side_apply(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        raw: bytes,
        user: UserInfo,
        opts: WriteOptions,
        subresource: str,
    ) -> tuple[dict[str, Any], bool]:
        if not opts.field_manager:
            raise errors.bad_request("PATCH request failed: fieldManager is required for apply requests")
        try:
            doc = yaml.safe_load(raw.decode("utf-8") or "{}")
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise errors.bad_request(f"error decoding YAML: {exc}") from exc
        if not isinstance(doc, dict):
            raise errors.bad_request("the apply body must be an object")
        doc_name = (doc.get("metadata") or {}).get("name")
        if doc_name and doc_name != name:
            raise errors.bad_request(
                f"the name of the object ({doc_name}) does not match the name on the URL ({name})"
            )
        old = self.store.get((rt.store_group, rt.store_plural, namespace, name))
        list_key = _list_key_lookup(rt)
        applied = fieldset(managed_part(doc, rt.has_status, subresource), list_key)
        if old is None:
            if subresource:
                raise errors.not_found(rt, name)
            doc.setdefault("metadata", {})["name"] = name
            body = copy_json(doc)
            body["metadata"]["managedFields"] = record_apply(
                [], opts.field_manager, rt.api_version, "", Changes(frozenset(), frozenset(), frozenset()),
                applied, opts.force, now())
            return self.create(rt, namespace, body, user, opts, via_apply=True), True
        live = present(rt, old)
        try:
            if rt.custom:
                patched = apply_json_merge_patch(live, doc)
            else:
                patched = apply_strategic_merge_patch(live, doc, rt.api_version, rt.kind)
        except PatchError as exc:
            raise errors.ApiError(422, "Invalid", str(exc)) from exc
        entries = old["metadata"].get("managedFields") or []
        change = changes(managed_part(live, rt.has_status, subresource),
                         managed_part(patched, rt.has_status, subresource), list_key)
        me = (opts.field_manager, "Apply", subresource)
        previous = next((e.get("fieldsV1") or {} for e in entries
                         if (e.get("manager"), e.get("operation"), e.get("subresource", "")) == me), {})
        managed = record_apply(entries, opts.field_manager, rt.api_version, subresource, change, applied,
                               opts.force, now())
        others = [e.get("fieldsV1") or {} for e in managed
                  if (e.get("manager"), e.get("operation"), e.get("subresource", "")) != me]
        remove_fields(patched, without(subtract(previous, applied), union(others)))
        managed = still_present(patched, managed)
        return self._commit_update(rt, old, patched, user, opts, subresource, managed), False

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
        """Validate, default, admit and store an update; `managed_fields` are given by an apply (else the
        write is recorded as an Update of its field manager).

        `old` may be the stored object itself: it is only read, and the parts of it the new object keeps
        (a status write's spec, any other write's status) are shared, never changed (see sandbox.store)."""
        via_apply = managed_fields is not None
        old = present(rt, old)  # compare and merge in the shape the request speaks
        name = old["metadata"]["name"]
        checked = self._checked.get(key_of(rt.store_group, rt.store_plural, old))
        known = old if checked is not None and checked[0] is rt.schema and \
            checked[1] == old["metadata"].get("resourceVersion") else None
        new_meta = new.get("metadata") if isinstance(new.get("metadata"), dict) else {}
        live_entries = old["metadata"].get("managedFields") or []
        requested_entries = None if subresource else (new_meta or {}).get("managedFields")
        requested_rv = (new_meta or {}).get("resourceVersion")
        if requested_rv and requested_rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt, name)
        if subresource == "status":
            merged = {k: v for k, v in old.items() if k != "status"}  # its status is replaced
            merged["metadata"] = copy_json(old["metadata"])  # the one part of the rest a write stamps
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            new = prune(rt, present(rt, merged), known)
        else:
            new_meta = dict(new_meta or {})
            for fixed in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "name",
                "namespace",
            ):
                if fixed in old["metadata"]:
                    new_meta[fixed] = old["metadata"][fixed]
                else:
                    new_meta.pop(fixed, None)
            new_meta.pop("managedFields", None)
            new["metadata"] = new_meta
            if rt.has_status:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            original = new  # pruning builds a new object
            new = prune(rt, present(rt, new), known)
            check_field_validation(rt, original, new, opts.field_validation)
            apply_defaults(rt, new)
            if self._is_crd(rt):
                self._prepare_crd(new)
        new = present(rt, new)
        validate(rt, new, known)
        if _spec_part(rt, new) != _spec_part(rt, old):
            new["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        if managed_fields is None:
            base = _base_entries(requested_entries, live_entries)
            change = changes(managed_part(old, rt.has_status, subresource),
                             managed_part(new, rt.has_status, subresource), _list_key_lookup(rt))
            managed_fields = record_update(base, _manager(opts, user), rt.api_version, subresource, change, now())
        if _without_times(managed_fields) == _without_times(live_entries):
            managed_fields = live_entries  # only timestamps moved: not a change (as the apiserver decides)
        new["metadata"].pop("managedFields", None)
        if managed_fields:
            new["metadata"]["managedFields"] = managed_fields
        if _comparable(new) == _comparable(old) and managed_fields == live_entries:
            return present(rt, copy_json(old))  # a no-op write keeps the resourceVersion and emits no event
        run_admission(self.hooks, rt, self._admission("UPDATE", rt, subresource, new, old, user, opts))
        if opts.dry_run:
            return copy_json(new)  # the caller's own: it may share parts with the stored object
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            gone = self._remove(rt.store_group, rt.store_plural, old, final=stored_form(rt, new))
            return present(rt, gone)
        stored = self._put(rt, new, retry_without_managed_fields=not via_apply)
        if subresource != "status":
            self._after_write(rt, stored, old)
        return present(rt, copy_json(stored))  # the caller's own

    # -- helpers ----------------------------------------------------------------------------------

    def _put(self, rt: ResourceType, obj: dict[str, Any], *, retry_without_managed_fields: bool) -> dict[str, Any]:
        """Store the object, which each write builds for itself (handed to the store without a copy), and
        return the store's own object (read only); when etcd refuses its size, creates and updates (not
        applies) retry once without managedFields, as the apiserver's handlers do."""
        try:
            stored = self.store.put(rt.store_group, rt.store_plural, stored_form(rt, obj), owned=True)
        except ObjectTooLarge:
            if not retry_without_managed_fields or not obj["metadata"].get("managedFields"):
                raise
            slimmer = copy_json(obj)
            del slimmer["metadata"]["managedFields"]
            stored = self.store.put(rt.store_group, rt.store_plural, stored_form(rt, slimmer), owned=True)
        if rt.custom and rt.schema:
            self._checked[key_of(rt.store_group, rt.store_plural, stored)] = (rt.schema,
                                                                             stored["metadata"]["resourceVersion"])
        return stored

    def _admission(
        self,
        operation: str,
        rt: ResourceType,
        subresource: str,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        user: UserInfo,
        opts: WriteOptions,
    ) -> AdmissionRequest:
        meta = obj.get("metadata", {})
        return AdmissionRequest(
            operation=operation,
            group=rt.group,
            version=rt.version,
            kind=rt.kind,
            resource=rt.plural,
            subresource=subresource,
            namespace=meta.get("namespace", "") or "",
            name=meta.get("name", ""),
            object=obj,  # hooks only read (see AdmissionRequest)
            old_object=old,
            user=user.name,
            groups=user.groups,
            dry_run=opts.dry_run,
        )

    def _after_write(self, rt: ResourceType, stored: dict[str, Any], old: dict[str, Any] | None) -> None:
        if self._is_crd(rt):
            self.registry.register_crd(copy_json(stored))  # its types keep parts of it (schemas) for good
        for controller in list(self.controllers):
            controller(self, rt, stored, old)  # read only (see Controller): no copies of 1.5 MiB objects

    @staticmethod
    def _is_crd(rt: ResourceType) -> bool:
        return rt.group == "apiextensions.k8s.io" and rt.plural == "customresourcedefinitions"

    @staticmethod
    def _prepare_crd(crd: dict[str, Any]) -> None:
        """What the CRD controllers would set: finalizer, accepted names, Established condition."""
        finalizers = crd["metadata"].setdefault("finalizers", [])
        if CRD_CLEANUP_FINALIZER not in finalizers and not crd["metadata"].get("deletionTimestamp"):
            finalizers.append(CRD_CLEANUP_FINALIZER)
        spec = crd.get("spec") or {}
        names = dict(spec.get("names") or {})
        names.setdefault("singular", names.get("kind", "").lower())
        names.setdefault("listKind", f"{names.get('kind', '')}List")
        stamp = (crd.get("status") or {}).get("conditions", [{}])[0].get("lastTransitionTime") or now()
        storage = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
        crd["status"] = {
            "acceptedNames": names,
            "storedVersions": storage,
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                    "lastTransitionTime": stamp,
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": stamp,
                },
            ],
        }
