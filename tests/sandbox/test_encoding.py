"""One version of an object, one JSON text: what the sandbox sends for it is the object it stored.

The API server encodes each stored version once and sends those bytes in the write's response, to later
GETs and on every watch; the sandbox does too (`Store.text`). These tests read the raw bytes the
official client's connection pool receives, so a stale text (a dry run's, another served version's, an
object changed after it was stored) would show as a body that differs from the object's real state.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from typing import Any

from kubernetes import client

from sandbox.jsoncopy import compact
from sandbox.server import SandboxServer
from tests.sandbox.conftest import DEPLOYMENT_YAML, WIDGET_CRD, Kubectl, widget


def _two_version_crd() -> dict[str, Any]:
    """Widgets stored as v1 and also served as v1beta1 (conversion None: only apiVersion differs)."""
    crd = copy.deepcopy(WIDGET_CRD)
    beta = copy.deepcopy(crd["spec"]["versions"][0])
    beta.update(name="v1beta1", storage=False)
    crd["spec"]["versions"].append(beta)
    return crd


class Raw:
    """Requests through the official client's own connection pool, answered as bytes."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.auth = api.configuration.get_api_key_with_prefix("BearerToken")

    def __call__(self, method: str, path: str, body: Any = None, ctype: str = "application/json",
                 status: int = 200, accept: str = "application/json") -> bytes:
        headers = {"Authorization": self.auth, "Content-Type": ctype, "Accept": accept}
        answer = self.api.rest_client.pool_manager.request(
            method, f"{self.api.configuration.host}{path}", headers=headers,
            body=None if body is None else json.dumps(body))
        assert answer.status == status, (method, path, answer.status, answer.data[:500])
        return bytes(answer.data)

    def watch(self, path: str, since: str, into: list[dict[str, Any]], count: int,
              accept: str = "application/json") -> None:
        """The first `count` lines of a watch from `since` (or as many as come within 30 s)."""
        query = f"watch=true&timeoutSeconds=30&resourceVersion={since}"
        answer = self.api.rest_client.pool_manager.request(
            "GET", f"{self.api.configuration.host}{path}?{query}",
            headers={"Authorization": self.auth, "Accept": accept}, preload_content=False)
        pending = b""
        try:
            for chunk in answer.stream(4096):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                into.extend(json.loads(line) for line in lines if line)
                if len(into) >= count:
                    return
        finally:
            answer.close()


def _watch(raw: Raw, path: str, since: str, into: list[dict[str, Any]], count: int,
           accept: str = "application/json") -> threading.Thread:
    thread = threading.Thread(target=raw.watch, args=(path, since, into, count, accept))
    thread.start()
    return thread


def test_every_answer_about_a_version_is_that_version(api: client.ApiClient) -> None:
    """Create, merge patch, JSON patch, status patch, a no-op and a dry run of a Widget served as v1 and
    v1beta1: each write's response, a GET at that moment and the watch line of that version are the same
    object; the dry run's response shows its change, while GET and the watch never do."""
    raw = Raw(api)
    client.ApiextensionsV1Api(api).create_custom_resource_definition(_two_version_crd())
    time.sleep(0.2)
    base = "/apis/example.com/{version}/namespaces/default/widgets"
    v1, beta = base.format(version="v1"), base.format(version="v1beta1")
    since = json.loads(raw("GET", v1))["metadata"]["resourceVersion"]
    seen: dict[str, list[dict[str, Any]]] = {"v1": [], "v1beta1": []}
    watchers = [_watch(raw, v1, since, seen["v1"], 4), _watch(raw, beta, since, seen["v1beta1"], 4)]
    time.sleep(0.5)

    answers = [raw("POST", v1, widget("w", size=2), status=201)]
    answers.append(raw("PATCH", f"{v1}/w", {"spec": {"size": 3}}, "application/merge-patch+json"))
    dry = raw("PATCH", f"{v1}/w?dryRun=All", {"spec": {"size": 9}}, "application/merge-patch+json")
    answers.append(raw("PATCH", f"{beta}/w", [{"op": "add", "path": "/spec/tags", "value": ["a"]}],
                       "application/json-patch+json"))
    answers.append(raw("PATCH", f"{v1}/w/status", {"status": {"phase": "Ready"}},
                       "application/merge-patch+json"))
    # Through v1beta1 as the JSON patch was, so not even managedFields change.
    noop = raw("PATCH", f"{beta}/w", {"spec": {"size": 3}}, "application/merge-patch+json")
    current = {"v1": raw("GET", f"{v1}/w"), "v1beta1": raw("GET", f"{beta}/w")}
    for w in watchers:
        w.join(timeout=40)

    assert json.loads(dry)["spec"]["size"] == 9
    assert json.loads(current["v1"])["spec"]["size"] == 3
    assert json.loads(noop) == json.loads(current["v1beta1"])
    for version, body in current.items():
        got = json.loads(body)
        assert got["apiVersion"] == f"example.com/{version}"
        assert got["status"] == {"phase": "Ready"} and got["spec"]["tags"] == ["a"]
        # The bytes are those of the object as this version serves it, apiVersion and kind first.
        assert body.decode() == compact(got) and list(got)[:2] == ["apiVersion", "kind"]
    by_version = {json.loads(a)["metadata"]["resourceVersion"]: json.loads(a) for a in answers}
    assert len(by_version) == 4
    for version, events in seen.items():
        assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "MODIFIED", "MODIFIED"], events
        assert all(e["object"]["spec"]["size"] != 9 for e in events)
        for event in events:
            shown = event["object"]
            answered = by_version[shown["metadata"]["resourceVersion"]]
            assert shown == {**answered, "apiVersion": f"example.com/{version}"}
    assert seen["v1"][-1]["object"] == json.loads(current["v1"])
    assert seen["v1beta1"][-1]["object"] == json.loads(current["v1beta1"])


def test_an_event_is_watched_and_read_in_each_of_its_two_shapes(api: client.ApiClient) -> None:
    """An Event stored once is sent as core/v1 (message) to one watcher and as events.k8s.io/v1 (note) to
    the other, and a GET of each shape answers the same as its watch line."""
    raw = Raw(api)
    core, new = "/api/v1/namespaces/default/events", "/apis/events.k8s.io/v1/namespaces/default/events"
    since = json.loads(raw("GET", core))["metadata"]["resourceVersion"]
    seen: dict[str, list[dict[str, Any]]] = {"core": [], "new": []}
    watchers = [_watch(raw, core, since, seen["core"], 2), _watch(raw, new, since, seen["new"], 2)]
    time.sleep(0.5)
    pod = {"kind": "Pod", "name": "web", "namespace": "default"}
    raw("POST", core, {"metadata": {"name": "pulled"}, "message": "pulled nginx", "reason": "Pulled",
                       "type": "Normal", "involvedObject": pod}, status=201)
    raw("PATCH", f"{core}/pulled", {"message": "pulled nginx again"}, "application/merge-patch+json")
    read = {"core": json.loads(raw("GET", f"{core}/pulled")), "new": json.loads(raw("GET", f"{new}/pulled"))}
    for w in watchers:
        w.join(timeout=40)
    assert [e["type"] for e in seen["core"]] == ["ADDED", "MODIFIED"]
    assert [e["type"] for e in seen["new"]] == ["ADDED", "MODIFIED"]
    assert read["core"]["message"] == "pulled nginx again" and "note" not in read["core"]
    assert read["new"]["note"] == "pulled nginx again" and "message" not in read["new"]
    assert seen["core"][-1]["object"] == read["core"] and seen["new"][-1]["object"] == read["new"]


def test_metadata_alone_when_the_client_asks_for_it(api: client.ApiClient) -> None:
    """Accept `as=PartialObjectMetadata` (client-go's metadata client; the operator's status writes, with
    plain JSON as the fallback): a patch of the status, a GET, a list and a watch answer with the object's
    metadata alone, its resourceVersion that of the write; without it, the whole object as before."""
    raw = Raw(api)
    client.ApiextensionsV1Api(api).create_custom_resource_definition(WIDGET_CRD)
    time.sleep(0.2)
    path = "/apis/example.com/v1/namespaces/default/widgets"
    metadata = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json;q=0.9"
    raw("POST", path, widget("w"), status=201)
    since = json.loads(raw("GET", f"{path}/w"))["metadata"]["resourceVersion"]
    lines: list[dict[str, Any]] = []
    full: list[dict[str, Any]] = []  # a watcher of whole objects beside it: each gets its own lines
    watchers = [_watch(raw, path, since, lines, 1, accept=metadata), _watch(raw, path, since, full, 1)]
    time.sleep(0.5)
    status = {"status": {"phase": "Ready", "notes": ["x" * 5000]}}
    written = json.loads(raw("PATCH", f"{path}/w/status", status, "application/merge-patch+json",
                             accept=metadata))
    for w in watchers:
        w.join(timeout=40)
    assert written == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                       "metadata": written["metadata"]} and written["metadata"]["name"] == "w"
    whole = json.loads(raw("GET", f"{path}/w"))
    assert whole["status"]["phase"] == "Ready"
    assert written["metadata"] == whole["metadata"]
    got = json.loads(raw("GET", f"{path}/w", accept=metadata))
    assert got["kind"] == "PartialObjectMetadata" and "status" not in got
    assert got["metadata"] == whole["metadata"]
    as_list = metadata.replace("PartialObjectMetadata", "PartialObjectMetadataList")
    listed = json.loads(raw("GET", path, accept=as_list))
    assert listed["kind"] == "PartialObjectMetadataList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["w"] and "spec" not in listed["items"][0]
    assert [line["type"] for line in lines] == ["MODIFIED"]
    assert lines[0]["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                  "metadata": whole["metadata"]}
    assert full[0]["object"] == whole


def test_no_stored_object_is_changed_after_it_was_stored(sandbox: SandboxServer, kubectl: Kubectl) -> None:
    """A Deployment rolled out by the simulated cluster (ReplicaSets, Pods, the scheduler, the kubelet's
    status writes), scaled and its pods deleted, and a Widget appended to, merge-patched and given a status
    (the writes that share unchanged parts with the stored version): afterwards every stored object is
    still what its text says, so no writer changed an object in place once the store had encoded it (that
    would make GETs and watches send an older state than the object holds)."""
    kubectl("apply", "-f", "-", stdin=json.dumps(WIDGET_CRD))
    kubectl("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=30s")
    kubectl("apply", "-f", "-", stdin=json.dumps({**widget("w"), "spec": {"size": 2, "tags": ["a"]}}))
    for _ in range(3):
        kubectl("patch", "widget", "w", "--type", "json",
                "-p", '[{"op":"add","path":"/spec/tags/-","value":"b"}]')
        kubectl("patch", "widget", "w", "--subresource", "status", "--type", "merge",
                "-p", '{"status":{"phase":"Ready","seen":{"count":1}}}')
        kubectl("patch", "widget", "w", "--type", "merge", "-p", '{"spec":{"color":"blue"}}')
    assert len(json.loads(kubectl("get", "widget", "w", "-o", "json").stdout)["spec"]["tags"]) == 4
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT_YAML)
    kubectl("rollout", "status", "deployment/web", "-n", "shop", "--timeout=60s")
    kubectl("scale", "deployment/web", "-n", "shop", "--replicas=3")
    kubectl("rollout", "status", "deployment/web", "-n", "shop", "--timeout=60s")
    kubectl("set", "env", "deployment/web", "-n", "shop", "MODE=green")
    kubectl("rollout", "status", "deployment/web", "-n", "shop", "--timeout=60s")
    kubectl("delete", "pod", "-n", "shop", "-l", "app=web", "--wait=false")
    time.sleep(1)
    store = sandbox.store

    def stale() -> tuple[int, list[Any]]:  # on the server's loop, between two writes
        keys = store.all_keys()
        return len(keys), [k for k in keys if store.text(k) != compact(store.peek(k))]

    count, differing = sandbox.call(stale)
    assert count > 20 and differing == []
