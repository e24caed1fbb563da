"""A cloud security review: read every kind of resource the rules know, then apply the rules.

Why reads and rules apart: `findings.py` is pure and table-tested; this module only decides what to
read and keeps going when one read fails (no right to read RDS, Security Hub not enabled, a throttled
call): the review says which parts it could not see instead of pretending they are clean.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from controller.cloud import findings as rules
from controller.cloud.model import Finding
from controller.cloud.seam import AwsReads, AzureReads, CloudError, CloudTransient

T = TypeVar("T")


@dataclass
class Review:
    findings: list[Finding] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)  # what could not be read, and why
    looked_at: dict[str, int] = field(default_factory=dict)  # what was read: kind -> count

    def read(self, what: str, fn: Callable[[], list[T]]) -> list[T]:
        try:
            items = fn()
        except CloudTransient as exc:
            self.gaps.append(f"{what}: not read this time ({exc}); ask again in a moment")
            return []
        except CloudError as exc:
            self.gaps.append(f"{what}: {exc}")
            return []
        self.looked_at[what] = len(items)
        return items

    def seen(self) -> str:
        return ", ".join(f"{n} {what}" for what, n in self.looked_at.items() if n) or "nothing"


def review_aws(aws: AwsReads, namespace: str) -> Review:
    r = Review()
    found: list[Finding] = []
    for b in r.read("S3 buckets", aws.buckets):
        found += rules.bucket_findings(b, namespace)
    for role in r.read("IAM roles", aws.roles):
        found += rules.role_findings(role)
    for d in r.read("RDS instances", aws.db_instances):
        found += rules.db_findings(d, namespace)
    found += rules.volume_findings(r.read("EBS volumes", aws.volumes), r.read("EBS snapshots", aws.snapshots))
    found += rules.provider_findings(r.read("Security Hub findings", aws.security_hub), "aws")
    r.findings = rules.ordered(found)
    return r


def review_azure(azure: AzureReads, namespace: str) -> Review:
    r = Review()
    found: list[Finding] = []
    for a in r.read("storage accounts", azure.storage_accounts):
        found += rules.storage_findings(a, namespace)
    found += rules.disk_findings(r.read("managed disks", azure.disks))
    found += rules.provider_findings(r.read("Defender for Cloud assessments", azure.defender), "azure")
    r.findings = rules.ordered(found)
    return r
