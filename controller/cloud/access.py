"""`CloudAccess` from the settings: which clouds the operator reads, as which identity, where.

Why one builder: the engine (permission checks), the planners (reads), the UI (group names) and the
eval runner (fake clouds) all need the same wiring, and credentials must come only from the default
chains or the explicit web-identity files — never from a key in a value. Clients are created lazily
by the adapters, so building `CloudAccess` does no I/O.
"""

from __future__ import annotations

from typing import Any

from controller.cloud.seam import NO_CLOUD, CloudAccess


def cloud_access(settings: Any) -> CloudAccess:
    """The cloud the settings configure (`settings.cloud`); `NO_CLOUD` when none is."""
    c = getattr(settings, "cloud", None)
    if c is None:
        return NO_CLOUD
    aws = None
    if c.aws:
        from controller.cloud.aws import AwsReader, make_session

        session = make_session(c.aws_region, c.aws_endpoint_url, c.aws_role_arn, c.aws_web_identity_token_file)
        aws = AwsReader(session, c.aws_region, c.aws_endpoint_url)
    azure = aso = own = directory = None
    if c.azure_subscription_id:
        from controller.cloud.azure import AzurePermissionReader, AzureReader, make_credential

        credential = make_credential(c.azure_tenant_id, c.azure_client_id, c.azure_federated_token_file,
                                     c.azure_authority_host, c.azure_ca_bundle)
        azure = AzureReader(credential, c.azure_subscription_id, c.azure_arm_url, c.azure_ca_bundle)
        own = AzurePermissionReader(credential, c.azure_subscription_id, c.azure_arm_url, c.azure_ca_bundle)
        if c.aso_client_id:
            aso_credential = make_credential(c.azure_tenant_id, c.aso_client_id, c.azure_federated_token_file,
                                             c.azure_authority_host, c.azure_ca_bundle)
            aso = AzurePermissionReader(aso_credential, c.azure_subscription_id, c.azure_arm_url, c.azure_ca_bundle)
        if c.graph_group_names:
            from controller.cloud.graph import GraphDirectory

            directory = GraphDirectory(credential, c.graph_url or "https://graph.microsoft.com", c.azure_ca_bundle)
    return CloudAccess(aws=aws, azure=azure, directory=directory, ack_role_arn=c.ack_role_arn, aso=aso,
                       own_permissions=own)
