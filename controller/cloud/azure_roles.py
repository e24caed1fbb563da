"""Azure built-in roles the operator names in plans: their fixed ids and what they grant. Pure data.

Why a table: an ASO `RoleAssignment` names its role by the role definition's ARM id, whose last part
is a GUID that is the same in every tenant for a built-in role; and to propose the smallest role that
grants a missing action (write blobs → Storage Blob Data Contributor, pull images → AcrPull), the
planner needs what each role grants. Ids and permissions are those of Azure's built-in roles
reference (learn.microsoft.com, "Azure built-in roles"); only the roles the operator proposes or
explains are listed.
"""

from __future__ import annotations

from controller.cloud.model import PermissionSet
from controller.cloud.policydocs import azure_permits

BUILTIN: dict[str, tuple[str, PermissionSet]] = {
    "Owner": ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", PermissionSet(actions=("*",))),
    "Contributor": ("b24988ac-6180-42a0-ab88-20f7382dd24c", PermissionSet(
        actions=("*",), not_actions=("Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
                                     "Microsoft.Authorization/elevateAccess/Action"))),
    "Reader": ("acdd72a7-3385-48ef-bd42-f606fba81ae7", PermissionSet(actions=("*/read",))),
    "User Access Administrator": ("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", PermissionSet(
        actions=("*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"))),
    "Storage Account Contributor": ("17d1049b-9a84-46fb-8f53-869881c3d3ab", PermissionSet(
        actions=("Microsoft.Authorization/*/read", "Microsoft.Resources/deployments/*",
                 "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Storage/storageAccounts/*",
                 "Microsoft.Support/*"))),
    "Storage Blob Data Reader": ("2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", PermissionSet(
        actions=("Microsoft.Storage/storageAccounts/blobServices/containers/read",
                 "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"),
        data_actions=("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",))),
    "Storage Blob Data Contributor": ("ba92f5b4-2d11-453d-a403-e96b0029c9fe", PermissionSet(
        actions=("Microsoft.Storage/storageAccounts/blobServices/containers/delete",
                 "Microsoft.Storage/storageAccounts/blobServices/containers/read",
                 "Microsoft.Storage/storageAccounts/blobServices/containers/write",
                 "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"),
        data_actions=("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
                      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
                      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
                      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action",
                      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action"))),
    "AcrPull": ("7f951dda-4ed3-4680-a7ca-43fe172d538d", PermissionSet(
        actions=("Microsoft.ContainerRegistry/registries/pull/read",))),
}

# The roles proposed to grant a data action, smallest first.
DATA_ROLES = ("Storage Blob Data Reader", "Storage Blob Data Contributor")
BLOB_READ = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
BLOB_WRITE = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"


def role_id(name: str) -> str:
    """The GUID of a built-in role; KeyError for a role this table does not know."""
    return BUILTIN[name][0]


def definition_id(name: str, subscription: str) -> str:
    return f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{role_id(name)}"


def smallest_role_for(data_action: str) -> str | None:
    """The first role of `DATA_ROLES` that grants the data action."""
    return next((r for r in DATA_ROLES if azure_permits([BUILTIN[r][1]], data_action, data=True)), None)
