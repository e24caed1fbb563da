"""Tests for sandbox.schema against the real CRDs the operator writes, plus one case per keyword."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.schema import FieldError, prune_unknown_fields, validate_custom_object

SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "schemas"  # ../shared beside the repo


@cache
def crd_schema(relative: str, version: str = "") -> dict[str, Any]:
    crd = yaml.safe_load((SCHEMAS / relative).read_text())
    assert crd["kind"] == "CustomResourceDefinition"
    for served in crd["spec"]["versions"]:
        if not version or served["name"] == version:
            schema: dict[str, Any] = served["schema"]["openAPIV3Schema"]
            return schema
    raise LookupError(version)


def application() -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "shop", "namespace": "argocd", "labels": {"team": "a"}},
        "spec": {
            "project": "default",
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
            "source": {"repoURL": "https://git.example/shop.git", "path": "deploy", "targetRevision": "main"},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["CreateNamespace=true"],
            },
            "revisionHistoryLimit": 5,
        },
    }


def kustomization() -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "spec": {
            "interval": "10m0s",
            "prune": True,
            "path": "./apps",
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
            "targetNamespace": "shop",
            "postBuild": {"substitute": {"cluster": "dev"}},
        },
    }


def bucket() -> dict[str, Any]:
    return {
        "apiVersion": "s3.services.k8s.aws/v1alpha1",
        "kind": "Bucket",
        "metadata": {"name": "assets"},
        "spec": {"name": "shop-assets", "tagging": {"tagSet": [{"key": "team", "value": "a"}]}},
    }


def resource_group() -> dict[str, Any]:
    return {
        "apiVersion": "resources.azure.com/v1api20200601",
        "kind": "ResourceGroup",
        "metadata": {"name": "rg"},
        "spec": {"location": "westeurope", "tags": {"env": "dev"}},
    }


REAL = {
    "argocd": ("argocd/application-crd.yaml", application),
    "flux": ("flux/kustomizations.yaml", kustomization),
    "ack": ("ack/s3-buckets.yaml", bucket),
    "aso": ("aso/resourcegroups.yaml", resource_group),
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_valid_real_objects_pass(name: str) -> None:
    path, make = REAL[name]
    assert validate_custom_object(make(), crd_schema(path)) == []


def _without(obj: dict[str, Any], *path: str) -> dict[str, Any]:
    result = copy.deepcopy(obj)
    parent = result
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return result


def _with(obj: dict[str, Any], value: Any, *path: str | int) -> dict[str, Any]:
    result = copy.deepcopy(obj)
    parent: Any = result
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return result


REQUIRED = "Required value"

# (id, crd, object, expected errors)
INVALID_REAL: list[tuple[str, str, dict[str, Any], list[FieldError]]] = [
    (
        "argocd-missing-project",
        "argocd",
        _without(application(), "spec", "project"),
        [FieldError("spec.project", "FieldValueRequired", REQUIRED)],
    ),
    (
        "argocd-missing-nested-repoURL",
        "argocd",
        _without(application(), "spec", "source", "repoURL"),
        [FieldError("spec.source.repoURL", "FieldValueRequired", REQUIRED)],
    ),
    (
        "argocd-wrong-type-integer",
        "argocd",
        _with(application(), "five", "spec", "revisionHistoryLimit"),
        [
            FieldError(
                "spec.revisionHistoryLimit",
                "FieldValueTypeInvalid",
                'Invalid value: "string": spec.revisionHistoryLimit in body must be of type integer: "string"',
            )
        ],
    ),
    (
        "argocd-array-item-wrong-type",
        "argocd",
        _with(application(), [True], "spec", "syncPolicy", "syncOptions"),
        [
            FieldError(
                "spec.syncPolicy.syncOptions[0]",
                "FieldValueTypeInvalid",
                'Invalid value: "boolean": spec.syncPolicy.syncOptions[0] in body must be of type string: "boolean"',
            )
        ],
    ),
    (
        "argocd-missing-metadata-name",
        "argocd",
        _without(application(), "metadata", "name"),
        [
            FieldError(
                "metadata.name", "FieldValueRequired", "Required value: name or generateName is required"
            )
        ],
    ),
    (
        "flux-enum-violation",
        "flux",
        _with(kustomization(), "HelmRepository", "spec", "sourceRef", "kind"),
        [
            FieldError(
                "spec.sourceRef.kind",
                "FieldValueNotSupported",
                'Unsupported value: "HelmRepository": supported values: '
                '"OCIRepository", "GitRepository", "Bucket", "ExternalArtifact"',
            )
        ],
    ),
    (
        "flux-pattern-violation",
        "flux",
        _with(kustomization(), "ten minutes", "spec", "interval"),
        [
            FieldError(
                "spec.interval",
                "FieldValueInvalid",
                "Invalid value: \"ten minutes\": spec.interval in body should match '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$'",
            )
        ],
    ),
    (
        "flux-boolean-and-missing-sourceRef-name",
        "flux",
        _with(_without(kustomization(), "spec", "sourceRef", "name"), "yes", "spec", "prune"),
        [
            FieldError(
                "spec.prune",
                "FieldValueTypeInvalid",
                'Invalid value: "string": spec.prune in body must be of type boolean: "string"',
            ),
            FieldError("spec.sourceRef.name", "FieldValueRequired", REQUIRED),
        ],
    ),
    (
        "flux-too-long",
        "flux",
        _with(kustomization(), "x" * 64, "spec", "targetNamespace"),
        [FieldError("spec.targetNamespace", "FieldValueTooLong", "Too long: may not be more than 63 bytes")],
    ),
    (
        "ack-missing-name-and-nested-item-type",
        "ack",
        _with(_without(bucket(), "spec", "name"), 7, "spec", "tagging", "tagSet", 0, "key"),
        [
            FieldError("spec.name", "FieldValueRequired", REQUIRED),
            FieldError(
                "spec.tagging.tagSet[0].key",
                "FieldValueTypeInvalid",
                'Invalid value: "integer": spec.tagging.tagSet[0].key in body must be of type string: "integer"',
            ),
        ],
    ),
    (
        "aso-missing-location-and-tag-type",
        "aso",
        _with(_without(resource_group(), "spec", "location"), 1, "spec", "tags", "env"),
        [
            FieldError("spec.location", "FieldValueRequired", REQUIRED),
            FieldError(
                "spec.tags.env",
                "FieldValueTypeInvalid",
                'Invalid value: "integer": spec.tags.env in body must be of type string: "integer"',
            ),
        ],
    ),
]


@pytest.mark.parametrize(
    ("crd", "obj", "expected"), [c[1:] for c in INVALID_REAL], ids=[c[0] for c in INVALID_REAL]
)
def test_invalid_real_objects(crd: str, obj: dict[str, Any], expected: list[FieldError]) -> None:
    assert validate_custom_object(obj, crd_schema(REAL[crd][0])) == expected


@pytest.mark.parametrize("name", sorted(REAL))
def test_pruning_drops_unknown_fields_of_real_crds(name: str) -> None:
    path, make = REAL[name]
    valid = make()
    noisy = copy.deepcopy(valid)
    noisy["spec"]["unknownField"] = {"x": 1}
    noisy["topLevelJunk"] = True
    noisy["metadata"]["annotations"] = {"kept": "yes"}
    expected = copy.deepcopy(valid)
    expected["metadata"]["annotations"] = {"kept": "yes"}
    assert prune_unknown_fields(noisy, crd_schema(path)) == expected
    assert "unknownField" in noisy["spec"]  # input untouched


def test_pruning_nested_unknown_in_real_crd() -> None:
    obj = _with(application(), "nope", "spec", "source", "bogus")
    assert prune_unknown_fields(obj, crd_schema(REAL["argocd"][0])) == application()


# --- One case per keyword, on small schemas --------------------------------------------------


def _root(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": properties}}}


def _errors(schema: dict[str, Any], spec: Any) -> list[tuple[str, str, str]]:
    obj = {"metadata": {"name": "x"}, "spec": spec}
    return [(e.field, e.reason, e.message) for e in validate_custom_object(obj, schema)]


KEYWORD_CASES: list[tuple[str, dict[str, Any], Any, list[tuple[str, str, str]]]] = [
    ("integer-accepts-int", _root(n={"type": "integer"}), {"n": 3}, []),
    (
        "integer-rejects-float",
        _root(n={"type": "integer"}),
        {"n": 1.5},
        [
            (
                "spec.n",
                "FieldValueTypeInvalid",
                'Invalid value: "number": spec.n in body must be of type integer: "number"',
            )
        ],
    ),
    (
        "integer-rejects-bool",
        _root(n={"type": "integer"}),
        {"n": True},
        [
            (
                "spec.n",
                "FieldValueTypeInvalid",
                'Invalid value: "boolean": spec.n in body must be of type integer: "boolean"',
            )
        ],
    ),
    (
        "number-accepts-int-and-float",
        _root(a={"type": "number"}, b={"type": "number"}),
        {"a": 1, "b": 0.5},
        [],
    ),
    (
        "null-not-nullable",
        _root(s={"type": "string"}),
        {"s": None},
        [
            (
                "spec.s",
                "FieldValueTypeInvalid",
                'Invalid value: "null": spec.s in body must be of type string: "null"',
            )
        ],
    ),
    ("null-nullable", _root(s={"type": "string", "nullable": True}), {"s": None}, []),
    (
        "int-or-string",
        _root(p={"x-kubernetes-int-or-string": True}, q={"x-kubernetes-int-or-string": True}),
        {"p": 80, "q": "http"},
        [],
    ),
    (
        "int-or-string-rejects-bool",
        _root(p={"x-kubernetes-int-or-string": True}),
        {"p": False},
        [
            (
                "spec.p",
                "FieldValueTypeInvalid",
                'Invalid value: "boolean": spec.p in body must be of type integer,string: "boolean"',
            )
        ],
    ),
    (
        "enum-number",
        _root(n={"type": "integer", "enum": [1, 2]}),
        {"n": 3},
        [("spec.n", "FieldValueNotSupported", 'Unsupported value: 3: supported values: "1", "2"')],
    ),
    (
        "minimum-and-exclusive-maximum",
        _root(
            a={"type": "integer", "minimum": 1}, b={"type": "number", "maximum": 10, "exclusiveMaximum": True}
        ),
        {"a": 0, "b": 10},
        [
            (
                "spec.a",
                "FieldValueInvalid",
                "Invalid value: 0: spec.a in body should be greater than or equal to 1",
            ),
            ("spec.b", "FieldValueInvalid", "Invalid value: 10: spec.b in body should be less than 10"),
        ],
    ),
    (
        "min-length",
        _root(s={"type": "string", "minLength": 3}),
        {"s": "ab"},
        [
            (
                "spec.s",
                "FieldValueInvalid",
                'Invalid value: "ab": spec.s in body should be at least 3 chars long',
            )
        ],
    ),
    (
        "min-and-max-items",
        _root(
            a={"type": "array", "minItems": 2, "items": {"type": "string"}},
            b={"type": "array", "maxItems": 1},
        ),
        {"a": ["x"], "b": [1, 2]},
        [
            (
                "spec.a",
                "FieldValueInvalid",
                'Invalid value: ["x"]: spec.a in body should have at least 2 items',
            ),
            ("spec.b", "FieldValueTooMany", "Too many: 2: must have at most 1 item"),
        ],
    ),
    (
        "unique-items",
        _root(a={"type": "array", "uniqueItems": True}),
        {"a": [1, 1]},
        [
            (
                "spec.a",
                "FieldValueInvalid",
                "Invalid value: [1,1]: spec.a in body shouldn't contain duplicates",
            )
        ],
    ),
    (
        "list-type-set",
        _root(a={"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}),
        {"a": ["x", "y", "x"]},
        [("spec.a[2]", "FieldValueDuplicate", 'Duplicate value: "x"')],
    ),
    (
        "list-type-map",
        _root(
            a={
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "v": {"type": "integer"}},
                },
            }
        ),
        {"a": [{"name": "p", "v": 1}, {"v": 2}, {"name": "p", "v": 3}]},
        [
            ("spec.a[1].name", "FieldValueRequired", "Required value"),
            ("spec.a[2]", "FieldValueDuplicate", 'Duplicate value: {"name":"p"}'),
        ],
    ),
    (
        "additional-properties-schema",
        _root(m={"type": "object", "additionalProperties": {"type": "integer"}}),
        {"m": {"a": 1, "b": "2"}},
        [
            (
                "spec.m.b",
                "FieldValueTypeInvalid",
                'Invalid value: "string": spec.m.b in body must be of type integer: "string"',
            )
        ],
    ),
    (
        "date-time-format",
        _root(t={"type": "string", "format": "date-time"}, u={"type": "string", "format": "date-time"}),
        {"t": "2024-05-01T10:00:00Z", "u": "yesterday"},
        [
            (
                "spec.u",
                "FieldValueTypeInvalid",
                'Invalid value: "yesterday": spec.u in body must be of type date-time: "yesterday"',
            )
        ],
    ),
    (
        "embedded-resource-needs-apiVersion-and-kind",
        _root(
            tpl={
                "type": "object",
                "x-kubernetes-embedded-resource": True,
                "x-kubernetes-preserve-unknown-fields": True,
            }
        ),
        {"tpl": {"apiVersion": "", "kind": "ConfigMap", "data": {}}},
        [("spec.tpl.apiVersion", "FieldValueRequired", "Required value: must not be empty")],
    ),
    (
        "one-of-none",
        _root(
            v={
                "type": "object",
                "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
            }
        ),
        {"v": {}},
        [
            (
                "spec.v",
                "FieldValueInvalid",
                "Invalid value: {}: spec.v in body must validate one and only one schema (oneOf)",
            ),
            ("spec.v.a", "FieldValueRequired", "Required value"),
        ],
    ),
    (
        "one-of-exactly-one-and-any-of-ok",
        _root(
            v={
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
                "anyOf": [{"required": ["a"]}],
            }
        ),
        {"v": {"a": "x"}},
        [],
    ),
    (
        "all-of-and-not",
        _root(s={"type": "string", "allOf": [{"maxLength": 2}], "not": {"enum": ["no"]}}),
        {"s": "no"},
        [
            (
                "spec.s",
                "FieldValueInvalid",
                'Invalid value: "no": spec.s in body must not validate the schema (not)',
            )
        ],
    ),
    (
        "preserve-unknown-without-type-accepts-anything",
        _root(x={"x-kubernetes-preserve-unknown-fields": True}),
        {"x": [1, {"a": None}]},
        [],
    ),
]


@pytest.mark.parametrize(
    ("schema", "spec", "expected"), [c[1:] for c in KEYWORD_CASES], ids=[c[0] for c in KEYWORD_CASES]
)
def test_keywords(schema: dict[str, Any], spec: Any, expected: list[tuple[str, str, str]]) -> None:
    assert _errors(schema, spec) == expected


def test_pruning_respects_preserve_unknown_embedded_and_additional_properties() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "free": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                        "properties": {"known": {"type": "object"}},
                    },
                    "tpl": {
                        "type": "object",
                        "x-kubernetes-embedded-resource": True,
                        "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}},
                    },
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "items": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                    },
                    "closed": {"type": "object"},
                },
            }
        },
    }
    obj = {
        "apiVersion": "x/v1",
        "kind": "X",
        "metadata": {"name": "x", "labels": {"a": "b"}},
        "spec": {
            "free": {"anything": {"deep": 1}, "known": {"dropped": 1}},
            "tpl": {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "c"},
                "spec": {"a": "1", "b": "2"},
                "junk": 1,
            },
            "labels": {"k": "v"},
            "items": [{"name": "a", "extra": 1}],
            "closed": {"gone": True},
        },
        "status": {"phase": "x"},
    }
    assert prune_unknown_fields(obj, schema) == {
        "apiVersion": "x/v1",
        "kind": "X",
        "metadata": {"name": "x", "labels": {"a": "b"}},
        "spec": {
            "free": {"anything": {"deep": 1}, "known": {}},
            "tpl": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "spec": {"a": "1"}},
            "labels": {"k": "v"},
            "items": [{"name": "a"}],
            "closed": {},
        },
    }


def test_generate_name_satisfies_metadata_name() -> None:
    obj = {"metadata": {"generateName": "x-"}, "spec": {}}
    assert validate_custom_object(obj, _root()) == []


def test_pattern_python_cannot_compile_is_not_enforced() -> None:
    assert _errors(_root(s={"type": "string", "pattern": "(?<bad"}), {"s": "x"}) == []


def test_too_long_singular_and_max_properties() -> None:
    schema = _root(
        s={"type": "string", "maxLength": 1},
        m={"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}},
    )
    assert _errors(schema, {"s": "ab", "m": {"a": "1", "b": "2"}}) == [
        ("spec.s", "FieldValueTooLong", "Too long: may not be more than 1 byte"),
        ("spec.m", "FieldValueTooMany", "Too many: 2: must have at most 1 item"),
    ]
