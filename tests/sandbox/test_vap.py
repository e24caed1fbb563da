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


# ------------------------------------------------------------------ long threads (issue 10)


def long_conversation(turns: int) -> dict[str, Any]:
    """A conversation of `turns` turns, alternating between its requester and a colleague."""
    obj = conversation("alice")
    obj["spec"]["turns"] = [
        {"text": f"no, make it {2 + i % 9} replicas", "author": {"user": "alice" if i % 2 == 0 else "bob"}}
        for i in range(turns)
    ]
    obj["status"] = {"revisions": [{"revision": i + 1, "summary": "scale web"} for i in range(turns)]}
    return obj


def test_a_500_turn_conversation_still_binds_each_new_turn_to_its_author(chart_policy: Policies) -> None:
    """The identity check holds on a long thread: only one turn appended, by whom it names, nothing rewritten."""
    old = long_conversation(500)

    def appended(author: dict[str, Any] | None, text: str = "make it 4") -> dict[str, Any]:
        new = copy.deepcopy(old)
        new["spec"]["turns"].append({"text": text, **({"author": author} if author else {})})
        return new

    rule = ('spec.turns may only grow by one turn at the end, whose author.user is the caller "mallory"; '
            "turns already written cannot be changed or removed")
    denial = decide(chart_policy, attrs("UPDATE", appended({"user": "alice"}), old, user="mallory"))
    assert denial is not None and denial.code == 403 and denial.message == rule
    denial = decide(chart_policy, attrs("UPDATE", appended(None), old, user="mallory"))
    assert denial is not None and denial.message == rule
    assert decide(chart_policy, attrs("UPDATE", appended({"user": "mallory"}), old, user="mallory")) is None
    assert decide(chart_policy, attrs("UPDATE", appended({"user": "alice"}), old, user="alice")) is None

    rewritten = appended({"user": "mallory"})
    rewritten["spec"]["turns"][250]["text"] = "scale web to 0"
    assert decide(chart_policy, attrs("UPDATE", rewritten, old, user="mallory")) is not None
    reauthored = appended({"user": "mallory"})
    reauthored["spec"]["turns"][499]["author"] = {"user": "mallory"}
    assert decide(chart_policy, attrs("UPDATE", reauthored, old, user="mallory")) is not None
    dropped = appended({"user": "mallory"})
    del dropped["spec"]["turns"][0]
    dropped["spec"]["turns"].append({"text": "again", "author": {"user": "mallory"}})
    assert decide(chart_policy, attrs("UPDATE", dropped, old, user="mallory")) is not None
    two = appended({"user": "mallory"})
    two["spec"]["turns"].append({"text": "and more", "author": {"user": "mallory"}})
    assert decide(chart_policy, attrs("UPDATE", two, old, user="mallory")) is not None
    # A write that leaves the turns alone (a label, say) is not a turn at all.
    labelled = copy.deepcopy(old)
    labelled["metadata"]["labels"] = {"team": "web"}
    assert decide(chart_policy, attrs("UPDATE", labelled, old, user="mallory")) is None


# (expression, passes, denial wording): `||` and `&&` as CEL defines them, whatever order the error is in.
SHORT_CIRCUIT = [
    ("true || 1 / 0 == 1", True, None),
    ("1 / 0 == 1 || true", True, None),
    ("false || 1 / 0 == 1", False, "resulted in error"),
    ("1 / 0 == 1 || false", False, "resulted in error"),
    ("false && 1 / 0 == 1", False, "failed expression"),
    ("1 / 0 == 1 && false", False, "failed expression"),
    ("true && 1 / 0 == 1", False, "resulted in error"),
    ("false || false || true", True, None),
    ("true && true && false", False, "failed expression"),
    ("object.spec.requester.user == 'alice' || object.spec.turns.all(t, t.nothing == 1)", True, None),
    ("object.spec.requester.user == 'bob' || object.spec.turns.all(t, t.nothing == 1)", False, "resulted in error"),
    ("has(object.spec.approval) && object.spec.approval.revision > 0", False, "failed expression"),
]


@pytest.mark.parametrize(("expression", "passes", "wording"), SHORT_CIRCUIT)
def test_logical_operators_keep_cel_semantics(expression: str, passes: bool, wording: str | None) -> None:
    """The evaluator stops after a left operand that decides `||`/`&&`: a true `||` (or false `&&`) absorbs an
    error on either side, and an undecided one still surfaces it, as CEL specifies."""
    p = policy(validations=[{"expression": expression}])
    denial = evaluate_validating_policies([p], [binding()], attrs("CREATE", conversation("alice")))
    if passes:
        assert denial is None
    else:
        assert denial is not None and wording is not None and wording in denial.message


def test_short_circuit_gives_what_cel_pythons_own_interpreter_gives() -> None:
    """Stopping early is an optimisation only: every expression of the table (and ill-typed ones no real
    API server would compile) yields the value or the error that cel-python's stock interpreter yields."""
    import celpy

    from sandbox.cel import CelError, to_cel
    from sandbox.cel import evaluate as fast

    stock = celpy.Environment()
    context = {"object": to_cel(conversation("alice")), "x": to_cel(3)}
    for expression in [e for e, _, _ in SHORT_CIRCUIT] + ["1 || true", "false || 1", "true && 'a'", "x > 1 && x < 5",
                                                          "x < 1 || x > 5 ? 'out' : 'in'"]:
        try:
            expected: Any = stock.program(stock.compile(expression)).evaluate(dict(context))
        except celpy.CELEvalError:
            expected = CelError
        try:
            got: Any = fast(expression, context)
        except CelError:
            got = CelError
        assert got == expected and type(got) is type(expected), expression


# Pairs of JSON values that equality must judge as cel-python's own conversion does: the same JSON (answered
# from the JSON itself), and near misses the shortcut must leave to CEL (other values, types, key order).
EQUALITY_PAIRS = [
    ({"turns": [{"text": "a", "author": {"user": "alice"}}]}, {"turns": [{"text": "a", "author": {"user": "alice"}}]}),
    ({"turns": [{"text": "a"}]}, {"turns": [{"text": "b"}]}),
    ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
    ({"a": [1, 2]}, {"a": [2, 1]}),
    ({"a": True}, {"a": 1}),
    ({"a": 1}, {"a": 1.0}),
    ({"a": None}, {"a": None}),
    ({"a": {}}, {"a": []}),
    ([{"x": "y"}], [{"x": "y"}]),
    ([1, 2], [1, 2, 3]),
]


@pytest.mark.parametrize(("left", "right"), EQUALITY_PAIRS)
def test_objects_and_lists_from_json_behave_as_cels(left: Any, right: Any) -> None:
    """`==` and `!=` on objects and lists from the request (compared as whole JSON when both sides are that
    same JSON), and what reads their keys and items (size, macros, `in`, `has`), give exactly the value or
    the error of cel-python with its stock JSON conversion (objects are converted as they are read)."""
    import celpy

    from sandbox.cel import CelError, to_cel
    from sandbox.cel import evaluate as fast

    stock = celpy.Environment()
    for expression in ("a == b", "a != b", "[a] + [b] == [b, a]", "{'k': a} == {'k': b}", "size(a) + size(b)",
                       "a.all(x, x in a) && b.exists(x, true)", "'a' in a || 'turns' in b", "has(a.turns)",
                       "[a, b].map(x, size(x))"):
        try:
            expected: Any = stock.program(stock.compile(expression)).evaluate(
                {"a": celpy.json_to_cel(left), "b": celpy.json_to_cel(right)})
        except celpy.CELEvalError:
            expected = CelError
        try:
            got: Any = fast(expression, {"a": to_cel(left), "b": to_cel(right)})
        except CelError:
            got = CelError
        assert got == expected and type(got) is type(expected), (expression, left, right)


def test_variables_are_lazy_ordered_and_fail_only_where_used() -> None:
    variables = [
        {"name": "broken", "expression": "object.spec.nothing.here"},
        {"name": "early", "expression": "variables.late + '!'"},
        {"name": "late", "expression": "object.spec.requester.user"},
        {"name": "shout", "expression": "variables.late + '!'"},
    ]
    alice = attrs("CREATE", conversation("alice"))

    def check(expression: str) -> Denial | None:
        return evaluate_validating_policies([policy(variables=variables, validations=[{"expression": expression}])],
                                            [binding()], alice)

    assert check("variables.shout == 'alice!' && variables.late == 'alice'") is None  # broken never used
    broken = check("variables.broken == 1")
    assert broken is not None and "resulted in error" in broken.message
    forward = check("variables.early == 'alice!'")  # a variable sees only those declared before it
    assert forward is not None and "resulted in error" in forward.message


def test_500_turn_append_through_kubectl(tmp_path: Path, chart_policy: Policies) -> None:
    """Through the real kubectl and the sandbox API server, as two impersonated users with the same rights:
    a 500-turn thread takes alice's own next turn and refuses mallory's turn signed as alice."""
    from sandbox.server import SandboxServer
    from tests.sandbox.conftest import KUBECTL

    crd = yaml.safe_load((CHART / "crds" / "aiconversations.aiop.dev.yaml").read_text())
    rights = [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": "chat", "namespace": "team-a"},
               "rules": [{"apiGroups": ["aiop.dev"], "resources": ["aiconversations"],
                          "verbs": ["get", "create", "update", "patch"]}]},
              {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "chat", "namespace": "team-a"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "chat"},
               "subjects": [{"kind": "User", "name": who, "apiGroup": "rbac.authorization.k8s.io"}
                            for who in ("alice", "mallory")]}]
    thread = long_conversation(500)
    del thread["status"]
    thread["spec"]["turns"] = [{**turn, "author": {"user": "alice"}} for turn in thread["spec"]["turns"]]

    with SandboxServer(home=tmp_path / "home") as server:
        home = tmp_path / "kubectl-home"
        home.mkdir()

        def kubectl(*args: str, stdin: str | None = None) -> Any:
            import os
            import subprocess

            env = {**os.environ, "HOME": str(home), "KUBECONFIG": str(server.kubeconfig_path)}
            return subprocess.run([KUBECTL, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)

        def apply(objects: list[dict[str, Any]], *extra: str) -> None:
            done = kubectl("apply", "-f", "-", *extra, stdin=json.dumps({"apiVersion": "v1", "kind": "List",
                                                                           "items": objects}))
            assert done.returncode == 0, done.stderr

        kubectl("create", "namespace", "team-a")
        apply([crd])
        assert kubectl("wait", "--for=condition=Established", "crd/aiconversations.aiop.dev").returncode == 0
        apply([*chart_policy[0], *chart_policy[1], *rights])
        created = kubectl("create", "-f", "-", "--as", "alice", stdin=json.dumps(thread))
        assert created.returncode == 0, created.stderr

        def append(caller: str, author: str) -> Any:
            patch = [{"op": "add", "path": "/spec/turns/-", "value": {"text": "make it 4", "author": {"user": author}}}]
            return kubectl("patch", "aiconversation", "scale-web", "-n", "team-a", "--type", "json",
                           "-p", json.dumps(patch), "--as", caller)

        spoofed = append("mallory", "alice")
        assert spoofed.returncode != 0
        assert ("ValidatingAdmissionPolicy 'aiop-ai-operator-identity' with binding 'aiop-ai-operator-identity' "
                'denied request: spec.turns may only grow by one turn at the end, whose author.user is the caller '
                '"mallory"') in spoofed.stderr
        own = append("alice", "alice")
        assert own.returncode == 0, own.stderr
        stored = json.loads(kubectl("get", "aiconversation", "scale-web", "-n", "team-a", "-o", "json").stdout)
        assert len(stored["spec"]["turns"]) == 501
        assert stored["spec"]["turns"][-1] == {"text": "make it 4", "author": {"user": "alice"}}
