"""A local AWS: moto in server mode behind a front that also answers IAM `SimulatePrincipalPolicy`.

Why a front: moto serves S3, IAM, STS, EC2, EKS, RDS, CloudWatch and Security Hub over real HTTP, but
raises NotImplementedError for IAM policy simulation, and the operator needs exactly that call for the
cloud permission check and for troubleshooting. So the operator's boto3 clients talk to this front
(one endpoint, as with real AWS); it forwards every request to moto unchanged, except the IAM Query
API action `SimulatePrincipalPolicy` (form-encoded POST, `Action=SimulatePrincipalPolicy`), which it
answers itself in the shape of the IAM API reference (`SimulatePrincipalPolicyResponse` /
`EvaluationResults` / `member` with `EvalActionName`, `EvalResourceName`, `EvalDecision`
allowed|explicitDeny|implicitDeny, `MatchedStatements` with `SourcePolicyId`/`SourcePolicyType`).

The simulation reads the principal's policies from moto (the role's inline and attached policies,
the default version of each) and evaluates them as IAM documents it: an explicit Deny wins, then an
Allow, else an implicit deny; `Action`/`NotAction`, `Resource`/`NotResource`, wildcards. A given
`ResourcePolicy` (a bucket policy) counts where it names the principal, its account, or "*".
Statements with a `Condition` never match here (real IAM would list them under MissingContextValues):
the operator's checks do not rely on conditions, and a fake that guessed them would prove nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import aiohttp
import boto3
from aiohttp import web

from controller.cloud.policydocs import principals, statement_covers, statements
from tests.cloud.server import BackgroundServer

ACCOUNT = "123456789012"
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
HOP_HEADERS = {"transfer-encoding", "content-length", "connection", "content-encoding", "keep-alive"}


@dataclass
class SimulationCall:
    principal: str
    actions: list[str]
    resources: list[str]
    resource_policy: dict[str, Any] | None


@dataclass
class FakeAws:
    region: str = "us-east-1"
    simulations: list[SimulationCall] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)  # (HTTP status, error code) for the next simulations

    def start(self) -> FakeAws:
        # moto otherwise seeds ~1300 snapshots of its default AMIs into the account
        os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        # AWS managed policies (ReadOnlyAccess, AmazonEC2ContainerRegistryReadOnly...) as in a real account;
        # moto loads them at the first IAM call (~3 s)
        os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        _automated_snapshots_to_the_second()
        from moto.server import ThreadedMotoServer

        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        # moto keeps its accounts in module-level backends: a second fake in the same process (the eval worker
        # runs scenarios one after another) would see the first one's resources without this reset
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.moto_url}/moto-api/reset", method="POST"), timeout=30)
        self._admin = boto3.session.Session(aws_access_key_id="seed", aws_secret_access_key="seed",
                                            region_name=self.region)
        self._front = BackgroundServer(self._handle).start()
        return self

    def stop(self) -> None:
        self._front.stop()
        self._moto.stop()

    def __enter__(self) -> FakeAws:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The endpoint the operator is given (the front)."""
        return self._front.url

    def admin(self, service: str) -> Any:
        """A client straight to moto, for seeding and for reading what the fake holds."""
        return self._admin.client(service, endpoint_url=self.moto_url)

    # ------------------------------------------------------------------------------- the front

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.method == "POST" and b"Action=SimulatePrincipalPolicy" in body:
            form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
            return await asyncio.get_running_loop().run_in_executor(None, self._simulate, form)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        async with aiohttp.ClientSession(auto_decompress=False) as session, session.request(
                request.method, self.moto_url + request.path_qs, headers=headers, data=body,
                allow_redirects=False) as upstream:
            payload = await upstream.read()
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS}
            return web.Response(status=upstream.status, body=payload, headers=out)

    # -------------------------------------------------------------------------- the simulation

    def _simulate(self, form: dict[str, str]) -> web.Response:
        principal = form.get("PolicySourceArn", "")
        actions = _members(form, "ActionNames")
        resources = _members(form, "ResourceArns") or ["*"]
        resource_policy = json.loads(form["ResourcePolicy"]) if form.get("ResourcePolicy") else None
        self.simulations.append(SimulationCall(principal, actions, resources, resource_policy))
        if self.failures:
            status, code = self.failures.pop(0)
            return _error(status, code, "Rate exceeded" if status == 400 else "Service unavailable")
        if not actions:
            return _error(400, "ValidationError", "1 validation error detected: Value null at 'actionNames' "
                                                  "failed to satisfy constraint: Member must not be null")
        sources = self._sources(principal)
        if sources is None:
            return _error(404, "NoSuchEntity", f"The role with name {principal.rsplit('/', 1)[-1]} cannot be found.")
        if resource_policy:
            sources.append(("ResourcePolicy", "resource", resource_policy))
        members = []
        for action in actions:
            for resource in resources:
                decision, matched = evaluate(sources, action, resource, principal)
                statements_xml = "".join(
                    f"<member><SourcePolicyId>{escape(pid)}</SourcePolicyId>"
                    f"<SourcePolicyType>{escape(ptype)}</SourcePolicyType></member>" for pid, ptype in matched)
                members.append(
                    f"<member><EvalActionName>{escape(action)}</EvalActionName>"
                    f"<EvalResourceName>{escape(resource)}</EvalResourceName>"
                    f"<EvalDecision>{decision}</EvalDecision>"
                    f"<MatchedStatements>{statements_xml}</MatchedStatements>"
                    f"<MissingContextValues/></member>")
        xml = (f'<SimulatePrincipalPolicyResponse xmlns="{IAM_NS}"><SimulatePrincipalPolicyResult>'
               f"<IsTruncated>false</IsTruncated><EvaluationResults>{''.join(members)}</EvaluationResults>"
               f"</SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>"
               f"</ResponseMetadata></SimulatePrincipalPolicyResponse>")
        return web.Response(status=200, body=xml.encode(), content_type="text/xml")

    def _sources(self, principal: str) -> list[tuple[str, str, dict[str, Any]]] | None:
        """(policy id, SourcePolicyType, document) of every identity policy of the role, read from moto."""
        if ":role/" not in principal:
            return None
        iam = self.admin("iam")
        name = principal.rsplit("/", 1)[-1]
        try:
            iam.get_role(RoleName=name)
        except iam.exceptions.NoSuchEntityException:
            return None
        out: list[tuple[str, str, dict[str, Any]]] = []
        for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            doc = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
            out.append((policy_name, "role", doc))
        for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            arn = attached["PolicyArn"]
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            doc = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
            kind = "aws-managed" if arn.startswith("arn:aws:iam::aws:") else "user-managed"
            out.append((attached["PolicyName"], kind, doc if isinstance(doc, dict) else json.loads(doc)))
        return out


def _automated_snapshots_to_the_second() -> None:
    """moto names an instance's automated snapshot `rds:<id>-<YYYY-MM-DD-HH-MM>`, so restoring a DB snapshot
    into an identifier within the minute its previous instance was created collides with that name (real
    RDS keeps automated backups per instance resource, and the restore succeeds). The fake names them to
    the microsecond; nothing else of moto changes."""
    from moto.core.utils import utcnow
    from moto.rds import models

    def save_automated_backup(self: Any) -> None:
        self.add_event("DB_INSTANCE_BACKUP_START")
        stamp = utcnow().strftime("%Y-%m-%d-%H-%M-%S-%f")
        self.backend.create_auto_snapshot(self.db_instance_identifier, f"rds:{self.db_instance_identifier}-{stamp}")
        self.add_event("DB_INSTANCE_BACKUP_FINISH")

    models.DBInstance.save_automated_backup = save_automated_backup  # type: ignore[method-assign]


def evaluate(sources: list[tuple[str, str, dict[str, Any]]], action: str, resource: str,
             principal: str) -> tuple[str, list[tuple[str, str]]]:
    """IAM's order: an explicit deny wins, then any allow, else an implicit deny."""
    account = principal.split(":")[4] if principal.count(":") >= 5 else ""
    names = {"*", principal, account, f"arn:aws:iam::{account}:root"}
    deny: list[tuple[str, str]] = []
    allow: list[tuple[str, str]] = []
    for pid, ptype, doc in sources:
        for st in statements(doc):
            if st.get("Condition") or not statement_covers(st, action, resource):
                continue
            if ptype == "resource" and not names & set(principals(st)):
                continue
            (deny if st.get("Effect") == "Deny" else allow).append((pid, ptype))
    if deny:
        return "explicitDeny", deny
    if allow:
        return "allowed", allow
    return "implicitDeny", []


def _members(form: dict[str, str], name: str) -> list[str]:
    keys = sorted((k for k in form if k.startswith(f"{name}.member.")), key=lambda k: int(k.rsplit(".", 1)[1]))
    return [form[k] for k in keys]


def _error(status: int, code: str, message: str) -> web.Response:
    kind = "Receiver" if status >= 500 else "Sender"
    xml = (f'<ErrorResponse xmlns="{IAM_NS}"><Error><Type>{kind}</Type><Code>{code}</Code>'
           f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
    return web.Response(status=status, body=xml.encode(), content_type="text/xml")
