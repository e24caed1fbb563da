"""The official `kubernetes` Python client against the sandbox: CRUD, conflicts, watch, dynamic
client, impersonation and access reviews, as the operator's code will use them."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from kubernetes import client, dynamic, watch
from kubernetes.client.rest import ApiException

from sandbox.server import SandboxServer
from tests.sandbox.conftest import WIDGET_CRD, api_client, deployment, widget


def _configmap(name: str, data: dict[str, str] | None = None, labels: dict[str, str] | None = None
               ) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels or {}},
            "data": data or {}}


def test_crud_round_trip(api: client.ApiClient) -> None:
    """Create, read, list by label, replace, patch and delete a ConfigMap with server-set metadata."""
    core = client.CoreV1Api(api)
    created = core.create_namespaced_config_map("default", _configmap("cfg", {"a": "1"}, {"team": "x"}))
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None
    read = core.read_namespaced_config_map("cfg", "default")
    assert read.data == {"a": "1"}
    assert [c.metadata.name for c in core.list_namespaced_config_map("default", label_selector="team=x").items] \
        == ["cfg"]
    assert core.list_namespaced_config_map("default", label_selector="team in (y,z)").items == []
    read.data["b"] = "2"
    replaced = core.replace_namespaced_config_map("cfg", "default", read)
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    patched = core.patch_namespaced_config_map("cfg", "default", {"data": {"c": "3"}})
    assert patched.data == {"a": "1", "b": "2", "c": "3"}
    core.delete_namespaced_config_map("cfg", "default")
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("cfg", "default")
    assert err.value.status == 404


def test_stale_resource_version_conflicts(api: client.ApiClient) -> None:
    """Replacing with an outdated resourceVersion fails with 409 Conflict, as optimistic locking requires."""
    core = client.CoreV1Api(api)
    first = core.create_namespaced_config_map("default", _configmap("cfg", {"a": "1"}))
    core.patch_namespaced_config_map("cfg", "default", {"data": {"a": "2"}})
    first.data = {"a": "stale"}
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("cfg", "default", first)
    assert err.value.status == 409
    assert "the object has been modified" in err.value.body
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", _configmap("cfg"))
    assert err.value.status == 409 and '"AlreadyExists"' in err.value.body


def test_create_in_missing_namespace_is_not_found(api: client.ApiClient) -> None:
    """Namespaced objects need their namespace first, like on a real cluster."""
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).create_namespaced_config_map("nowhere", _configmap("cfg"))
    assert err.value.status == 404 and 'namespaces \\"nowhere\\" not found' in err.value.body


def test_watch_sees_added_modified_deleted(api: client.ApiClient) -> None:
    """A `kubernetes.watch.Watch` stream reports create, update and delete in order."""
    core = client.CoreV1Api(api)
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    events: list[tuple[str, str]] = []

    def consume() -> None:
        w = watch.Watch()
        for event in w.stream(core.list_namespaced_config_map, "default", resource_version=rv,
                              timeout_seconds=5):
            events.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                w.stop()

    thread = threading.Thread(target=consume)
    thread.start()
    time.sleep(0.3)
    core.create_namespaced_config_map("default", _configmap("w", {"a": "1"}))
    core.patch_namespaced_config_map("w", "default", {"data": {"a": "2"}})
    core.delete_namespaced_config_map("w", "default")
    thread.join(timeout=10)
    assert events == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


def test_watch_without_version_starts_with_current_objects(api: client.ApiClient) -> None:
    """A watch without resourceVersion first replays existing objects as ADDED."""
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map("default", _configmap("a"))
    core.create_namespaced_config_map("default", _configmap("b"))
    w = watch.Watch()
    seen = [(e["type"], e["object"].metadata.name)
            for e in w.stream(core.list_namespaced_config_map, "default", timeout_seconds=1)]
    assert seen == [("ADDED", "a"), ("ADDED", "b")]


def test_watch_from_expired_version_gets_410(tmp_path: Any) -> None:
    """Resuming a watch from a resourceVersion older than the kept history fails with 410 Expired."""
    with SandboxServer(home=tmp_path, history_limit=5) as sandbox:
        api = api_client(sandbox)
        core = client.CoreV1Api(api)
        old_rv = core.list_namespaced_config_map("default").metadata.resource_version
        for i in range(10):
            core.create_namespaced_config_map("default", _configmap(f"c{i}"))
        with pytest.raises(ApiException) as err:
            for _ in watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version=old_rv,
                                          timeout_seconds=2):
                pass
        assert err.value.status == 410
        assert "Expired" in str(err.value.reason)
        # a recent version still works
        recent = core.list_namespaced_config_map("default").metadata.resource_version
        assert list(watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version=recent,
                                         timeout_seconds=1)) == []
        api.close()


def test_watch_bookmarks_and_field_selector(api: client.ApiClient) -> None:
    """allowWatchBookmarks gives periodic BOOKMARKs; a metadata.name field selector watches one object."""
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map("default", _configmap("one"))
    core.create_namespaced_config_map("default", _configmap("two"))
    resp = core.list_namespaced_config_map("default", watch=True, allow_watch_bookmarks=True,
                                           field_selector="metadata.name=two", timeout_seconds=1,
                                           _preload_content=False)
    lines = [line for line in resp.read().decode().splitlines() if line]
    events = [json.loads(line) for line in lines]
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "two"
    assert all(e["object"]["metadata"].get("name") != "one" for e in events)
    assert any(e["type"] == "BOOKMARK" for e in events)


def test_dynamic_client_on_custom_resource(api: client.ApiClient) -> None:
    """A CRD makes a new kind available to the dynamic client, with status as a subresource."""
    client.ApiextensionsV1Api(api).create_custom_resource_definition(WIDGET_CRD)
    dyn = dynamic.DynamicClient(api)
    widgets = dyn.resources.get(api_version="example.com/v1", kind="Widget")
    created = widgets.create(body=widget("w1", size=2), namespace="default")
    assert created.metadata.generation == 1
    # status is ignored on the main resource and written through /status
    widgets.patch(name="w1", namespace="default", body={"status": {"phase": "Ready"}},
                  content_type="application/merge-patch+json")
    assert widgets.get(name="w1", namespace="default").get("status") is None
    widgets.status.patch(name="w1", namespace="default", body={"status": {"phase": "Ready"}},
                         content_type="application/merge-patch+json")
    current = widgets.get(name="w1", namespace="default")
    assert current.status.phase == "Ready" and current.metadata.generation == 1
    widgets.patch(name="w1", namespace="default", body={"spec": {"size": 5}},
                  content_type="application/merge-patch+json")
    assert widgets.get(name="w1", namespace="default").metadata.generation == 2
    listed = widgets.get(namespace="default")
    assert [i.metadata.name for i in listed.items] == ["w1"]
    with pytest.raises(ApiException) as err:
        client.CustomObjectsApi(api).patch_namespaced_custom_object(
            "example.com", "v1", "default", "widgets", "w1", {"spec": {"size": 6}},
            _content_type="application/strategic-merge-patch+json")
    assert err.value.status == 415


def test_impersonation_obeys_rbac(api: client.ApiClient, sandbox: SandboxServer) -> None:
    """Impersonating alice gives 403 where her Role does not reach and success where it does."""
    rbac = client.RbacAuthorizationV1Api(api)
    client.CoreV1Api(api).create_namespace({"metadata": {"name": "shop"}})
    rbac.create_namespaced_role("shop", {"metadata": {"name": "deployer"}, "rules": [
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "create", "patch"]}]})
    rbac.create_namespaced_role_binding("shop", {"metadata": {"name": "alice"}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
        "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]})
    alice = api_client(sandbox)
    alice.set_default_header("Impersonate-User", "alice")
    apps = client.AppsV1Api(alice)
    apps.create_namespaced_deployment("shop", deployment("web", namespace="shop"))
    apps.patch_namespaced_deployment("web", "shop", {"spec": {"replicas": 3}})
    with pytest.raises(ApiException) as err:
        apps.delete_namespaced_deployment("web", "shop")
    assert err.value.status == 403
    assert ('deployments.apps \\"web\\" is forbidden: User \\"alice\\" cannot delete resource \\"deployments\\" '
            'in API group \\"apps\\" in the namespace \\"shop\\"') in err.value.body
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(alice).list_namespaced_secret("shop")
    assert err.value.status == 403
    # a user who may not impersonate is refused before anything else
    bob_api = api_client(sandbox, sandbox.user_kubeconfig("bob"))
    bob_api.set_default_header("Impersonate-User", "alice")
    with pytest.raises(ApiException) as err:
        client.AppsV1Api(bob_api).list_namespaced_deployment("shop")
    assert err.value.status == 403
    assert 'users \\"alice\\" is forbidden: User \\"bob\\" cannot impersonate resource \\"users\\"' in err.value.body
    for c in (alice, bob_api):
        c.close()


def test_subject_access_review(api: client.ApiClient) -> None:
    """A SubjectAccessReview answers for another user from the same RBAC the server enforces."""
    rbac = client.RbacAuthorizationV1Api(api)
    rbac.create_cluster_role({"metadata": {"name": "reader"}, "rules": [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]})
    rbac.create_cluster_role_binding({"metadata": {"name": "devs-read"}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "reader"},
        "subjects": [{"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"}]})
    authz = client.AuthorizationV1Api(api)

    def review(user: str, groups: list[str], verb: str) -> bool:
        body = {"spec": {"user": user, "groups": groups,
                         "resourceAttributes": {"namespace": "default", "verb": verb, "resource": "pods"}}}
        return bool(authz.create_subject_access_review(body).status.allowed)

    assert review("carol", ["devs"], "list")
    assert not review("carol", ["devs"], "delete")
    assert not review("dave", [], "list")
    own = authz.create_self_subject_access_review(
        {"spec": {"resourceAttributes": {"verb": "delete", "resource": "nodes"}}})
    assert own.status.allowed  # the admin token is system:masters


def test_unauthenticated_requests_get_401(sandbox: SandboxServer) -> None:
    """No token or an unknown token answers 401 Unauthorized with a Status body."""
    config = client.Configuration(host=sandbox.url)
    config.ssl_ca_cert = str(sandbox.ca_path)
    anonymous = client.ApiClient(config)
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(anonymous).list_namespace()
    assert err.value.status == 401 and '"reason":"Unauthorized"' in err.value.body
    config.api_key = {"authorization": "Bearer nope"}
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(client.ApiClient(config)).list_namespace()
    assert err.value.status == 401


def test_events_are_one_store_with_two_views(api: client.ApiClient) -> None:
    """An Event posted through events.k8s.io/v1 is listed by core/v1 (and the reverse), fields renamed."""
    core = client.CoreV1Api(api)
    events = client.EventsV1Api(api)
    events.create_namespaced_event("default", {
        "metadata": {"name": "new-style"}, "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "aiop", "reportingInstance": "aiop-0", "action": "Plan", "reason": "Planned",
        "note": "plan ready", "type": "Normal", "regarding": {"kind": "Pod", "name": "web", "namespace": "default"}})
    core.create_namespaced_event("default", {
        "metadata": {"name": "old-style"}, "message": "pulled", "reason": "Pulled", "type": "Normal",
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"}})
    by_core = {e.metadata.name: e for e in core.list_namespaced_event(
        "default", field_selector="involvedObject.name=web").items}
    assert by_core["new-style"].message == "plan ready"
    assert by_core["new-style"].reporting_component == "aiop"
    by_new = {e.metadata.name: e for e in events.list_namespaced_event(
        "default", field_selector="regarding.name=web").items}
    assert by_new["old-style"].note == "pulled" and by_new["old-style"].regarding.name == "web"
    events.delete_namespaced_event("old-style", "default")
    assert [e.metadata.name for e in core.list_namespaced_event("default").items] == ["new-style"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_a_body_are_400(api: client.ApiClient, constant: str) -> None:
    """Python's JSON parser takes NaN and Infinity; the API server's does not (they are not JSON), so a create
    or a patch carrying one is a 400 BadRequest naming the value, and nothing is stored."""
    core = client.CoreV1Api(api)
    version = core.create_namespaced_config_map("default", _configmap("numbers", {"n": "1"})).metadata.resource_version
    headers = {"Authorization": api.configuration.get_api_key_with_prefix("BearerToken"),
               "Content-Type": "application/json"}
    base = f"{api.configuration.host}/api/v1/namespaces/default/configmaps"
    created = api.rest_client.pool_manager.request(
        "POST", base, headers=headers,
        body=f'{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"odd","annotations":{{"x":{constant}}}}}}}')
    headers["Content-Type"] = "application/merge-patch+json"
    patched = api.rest_client.pool_manager.request("PATCH", f"{base}/numbers", headers=headers,
                                                   body=f'{{"metadata":{{"labels":{{"n":{constant}}}}}}}')
    for answer in (created, patched):
        status = json.loads(answer.data)
        assert answer.status == 400 and status["reason"] == "BadRequest", status
        assert f"{constant} is not JSON" in status["message"]
    assert [c.metadata.name for c in core.list_namespaced_config_map("default").items] == ["numbers"]
    assert core.read_namespaced_config_map("numbers", "default").metadata.resource_version == version


def test_watchers_of_one_resource_each_get_the_event_in_their_own_shape(api: client.ApiClient) -> None:
    """Two JSON watchers and a table watcher (`kubectl get -w`) of ConfigMaps see one create: the JSON ones
    the same object, the table one its rows with the column headers, as the API server's watch cache
    sends each watcher the event in the encoding it asked for."""
    core = client.CoreV1Api(api)
    since = core.list_namespaced_config_map("default").metadata.resource_version
    url = f"{api.configuration.host}/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=2" \
          f"&resourceVersion={since}"
    token = api.configuration.get_api_key_with_prefix("BearerToken")
    accepts = ["application/json", "application/json", "application/json;as=Table;g=meta.k8s.io;v=v1"]
    lines: dict[int, list[dict[str, Any]]] = {}

    def watch_as(index: int, accept: str) -> None:
        answer = api.rest_client.pool_manager.request("GET", url, headers={"Authorization": token, "Accept": accept})
        lines[index] = [json.loads(line) for line in answer.data.decode().splitlines() if line]

    watchers = [threading.Thread(target=watch_as, args=(i, a)) for i, a in enumerate(accepts)]
    for w in watchers:
        w.start()
    time.sleep(0.5)
    core.create_namespaced_config_map("default", _configmap("seen", {"k": "v"}))
    for w in watchers:
        w.join(timeout=10)
    first, second, table = lines[0], lines[1], lines[2]
    assert [e["type"] for e in first] == ["ADDED"] and first == second
    assert first[0]["object"]["kind"] == "ConfigMap" and first[0]["object"]["data"] == {"k": "v"}
    assert [e["type"] for e in table] == ["ADDED"] and table[0]["object"]["kind"] == "Table"
    assert table[0]["object"]["columnDefinitions"] and table[0]["object"]["rows"][0]["cells"][0] == "seen"
