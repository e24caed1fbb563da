"""Which snapshot providers this operator has, from the settings and what the cluster serves.

Why one place: the planner resolves each piece of data at risk to a provider (and the plan shows it),
the executor takes, reads, restores and deletes through the same provider, and `aiop doctor` checks
the same ones. The CSI and Velero providers need only the Kubernetes client (whether the cluster runs
them is read when a plan is made); the cloud providers exist only when that cloud is configured
(`AIOP_AWS`, `AIOP_AZURE_SUBSCRIPTION_ID`), with the pod's own identity; on Azure that is two: managed-disk
snapshots and resource groups' exported templates (before an ASO change). Clients are made lazily.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controller.adapters.kube import Kube
from controller.adapters.snapshots.aws import EbsSnapshots, RdsSnapshots
from controller.adapters.snapshots.azure import AzureDiskSnapshots
from controller.adapters.snapshots.azure_template import AzureTemplateExports
from controller.adapters.snapshots.csi import CsiSnapshots
from controller.adapters.snapshots.velero import VeleroBackups


@dataclass
class Providers:
    """The providers available, by the name plans record (`csi`, `velero`, `aws-ebs`, `aws-rds`, `azure-disk`,
    `azure-template`)."""

    csi: CsiSnapshots
    velero: VeleroBackups
    ebs: EbsSnapshots | None = None
    rds: RdsSnapshots | None = None
    disk: AzureDiskSnapshots | None = None
    template: AzureTemplateExports | None = None
    volumes: str = "auto"  # auto | csi | velero | cloud | none

    def get(self, name: str) -> Any:
        return {"csi": self.csi, "velero": self.velero, "aws-ebs": self.ebs, "aws-rds": self.rds,
                "azure-disk": self.disk, "azure-template": self.template}.get(name)


def make_providers(kube: Kube, settings: Any) -> Providers:
    """Providers from the operator's settings (`settings.snapshots`, `settings.cloud`)."""
    snap, cloud = settings.snapshots, settings.cloud
    out = Providers(csi=CsiSnapshots(kube), velero=VeleroBackups(kube, snap.velero_namespace), volumes=snap.volumes)
    if cloud.aws:
        from controller.cloud.aws import make_session

        session = make_session(cloud.aws_region, cloud.aws_endpoint_url, cloud.aws_role_arn,
                               cloud.aws_web_identity_token_file)
        out.ebs = EbsSnapshots(session, cloud.aws_region, cloud.aws_endpoint_url)
        out.rds = RdsSnapshots(session, cloud.aws_region, cloud.aws_endpoint_url)
    if cloud.azure_subscription_id:
        from controller.cloud.azure import make_credential

        credential = make_credential(cloud.azure_tenant_id, cloud.azure_client_id, cloud.azure_federated_token_file,
                                     cloud.azure_authority_host, cloud.azure_ca_bundle)
        out.disk = AzureDiskSnapshots(credential, cloud.azure_subscription_id, cloud.azure_arm_url,
                                      cloud.azure_ca_bundle)
        out.template = AzureTemplateExports(credential, cloud.azure_subscription_id, kube,
                                            settings.kube.operator_namespace, cloud.azure_arm_url,
                                            cloud.azure_ca_bundle)
    return out
