"""The UI names the signed-in person's Entra ID groups, from Microsoft Graph (the fake Graph over HTTPS)."""

from __future__ import annotations

import pytest

from tests.cloud.conftest import PLATFORM_GROUP
from tests.cloud.seed import SeededClouds
from ui.config import UiConfig, load_config
from ui.groups import directory, group_labels

pytestmark = pytest.mark.xdist_group("cloud")


def ui_config(clouds: SeededClouds) -> UiConfig:
    """The UI's settings pointing at the fake Graph, with its own Workload Identity token file."""
    o = clouds.overrides
    keys = ("graph_url", "azure_tenant_id", "azure_client_id", "azure_federated_token_file", "azure_authority_host",
            "azure_ca_bundle")
    return load_config({"AIOP_GRAPH_GROUP_NAMES": "1", **{"AIOP_" + k.upper(): str(o[k]) for k in keys}})


def test_group_ids_are_shown_with_their_names(clouds: SeededClouds) -> None:
    config = ui_config(clouds)
    names = directory(config)
    assert group_labels([PLATFORM_GROUP, "shop-devs"], names) == [f"Platform Admins ({PLATFORM_GROUP})", "shop-devs"]


def test_without_graph_the_groups_stay_as_given(clouds: SeededClouds) -> None:
    assert directory(load_config({})) is None
    assert group_labels([PLATFORM_GROUP], None) == [PLATFORM_GROUP]
    assert clouds.azure is not None
    clouds.azure.faults.append(("directoryObjects", 503))
    config = ui_config(clouds)
    assert group_labels([PLATFORM_GROUP], directory(config)) == [PLATFORM_GROUP]  # Graph down: ids, no error
