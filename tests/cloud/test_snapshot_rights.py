"""`aiop doctor`'s "cloud snapshot rights": the controller's own AWS role and Azure identity against README's policies.

AWS is moto in server mode (`ThreadedMotoServer`, real HTTP, the session's of tests/cloud/conftest.py)
behind the front of tests/cloud/aws_fake.py, which answers IAM `SimulatePrincipalPolicy` itself (moto
does not implement it) from the role's real policies in moto; the controller's session is the real web-identity exchange at
moto's STS, and its caller ARN comes from moto's `GetCallerIdentity`. Azure is the local ARM server of
tests/cloud/azure_fake.py (shaped after the REST reference, not Azure itself): the permissions API as the
caller, with a custom role definition added to the fake for these tests. The check and the SDKs are real.
The drift tests hold README's JSON, the module's documents and the providers' boto3 calls together.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from controller.adapters.kube import Kube
from controller.adapters.snapshots import cloud_rights
from controller.settings import Settings, load_settings
from controller.tools.doctor import Result, check_cloud_snapshot_rights
from tests.cloud.seed import OPERATOR_ROLE, SeededClouds, role_arn

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]
NAME = "cloud snapshot rights"
OPERATOR_ARN = role_arn(OPERATOR_ROLE)
NO_KUBE = cast(Kube, None)  # the check asks only the clouds


@pytest.fixture(scope="module", autouse=True)
def custom_role(clouds: SeededClouds) -> None:
    """The session's clouds (tests/cloud/conftest.py: a managed disk in rg-shop, the controller a Reader) plus
    README's custom role, defined in the fake ARM. A fake of our own would reset moto under the others."""
    assert clouds.azure is not None
    clouds.azure.add_custom_role(cloud_rights.AZURE_ROLE["Name"], cloud_rights.azure_actions())


def settings_for(clouds: SeededClouds, only: str = "", **extra: str) -> Settings:
    env = clouds.env()
    if only == "aws":
        env = {k: v for k, v in env.items() if "AZURE" not in k and "ASO" not in k and "GRAPH" not in k}
    if only == "azure":
        env = {k: v for k, v in env.items() if "AWS" not in k and "ACK" not in k}
    return load_settings({**env, **extra})


@pytest.fixture
def aws_policy(clouds: SeededClouds) -> Iterator[Any]:
    """Puts an inline policy on the controller's role for one test, and takes it off again."""
    assert clouds.aws is not None
    iam = clouds.aws.admin("iam")
    put: list[str] = []

    def attach(name: str, document: dict[str, Any]) -> None:
        iam.put_role_policy(RoleName=OPERATOR_ROLE, PolicyName=name, PolicyDocument=json.dumps(document))
        put.append(name)

    yield attach
    for name in put:
        iam.delete_role_policy(RoleName=OPERATOR_ROLE, PolicyName=name)
    clouds.aws.failures.clear()


@pytest.fixture
def azure_grant(clouds: SeededClouds) -> Iterator[Any]:
    """Assigns a role to the controller's identity for one test, and removes the assignment again."""
    from tests.cloud.seed import AZURE_OPERATOR_CLIENT

    fake = clouds.azure
    assert fake is not None
    principal = fake.principals[AZURE_OPERATOR_CLIENT.lower()]
    made: list[dict[str, Any]] = []

    def grant(role: str, group: str) -> None:
        made.append(fake.assign(principal, role, fake.rg_id(group)))

    yield grant
    for entry in made:
        fake.assignments.remove(entry)
    fake.faults.clear()


def doctor(settings: Settings) -> Result:
    result = check_cloud_snapshot_rights(NO_KUBE, settings)
    assert result.name == NAME
    return result


# ------------------------------------------------------------------------------------------ AWS


def test_a_role_with_the_readme_policy_passes(clouds: SeededClouds, aws_policy: Any) -> None:
    assert clouds.aws is not None
    aws_policy("aiop-snapshots", cloud_rights.AWS_POLICY)
    result = doctor(settings_for(clouds, "aws"))
    assert result.ok, result.line()
    assert result.detail == (f"AWS: {OPERATOR_ARN} may make all 12 EBS and RDS snapshot calls "
                             "(ec2:CreateTags is conditional and not simulated)")
    call = clouds.aws.simulations[-1]
    assert call.principal == OPERATOR_ARN and sorted(call.actions) == sorted(cloud_rights.aws_actions())


def test_a_role_missing_create_snapshot_fails_naming_it(clouds: SeededClouds, aws_policy: Any) -> None:
    policy = copy.deepcopy(cloud_rights.AWS_POLICY)
    policy["Statement"][0]["Action"].remove("ec2:CreateSnapshot")
    aws_policy("aiop-snapshots", policy)
    result = doctor(settings_for(clouds, "aws"))
    assert not result.ok
    assert result.detail == f"AWS: {OPERATOR_ARN} is denied ec2:CreateSnapshot: implicitDeny"
    assert "charts/README.md" in result.fix and "attach" in result.fix


def test_an_explicit_deny_names_the_policy_that_denies(clouds: SeededClouds, aws_policy: Any) -> None:
    aws_policy("aiop-snapshots", cloud_rights.AWS_POLICY)
    aws_policy("no-rds-restore", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "rds:Restore*", "Resource": "*"}]})
    result = doctor(settings_for(clouds, "aws"))
    assert not result.ok
    assert result.detail.endswith("is denied rds:RestoreDBInstanceFromDBSnapshot: explicitDeny by no-rds-restore")


def test_a_role_that_may_not_simulate_is_inconclusive(clouds: SeededClouds, aws_policy: Any) -> None:
    assert clouds.aws is not None
    clouds.aws.failures.append((403, "AccessDenied"))
    result = doctor(settings_for(clouds, "aws"))
    assert not result.ok and "inconclusive" in result.detail and "AccessDenied" in result.detail
    assert f"allow iam:SimulatePrincipalPolicy on {OPERATOR_ARN}" in result.fix


def test_throttling_is_a_red_line_with_the_error_not_a_crash(clouds: SeededClouds, aws_policy: Any) -> None:
    assert clouds.aws is not None
    clouds.aws.failures.extend([(400, "Throttling")] * 5)  # more than boto3 retries
    result = doctor(settings_for(clouds, "aws"))
    assert not result.ok and "Throttling" in result.detail and result.fix.startswith("try again")


def test_an_unreachable_aws_endpoint_is_a_red_line(clouds: SeededClouds) -> None:
    result = doctor(settings_for(clouds, "aws", AIOP_AWS_ENDPOINT_URL="http://127.0.0.1:9"))
    assert not result.ok and "cannot reach the endpoint" in result.detail


def test_the_caller_arn_names_the_role() -> None:
    assumed = "arn:aws:sts::123456789012:assumed-role/aiop-operator/botocore-session-1"
    assert cloud_rights.role_arn(assumed) == "arn:aws:iam::123456789012:role/aiop-operator"
    with_path = "arn:aws:iam::123456789012:role/platform/aiop-operator"
    assert cloud_rights.role_arn(assumed, with_path) == with_path
    assert cloud_rights.role_arn(assumed, "arn:aws:iam::123456789012:role/other") == (
        "arn:aws:iam::123456789012:role/aiop-operator")
    assert cloud_rights.role_arn("arn:aws:iam::123456789012:user/ci") == "arn:aws:iam::123456789012:user/ci"


# ---------------------------------------------------------------------------------------- Azure


def test_an_identity_with_the_custom_role_passes(clouds: SeededClouds, azure_grant: Any) -> None:
    azure_grant(cloud_rights.AZURE_ROLE["Name"], "rg-shop")
    result = doctor(settings_for(clouds, "azure"))  # the group is found from the disk the controller can see
    assert result.ok, result.line()
    assert result.detail == "Azure: all 10 snapshot actions granted at rg-shop"


def test_an_identity_lacking_snapshots_write_fails_naming_it(clouds: SeededClouds, azure_grant: Any) -> None:
    assert clouds.azure is not None
    clouds.azure.add_custom_role("snapshots without write",
                                 [a for a in cloud_rights.azure_actions() if a != "Microsoft.Compute/snapshots/write"])
    azure_grant("snapshots without write", "rg-shop")
    result = doctor(settings_for(clouds, "azure"))
    assert not result.ok
    assert result.detail == "Azure: rg-shop lacks Microsoft.Compute/snapshots/write"
    assert '"ai-operator snapshots"' in result.fix and "charts/README.md" in result.fix


def test_contributor_grants_everything_but_reader_alone_does_not(clouds: SeededClouds, azure_grant: Any) -> None:
    """Wildcards are matched: Contributor's `*` covers every action; Reader's `*/read` only the reads."""
    settings = settings_for(clouds, "azure", AIOP_SNAPSHOT_AZURE_RESOURCE_GROUPS="rg-shop,rg-data")
    reader_only = doctor(settings)
    assert not reader_only.ok
    for group in ("rg-shop", "rg-data"):
        assert f"{group} lacks Microsoft.Compute/disks/write, Microsoft.Compute/snapshots/write, " in reader_only.detail
    assert "Microsoft.Compute/snapshots/read" not in reader_only.detail
    azure_grant("Contributor", "rg-shop")
    azure_grant("Contributor", "rg-data")
    assert doctor(settings).ok


def test_a_configured_group_that_does_not_exist_is_red(clouds: SeededClouds, azure_grant: Any) -> None:
    azure_grant(cloud_rights.AZURE_ROLE["Name"], "rg-shop")
    result = doctor(settings_for(clouds, "azure", AIOP_SNAPSHOT_AZURE_RESOURCE_GROUPS="rg-shop,rg-gone"))
    assert not result.ok and "resource group rg-gone does not exist" in result.detail
    assert "rg-shop" not in result.detail


def test_a_refused_permissions_read_is_inconclusive(clouds: SeededClouds, azure_grant: Any) -> None:
    assert clouds.azure is not None
    clouds.azure.faults.append(("/providers/Microsoft.Authorization/permissions", 403))
    result = doctor(settings_for(clouds, "azure"))
    assert not result.ok and "inconclusive at rg-shop" in result.detail
    assert "Microsoft.Authorization/permissions/read" in result.fix


def test_both_clouds_in_one_line_and_off_when_neither_is_set(clouds: SeededClouds, aws_policy: Any,
                                                             azure_grant: Any) -> None:
    aws_policy("aiop-snapshots", cloud_rights.AWS_POLICY)
    azure_grant(cloud_rights.AZURE_ROLE["Name"], "rg-shop")
    both = doctor(settings_for(clouds))
    assert both.ok and both.detail.startswith("AWS: ") and "; Azure: all 10" in both.detail
    off = doctor(load_settings({}))
    assert off.ok and off.detail.startswith("cloud snapshots are off")


# ---------------------------------------------------------------------------------------- drift


def readme_json(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    section = text.split("## Snapshots before risky changes", 1)[1].split("\n## ", 1)[0]
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", section, re.S)]


def test_the_readme_shows_exactly_the_documents_doctor_checks() -> None:
    blocks = readme_json(ROOT / "README.md")
    assert cloud_rights.AWS_POLICY in blocks, "README's AWS policy differs from cloud_rights.AWS_POLICY"
    assert cloud_rights.AZURE_ROLE in blocks, "README's Azure role differs from cloud_rights.AZURE_ROLE"


def test_the_aws_policy_grants_exactly_the_calls_the_providers_make() -> None:
    """`self._call("ec2", "create_snapshot", ...)` → ec2:CreateSnapshot, and the RDS describes `_one` makes (IAM
    action names ignore case); tags given on create need ec2:CreateTags / rds:AddTagsToResource besides."""
    source = (ROOT / "controller/adapters/snapshots/aws.py").read_text()
    calls = re.findall(r'_call\("(\w+)", "(\w+)"', source) + [("rds", op) for op in re.findall(r'_one\("(\w+)"', source)]
    called = {f"{svc}:{op.replace('_', '')}".lower() for svc, op in calls}
    assert "TagSpecifications" in source and "Tags=" in source
    called |= {"ec2:createtags", "rds:addtagstoresource"}
    granted = {a.lower() for a in cloud_rights.aws_actions() + cloud_rights.aws_actions(conditional=True)}
    assert called == granted, (sorted(called - granted), sorted(granted - called))
