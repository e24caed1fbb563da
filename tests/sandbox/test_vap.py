"""The chart's ValidatingAdmissionPolicy, evaluated in real CEL by sandbox/vap.py.

Why against the rendered chart: the policy YAML is what production enforces, so the tests prove that
exact text denies a spoofed requester/approver/rater/restorer, lets the real user through, ignores
status writes, and explains a denial in words a user can act on.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from sandbox.admission import AdmissionRequest
from sandbox.errors import ApiError
from sandbox.vap import AdmissionAttributes, Denial, evaluate_validating_policies, make_hook

CHART = Path(__file__).resolve().parents[2] / "charts" / "ai-operator"
CONTROLLER = "system:serviceaccount:aiop-system:aiop-ai-operator-controller"
DIGEST = "sha256:" + "a" * 64
Policies = tuple[list[dict[str, Any]], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def chart_policy() -> Policies:
    with helm_python.Chart.load(CHART) as chart:
        text = chart.render({}, name="aiop", namespace="aiop-system")["ai-operator/templates/admission-policy.yaml"]
    docs = [d for d in yaml.safe_load_all(text) if d]
    return (
        [d for d in docs if d["kind"] == "ValidatingAdmissionPolicy"],
        [d for d in docs if d["kind"] == "ValidatingAdmissionPolicyBinding"],
    )


def conversation(user: str = "alice", groups: list[str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "aiop.dev/v1alpha1",
        "kind": "AIConversation",
        "metadata": {"name": "scale-web", "namespace": "team-a"},
        "spec": {"requester": {"user": user, "groups": groups or []}, "turns": [{"text": "scale web to 3"}], **spec},
    }


def attrs(
    operation: str, obj: dict[str, Any] | None, old: dict[str, Any] | None = None, *, user: str = "alice",
    groups: tuple[str, ...] = ("devs", "system:authenticated"), resource: str = "aiconversations",
    subresource: str = "", namespace: str = "team-a",
) -> AdmissionAttributes:
    return AdmissionAttributes(
        operation=operation, group="aiop.dev", version="v1alpha1", resource=resource, subresource=subresource,
        kind="AIConversation", namespace=namespace, name="scale-web", object=obj, old_object=old,
        user=user, groups=groups,
    )


def decide(policies: Policies, attributes: AdmissionAttributes) -> Denial | None:
    return evaluate_validating_policies(policies[0], policies[1], attributes)


def test_real_user_may_create(chart_policy: Policies) -> None:
    assert decide(chart_policy, attrs("CREATE", conversation("alice", ["devs"]))) is None


def test_spoofed_requester_is_denied_with_a_clear_message(chart_policy: Policies) -> None:
    a = attrs("CREATE", conversation("bob"), user="alice")
    denial = decide(chart_policy, a)
    assert denial is not None
    assert denial.code == 403 and denial.reason == "Forbidden"
    assert denial.message == (
        'spec.requester.user is "bob" but the request was made by "alice": '
        "the requester must be the authenticated user who creates the object"
    )
    assert denial.status_message(a) == (
        'aiconversations.aiop.dev "scale-web" is forbidden: ValidatingAdmissionPolicy '
        "'aiop-ai-operator-identity' with binding 'aiop-ai-operator-identity' denied request: " + denial.message
    )


def test_claiming_a_foreign_group_is_denied(chart_policy: Policies) -> None:
    denial = decide(chart_policy, attrs("CREATE", conversation("alice", ["devs", "cluster-admins", "sre"])))
    assert denial is not None
    assert denial.message == 'spec.requester.groups names groups that "alice" is not a member of: cluster-admins, sre'


def test_requester_is_immutable(chart_policy: Policies) -> None:
    old = conversation("alice")
    new = conversation("mallory")
    denial = decide(chart_policy, attrs("UPDATE", new, old, user="mallory"))
    assert denial is not None and denial.message.startswith('spec.requester is immutable: it was "alice"')
    turn = copy.deepcopy(old)
    turn["spec"]["turns"].append({"text": "and 4 replicas", "author": {"user": "alice"}})
    assert decide(chart_policy, attrs("UPDATE", turn, old)) is None


def test_approval_must_name_the_caller(chart_policy: Policies) -> None:
    old = conversation("alice")

    def approved_by(who: str) -> dict[str, Any]:
        return conversation("alice", approval={"revision": 1, "digest": DIGEST, "approver": {"user": who}})

    denial = decide(chart_policy, attrs("UPDATE", approved_by("carol"), old, user="dave"))
    assert denial is not None and denial.message == (
        'spec.approval.approver.user is "carol" but the approval was written by "dave": approve as yourself'
    )
    assert decide(chart_policy, attrs("UPDATE", approved_by("carol"), old, user="carol")) is None
    unnamed = conversation("alice", approval={"revision": 1, "digest": DIGEST})
    denial = decide(chart_policy, attrs("UPDATE", unnamed, old, user="carol"))
    assert denial is not None and 'must be set to the approving user "carol"' in denial.message
    # An unchanged approval does not need to be re-signed by whoever edits something else.
    later = approved_by("carol")
    later["spec"]["turns"].append({"text": "thanks", "author": {"user": "alice"}})
    assert decide(chart_policy, attrs("UPDATE", later, approved_by("carol"), user="alice")) is None


def test_rating_and_restore_must_name_the_caller(chart_policy: Policies) -> None:
    old = conversation("alice")
    rated = conversation("alice", rating={"score": 100, "ratedBy": {"user": "bob"}})
    denial = decide(chart_policy, attrs("UPDATE", rated, old))
    assert denial is not None and denial.message.startswith('spec.rating.ratedBy.user is "bob"')
    denial = decide(chart_policy, attrs("UPDATE", conversation("alice", rating={"score": 90}), old))
    assert denial is not None and 'must be set to the rating user "alice"' in denial.message
    rated["spec"]["rating"]["ratedBy"]["user"] = "alice"
    assert decide(chart_policy, attrs("UPDATE", rated, old)) is None
    restore = conversation("alice", restore={"requested": True, "requestedBy": {"user": "bob"}})
    denial = decide(chart_policy, attrs("UPDATE", restore, old))
    assert denial is not None and denial.message.startswith('spec.restore.requestedBy.user is "bob"')
    restore["spec"]["restore"]["requestedBy"]["user"] = "alice"
    assert decide(chart_policy, attrs("UPDATE", restore, old)) is None


def test_status_writes_and_the_controller_are_not_matched(chart_policy: Policies) -> None:
    old = conversation("alice")
    new = copy.deepcopy(old)
    new["status"] = {"phase": "AwaitingApproval"}
    assert decide(chart_policy, attrs("UPDATE", new, old, user=CONTROLLER, subresource="status")) is None
    # Even a status write by someone else with a foreign spec is not this policy's business.
    assert decide(chart_policy, attrs("UPDATE", conversation("zed"), old, user="x", subresource="status")) is None
    # The controller adding a finalizer on the main resource is exempt by matchCondition.
    with_finalizer = copy.deepcopy(old)
    with_finalizer["metadata"]["finalizers"] = ["aiop.dev/thread-cleanup"]
    assert decide(chart_policy, attrs("UPDATE", with_finalizer, old, user=CONTROLLER)) is None
    assert decide(chart_policy, attrs("DELETE", None, old, user="bob")) is None


def test_airequests_are_covered_too(chart_policy: Policies) -> None:
    obj = {"metadata": {"name": "r"}, "spec": {"requester": {"user": "bob"}, "text": "hi"}}
    assert decide(chart_policy, attrs("CREATE", obj, resource="airequests")) is not None


# ---------------------------------------------------------------- engine semantics beyond the chart


def policy(name: str = "p", **spec: Any) -> dict[str, Any]:
    base = {
        "matchConstraints": {"resourceRules": [{
            "apiGroups": ["aiop.dev"], "apiVersions": ["*"], "operations": ["CREATE"], "resources": ["aiconversations"],
        }]},
        "validations": [{"expression": "object.spec.requester.user == 'alice'"}],
    }
    return {"metadata": {"name": name}, "spec": {**base, **spec}}


def binding(actions: list[str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "b"}, "spec": {"policyName": "p", "validationActions": actions or ["Deny"], **spec}}


def test_default_message_warn_only_and_missing_policy() -> None:
    bob = attrs("CREATE", conversation("bob"))
    denial = evaluate_validating_policies([policy()], [binding()], bob)
    assert denial is not None and denial.message == "failed expression: object.spec.requester.user == 'alice'"
    assert denial.code == 422 and denial.reason == "Invalid"
    assert evaluate_validating_policies([policy()], [binding(["Warn", "Audit"])], bob) is None
    assert evaluate_validating_policies([], [binding()], bob) is None


def test_failure_policy_and_match_conditions() -> None:
    broken = [{"expression": "object.spec.nothing.here == 1"}]
    bob = attrs("CREATE", conversation("bob"))
    denial = evaluate_validating_policies([policy(validations=broken)], [binding()], bob)
    assert denial is not None and "resulted in error" in denial.message
    ignore = policy(validations=broken, failurePolicy="Ignore")
    assert evaluate_validating_policies([ignore], [binding()], bob) is None
    skip = policy(matchConditions=[{"name": "only-team-b", "expression": "request.namespace == 'team-b'"}])
    assert evaluate_validating_policies([skip], [binding()], bob) is None


def test_variables_and_message_expression() -> None:
    p = policy(
        variables=[{"name": "who", "expression": "object.spec.requester.user"}],
        validations=[{"expression": "variables.who == 'alice'", "messageExpression": "'not alice: ' + variables.who"}],
    )
    denial = evaluate_validating_policies([p], [binding()], attrs("CREATE", conversation("bob")))
    assert denial is not None and denial.message == "not alice: bob"


def test_selectors_and_subresource_rules() -> None:
    bob = attrs("CREATE", conversation("bob"))
    selected = binding(matchResources={"namespaceSelector": {"matchLabels": {"aiop": "on"}}})
    assert evaluate_validating_policies([policy()], [selected], bob) is None
    labelled = AdmissionAttributes(**{**bob.__dict__, "namespace_labels": {"aiop": "on"}})
    assert evaluate_validating_policies([policy()], [selected], labelled) is not None
    status = attrs("CREATE", conversation("bob"), subresource="status")
    assert evaluate_validating_policies([policy()], [binding()], status) is None
    all_sub = policy(matchConstraints={"resourceRules": [{
        "apiGroups": ["*"], "apiVersions": ["*"], "operations": ["*"], "resources": ["*/*"],
    }]})
    assert evaluate_validating_policies([all_sub], [binding()], status) is not None


def test_make_hook_adapts_the_sandbox_request(chart_policy: Policies) -> None:
    hook = make_hook(lambda: chart_policy)
    request = AdmissionRequest(
        operation="CREATE", group="aiop.dev", version="v1alpha1", kind="AIConversation",
        resource="aiconversations", subresource="", namespace="team-a", name="scale-web",
        object=conversation("bob"), old_object=None, user="alice", groups=("devs",),
    )
    with pytest.raises(ApiError) as caught:
        hook(request)
    assert caught.value.code == 403
    assert caught.value.message.startswith('aiconversations.aiop.dev "scale-web" is forbidden: ValidatingAdmissionPolicy')
    ok = AdmissionRequest(**{**request.__dict__, "object": conversation("alice")})
    assert hook(ok) is None


NO_RED_POLICY: list[dict[str, Any]] = [
    {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
     "metadata": {"name": "no-red"},
     "spec": {"failurePolicy": "Fail",
              "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                      "operations": ["CREATE", "UPDATE"],
                                                      "resources": ["configmaps"]}]},
              "validations": [{"expression": "!has(object.data) || !('color' in object.data) || "
                                             "object.data.color != 'red'",
                               "message": "red is not allowed", "reason": "Forbidden"}]}},
    {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
     "metadata": {"name": "no-red"},
     "spec": {"policyName": "no-red", "validationActions": ["Deny"]}},
]


def test_stored_policies_are_enforced_from_the_start_and_after_a_restart(tmp_path: Path) -> None:
    """A policy created through the API is enforced at once, and still after `--state` restarts the server."""
    from kubernetes import client, dynamic
    from kubernetes.client.rest import ApiException

    from sandbox.server import SandboxServer
    from tests.sandbox.conftest import api_client

    def denied(server: SandboxServer, name: str) -> ApiException | None:
        api = api_client(server)
        try:
            client.CoreV1Api(api).create_namespaced_config_map(
                "default", {"metadata": {"name": name}, "data": {"color": "red"}})
            return None
        except ApiException as exc:
            return exc
        finally:
            api.close()

    state = tmp_path / "state"
    with SandboxServer(home=tmp_path / "h1", state_dir=state) as first:
        api = api_client(first)
        dyn = dynamic.DynamicClient(api)
        for obj in NO_RED_POLICY:
            dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"]).create(body=obj)
        api.close()
        before = denied(first, "one")
    with SandboxServer(home=tmp_path / "h2", state_dir=state) as second:
        after = denied(second, "two")
    for name, exc in (("one", before), ("two", after)):
        assert exc is not None and exc.status == 403
        assert json.loads(exc.body)["message"] == (
            f"configmaps \"{name}\" is forbidden: ValidatingAdmissionPolicy 'no-red' with binding 'no-red' "
            "denied request: red is not allowed")
