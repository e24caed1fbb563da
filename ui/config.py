"""The UI's settings: a model of its own in the operator's settings scheme (`controller.settings`).

Why a model of its own instead of a group of `controller.settings.Settings`: the UI runs as a
different deployable with a different identity (it may only impersonate), and its knobs (which
headers the auth proxy sets, whether the sandbox user picker is allowed) mean nothing to the
controller. It reads the same `AIOP_*` variables the same way (each field names its variables;
the chart's ConfigMap feeds both; a test checks every name the chart sets against both models).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import model_validator

from controller.settings import NamedEnvSettings, SnapshotSettings, env, read_settings

DEFAULT_USER_HEADER = "X-Forwarded-Email"
DEFAULT_GROUPS_HEADER = "X-Forwarded-Groups"
SANDBOX_DEFAULT_USER = "demo@example.com"


class UiConfig(NamedEnvSettings):
    kubeconfig: str | None = env(("AIOP_KUBECONFIG", "KUBECONFIG"), None,
                                 "None: the in-cluster service account (which may only impersonate)")
    kube_context: str | None = env("AIOP_KUBE_CONTEXT", None)
    home: str = env("AIOP_HOME", default_factory=lambda: str(Path.home() / ".aiop"))
    sandbox: bool = env("AIOP_UI_SANDBOX", False, "the local user picker is offered only in sandbox mode")
    user_header: str = env(("AIOP_UI_USER_HEADER", "AIOP_UI_IDENTITY_HEADER"), DEFAULT_USER_HEADER,
                           "the header the auth proxy sets to the signed-in user")
    groups_header: str = env("AIOP_UI_GROUPS_HEADER", DEFAULT_GROUPS_HEADER)
    namespaces: tuple[str, ...] = env(("AIOP_UI_NAMESPACES", "AIOP_NAMESPACES"), (),
                                      "where to look for threads when a cluster-wide list is not allowed")
    sandbox_users: tuple[str, ...] = env("AIOP_UI_SANDBOX_USERS", (SANDBOX_DEFAULT_USER,))
    poll_seconds: float = env("AIOP_UI_POLL_SECONDS", 1.5, "how often a busy thread is re-read", gt=0)
    answer_timeout: float = env("AIOP_UI_ANSWER_TIMEOUT", 90.0,
                                "how long a click waits for the controller before handing over to live updates")
    knowledge_url: str = env("AIOP_KNOWLEDGE_URL", "")
    snapshot_grace_hours: float = env("AIOP_SNAPSHOT_GRACE_HOURS", SnapshotSettings().grace_hours,
                                      "the controller's retention of a closed thread's snapshots, shown on the "
                                      "page (the chart's ConfigMap gives both the same value)", ge=0)
    # Entra ID group names in the sidebar (ui/groups.py), read with the UI's own Workload Identity
    graph_group_names: bool = env("AIOP_GRAPH_GROUP_NAMES", False, "show Entra ID group names (Microsoft Graph)")
    graph_url: str = env("AIOP_GRAPH_URL", "", "'' = https://graph.microsoft.com")
    azure_tenant_id: str = env("AIOP_AZURE_TENANT_ID", "")
    azure_client_id: str = env("AIOP_AZURE_CLIENT_ID", "", "with tenant and token file: WorkloadIdentityCredential")
    azure_federated_token_file: str = env("AIOP_AZURE_FEDERATED_TOKEN_FILE", "")
    azure_authority_host: str = env("AIOP_AZURE_AUTHORITY_HOST", "")
    azure_ca_bundle: str = env("AIOP_AZURE_CA_BUNDLE", "")

    @model_validator(mode="after")
    def _default_namespaces(self) -> UiConfig:
        if not self.namespaces:
            object.__setattr__(self, "namespaces", ("shop",) if self.sandbox else ("default",))
        return self


def load_config(env: Mapping[str, str] | None = None) -> UiConfig:
    """The UI's settings from the environment (or the given mapping, for tests)."""
    config: UiConfig = read_settings(UiConfig, env)
    return config
