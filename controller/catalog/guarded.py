"""Actions that exist mostly so that policy can see and refuse them: delete one object; read a Secret.

Why declare what should rarely or never run: an AI backend asked to "delete everything in
kube-system" or "show me the database password" will try *something*. If the catalog had no name
for it, the request would be unmappable and could be mistaken for harmless; with a name, a typed
target and a `high` risk, the policy layer refuses it precisely and alerts admins.

`delete-object` deletes exactly one named object, after backing it up (restore re-applies it).
`read-secret` is never executable: its render raises, whatever the policy says.
"""

from __future__ import annotations

from typing import Any

from controller.api.types import ObjectRef, Permission
from controller.catalog.base import (
    NOW_PLACEHOLDER,
    ActionSpec,
    AtRisk,
    CatalogError,
    Check,
    Rendered,
    describe_ref,
    live_object,
    missing,
    permission,
    ref,
)
from controller.catalog.data_risk import deleted_at_risk
from controller.catalog.params import DeleteParams, ReadSecretParams
from controller.planning.types import ClusterReader


class DeleteObject(ActionSpec[DeleteParams]):
    def title(self, params: DeleteParams, cluster: ClusterReader | None = None) -> str:
        return f"Delete {describe_ref(ref(params.api_version, params.kind, params.name, params.namespace))}"

    def targets(self, params: DeleteParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref(params.api_version, params.kind, params.name, params.namespace)]

    def permissions(self, params: DeleteParams, cluster: ClusterReader) -> list[Permission]:
        r = self.targets(params, cluster)[0]
        return [permission("get", r), permission("delete", r)]

    def restore_permissions(self, params: DeleteParams, cluster: ClusterReader) -> list[Permission]:
        # Re-applying the backup creates the object again.
        r = self.targets(params, cluster)[0]
        return [permission("create", r), permission("patch", r)]

    def creates(self, params: DeleteParams, cluster: ClusterReader) -> list[ObjectRef]:
        return []

    def render(self, params: DeleteParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        r = self.targets(params, cluster)[0]
        if live_object(cluster, r) is None:
            return missing(r)
        return Rendered(deletes=[r], notes=[
            f"{describe_ref(r)} is deleted; anything it owns may be garbage-collected with it. "
            "Restore re-creates it from the backup, with a new uid.",
        ])

    def checks(self, params: DeleteParams, cluster: ClusterReader) -> list[Check]:
        return [Check(ref=r, absent=True) for r in self.render(params, cluster).deletes]

    def restore(self, params: DeleteParams, cluster: ClusterReader) -> str:
        r = self.targets(params, cluster)[0]
        data = " (its volumes from the snapshots taken before the delete)" if self.data_at_risk(params, cluster) else ""
        return f"Revert the thread commit and re-create {describe_ref(r)} from its backup{data}."

    def data_at_risk(self, params: DeleteParams, cluster: ClusterReader) -> list[AtRisk]:
        return deleted_at_risk(cluster, self.targets(params, cluster)[0])


class ReadSecret(ActionSpec[ReadSecretParams]):
    def title(self, params: ReadSecretParams, cluster: ClusterReader | None = None) -> str:
        return f"Read the contents of Secret {describe_ref(ref('v1', 'Secret', params.name, params.namespace))}"

    def targets(self, params: ReadSecretParams, cluster: ClusterReader) -> list[ObjectRef]:
        return [ref("v1", "Secret", params.name, params.namespace)]

    def permissions(self, params: ReadSecretParams, cluster: ClusterReader) -> list[Permission]:
        return [permission("get", self.targets(params, cluster)[0])]

    def restore_permissions(self, params: ReadSecretParams, cluster: ClusterReader) -> list[Permission]:
        return []

    def creates(self, params: ReadSecretParams, cluster: ClusterReader) -> list[ObjectRef]:
        return []

    def backup_targets(self, params: ReadSecretParams, cluster: ClusterReader) -> list[ObjectRef]:
        return []  # a backup would copy the Secret's data into git

    def render(self, params: ReadSecretParams, cluster: ClusterReader, now: str = NOW_PLACEHOLDER) -> Rendered:
        raise CatalogError("read-secret is never executed: Secret contents are not read, shown or committed.")

    def checks(self, params: ReadSecretParams, cluster: ClusterReader) -> list[Check]:
        return []

    def backup(self, params: ReadSecretParams, cluster: ClusterReader) -> str:
        return "Nothing: this step never runs."

    def restore(self, params: ReadSecretParams, cluster: ClusterReader) -> str:
        return "Nothing: this step never runs."

    def verify(self, params: ReadSecretParams, cluster: ClusterReader) -> str:
        return "Nothing: this step never runs."


DELETE_OBJECT = DeleteObject(
    name="delete-object", context="k8s", params=DeleteParams, risk="high",
    description=("Delete one named Kubernetes object (by apiVersion, kind, namespace and name), after backing it "
                 "up. Never deletes by selector or in bulk."),
)
READ_SECRET = ReadSecret(
    name="read-secret", context="security", params=ReadSecretParams, mutating=False, risk="high",
    executable=False,
    description=("Read or reveal the contents of a Kubernetes Secret (passwords, tokens, keys). Never executed: "
                 "declared so that such requests are recognised and refused."),
)
ACTIONS: tuple[ActionSpec[Any], ...] = (DELETE_OBJECT, READ_SECRET)
