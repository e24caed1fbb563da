"""Pure pieces of the sandbox: selectors, URL parsing, printer columns, protobuf decoding."""

from __future__ import annotations

import pytest

from sandbox.errors import ApiError
from sandbox.paths import parse_request
from sandbox.protobuf import MAGIC, decode_body
from sandbox.selectors import make_matcher, parse_label_selector
from sandbox.tables import human_duration, jsonpath


def _obj(labels: dict[str, str], name: str = "x", **fields: object) -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": "ns", "labels": labels}, **fields}


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "web"}, True),
    ("app!=web", {"app": "db"}, True),
    ("app!=web", {}, True),
    ("app in (web, db)", {"app": "db"}, True),
    ("app notin (web,db)", {"app": "db"}, False),
    ("app notin (web,db)", {}, True),
    ("app", {"app": ""}, True),
    ("!app", {"app": "x"}, False),
    ("app=web,tier in (front)", {"app": "web", "tier": "back"}, False),
    ("", {}, True),
])
def test_label_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    """Every label selector operator kubectl -l accepts filters like the apiserver."""
    assert make_matcher(selector, None)(_obj(labels)) is expected


def test_field_selectors() -> None:
    """Field selectors match metadata and nested fields such as an Event's involvedObject."""
    event = _obj({}, name="e1", involvedObject={"name": "web", "kind": "Pod"})
    assert make_matcher(None, "metadata.name=e1,involvedObject.kind=Pod")(event)
    assert not make_matcher(None, "involvedObject.name!=web")(event)
    with pytest.raises(ApiError):
        make_matcher(None, "nonsense")


def test_bad_label_selector_is_400() -> None:
    """A malformed `in` clause is a 400 BadRequest, not a crash."""
    with pytest.raises(ApiError) as err:
        parse_label_selector("app in web")
    assert err.value.code == 400


@pytest.mark.parametrize(("method", "path", "watch", "expected"), [
    ("GET", "/api/v1/namespaces", False, ("list", "", "namespaces", "", "")),
    ("GET", "/api/v1/namespaces/shop", False, ("get", "shop", "namespaces", "shop", "")),
    ("PUT", "/api/v1/namespaces/shop/status", False, ("update", "shop", "namespaces", "shop", "status")),
    ("GET", "/api/v1/namespaces/shop/pods", True, ("watch", "shop", "pods", "", "")),
    ("GET", "/api/v1/namespaces/shop/pods/p/log", False, ("get", "shop", "pods", "p", "log")),
    ("PATCH", "/apis/apps/v1/namespaces/shop/deployments/web/scale", False,
     ("patch", "shop", "deployments", "web", "scale")),
    ("DELETE", "/apis/apps/v1/namespaces/shop/deployments", False, ("deletecollection", "shop", "deployments", "",
                                                                     "")),
    ("GET", "/apis/apps/v1/watch/namespaces/shop/deployments", False, ("watch", "shop", "deployments", "", "")),
])
def test_request_parsing(method: str, path: str, watch: bool, expected: tuple[str, ...]) -> None:
    """URLs map to verb/namespace/resource/name/subresource as the apiserver's RequestInfo does."""
    info = parse_request(method, path, watch)
    assert info.is_resource
    assert (info.verb, info.namespace, info.resource, info.name, info.subresource) == expected


def test_discovery_paths_are_non_resource() -> None:
    """Discovery URLs are non-resource requests (authorized by path)."""
    for path in ("/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/version"):
        assert not parse_request("GET", path, False).is_resource


def test_printer_column_helpers() -> None:
    """Ages read like kubectl's, and printer-column JSONPaths reach into lists."""
    assert [human_duration(s) for s in (5, 130, 3700, 90000, 86400 * 40)] == ["5s", "2m10s", "61m", "25h", "40d"]
    obj = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    assert jsonpath(obj, ".status.conditions[0].status") == "True"
    assert jsonpath(obj, ".status.missing.x") is None


def _field(number: int, payload: bytes) -> bytes:
    return bytes([(number << 3) | 2, len(payload)]) + payload


def test_protobuf_ssar_body() -> None:
    """kubectl's protobuf SelfSubjectAccessReview body decodes to the JSON it stands for."""
    attrs = _field(1, b"shop") + _field(2, b"patch") + _field(3, b"apps") + _field(5, b"deployments")
    inner = _field(2, _field(1, attrs))
    envelope = _field(1, _field(1, b"authorization.k8s.io/v1") + _field(2, b"SelfSubjectAccessReview")) + \
        _field(2, inner)
    body = decode_body(MAGIC + envelope)
    assert body["kind"] == "SelfSubjectAccessReview"
    assert body["spec"]["resourceAttributes"] == {"namespace": "shop", "verb": "patch", "group": "apps",
                                                  "resource": "deployments"}
