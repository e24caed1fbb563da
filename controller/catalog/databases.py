"""Managed databases through ACK: change an RDS instance's class, storage or engine version.

Why its own action, next to `secure-rds-instance`: these are the changes that can lose data or cannot
be undone in place (a major engine upgrade cannot be downgraded; a storage change cannot shrink), so
the step declares the instance as data at risk and the engine takes an RDS DB snapshot before anything
runs (issue 14). Restore then brings the instance back from that snapshot under its own identifier.

The two cases of `cloud_hardening.py` apply: an instance ACK manages already gets only the changed
fields; one it does not manage yet is adopted with its identity fields (`adopt-or-create`,
`deletion-policy: retain`).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, model_validator

from controller.api.types import ObjectRef
from controller.catalog.base import (
    NOW_PLACEHOLDER,
    ActionSpec,
    AtRisk,
    Check,
    Rendered,
    Risk,
    describe_ref,
    k8s_name,
    live_object,
    nothing,
    ref,
)
from controller.catalog.cloud_hardening import (
    ACK_ADOPTION,
    ACK_ADOPTION_FIELDS,
    ACK_DELETION,
    RDS_API,
    adoption_note,
    managed_object,
)
from controller.catalog.params import Namespace, Params
from controller.cloud.seam import CloudError, cloud_of
from controller.planning.types import ClusterReader
from renderer.manifests import render_manifest

RDS_IDENTIFIER = r"^[a-zA-Z][a-zA-Z0-9-]{0,62}$"


class ModifyRdsParams(Params):
    """Instance class, allocated storage and engine version of one existing RDS instance."""

    identifier: str = Field(pattern=RDS_IDENTIFIER, description="The DB instance identifier.")
    namespace: str = Namespace
    instance_class: str | None = Field(default=None, pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$",
                                       description="e.g. db.r6g.large")
    allocated_storage_gib: int | None = Field(default=None, ge=20, le=65536)
    engine_version: str | None = Field(default=None, pattern=r"^[0-9]+(\.[0-9]+){0,2}$")

    @model_validator(mode="after")
    def _something(self) -> ModifyRdsParams:
        if self.instance_class is None and self.allocated_storage_gib is None and self.engine_version is None:
            raise ValueError("say what to change: instance_class, allocated_storage_gib or engine_version")
        return self


def rds_object(cluster: ClusterReader, namespace: str, identifier: str) -> ObjectRef:
    """The ACK DBInstance that manages `identifier` in `namespace` (or the one adoption will create)."""
    obj = managed_object(cluster, RDS_API, "DBInstance", namespace, identifier, "dbInstanceIdentifier")
    return ref(RDS_API, "DBInstance", obj["metadata"]["name"] if obj else k8s_name(identifier), namespace)


def rds_at_risk(cluster: ClusterReader, namespace: str, identifier: str, what: str,
                required: bool = False) -> list[AtRisk]:
    return [AtRisk("db-instance", rds_object(cluster, namespace, identifier), what, cloud_id=identifier,
                   required=required)]


def _major(version: str) -> str:
    return version.split(".")[0]


class ModifyRdsInstance(ActionSpec[ModifyRdsParams]):
    def _settings(self, p: ModifyRdsParams) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if p.instance_class:
            out["dbInstanceClass"] = p.instance_class
        if p.allocated_storage_gib is not None:
            out["allocatedStorage"] = p.allocated_storage_gib
        if p.engine_version:
            out["engineVersion"] = p.engine_version
        return out

    def title(self, params: ModifyRdsParams, cluster: ClusterReader | None = None) -> str:
        words = {"dbInstanceClass": "class", "allocatedStorage": "storage (GiB)", "engineVersion": "engine version"}
        what = ", ".join(f"{words[k]} {v}" for k, v in self._settings(params).items())
        return f"RDS instance {params.identifier}: {what} (ACK DBInstance in {params.namespace})"

    def risk_of(self, params: ModifyRdsParams, cluster: ClusterReader | None = None) -> Risk:
        return "high" if params.engine_version else self.risk  # an engine upgrade cannot be rolled back in place

    def targets(self, params: ModifyRdsParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [rds_object(cluster, params.namespace, params.identifier)]

    def data_at_risk(self, params: ModifyRdsParams, cluster: ClusterReader) -> list[AtRisk]:
        what = ("the engine is upgraded (it cannot be downgraded in place)" if params.engine_version
                else "the instance is modified")
        return rds_at_risk(cluster, params.namespace, params.identifier, what, required=bool(params.engine_version))

    def render(self, params: ModifyRdsParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        target = self.targets(params, cluster)[0]
        settings = self._settings(params)
        live_object_ = live_object(cluster, target)
        if live_object_ is not None:
            current = str((live_object_.get("spec") or {}).get("engineVersion") or "")
            notes = self._notes(params, current)
            return Rendered(manifests=[render_manifest("rds-instance-settings", name=target.name,
                                                       namespace=target.namespace, annotations={},
                                                       identifier=params.identifier, settings=settings)], notes=notes)
        aws = cloud_of(cluster).aws
        if aws is None:
            return nothing(f"RDS instance {params.identifier} is not managed by ACK in {params.namespace}, and the "
                           "operator has no AWS access configured (AIOP_AWS) to read it and adopt it safely.")
        try:
            live = next((d for d in aws.db_instances() if d.identifier == params.identifier), None)
        except CloudError as exc:
            return nothing(f"Cannot read RDS instance {params.identifier}: {exc}")
        if live is None:
            return nothing(f"There is no RDS instance {params.identifier} in AWS account {aws.account}.")
        kept = {"dbInstanceClass": live.instance_class, "engine": live.engine}
        manifest = render_manifest(
            "rds-instance-settings", name=target.name, namespace=target.namespace,
            annotations={ACK_ADOPTION: "adopt-or-create",
                         ACK_ADOPTION_FIELDS: json.dumps({"dbInstanceIdentifier": params.identifier}),
                         ACK_DELETION: "retain"},
            identifier=params.identifier, settings={**kept, **settings})
        return Rendered(manifests=[manifest], notes=[adoption_note("ACK DBInstance", f"RDS instance {live.identifier}"),
                                                     f"Before: class {live.instance_class}, engine {live.engine}.",
                                                     *self._notes(params, "")])

    @staticmethod
    def _notes(params: ModifyRdsParams, current_version: str) -> list[str]:
        notes = ["ACK applies the change at once (ApplyImmediately): the instance restarts for a class or version "
                 "change."]
        if params.engine_version and current_version and _major(current_version) != _major(params.engine_version):
            notes.append(f"A major upgrade ({current_version} → {params.engine_version}) cannot be undone in place: "
                         "restore brings the instance back from the snapshot taken before it.")
        return notes

    def checks(self, params: ModifyRdsParams, cluster: ClusterReader) -> list[Check]:
        return [Check(ref=self.targets(params, cluster)[0], expect={"spec": self._settings(params)})]

    def restore(self, params: ModifyRdsParams, cluster: ClusterReader) -> str:
        target = self.targets(params, cluster)[0]
        return (f"Restore RDS instance {params.identifier} from the DB snapshot taken before the change (the changed "
                f"instance is kept under another name), revert the thread commit, then "
                + ("delete the adopted " if self.creates(params, cluster) else "re-apply the saved ")
                + f"{describe_ref(target)}.")


MODIFY_RDS_INSTANCE = ModifyRdsInstance(
    name="modify-rds-instance", context="cloud-aws", params=ModifyRdsParams, risk="medium",
    description=("Change an existing RDS DB instance through an ACK DBInstance: its instance class (size), allocated "
                 "storage in GiB, or engine version (an upgrade). An RDS DB snapshot is taken first; adopts the "
                 "instance into ACK (retained on delete) when no DBInstance object manages it yet."),
)
ACTIONS: tuple[ActionSpec[Any], ...] = (MODIFY_RDS_INSTANCE,)
