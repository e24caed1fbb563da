"""Entra ID group names for the signed-in person: the ids the auth proxy passes, as people know them.

Why in the UI too: with Entra ID behind oauth2-proxy (or AKS's Entra ID integration) the groups header
carries object ids, and "groups: 5b3f…, 9a1c…" tells nobody which hat they are wearing. The names come
from Microsoft Graph through the same client as the controller's (`controller.cloud.graph`), with the
UI's own Workload Identity (it needs `GroupMember.Read.All`). Off unless `AIOP_GRAPH_GROUP_NAMES` is
set; a failed lookup leaves the ids as they are.
"""

from __future__ import annotations

from controller.cloud.graph import GRAPH, GraphDirectory, describe_groups
from controller.cloud.seam import CloudError, Directory
from ui.config import UiConfig


def directory(config: UiConfig) -> Directory | None:
    """The Graph directory the settings configure, or None (group names off)."""
    if not config.graph_group_names:
        return None
    from controller.cloud.azure import make_credential

    credential = make_credential(config.azure_tenant_id, config.azure_client_id, config.azure_federated_token_file,
                                 config.azure_authority_host, config.azure_ca_bundle)
    return GraphDirectory(credential, config.graph_url or GRAPH, config.azure_ca_bundle)


def group_labels(groups: list[str], names: Directory | None) -> list[str]:
    """`Platform Admins (3b1f…)` where Graph knows the id, the group as given otherwise."""
    if names is None or not groups:
        return list(groups)
    try:
        return describe_groups(groups, names.group_names(groups))
    except CloudError:
        return list(groups)
