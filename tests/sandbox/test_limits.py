"""The size limits of a real API server and etcd, and ObjectMeta validation of labels and annotations.

What a real cluster shows: request bodies over 3 MiB are answered 413 `Request entity too large:
limit is 3145728`; a write whose stored object exceeds etcd's 1.5 MiB is answered 500 `etcdserver:
request is too large` (after creates and updates were retried without managedFields); annotations
over 256 KiB in total and label keys/values that are not valid are 422 with apimachinery's messages;
a JSON patch of more than 10000 operations is 413. Nothing refused is stored.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from sandbox.limits import MAX_STORED_OBJECT_BYTES
from sandbox.server import SandboxServer
from tests.sandbox.conftest import Kubectl, as_json, deployment

BLOB_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "blobs.example.com"},
    "spec": {
        "group": "example.com", "scope": "Namespaced",
        "names": {"plural": "blobs", "singular": "blob", "kind": "Blob"},
        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": {"text": {"type": "string"}}}},
        }}}],
    },
}


def _blob(name: str, size: int) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Blob", "metadata": {"name": name, "namespace": "default"},
            "spec": {"text": "x" * size}}


@pytest.fixture
def blobs(api: client.ApiClient) -> client.CustomObjectsApi:
    client.ApiextensionsV1Api(api).create_custom_resource_definition(BLOB_CRD)
    return client.CustomObjectsApi(api)


def test_request_body_over_3_mib_is_413(kubectl: Kubectl, tmp_path: Path) -> None:
    """`kubectl create configmap --from-file` of 3.5 MiB is refused before anything is decoded or stored."""
    big = tmp_path / "big.txt"
    big.write_text("y" * (3 * 1024 * 1024 + 512 * 1024))
    refused = kubectl("create", "configmap", "big", f"--from-file={big}", check=False)
    assert refused.returncode == 1
    assert "failed to create configmap: Request entity too large: limit is 3145728" in refused.stderr
    assert "NotFound" in kubectl("get", "configmap", "big", check=False).stderr


def test_stored_object_over_1_5_mib_is_refused_as_etcd_refuses_it(blobs: client.CustomObjectsApi) -> None:
    """A 1.6 MiB custom object fits in a request but not in etcd: 500 with etcd's message, nothing stored."""
    with pytest.raises(ApiException) as err:
        blobs.create_namespaced_custom_object("example.com", "v1", "default", "blobs", _blob("huge", 1600 * 1024))
    assert err.value.status == 500
    status = json.loads(err.value.body)
    assert status["message"] == "etcdserver: request is too large" and "reason" not in status
    assert blobs.list_namespaced_custom_object("example.com", "v1", "default", "blobs")["items"] == []
    small = blobs.create_namespaced_custom_object("example.com", "v1", "default", "blobs", _blob("fits", 1400 * 1024))
    grown = copy.deepcopy(small)
    grown["spec"]["text"] = "x" * (1600 * 1024)
    with pytest.raises(ApiException) as err:
        blobs.replace_namespaced_custom_object("example.com", "v1", "default", "blobs", "fits", grown)
    assert err.value.status == 500
    kept = blobs.get_namespaced_custom_object("example.com", "v1", "default", "blobs", "fits")
    assert len(kept["spec"]["text"]) == 1400 * 1024
    assert kept["metadata"]["resourceVersion"] == small["metadata"]["resourceVersion"]


def test_a_write_too_large_only_with_managed_fields_is_stored_without_them(
        sandbox: SandboxServer, blobs: client.CustomObjectsApi) -> None:
    """As the apiserver does, an update that fits only without managedFields is retried and stored without them."""
    base = blobs.create_namespaced_custom_object("example.com", "v1", "default", "blobs", _blob("edge", 10))
    overhead = len(json.dumps(base, separators=(",", ":"))) - 10
    updated = copy.deepcopy(base)
    managed = [{"manager": f"m{i}", "operation": "Update", "apiVersion": "example.com/v1", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:annotations": {f"f:note{i}": {}}}}} for i in range(200)]
    updated["metadata"]["managedFields"] = managed
    updated["spec"]["text"] = "x" * (MAX_STORED_OBJECT_BYTES - overhead - 200)
    stored = blobs.replace_namespaced_custom_object("example.com", "v1", "default", "blobs", "edge", updated)
    assert "managedFields" not in stored["metadata"]
    assert len(stored["spec"]["text"]) == len(updated["spec"]["text"])


def test_server_side_apply_too_large_is_refused(blobs: client.CustomObjectsApi) -> None:
    """Server-side apply gets etcd's refusal as is (the apiserver retries only creates and updates)."""
    with pytest.raises(ApiException) as err:
        blobs.patch_namespaced_custom_object("example.com", "v1", "default", "blobs", "applied",
                                             _blob("applied", 1600 * 1024), field_manager="test",
                                             _content_type="application/apply-patch+yaml")
    assert err.value.status == 500 and "etcdserver: request is too large" in err.value.body


def test_annotations_over_256_kib_in_total_are_422(kubectl: Kubectl) -> None:
    """Three annotations of 100 000 bytes each: fine one by one, refused together, with the real message."""
    kubectl("create", "configmap", "notes")
    values = [f"note{i}={'n' * 100_000}" for i in range(3)]
    kubectl("annotate", "configmap", "notes", *values[:2])
    refused = kubectl("annotate", "configmap", "notes", values[2], check=False)
    assert refused.returncode == 1
    assert ('The ConfigMap "notes" is invalid: metadata.annotations: Too long: may not be more than 262144 bytes'
            in refused.stderr)
    annotations = as_json(kubectl("get", "configmap", "notes", "-o", "json"))["metadata"]["annotations"]
    assert sorted(annotations) == ["note0", "note1"]


def test_label_values_and_keys_are_validated(kubectl: Kubectl, tmp_path: Path) -> None:
    """A 64-byte label value, a value with a space and a key with two slashes are 422 with apimachinery's words."""
    kubectl("create", "configmap", "tagged")
    patch = json.dumps({"metadata": {"labels": {"tier": "a" * 64}}})  # `kubectl label` would refuse it itself
    long_value = kubectl("patch", "configmap", "tagged", "--type", "merge", "-p", patch, check=False)
    assert long_value.returncode == 1
    assert (f'The ConfigMap "tagged" is invalid: metadata.labels: Invalid value: "{"a" * 64}": '
            "must be no more than 63 bytes") in long_value.stderr
    manifest = deployment("web", labels={"app": "web"})
    manifest["metadata"]["labels"]["a/b/c"] = "x"
    manifest["spec"]["template"]["metadata"]["labels"]["team"] = "blue team"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(manifest))
    refused = kubectl("apply", "-f", str(path), check=False)
    assert refused.returncode == 1
    assert ('metadata.labels: Invalid value: "a/b/c": a valid label key must consist of alphanumeric characters, '
            "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
            "'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') "
            "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')") in refused.stderr
    assert ('spec.template.metadata.labels: Invalid value: "blue team": a valid label must be an empty string or '
            "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
            "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')") in refused.stderr
    assert "NotFound" in kubectl("get", "deployment", "web", check=False).stderr


def test_json_patch_of_more_than_10000_operations_is_413(kubectl: Kubectl, tmp_path: Path) -> None:
    """`kubectl patch --type json` with 10001 operations is refused as too large; 10000 are applied."""
    kubectl("create", "configmap", "counted")
    ops = [{"op": "add", "path": f"/data/k{i}", "value": "v"} for i in range(10001)]
    path = tmp_path / "patch.json"
    path.write_text(json.dumps([{"op": "add", "path": "/data", "value": {}}, *ops]))
    refused = kubectl("patch", "configmap", "counted", "--type", "json", "--patch-file", str(path), check=False)
    assert ("Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10002"
            in refused.stderr)
    path.write_text(json.dumps([{"op": "add", "path": "/data", "value": {}}, *ops[:9999]]))
    kubectl("patch", "configmap", "counted", "--type", "json", "--patch-file", str(path))
    assert len(as_json(kubectl("get", "configmap", "counted", "-o", "json"))["data"]) == 9999
