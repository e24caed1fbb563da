"""Custom resources: schema validation with field paths, pruning, strict field validation, CRD teardown."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.sandbox.conftest import WIDGET_CRD, widget

GROUP, VERSION, PLURAL = "example.com", "v1", "widgets"


@pytest.fixture
def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    client.ApiextensionsV1Api(api).create_custom_resource_definition(WIDGET_CRD)
    return client.CustomObjectsApi(api)


def test_schema_violation_is_422_with_field_paths(custom: client.CustomObjectsApi) -> None:
    """A CR that breaks its openAPIV3Schema is refused with 422 Invalid naming every bad field."""
    bad = widget("bad", size=0, color="purple")
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, bad)
    assert err.value.status == 422
    status = json.loads(err.value.body)
    assert status["reason"] == "Invalid"
    assert status["message"].startswith('Widget.example.com "bad" is invalid: [')
    assert status["details"]["kind"] == "Widget" and status["details"]["group"] == GROUP
    fields = {c["field"]: c["reason"] for c in status["details"]["causes"]}
    assert fields == {"spec.size": "FieldValueInvalid", "spec.color": "FieldValueNotSupported"}
    missing = widget("missing")
    del missing["spec"]["size"]
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, missing)
    assert json.loads(err.value.body)["details"]["causes"][0]["field"] == "spec.size"


def test_unknown_fields_are_pruned(custom: client.CustomObjectsApi) -> None:
    """Fields the schema does not declare are dropped silently, as the real server prunes them."""
    body = widget("w1")
    body["spec"]["extra"] = {"nested": True}
    body["topLevel"] = 1
    created = custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, body)
    assert "extra" not in created["spec"] and "topLevel" not in created
    assert created["spec"] == {"size": 3, "color": "red"}


def test_strict_field_validation_refuses_unknown_fields(custom: client.CustomObjectsApi) -> None:
    """With fieldValidation=Strict (kubectl's default) unknown fields are a 400 BadRequest."""
    body = widget("w1")
    body["spec"]["extra"] = 1
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, body, field_validation="Strict")
    assert err.value.status == 400 and 'unknown field \\"spec.extra\\"' in err.value.body


def test_deleting_a_crd_removes_its_objects_and_kind(api: client.ApiClient, custom: client.CustomObjectsApi) -> None:
    """Deleting a CRD deletes its custom objects and stops serving the kind."""
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w1"))
    client.ApiextensionsV1Api(api).delete_custom_resource_definition("widgets.example.com")
    with pytest.raises(ApiException) as err:
        custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)
    assert err.value.status == 404
    groups = [g.name for g in client.ApisApi(api).get_api_versions().groups]
    assert GROUP not in groups


def test_crd_name_must_match_names(api: client.ApiClient) -> None:
    """A CRD whose name is not <plural>.<group> is invalid, as on a real cluster."""
    crd = json.loads(json.dumps(WIDGET_CRD))
    crd["metadata"]["name"] = "wrong.example.com"
    with pytest.raises(ApiException) as err:
        client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
    assert err.value.status == 422 and "must be spec.names.plural" in err.value.body


def test_custom_resource_put_needs_resource_version(custom: client.CustomObjectsApi) -> None:
    """Custom resources refuse unconditional updates (no resourceVersion), like the real server."""
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w1"))
    with pytest.raises(ApiException) as err:
        custom.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1", widget("w1", size=4))
    assert err.value.status == 422 and "metadata.resourceVersion" in err.value.body


def test_an_update_is_checked_whole_however_little_it_changes(custom: client.CustomObjectsApi) -> None:
    """Updates skip walking what did not change since the object last passed its schema (sandbox/schema.py);
    what a real server refuses is still refused: a value equal in Python but not in JSON type (1 → true),
    a bad item appended to a list, an unknown field added beside unchanged ones (pruned)."""
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL,
                                           {**widget("w1", size=1), "spec": {"size": 1, "color": "red", "tags": ["a"]}})
    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1", {"spec": {"size": True}})
    assert err.value.status == 422
    assert [c["field"] for c in json.loads(err.value.body)["details"]["causes"]] == ["spec.size"]
    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1", {"spec": {"tags": ["a", 5]}})
    assert [c["field"] for c in json.loads(err.value.body)["details"]["causes"]] == ["spec.tags[1]"]
    patched = custom.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1",
                                                    {"spec": {"tags": ["a", "b"], "extra": {"x": 1}}})
    assert patched["spec"] == {"size": 1, "color": "red", "tags": ["a", "b"]}
    custom.patch_namespaced_custom_object_status(GROUP, VERSION, "default", PLURAL, "w1", {"status": {"phase": "Up"}})
    with pytest.raises(ApiException) as err:  # still whole after a status write moved its resourceVersion
        custom.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1", {"spec": {"size": 11}})
    assert [c["field"] for c in json.loads(err.value.body)["details"]["causes"]] == ["spec.size"]
    assert custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1")["spec"]["size"] == 1
