"""Field managers and server-side apply conflicts, as a real API server records and enforces them.

What a real cluster shows: every create, PUT and PATCH records an `Update` entry in
`metadata.managedFields` for the fields its field manager set (taking them from their previous owner);
an apply (force=false) that would change a field another manager owns is refused with 409
`Apply failed with N conflict(s): ...` and causes of type `FieldManagerConflict`, while setting the
same value makes the field co-owned; force=true takes the fields over; `kubectl apply --server-side`
prints the conflict and `--force-conflicts` resolves it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.sandbox.conftest import Kubectl, as_json, deployment

APPLY = "application/apply-patch+yaml"


def _apply(apps: client.AppsV1Api, body: dict[str, Any], manager: str, force: bool = False) -> Any:
    return apps.patch_namespaced_deployment("web", "default", body, field_manager=manager, force=force,
                                            _content_type=APPLY)


def _owners(obj: Any, path: tuple[str, ...]) -> set[tuple[str, str]]:
    """(manager, operation) of every managedFields entry that owns the FieldsV1 path."""
    owners = set()
    for entry in obj.metadata.managed_fields or []:
        node = entry.fields_v1 or {}
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None:
            owners.add((entry.manager, entry.operation))
    return owners


def _conflict(err: ApiException) -> tuple[str, list[dict[str, str]]]:
    status = json.loads(err.body)
    assert err.status == 409 and status["reason"] == "Conflict"
    return status["message"], status["details"]["causes"]


def test_apply_conflicts_with_kubectl_client_side_apply(kubectl: Kubectl, api: client.ApiClient) -> None:
    """A thread's apply of other replicas is refused; the same value is co-owned; force takes it over."""
    kubectl("apply", "-f", "-", stdin=json.dumps(deployment("web", replicas=2)))
    apps = client.AppsV1Api(api)
    with pytest.raises(ApiException) as err:
        _apply(apps, deployment("web", replicas=3), "aiop-thread-1")
    message, causes = _conflict(err.value)
    assert message == ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: '
                       ".spec.replicas")
    assert causes == [{"type": "FieldManagerConflict", "field": ".spec.replicas",
                       "message": 'conflict with "kubectl-client-side-apply" using apps/v1'}]
    assert apps.read_namespaced_deployment("web", "default").spec.replicas == 2
    same = _apply(apps, deployment("web", replicas=2), "aiop-thread-1")
    assert _owners(same, ("f:spec", "f:replicas")) == {("kubectl-client-side-apply", "Update"),
                                                       ("aiop-thread-1", "Apply")}
    forced = _apply(apps, deployment("web", replicas=3), "aiop-thread-1", force=True)
    assert forced.spec.replicas == 3
    assert _owners(forced, ("f:spec", "f:replicas")) == {("aiop-thread-1", "Apply")}


def test_kubectl_server_side_apply_after_scale(kubectl: Kubectl) -> None:
    """`kubectl scale` takes .spec.replicas (subresource scale); `apply --server-side` then conflicts until forced."""
    manifest = json.dumps(deployment("web", replicas=2))
    kubectl("apply", "--server-side", "-f", "-", stdin=manifest)
    kubectl("scale", "deployment", "web", "--replicas=5")
    refused = kubectl("apply", "--server-side", "-f", "-", stdin=manifest, check=False)
    assert refused.returncode == 1
    assert ('Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: '
            ".spec.replicas") in refused.stderr
    assert kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}").stdout == "5"
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=manifest)
    assert kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}").stdout == "2"


def test_several_conflicts_are_grouped_by_manager(api: client.ApiClient) -> None:
    """Two managers' fields: the message lists each manager's fields, in manager order."""
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment("default", deployment("web", replicas=1), field_manager="creator")
    apps.patch_namespaced_deployment("web", "default", {"metadata": {"labels": {"tier": "front"}}},
                                     field_manager="labeller")
    apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 4}}, field_manager="scaler")
    wanted = deployment("web", replicas=2)
    wanted["metadata"]["labels"]["tier"] = "back"
    with pytest.raises(ApiException) as err:
        _apply(apps, wanted, "thread")
    message, causes = _conflict(err.value)
    assert message == ('Apply failed with 2 conflicts: conflicts with "labeller" using apps/v1:\n'
                       "- .metadata.labels.tier\n"
                       'conflicts with "scaler" using apps/v1:\n'
                       "- .spec.replicas")
    assert {c["field"] for c in causes} == {".metadata.labels.tier", ".spec.replicas"}


def test_two_appliers_conflict_and_keyed_items_are_named(api: client.ApiClient) -> None:
    """An Apply owner is named without `using`; a container's field is named by its merge key."""
    apps = client.AppsV1Api(api)
    _apply(apps, deployment("web", image="nginx:1.25"), "team-a")
    with pytest.raises(ApiException) as err:
        _apply(apps, deployment("web", image="nginx:1.27"), "team-b")
    message, _ = _conflict(err.value)
    assert message == ('Apply failed with 1 conflict: conflict with "team-a": '
                       '.spec.template.spec.containers[name="main"].image')


def test_updates_record_and_move_ownership(kubectl: Kubectl, api: client.ApiClient) -> None:
    """Each PATCH records an Update entry for its manager; a later writer of the same field takes it."""
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map("default", {"metadata": {"name": "cfg"}, "data": {"a": "1"}},
                                      field_manager="maker")
    core.patch_namespaced_config_map("cfg", "default", {"data": {"b": "2"}}, field_manager="first")
    cfg = core.patch_namespaced_config_map("cfg", "default", {"data": {"a": "9"}}, field_manager="second")
    assert _owners(cfg, ("f:data", "f:a")) == {("second", "Update")}
    assert _owners(cfg, ("f:data", "f:b")) == {("first", "Update")}
    assert ("maker", "Update") not in {(e.manager, e.operation) for e in cfg.metadata.managed_fields}
    kubectl("label", "configmap", "cfg", "team=sre")
    labelled = as_json(kubectl("get", "configmap", "cfg", "-o", "json", "--show-managed-fields"))
    managers = {e["manager"]: e for e in labelled["metadata"]["managedFields"]}
    assert managers["kubectl-label"]["fieldsV1"] == {"f:metadata": {"f:labels": {"f:team": {}}}}


def test_status_writes_own_status_only_and_noop_applies_change_nothing(api: client.ApiClient) -> None:
    """A status write is recorded with subresource status; re-applying the same config keeps the resourceVersion."""
    apps = client.AppsV1Api(api)
    _apply(apps, deployment("web"), "thread")
    settled = apps.read_namespaced_deployment("web", "default")  # after the rollout's own writes
    again = _apply(apps, deployment("web"), "thread")
    assert again.metadata.resource_version == settled.metadata.resource_version
    entries = [(e.manager, e.operation, e.subresource) for e in again.metadata.managed_fields]
    assert ("kube-controller-manager", "Update", "status") in entries  # the rollout's status write
    assert _owners(again, ("f:status",)) == {("kube-controller-manager", "Update")}


def test_managed_fields_can_be_reset(api: client.ApiClient) -> None:
    """`managedFields: [{}]` in a patch clears ownership, as the documented reset does."""
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map("default", {"metadata": {"name": "cfg"}, "data": {"a": "1"}},
                                      field_manager="maker")
    cleared = core.patch_namespaced_config_map("cfg", "default", {"metadata": {"managedFields": [{}]}})
    assert not cleared.metadata.managed_fields


def test_apply_with_a_resource_version_is_a_precondition(kubectl: Kubectl, api: client.ApiClient) -> None:
    """An apply whose body carries `metadata.resourceVersion` runs only against that version (kubernetes#63104):
    a late or repeated request made against an older version is refused 409, the object unchanged — even a
    forced one, which no field conflict would stop (as in a real API server, the patch is computed first,
    field conflicts refused, then the version compared when it is stored)."""
    kubectl("apply", "-f", "-", stdin=json.dumps(deployment("web", replicas=2)))
    apps = client.AppsV1Api(api)
    read = apps.read_namespaced_deployment("web", "default").metadata.resource_version
    first = deployment("web", replicas=2)
    first["metadata"]["resourceVersion"] = read
    written = _apply(apps, first, "aiop-thread-1")
    apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 5}})
    late = deployment("web", replicas=2)
    late["metadata"]["resourceVersion"] = written.metadata.resource_version
    with pytest.raises(ApiException) as err:
        _apply(apps, late, "aiop-thread-1", force=True)
    status = json.loads(err.value.body)
    assert err.value.status == 409 and "the object has been modified" in status["message"]
    assert apps.read_namespaced_deployment("web", "default").spec.replicas == 5
