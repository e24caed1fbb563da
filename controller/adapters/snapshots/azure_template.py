"""A resource group's exported ARM template before an Azure Service Operator change, and restore from it.

Why a template and not a snapshot: what ASO changes is configuration — a storage account's network
rules, TLS floor, public access — and Azure Resource Manager can write a resource group's configuration
out as a template (`POST …/resourcegroups/{rg}/exportTemplate`, azure-mgmt-resource's
`resource_groups.begin_export_template`, a long-running operation). Redeploying that template as an
*incremental* deployment (`PUT …/providers/Microsoft.Resources/deployments/{name}`, through
azure-mgmt-resource-deployments, another long-running operation) puts every property of every resource
in it back as it was. It does not delete resources created since (incremental mode leaves resources the
template does not name alone), and data inside resources (blobs, tables, disks' contents) is never in a
template.

Where the template lives: ARM templates carry no secrets by design (secure parameters have no default
value and are not exported), but the copy committed to the thread's git folder
(`threads/<id>/backup/azure-<rg>-template.json`) still goes through the project's redaction
(`redact_value`), like object backups. Restore must not redeploy a masked value, so the exact export
is kept in the cluster, gzipped in a Secret of the operator's namespace named like the snapshot
(`aiop-<thread>-rg-<rg>`), as object backups are; retention deletes that Secret.

The export is followed for up to `lro_wait_s` (it usually takes seconds); a slower one is left
Pending with the poller's continuation token (azure-core's token holds the operation URL and no
credential) and picked up again on the next reconcile. Errors: 429, 5xx and unreachable ARM are
transient (retried); anything else ARM refuses, or an export whose result carries an `error`, fails
the snapshot with ARM's words — and the thread, before anything changed.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from controller.adapters.kube import Kube
from controller.adapters.snapshots.azure import azure_call
from controller.adapters.snapshots.base import (
    LABEL_SNAPSHOT_THREAD,
    SnapshotError,
    SnapshotRequest,
    SnapshotStatus,
    Step,
)
from controller.api.types import SnapshotRecord
from controller.redact import redact_value

EXPORT_OPTIONS = "IncludeParameterDefaultValue,IncludeComments"
SECRET_KEY = "template.json.gz"
T = TypeVar("T")


def template_file(resource_group: str) -> str:
    """The template's file name in the thread's `backup/` folder."""
    return f"azure-{re.sub(r'[^A-Za-z0-9._-]+', '-', resource_group)}-template.json"


def arm_words(error: Any) -> str:
    """An ARM error detail as people read it: "code: message" (either may be missing)."""
    return ": ".join(str(w) for w in (getattr(error, "code", ""), getattr(error, "message", "")) if w)


def deployment_name(thread_id: str) -> str:
    """`aiop-restore-<thread>`: ARM deployment names are at most 64 of letters, digits, `-._()`."""
    return re.sub(r"[^A-Za-z0-9._()-]+", "-", f"aiop-restore-{thread_id}")[:64].rstrip(".")


class AzureTemplateExports:
    """Exports of the resource groups ASO objects live in, kept in the cluster, redeployed on restore."""

    name = "azure-template"

    def __init__(self, credential: Any, subscription: str, kube: Kube, namespace: str, base_url: str = "",
                 ca_bundle: str = "", lro_wait_s: float = 30.0) -> None:
        from controller.cloud.azure import _Clients

        self.subscription = subscription
        self.clients = _Clients(credential, subscription, base_url, ca_bundle, retry_total=3)
        self.kube = kube  # the operator's own rights: the exact template stays in its namespace
        self.namespace = namespace
        self.lro_wait_s = lro_wait_s

    def group_id(self, resource_group: str) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{resource_group}"

    def _run(self, call: str, fn: Callable[[], T]) -> T:
        return azure_call(call, fn)

    # ----------------------------------------------------------------------- the kept template

    def _load(self, name: str) -> dict[str, Any] | None:
        secret = self.kube.get("v1", "Secret", name, self.namespace)
        if secret is None or SECRET_KEY not in (secret.get("data") or {}):
            return None
        loaded: dict[str, Any] = json.loads(gzip.decompress(base64.b64decode(secret["data"][SECRET_KEY])))
        return loaded

    def _save(self, name: str, thread_id: str, resource_group: str, template: dict[str, Any]) -> None:
        packed = base64.b64encode(gzip.compress(json.dumps(template).encode())).decode()
        self.kube.apply({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                         "metadata": {"name": name, "namespace": self.namespace,
                                      "labels": {LABEL_SNAPSHOT_THREAD: thread_id[:63],
                                                 "app.kubernetes.io/managed-by": "ai-operator"},
                                      "annotations": {"aiop.dev/resource-group": self.group_id(resource_group)}},
                         "data": {SECRET_KEY: packed}}, "ai-operator")

    def _ready(self, resource_group: str, template: dict[str, Any]) -> SnapshotStatus:
        count = len(template.get("resources") or [])
        return SnapshotStatus("Ready", f"exported {count} resource(s)", self.group_id(resource_group),
                              f"{count} resources")

    # ------------------------------------------------------------------------------------ take

    def take(self, req: SnapshotRequest) -> SnapshotStatus:
        rg = req.cloud_id
        kept = self._load(req.name)
        if kept is not None:
            return self._ready(rg, kept)  # idempotent by name: exported once per thread and group
        from azure.mgmt.resource.resources.models import ExportTemplateRequest

        groups = self.clients.get("resource").resource_groups
        call = f"resource_groups.begin_export_template {rg}"
        poller = self._run(call, lambda: groups.begin_export_template(
            rg, ExportTemplateRequest(resources=["*"], options=EXPORT_OPTIONS)))
        return self._follow(call, req.name, req.thread_id, rg, poller)

    def _follow(self, call: str, name: str, thread_id: str, rg: str, poller: Any) -> SnapshotStatus:
        """Follow the export for a moment: Ready (kept), Failed with ARM's words, or Pending with its token."""
        self._run(call, lambda: poller.wait(self.lro_wait_s))
        if not poller.done():
            return SnapshotStatus("Pending", f"Azure Resource Manager is exporting resource group {rg}",
                                  detail={"continuation": str(poller.continuation_token()), "thread": thread_id})
        result = self._run(call, poller.result)
        error = getattr(result, "error", None)
        if error:
            words = arm_words(error).rstrip(".")
            return SnapshotStatus("Failed", f"Azure could not export resource group {rg}'s template: {words}",
                                  self.group_id(rg))
        template = getattr(result, "template", None)
        if not isinstance(template, dict):
            return SnapshotStatus("Failed", f"Azure returned no template for resource group {rg}", self.group_id(rg))
        self._save(name, thread_id, rg, template)
        return self._ready(rg, template)

    def status(self, record: SnapshotRecord) -> SnapshotStatus:
        rg = record.cloud_id
        kept = self._load(record.name)
        if kept is not None:
            return self._ready(rg, kept)
        token = record.restore_detail.get("continuation", "")
        if not token:
            return SnapshotStatus("Missing", f"the exported template of resource group {rg} is not kept")
        from azure.mgmt.resource.resources.models import ExportTemplateRequest

        groups = self.clients.get("resource").resource_groups
        call = f"resource_groups.begin_export_template {rg}"
        poller = self._run(call, lambda: groups.begin_export_template(rg, ExportTemplateRequest(),
                                                                      continuation_token=token))
        return self._follow(call, record.name, record.restore_detail.get("thread", ""), rg, poller)

    def delete(self, record: SnapshotRecord) -> None:
        if self.kube.get("v1", "Secret", record.name, self.namespace) is not None:
            self.kube.delete("v1", "Secret", record.name, self.namespace)

    def payload(self, record: SnapshotRecord) -> tuple[str, str] | None:
        """The redacted template for the thread's git folder: (`azure-<rg>-template.json`, its JSON)."""
        kept = self._load(record.name) if record.state == "Ready" else None
        if kept is None:
            return None
        return template_file(record.cloud_id), json.dumps(redact_value(kept), indent=2) + "\n"

    # --------------------------------------------------------------------------------- restore

    def restore_group(self, record: SnapshotRecord, thread_id: str) -> Step:
        """Redeploy the exported template into its group (incremental), then wait for the deployment."""
        rg, name = record.cloud_id, deployment_name(thread_id)
        client = self.clients.get("deployments").deployments
        call = f"deployments.begin_create_or_update {rg}/{name}"
        if not record.restore_detail.get("deployment"):
            template = self._load(record.name)
            if template is None:
                return Step(False, f"the exported template of resource group {rg} is no longer kept "
                                   f"(Secret {self.namespace}/{record.name})", failed=True)
            from azure.mgmt.resource.deployments.models import Deployment, DeploymentProperties

            body = Deployment(properties=DeploymentProperties(mode="Incremental", template=template))
            try:
                poller = self._run(call, lambda: client.begin_create_or_update(rg, name, body))
            except SnapshotError as exc:
                if exc.code != "NotFound":
                    raise
                # the group itself is gone (its ASO ResourceGroup was deleted): the revert that follows re-creates
                # the object, ASO the empty group; the template stays in git to redeploy once it exists
                return Step(True, f"resource group {rg} no longer exists, so its template was not redeployed; "
                                  f"after the revert re-creates it, redeploy backup/{template_file(rg)} by hand "
                                  f"({exc})")
            self._run(call, lambda: poller.wait(self.lro_wait_s))
            return Step(False, f"redeploying the exported template of resource group {rg} (incremental "
                               f"deployment {name})", {"deployment": name})
        try:
            found = self._run(f"deployments.get {rg}/{name}", lambda: client.get(rg, name))
        except SnapshotError as exc:
            if exc.code != "NotFound":
                raise
            return Step(False, f"deployment {name} in resource group {rg} is gone", failed=True)
        from controller.cloud.azure import _enum

        props = found.properties
        state = _enum(getattr(props, "provisioning_state", ""))
        if state == "Succeeded":
            return Step(True, f"resource group {rg}: the template exported before the change was redeployed "
                              f"(incremental deployment {name}); resources created since were left as they are")
        if state in ("Failed", "Canceled"):
            words = arm_words(getattr(props, "error", None))
            return Step(False, f"deployment {name} of resource group {rg}'s template is {state}"
                               + (f": {words}" if words else ""), failed=True)
        return Step(False, f"waiting for deployment {name} in resource group {rg} ({state or 'Accepted'})")
