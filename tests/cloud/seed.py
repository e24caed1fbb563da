"""Start the fake clouds and fill them from a scenario's `cloud:` section (`controller/tools/cloud_fakes.py`).

AWS is seeded through boto3 against moto (so what the operator later reads went through moto's real
API handlers); Azure through the fake's own state (it serves reads only). Each cloud also gets the
operator's identity: on AWS a role `aiop-operator` trusting the operator's ServiceAccount, assumed with
a web-identity token file at the fake STS; on Azure a service principal with Reader on the subscription,
whose federated token file is exchanged at the fake Entra ID token endpoint. ASO gets its own service
principal with the roles the scenario gives it. No key is configured anywhere.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.cloud import policydocs
from controller.tools.cloud_fakes import AwsSpec, AzureSpec, CloudSpec, ScopeSpec
from tests.cloud.aws_fake import ACCOUNT, FakeAws
from tests.cloud.azure_fake import FakeAzure

OIDC_ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/AIOPTESTCLUSTER"
OPERATOR_ROLE = "aiop-operator"
OPERATOR_SA = ("aiop-system", "ai-operator")
AZURE_OPERATOR_CLIENT = "5f0c1a2b-0000-4000-8000-00000000a10e"
AZURE_ASO_CLIENT = "5f0c1a2b-0000-4000-8000-0000000000a5"
# A JWT-shaped projected ServiceAccount token: the fakes accept any assertion, real STS/Entra ID verify it.
WEB_IDENTITY_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJl"


def irsa_trust(namespace: str, name: str) -> dict[str, Any]:
    return policydocs.irsa_trust(ACCOUNT, OIDC_ISSUER, namespace, name)


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


@dataclass
class SeededClouds:
    aws: FakeAws | None = None
    azure: FakeAzure | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The overrides as the controller reads them: AIOP_* variables, booleans as "1"."""
        return {"AIOP_" + k.upper(): ("1" if v is True else str(v)) for k, v in self.overrides.items()}


@contextlib.contextmanager
def seeded_clouds(spec: CloudSpec, home: Path) -> Iterator[SeededClouds]:
    home.mkdir(parents=True, exist_ok=True)
    token_file = home / "cloud-web-identity-token"
    token_file.write_text(WEB_IDENTITY_TOKEN)
    out = SeededClouds()
    with contextlib.ExitStack() as stack:
        if spec.aws is not None:
            out.aws = stack.enter_context(FakeAws(region=spec.aws.region))
            seed_aws(out.aws, spec.aws)
            out.overrides.update(aws=True, aws_region=spec.aws.region, aws_endpoint_url=out.aws.url,
                                 aws_role_arn=role_arn(OPERATOR_ROLE), aws_web_identity_token_file=str(token_file),
                                 ack_role_arn=role_arn(spec.aws.ack_role) if spec.aws.ack_role else "")
        if spec.azure is not None:
            out.azure = stack.enter_context(FakeAzure(home / "azure-tls"))
            seed_azure(out.azure, spec.azure)
            out.overrides.update(azure_subscription_id=out.azure.subscription, azure_tenant_id=out.azure.tenant,
                                 azure_client_id=AZURE_OPERATOR_CLIENT, azure_federated_token_file=str(token_file),
                                 azure_authority_host=out.azure.url, azure_arm_url=out.azure.url,
                                 azure_ca_bundle=out.azure.ca_bundle, aso_client_id=AZURE_ASO_CLIENT,
                                 graph_group_names=True, graph_url=out.azure.url)
        yield out


# ------------------------------------------------------------------------------------------ AWS


def seed_aws(fake: FakeAws, spec: AwsSpec) -> None:
    iam, s3 = fake.admin("iam"), fake.admin("s3")
    iam.create_open_id_connect_provider(Url=f"https://{OIDC_ISSUER}", ClientIDList=["sts.amazonaws.com"],
                                        ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])
    iam.create_role(RoleName=OPERATOR_ROLE, AssumeRolePolicyDocument=json.dumps(irsa_trust(*OPERATOR_SA)))
    iam.attach_role_policy(RoleName=OPERATOR_ROLE, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    for p in spec.policies:
        iam.create_policy(PolicyName=p.name, PolicyDocument=json.dumps(p.document))
    for r in spec.roles:
        trust = r.trust or (irsa_trust(*r.service_account.split("/", 1)) if r.service_account else
                            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                                     "Principal": {"Service": "ec2.amazonaws.com"}}]})
        iam.create_role(RoleName=r.name, AssumeRolePolicyDocument=json.dumps(trust))
        for attached in r.policies:
            iam.attach_role_policy(RoleName=r.name, PolicyArn=attached if attached.startswith("arn:") else
                                   f"arn:aws:iam::{ACCOUNT}:policy/{attached}")
        for name, doc in r.inline.items():
            iam.put_role_policy(RoleName=r.name, PolicyName=name, PolicyDocument=json.dumps(doc))
    for b in spec.buckets:
        region = b.region or spec.region
        create: dict[str, Any] = {"Bucket": b.name}
        if region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": region}
        fake.admin("s3").create_bucket(**create)
        if b.encryption:
            s3.put_bucket_encryption(Bucket=b.name, ServerSideEncryptionConfiguration={"Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": b.encryption}}]})
        if b.versioning:
            s3.put_bucket_versioning(Bucket=b.name, VersioningConfiguration={"Status": "Enabled"})
        if b.public_access_block is not None:
            on = b.public_access_block
            s3.put_public_access_block(Bucket=b.name, PublicAccessBlockConfiguration={
                "BlockPublicAcls": on, "IgnorePublicAcls": on, "BlockPublicPolicy": on, "RestrictPublicBuckets": on})
        if b.policy:
            s3.put_bucket_policy(Bucket=b.name, Policy=json.dumps(b.policy))
        if b.public_read_acl:
            s3.put_bucket_acl(Bucket=b.name, ACL="public-read")
    rds = fake.admin("rds")
    for d in spec.db_instances:
        rds.create_db_instance(DBInstanceIdentifier=d.identifier, DBInstanceClass=d.instance_class, Engine=d.engine,
                               MasterUsername="dbadmin", ManageMasterUserPassword=True, AllocatedStorage=20,
                               PubliclyAccessible=d.publicly_accessible, StorageEncrypted=d.encrypted,
                               BackupRetentionPeriod=d.backup_retention_days)
    ec2 = fake.admin("ec2")
    for v in spec.volumes:
        tags = [{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": v.name}]}] if v.name else []
        vol = ec2.create_volume(Size=v.size_gib, AvailabilityZone=f"{spec.region}a", Encrypted=v.encrypted,
                                TagSpecifications=tags)
        if v.snapshot:
            snap = ec2.create_snapshot(VolumeId=vol["VolumeId"], Description=f"snapshot of {v.name or vol['VolumeId']}")
            if v.snapshot == "public":
                ec2.modify_snapshot_attribute(SnapshotId=snap["SnapshotId"], Attribute="createVolumePermission",
                                              OperationType="add", GroupNames=["all"])
    cw = fake.admin("cloudwatch")
    for a in spec.alarms:
        cw.put_metric_alarm(AlarmName=a.name, MetricName=a.metric, Namespace=a.namespace, Statistic="Average",
                            Period=60, EvaluationPeriods=1, Threshold=80, ComparisonOperator="GreaterThanThreshold")
        cw.set_alarm_state(AlarmName=a.name, StateValue="ALARM", StateReason=a.reason)
    eks = fake.admin("eks")
    clusters: set[str] = set()
    for ng in spec.node_groups:
        if ng.cluster not in clusters:
            eks.create_cluster(name=ng.cluster, roleArn=role_arn(ng.node_role),
                               resourcesVpcConfig={"subnetIds": ["subnet-00000001"]})
            clusters.add(ng.cluster)
        eks.create_nodegroup(clusterName=ng.cluster, nodegroupName=ng.name, nodeRole=role_arn(ng.node_role),
                             subnets=["subnet-00000001"],
                             scalingConfig={"minSize": 1, "maxSize": max(ng.desired, 1) * 2, "desiredSize": ng.desired})
    if spec.security_hub is not None:
        hub = fake.admin("securityhub")
        hub.enable_security_hub()
        if spec.security_hub:
            hub.batch_import_findings(Findings=[{
                "SchemaVersion": "2018-10-08", "Id": f"finding-{i}", "GeneratorId": "aiop-eval",
                "ProductArn": f"arn:aws:securityhub:{spec.region}::product/aws/securityhub", "AwsAccountId": ACCOUNT,
                "Types": ["Software and Configuration Checks"], "CreatedAt": "2026-01-01T00:00:00Z",
                "UpdatedAt": "2026-01-01T00:00:00Z", "Severity": {"Label": f.severity}, "Title": f.title,
                "Description": f.title, "Resources": [{"Type": "Other", "Id": f.resource}], "RecordState": "ACTIVE"}
                for i, f in enumerate(spec.security_hub, start=1)])


# ---------------------------------------------------------------------------------------- Azure


def seed_azure(fake: FakeAzure, spec: AzureSpec) -> None:
    operator = fake.add_app(AZURE_OPERATOR_CLIENT)
    fake.assign(operator, "Reader", f"/subscriptions/{fake.subscription}")
    aso = fake.add_app(AZURE_ASO_CLIENT)
    for g in spec.resource_groups:
        fake.add_resource_group(g.name, g.location)
    accounts = {}
    for a in spec.storage_accounts:
        accounts[a.name] = fake.add_storage_account(
            a.name, a.resource_group, a.location, allowBlobPublicAccess=a.allow_blob_public_access,
            minimumTlsVersion=a.minimum_tls_version, publicNetworkAccess=a.public_network_access,
            supportsHttpsTrafficOnly=a.https_only)["id"]

    def scope(s: ScopeSpec) -> str:
        if s.storage_account:
            return str(accounts[s.storage_account])
        if s.resource_group:
            return fake.rg_id(s.resource_group)
        return f"/subscriptions/{fake.subscription}"

    principals = {}
    for i in spec.identities:
        principals[i.name] = fake.add_identity(i.name, i.resource_group, i.location, i.client_id)["properties"]["principalId"]
    for r in spec.role_assignments:
        fake.assign(principals[r.identity], r.role, scope(r.scope))
    for grant in spec.aso_roles:
        fake.assign(aso, grant.role, scope(grant.scope))
    pools: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for p in spec.node_pools:
        pools.setdefault((p.cluster, p.resource_group), []).append(p.model_dump())
    for (cluster, rg), items in pools.items():
        fake.add_aks(cluster, rg, "westeurope", items)
    for d in spec.disks:
        fake.add_disk(d.name, d.resource_group, "westeurope", d.size_gib, d.state, d.network_access_policy)
    for index, f in enumerate(spec.defender, start=1):
        fake.add_assessment(accounts[f.storage_account], f"assessment-{index}", f.title, severity=f.severity)
    fake.groups.update(spec.groups)
