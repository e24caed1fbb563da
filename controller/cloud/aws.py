"""Read-only AWS through boto3, as the operator pod's own IRSA role.

Why boto3's own credential chain: on EKS the pod identity webhook sets `AWS_ROLE_ARN` and
`AWS_WEB_IDENTITY_TOKEN_FILE`, and boto3 exchanges the projected token for short-lived credentials
(`AssumeRoleWithWebIdentity`); no key is ever configured. When the settings name the role and token
file themselves (tests, or a cluster without the webhook), the same exchange is done explicitly
against the configured STS endpoint. `endpoint_url` points every client at one endpoint (the tests'
moto server; LocalStack).

Errors: throttling, 5xx and connection failures are `CloudTransient`; anything else AWS refuses is a
`CloudError` naming the call and the resource. "Does not exist" answers are `None`, not errors.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import (
    AssumeRoleWithWebIdentityCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError
from botocore.utils import FileWebIdentityTokenLoader

from controller.cloud.model import (
    Alarm,
    Bucket,
    DbInstance,
    Decision,
    IamRole,
    MatchedStatement,
    NodeGroup,
    PolicyDoc,
    ProviderFinding,
    PublicAccessBlock,
    Snapshot,
    Volume,
)
from controller.cloud.seam import CloudError, CloudTransient

TRANSIENT_CODES = frozenset({"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
                             "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout",
                             "ServiceUnavailableException", "InternalFailure"})
PUBLIC_GRANTEES = ("http://acs.amazonaws.com/groups/global/AllUsers",
                   "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")
CLIENT_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=20)


class _WebIdentity(CredentialProvider):  # type: ignore[misc]
    """IRSA done explicitly: the projected token file exchanged at the configured STS endpoint."""

    METHOD = "assume-role-with-web-identity"

    def __init__(self, fetcher: AssumeRoleWithWebIdentityCredentialFetcher) -> None:
        self._fetcher = fetcher

    def load(self) -> DeferredRefreshableCredentials:
        return DeferredRefreshableCredentials(method=self.METHOD, refresh_using=self._fetcher.fetch_credentials)


def make_session(region: str = "", endpoint_url: str = "", role_arn: str = "",
                 web_identity_token_file: str = "") -> boto3.session.Session:
    """boto3's default chain, or an explicit web-identity exchange when a role and token file are given."""
    core = botocore.session.Session()
    if role_arn and web_identity_token_file:
        def sts_client(service: str, **kwargs: Any) -> Any:
            return core.create_client(service, region_name=region or "us-east-1",
                                      endpoint_url=endpoint_url or None, **kwargs)

        fetcher = AssumeRoleWithWebIdentityCredentialFetcher(
            client_creator=sts_client, web_identity_token_loader=FileWebIdentityTokenLoader(web_identity_token_file),
            role_arn=role_arn, extra_args={"RoleSessionName": "ai-operator"})
        core.register_component("credential_provider", CredentialResolver([_WebIdentity(fetcher)]))
    return boto3.session.Session(botocore_session=core, region_name=region or None)


def _failure(call: str, target: str, exc: Exception) -> CloudError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error") or {}
        code = str(error.get("Code", ""))
        status = int((exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        text = f"AWS {call} on {target}: {code}: {error.get('Message', '')}".strip()
        return CloudTransient(text) if code in TRANSIENT_CODES or status >= 500 or status == 429 else CloudError(text)
    if isinstance(exc, ConnectionError | HTTPClientError):
        return CloudTransient(f"AWS {call} on {target}: cannot reach the endpoint ({exc})")
    return CloudError(f"AWS {call} on {target}: {exc}")


def _code(exc: ClientError) -> str:
    return str((exc.response.get("Error") or {}).get("Code", ""))


class AwsReader:
    """`AwsReads` over boto3. One instance per operator; clients are created once and reused."""

    def __init__(self, session: boto3.session.Session, region: str = "", endpoint_url: str = "",
                 account: str = "") -> None:
        self.session = session
        self.region = region or session.region_name or "us-east-1"
        self.endpoint_url = endpoint_url or None
        self._clients: dict[str, Any] = {}
        self._account = account

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service, region_name=self.region,
                                                         endpoint_url=self.endpoint_url, config=CLIENT_CONFIG)
        return self._clients[service]

    def _call(self, service: str, call: str, target: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client(service), call)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise _failure(f"{service}:{call}", target, exc) from exc

    def _pages(self, service: str, call: str, key: str, target: str = "*", **kwargs: Any) -> list[Any]:
        try:
            out: list[Any] = []
            for page in self.client(service).get_paginator(call).paginate(**kwargs):
                out.extend(page.get(key) or [])
            return out
        except (ClientError, BotoCoreError) as exc:
            raise _failure(f"{service}:{call}", target, exc) from exc

    @property
    def account(self) -> str:
        if not self._account:
            self._account = str(self._call("sts", "get_caller_identity", "caller")["Account"])
        return self._account

    def caller_arn(self) -> str:
        """Who this session is (STS GetCallerIdentity): for IRSA an `assumed-role/<role>/<session>` ARN."""
        return str(self._call("sts", "get_caller_identity", "caller")["Arn"])

    # ------------------------------------------------------------------------------------- S3

    def buckets(self) -> list[Bucket]:
        names = [b["Name"] for b in self._call("s3", "list_buckets", "*").get("Buckets") or []]
        return [b for b in (self.bucket(n) for n in names) if b is not None]

    def bucket(self, name: str) -> Bucket | None:
        s3 = self.client("s3")
        try:
            region = s3.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1"
        except ClientError as exc:
            if _code(exc) in ("NoSuchBucket", "404"):
                return None
            raise _failure("s3:GetBucketLocation", name, exc) from exc
        except BotoCoreError as exc:
            raise _failure("s3:GetBucketLocation", name, exc) from exc
        encryption = self._optional(lambda: s3.get_bucket_encryption(Bucket=name), "s3:GetEncryptionConfiguration",
                                    name, ("ServerSideEncryptionConfigurationNotFoundError",))
        algorithm, kms = None, ""
        if encryption:
            for rule in (encryption.get("ServerSideEncryptionConfiguration") or {}).get("Rules") or []:
                default = rule.get("ApplyServerSideEncryptionByDefault") or {}
                algorithm = default.get("SSEAlgorithm") or algorithm
                kms = default.get("KMSMasterKeyID") or kms
        versioning = self._call("s3", "get_bucket_versioning", name, Bucket=name).get("Status")
        pab = self._optional(lambda: s3.get_public_access_block(Bucket=name), "s3:GetBucketPublicAccessBlock", name,
                             ("NoSuchPublicAccessBlockConfiguration",))
        block = None
        if pab:
            c = pab.get("PublicAccessBlockConfiguration") or {}
            block = PublicAccessBlock(bool(c.get("BlockPublicAcls")), bool(c.get("IgnorePublicAcls")),
                                      bool(c.get("BlockPublicPolicy")), bool(c.get("RestrictPublicBuckets")))
        policy = self._optional(lambda: s3.get_bucket_policy(Bucket=name), "s3:GetBucketPolicy", name,
                                ("NoSuchBucketPolicy",))
        acl = self._call("s3", "get_bucket_acl", name, Bucket=name)
        public_acl = any((g.get("Grantee") or {}).get("URI") in PUBLIC_GRANTEES for g in acl.get("Grants") or [])
        return Bucket(name=name, region=region, encryption=algorithm, kms_key=kms, versioning=versioning,
                      public_access_block=block, policy=json.loads(policy["Policy"]) if policy else None,
                      public_acl=public_acl)

    def _optional(self, fn: Any, call: str, target: str, missing: tuple[str, ...]) -> Any:
        try:
            return fn()
        except ClientError as exc:
            if _code(exc) in missing:
                return None
            raise _failure(call, target, exc) from exc
        except BotoCoreError as exc:
            raise _failure(call, target, exc) from exc

    # ------------------------------------------------------------------------------------ IAM

    def roles(self) -> list[IamRole]:
        return [r for r in (self.role(raw["RoleName"]) for raw in self._pages("iam", "list_roles", "Roles"))
                if r is not None]

    def trusts(self) -> dict[str, dict[str, Any]]:
        """Every role's ARN → its trust policy, from the role list alone (no per-role calls)."""
        return {r["Arn"]: _document(r.get("AssumeRolePolicyDocument") or {})
                for r in self._pages("iam", "list_roles", "Roles")}

    def role(self, name_or_arn: str) -> IamRole | None:
        name = name_or_arn.rsplit("/", 1)[-1]
        iam = self.client("iam")
        raw = self._optional(lambda: iam.get_role(RoleName=name), "iam:GetRole", name, ("NoSuchEntity",))
        if raw is None:
            return None
        r = raw["Role"]
        attached = []
        for a in self._pages("iam", "list_attached_role_policies", "AttachedPolicies", name, RoleName=name):
            policy = self._call("iam", "get_policy", a["PolicyArn"], PolicyArn=a["PolicyArn"])["Policy"]
            version = self._call("iam", "get_policy_version", a["PolicyArn"], PolicyArn=a["PolicyArn"],
                                 VersionId=policy["DefaultVersionId"])["PolicyVersion"]
            attached.append(PolicyDoc(a["PolicyName"], _document(version["Document"]), a["PolicyArn"]))
        inline = []
        for policy_name in self._pages("iam", "list_role_policies", "PolicyNames", name, RoleName=name):
            doc = self._call("iam", "get_role_policy", name, RoleName=name, PolicyName=policy_name)
            inline.append(PolicyDoc(policy_name, _document(doc["PolicyDocument"])))
        return IamRole(name=r["RoleName"], arn=r["Arn"], trust=_document(r.get("AssumeRolePolicyDocument") or {}),
                       attached=tuple(attached), inline=tuple(inline), path=r.get("Path", "/"),
                       description=r.get("Description", ""), max_session_duration=int(r.get("MaxSessionDuration", 3600)))

    def simulate(self, principal_arn: str, actions: list[str], resources: list[str],
                 resource_policy: dict[str, Any] | None = None) -> list[Decision]:
        """IAM policy simulation of `principal_arn`, one resource at a time (so each result names it)."""
        out: list[Decision] = []
        for resource in resources:
            kwargs: dict[str, Any] = {"PolicySourceArn": principal_arn, "ActionNames": actions,
                                      "ResourceArns": [resource]}
            if resource_policy:
                kwargs["ResourcePolicy"] = json.dumps(resource_policy)
            for result in self._pages("iam", "simulate_principal_policy", "EvaluationResults", principal_arn, **kwargs):
                matched = tuple(MatchedStatement(str(m.get("SourcePolicyId", "")), str(m.get("SourcePolicyType", "")))
                                for m in result.get("MatchedStatements") or [])
                out.append(Decision(action=result["EvalActionName"], resource=result.get("EvalResourceName") or resource,
                                    decision=result["EvalDecision"], matched=matched))
        return out

    # ------------------------------------------------------------------------ EKS, RDS, EC2, CW

    def node_groups(self) -> list[NodeGroup]:
        out = []
        for cluster in self._pages("eks", "list_clusters", "clusters"):
            for name in self._pages("eks", "list_nodegroups", "nodegroups", cluster, clusterName=cluster):
                ng = self._call("eks", "describe_nodegroup", f"{cluster}/{name}", clusterName=cluster,
                                nodegroupName=name)["nodegroup"]
                scaling = ng.get("scalingConfig") or {}
                health = tuple(f"{i.get('code')}: {i.get('message')}" for i in (ng.get("health") or {}).get("issues") or [])
                out.append(NodeGroup(cluster=cluster, name=name, status=str(ng.get("status", "")),
                                     node_role=str(ng.get("nodeRole", "")), desired=int(scaling.get("desiredSize", 0)),
                                     minimum=int(scaling.get("minSize", 0)), maximum=int(scaling.get("maxSize", 0)),
                                     instance_types=tuple(ng.get("instanceTypes") or ()), health=health))
        return out

    def oidc_issuers(self) -> dict[str, str]:
        """EKS cluster name → its OIDC issuer without the scheme (what IRSA trust policies name)."""
        out = {}
        for cluster in self._pages("eks", "list_clusters", "clusters"):
            described = self._call("eks", "describe_cluster", cluster, name=cluster)["cluster"]
            issuer = str(((described.get("identity") or {}).get("oidc") or {}).get("issuer") or "")
            if issuer:
                out[cluster] = issuer.removeprefix("https://")
        return out

    def db_instances(self) -> list[DbInstance]:
        return [DbInstance(identifier=d["DBInstanceIdentifier"], engine=d.get("Engine", ""),
                           status=d.get("DBInstanceStatus", ""), instance_class=d.get("DBInstanceClass", ""),
                           publicly_accessible=bool(d.get("PubliclyAccessible")), encrypted=bool(d.get("StorageEncrypted")),
                           backup_retention_days=int(d.get("BackupRetentionPeriod") or 0), multi_az=bool(d.get("MultiAZ")),
                           arn=d.get("DBInstanceArn", ""), deletion_protection=bool(d.get("DeletionProtection")))
                for d in self._pages("rds", "describe_db_instances", "DBInstances")]

    def volumes(self) -> list[Volume]:
        return [Volume(volume_id=v["VolumeId"], size_gib=int(v.get("Size", 0)), state=v.get("State", ""),
                       encrypted=bool(v.get("Encrypted")), volume_type=v.get("VolumeType", ""),
                       zone=v.get("AvailabilityZone", ""),
                       attached_to=tuple(a.get("InstanceId", "") for a in v.get("Attachments") or []),
                       name=next((t["Value"] for t in v.get("Tags") or [] if t.get("Key") == "Name"), ""))
                for v in self._pages("ec2", "describe_volumes", "Volumes")]

    def snapshots(self) -> list[Snapshot]:
        out = []
        for s in self._pages("ec2", "describe_snapshots", "Snapshots", OwnerIds=["self"]):
            perms = self._call("ec2", "describe_snapshot_attribute", s["SnapshotId"], SnapshotId=s["SnapshotId"],
                               Attribute="createVolumePermission").get("CreateVolumePermissions") or []
            out.append(Snapshot(snapshot_id=s["SnapshotId"], volume_id=s.get("VolumeId", ""),
                                encrypted=bool(s.get("Encrypted")), state=s.get("State", ""),
                                public=any(p.get("Group") == "all" for p in perms), description=s.get("Description", "")))
        return out

    def alarms(self) -> list[Alarm]:
        return [Alarm(name=a["AlarmName"], state=a.get("StateValue", ""), reason=a.get("StateReason", ""),
                      metric=a.get("MetricName", ""), namespace=a.get("Namespace", ""),
                      dimensions=tuple(f"{d['Name']}={d['Value']}" for d in a.get("Dimensions") or []))
                for a in self._pages("cloudwatch", "describe_alarms", "MetricAlarms", StateValue="ALARM")]

    def security_hub(self) -> list[ProviderFinding]:
        """Active Security Hub findings; `[]` when Security Hub is not enabled in this account and region."""
        try:
            raw = self._pages("securityhub", "get_findings", "Findings",
                              Filters={"RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}]})
        except CloudError as exc:
            if "InvalidAccessException" in str(exc) or "not subscribed" in str(exc).lower():
                return []
            raise
        return [ProviderFinding(source="AWS Security Hub", identifier=f.get("Id", ""), title=f.get("Title", ""),
                                severity=str((f.get("Severity") or {}).get("Label", "")).lower(),
                                resource=", ".join(r.get("Id", "") for r in f.get("Resources") or []),
                                status=str((f.get("Workflow") or {}).get("Status", "")),
                                description=f.get("Description", ""))
                for f in raw]


def _document(value: Any) -> dict[str, Any]:
    """A policy document: botocore decodes IAM's URL-encoded JSON into a dict; be safe with strings."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip():
        from urllib.parse import unquote

        loaded: dict[str, Any] = json.loads(unquote(value) if value.lstrip().startswith("%7B") else value)
        return loaded
    return {}
