"""ValidatingAdmissionPolicy evaluation in real CEL, for the sandbox API server.

Why: principle 2 (identity comes from the API server) is enforced in production by the chart's
ValidatingAdmissionPolicy. A hand-written Python twin of that policy could drift from the YAML, so the
sandbox evaluates the chart's own CEL with cel-python, with the matching rules, variables, match
conditions, validation actions, failure policy and denial wording of a real kube-apiserver.

`evaluate_validating_policies` is pure: policies, bindings and one request in, a `Denial` or None out.
`make_hook` adapts it to the sandbox server's admission hook list (sandbox/admission.py).

Not implemented: `paramKind`/`paramRef` (params is always null), the `authorizer` library, type
checking of expressions against the schema (errors surface at evaluation), `auditAnnotations`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sandbox.cel import CelError, LazyObject, Variables, evaluate, to_cel

if TYPE_CHECKING:
    from sandbox.admission import AdmissionRequest
    from sandbox.store import Store

Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]

POLICY_KIND = "ValidatingAdmissionPolicy"
BINDING_KIND = "ValidatingAdmissionPolicyBinding"

# validation.reason -> HTTP status code, as the apiserver maps metav1.StatusReason.
_REASON_CODES = {"Unauthorized": 401, "Forbidden": 403, "Invalid": 422, "RequestEntityTooLarge": 413}
_DEFAULT_REASON = "Invalid"


@dataclass(frozen=True)
class AdmissionAttributes:
    """One request as admission sees it (the fields of admission.k8s.io/v1 AdmissionRequest we need)."""

    operation: str
    group: str
    version: str
    resource: str
    subresource: str
    kind: str
    namespace: str
    name: str
    object: Mapping[str, Any] | None
    old_object: Mapping[str, Any] | None
    user: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    # Labels of the request's namespace, for namespaceSelector; None = the namespace has no labels.
    namespace_labels: Mapping[str, str] | None = field(default=None, compare=False)
    dry_run: bool = False

    @property
    def qualified_resource(self) -> str:
        """`aiconversations.aiop.dev` / `pods`: how the apiserver names a resource in messages."""
        return f"{self.resource}.{self.group}" if self.group else self.resource


@dataclass(frozen=True)
class Denial:
    """A request denied by one policy through one binding."""

    policy: str
    binding: str
    message: str  # the validation's own message
    code: int
    reason: str = _DEFAULT_REASON

    @property
    def admission_message(self) -> str:
        """The part after `is forbidden: `, as kube-apiserver words it."""
        return f"{POLICY_KIND} '{self.policy}' with binding '{self.binding}' denied request: {self.message}"

    def status_message(self, attributes: AdmissionAttributes) -> str:
        """The whole Status message a client sees."""
        subject = attributes.qualified_resource
        if attributes.name:
            subject = f'{subject} "{attributes.name}"'
        return f"{subject} is forbidden: {self.admission_message}"


# ------------------------------------------------------------------------------------------ matching


def _selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics; an empty selector matches everything."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _resource_matches(patterns: Iterable[str], resource: str, subresource: str) -> bool:
    """`x` matches only the main resource; `x/s`, `x/*`, `*/s`, `*` and `*/*` as the apiserver reads them."""
    for pattern in patterns:
        res, _, sub = pattern.partition("/")
        if res not in ("*", resource):
            continue
        if "/" not in pattern:
            if not subresource:
                return True
        elif sub == "*" or sub == subresource:
            return True
    return False


def _rule_matches(rule: Mapping[str, Any], a: AdmissionAttributes) -> bool:
    def has(key: str, value: str) -> bool:
        values = rule.get(key) or []
        return "*" in values or value in values

    if not (has("apiGroups", a.group) and has("apiVersions", a.version) and has("operations", a.operation)):
        return False
    if not _resource_matches(rule.get("resources") or [], a.resource, a.subresource):
        return False
    names = rule.get("resourceNames") or []
    if names and a.name not in names:
        return False
    scope = rule.get("scope") or "*"
    if scope == "Namespaced" and not a.namespace:
        return False
    return not (scope == "Cluster" and a.namespace)


def _object_labels(obj: Mapping[str, Any] | None) -> Mapping[str, str]:
    if not obj:
        return {}
    labels: Mapping[str, str] = (obj.get("metadata") or {}).get("labels") or {}
    return labels


def _match_resources(
    match: Mapping[str, Any] | None, a: AdmissionAttributes, *, rules_required: bool
) -> bool:
    """MatchResources: namespace/object selectors, resourceRules (all, when absent in a binding), excludes."""
    match = match or {}
    if a.namespace and not _selector_matches(match.get("namespaceSelector"), a.namespace_labels or {}):
        return False
    object_selector = match.get("objectSelector")
    if object_selector and not (
        _selector_matches(object_selector, _object_labels(a.object))
        or (a.old_object is not None and _selector_matches(object_selector, _object_labels(a.old_object)))
    ):
        return False
    rules = match.get("resourceRules")
    if (rules is not None or rules_required) and not any(_rule_matches(rule, a) for rule in rules or []):
        return False
    return not any(_rule_matches(rule, a) for rule in match.get("excludeResourceRules") or [])


# ------------------------------------------------------------------------------------------------ CEL


def _request_value(a: AdmissionAttributes) -> dict[str, Any]:
    gvr = {"group": a.group, "version": a.version, "resource": a.resource}
    gvk = {"group": a.group, "version": a.version, "kind": a.kind}
    return {
        "uid": a.uid,
        "kind": gvk,
        "resource": gvr,
        "subResource": a.subresource,
        "requestKind": gvk,
        "requestResource": gvr,
        "requestSubResource": a.subresource,
        "name": a.name,
        "namespace": a.namespace,
        "operation": a.operation,
        "userInfo": {"username": a.user, "uid": "", "groups": list(a.groups)},
        "dryRun": a.dry_run,
    }


class _Inputs:
    """object/oldObject/request/namespaceObject of one request as CEL values, built once per request
    when a policy first gets that far (a request no binding matches converts nothing); the objects'
    fields are converted when first read (a policy on `spec` never converts a large status)."""

    def __init__(self, a: AdmissionAttributes) -> None:
        self._attributes = a

    @functools.cached_property
    def activation(self) -> dict[str, Any]:
        a = self._attributes
        namespace_object = (
            {"metadata": {"name": a.namespace, "labels": dict(a.namespace_labels or {})}} if a.namespace else None
        )
        return {
            "object": None if a.object is None else LazyObject(a.object),
            "oldObject": None if a.old_object is None else LazyObject(a.old_object),
            "request": to_cel(_request_value(a)),
            "params": None,
            "namespaceObject": to_cel(namespace_object),
        }


# ------------------------------------------------------------------------------------------ evaluation


def _validate(policy: Mapping[str, Any], inputs: _Inputs) -> tuple[str, str] | None:
    """Run one matched policy: (reason, message) of the first failed validation, or None.

    Its variables are evaluated lazily, once, where first used (so a request its matchConditions
    exclude evaluates none of them).
    """
    spec = policy.get("spec") or {}
    fail_closed = (spec.get("failurePolicy") or "Fail") == "Fail"
    activation = dict(inputs.activation)
    activation["variables"] = Variables(spec.get("variables") or [], inputs.activation).view()
    for condition in spec.get("matchConditions") or []:
        try:
            if not bool(evaluate(condition["expression"], activation)):
                return None
        except CelError as error:
            if fail_closed:
                return _DEFAULT_REASON, f"matchCondition '{condition.get('name', '')}': {error}"
            return None
    for validation in spec.get("validations") or []:
        expression = validation["expression"]
        try:
            passed = bool(evaluate(expression, activation))
        except CelError as error:
            if fail_closed:
                return _DEFAULT_REASON, str(error)
            continue
        if passed:
            continue
        message = ""
        if validation.get("messageExpression"):
            try:
                message = str(evaluate(validation["messageExpression"], activation)).strip()
            except CelError:
                message = ""  # the apiserver falls back to `message`, then to the expression
        message = message or validation.get("message") or f"failed expression: {expression.strip()}"
        return validation.get("reason") or _DEFAULT_REASON, message
    return None


def evaluate_validating_policies(
    policies: list[dict[str, Any]], bindings: list[dict[str, Any]], attributes: AdmissionAttributes
) -> Denial | None:
    """What kube-apiserver's ValidatingAdmissionPolicy plugin decides for one request.

    Every binding whose policy exists and matches is evaluated (in name order, so the result is
    deterministic); the first that fails a validation with the `Deny` action denies. `Warn` and
    `Audit` alone never deny.
    """
    by_name = {p["metadata"]["name"]: p for p in policies}
    inputs = _Inputs(attributes)
    for binding in sorted(bindings, key=lambda b: b["metadata"]["name"]):
        bspec = binding.get("spec") or {}
        policy = by_name.get(bspec.get("policyName", ""))
        if policy is None:
            continue  # a binding to a missing policy is ignored
        if not _match_resources(
            (policy.get("spec") or {}).get("matchConstraints"), attributes, rules_required=True
        ):
            continue
        if not _match_resources(bspec.get("matchResources"), attributes, rules_required=False):
            continue
        verdict = _validate(policy, inputs)
        if verdict is None or "Deny" not in (bspec.get("validationActions") or []):
            continue
        reason, message = verdict
        return Denial(
            policy=policy["metadata"]["name"],
            binding=binding["metadata"]["name"],
            message=message,
            code=_REASON_CODES.get(reason, 422),
            reason=reason if reason in _REASON_CODES else _DEFAULT_REASON,
        )
    return None


# ---------------------------------------------------------------------------------- sandbox glue


def attributes_from_request(
    request: AdmissionRequest, namespace_labels: Mapping[str, str] | None = None
) -> AdmissionAttributes:
    """The sandbox server's AdmissionRequest as AdmissionAttributes."""
    return AdmissionAttributes(
        operation=request.operation,
        group=request.group,
        version=request.version,
        resource=request.resource,
        subresource=request.subresource,
        kind=request.kind,
        namespace=request.namespace,
        name=request.name,
        object=request.object,
        old_object=request.old_object,
        user=request.user,
        groups=tuple(request.groups),
        namespace_labels=namespace_labels,
        dry_run=request.dry_run,
    )


PolicySource = Callable[[], "tuple[list[dict[str, Any]], list[dict[str, Any]]]"]
NamespaceLabels = Callable[[str], "Mapping[str, str] | None"]


def make_hook(
    get_objects: PolicySource, get_namespace_labels: NamespaceLabels | None = None
) -> Callable[[AdmissionRequest], str | None]:
    """An admission hook for sandbox/admission.py that enforces the stored VAPs and bindings.

    `get_objects()` returns `(policies, bindings)` as stored in the server at the time of the request
    (so creating or deleting a policy takes effect at once). A denial raises the server's ApiError
    with the policy's reason and code (403 for reason Forbidden, 422 for Invalid) and the real wording.
    """
    from sandbox.errors import ApiError

    def validating_admission_policy(request: AdmissionRequest) -> str | None:
        policies, bindings = get_objects()
        if not bindings:
            return None
        labels = (
            get_namespace_labels(request.namespace) if get_namespace_labels and request.namespace else None
        )
        attributes = attributes_from_request(request, labels)
        denial = evaluate_validating_policies(policies, bindings, attributes)
        if denial is None:
            return None
        details: dict[str, Any] = {"kind": request.resource}
        if request.name:
            details["name"] = request.name
        if request.group:
            details["group"] = request.group
        raise ApiError(denial.code, denial.reason, denial.status_message(attributes), details)

    return validating_admission_policy


def store_hook(store: Store) -> Callable[[AdmissionRequest], str | None]:
    """The hook a sandbox server runs: the policies and bindings stored in it, at the time of each request."""
    group = "admissionregistration.k8s.io"

    def policies() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return (store.objects(group, "validatingadmissionpolicies"),
                store.objects(group, "validatingadmissionpolicybindings"))

    def namespace_labels(name: str) -> dict[str, str] | None:
        ns = store.get(("", "namespaces", "", name))
        return dict(ns["metadata"].get("labels") or {}) if ns else None

    return make_hook(policies, namespace_labels)
