"""Table tests for sandbox.patching: merge patch, JSON patch and strategic merge patch."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sandbox.patching import (
    MERGE_KEYS,
    PatchError,
    apply_json_merge_patch,
    apply_json_patch,
    apply_strategic_merge_patch,
    merge_key_for,
    merge_patch_sharing,
)


def _deployment(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {**spec, "template": {"spec": {"containers": containers}}},
    }


def _pod_spec(spec: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": spec}}}


# (id, api_version, kind, target, patch, expected)
STRATEGIC_CASES: list[tuple[str, str, str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    (
        "kubectl-apply-second-time-image-edit-and-container-removed",
        "apps/v1",
        "Deployment",
        _deployment(
            [
                {"name": "app", "image": "app:1", "terminationMessagePath": "/dev/termination-log"},
                {"name": "sidecar", "image": "side:1"},
            ]
        ),
        _pod_spec(
            {
                "$setElementOrder/containers": [{"name": "app"}],
                "containers": [{"image": "app:2", "name": "app"}, {"$patch": "delete", "name": "sidecar"}],
            }
        ),
        _deployment([{"name": "app", "image": "app:2", "terminationMessagePath": "/dev/termination-log"}]),
    ),
    (
        "set-element-order-keeps-server-only-container-in-its-live-place",
        "apps/v1",
        "Deployment",
        _deployment([{"name": "istio-proxy"}, {"name": "app", "image": "app:1"}, {"name": "old"}]),
        _pod_spec(
            {
                "$setElementOrder/containers": [{"name": "app"}, {"name": "new"}],
                "containers": [{"name": "new", "image": "new:1"}, {"$patch": "delete", "name": "old"}],
            }
        ),
        _deployment(
            [{"name": "istio-proxy"}, {"name": "app", "image": "app:1"}, {"name": "new", "image": "new:1"}]
        ),
    ),
    (
        "set-element-order-reorders-containers",
        "apps/v1",
        "Deployment",
        _deployment([{"name": "a"}, {"name": "b"}]),
        _pod_spec({"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}),
        _deployment([{"name": "b"}, {"name": "a"}]),
    ),
    (
        "env-var-added-and-removed-by-kubectl-apply",
        "apps/v1",
        "Deployment",
        _deployment([{"name": "app", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]),
        _pod_spec(
            {
                "$setElementOrder/containers": [{"name": "app"}],
                "containers": [
                    {
                        "name": "app",
                        "$setElementOrder/env": [{"name": "A"}, {"name": "C"}],
                        "env": [{"name": "C", "value": "3"}, {"$patch": "delete", "name": "B"}],
                    }
                ],
            }
        ),
        _deployment([{"name": "app", "env": [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]}]),
    ),
    (
        "env-value-changed-and-valueFrom-nulled",
        "apps/v1",
        "Deployment",
        _deployment([{"name": "app", "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s"}}}]}]),
        _pod_spec({"containers": [{"name": "app", "env": [{"name": "A", "value": "x", "valueFrom": None}]}]}),
        _deployment([{"name": "app", "env": [{"name": "A", "value": "x"}]}]),
    ),
    (
        "container-ports-merge-by-containerPort",
        "v1",
        "Pod",
        {"spec": {"containers": [{"name": "app", "ports": [{"containerPort": 80, "name": "http"}]}]}},
        {
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "ports": [
                            {"containerPort": 80, "protocol": "TCP"},
                            {"containerPort": 443},
                        ],
                    }
                ]
            }
        },
        {
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "ports": [
                            {"containerPort": 80, "name": "http", "protocol": "TCP"},
                            {"containerPort": 443},
                        ],
                    }
                ]
            }
        },
    ),
    (
        "service-ports-merge-by-port",
        "v1",
        "Service",
        {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 8443}]}},
        {"spec": {"ports": [{"port": 443, "targetPort": 9443}]}},
        {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 9443}]}},
    ),
    (
        "volumes-and-volume-mounts-merge-by-their-keys",
        "v1",
        "Pod",
        {
            "spec": {
                "volumes": [{"name": "data", "emptyDir": {}}],
                "containers": [{"name": "app", "volumeMounts": [{"mountPath": "/data", "name": "data"}]}],
            }
        },
        {
            "spec": {
                "volumes": [
                    {
                        "name": "data",
                        "emptyDir": None,
                        "$retainKeys": ["name", "configMap"],
                        "configMap": {"name": "cm"},
                    }
                ],
                "containers": [{"name": "app", "volumeMounts": [{"mountPath": "/data", "readOnly": True}]}],
            }
        },
        {
            "spec": {
                "volumes": [{"name": "data", "configMap": {"name": "cm"}}],
                "containers": [
                    {
                        "name": "app",
                        "volumeMounts": [
                            {"mountPath": "/data", "name": "data", "readOnly": True},
                        ],
                    }
                ],
            }
        },
    ),
    (
        "envFrom-args-and-tolerations-are-replaced",
        "v1",
        "Pod",
        {
            "spec": {
                "tolerations": [{"key": "a"}],
                "containers": [
                    {"name": "app", "args": ["a", "b"], "envFrom": [{"configMapRef": {"name": "x"}}]},
                ],
            }
        },
        {
            "spec": {
                "tolerations": [{"key": "b"}],
                "containers": [
                    {"name": "app", "args": ["c"], "envFrom": [{"secretRef": {"name": "y"}}]},
                ],
            }
        },
        {
            "spec": {
                "tolerations": [{"key": "b"}],
                "containers": [
                    {"name": "app", "args": ["c"], "envFrom": [{"secretRef": {"name": "y"}}]},
                ],
            }
        },
    ),
    (
        "cronjob-job-template-pod-spec-uses-pod-keys",
        "batch/v1",
        "CronJob",
        {
            "spec": {
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {"name": "a", "image": "a:1"},
                                    {"name": "b", "image": "b:1"},
                                ]
                            }
                        }
                    }
                }
            }
        },
        {
            "spec": {
                "jobTemplate": {
                    "spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b:2"}]}}}
                }
            }
        },
        {
            "spec": {
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {"name": "a", "image": "a:1"},
                                    {"name": "b", "image": "b:2"},
                                ]
                            }
                        }
                    }
                }
            }
        },
    ),
    (
        "init-containers-image-pull-secrets-host-aliases-topology",
        "apps/v1",
        "StatefulSet",
        _pod_spec(
            {
                "initContainers": [{"name": "init", "image": "i:1"}],
                "imagePullSecrets": [{"name": "reg"}],
                "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["a"]}],
                "topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 1}],
            }
        ),
        _pod_spec(
            {
                "initContainers": [{"name": "init", "image": "i:2"}],
                "imagePullSecrets": [{"name": "reg"}],
                "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["b"]}],
                "topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 2}],
            }
        ),
        _pod_spec(
            {
                "initContainers": [{"name": "init", "image": "i:2"}],
                "imagePullSecrets": [{"name": "reg"}],
                "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["b"]}],
                "topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 2}],
            }
        ),
    ),
    (
        "finalizers-merge-as-a-set-new-items-first-like-the-apiserver",
        "v1",
        "ConfigMap",
        {"metadata": {"finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": ["b", "c"]}},
        {"metadata": {"finalizers": ["a", "b", "c"]}},
    ),
    (
        "finalizers-unrelated-new-item-goes-first",
        "v1",
        "ConfigMap",
        {"metadata": {"finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": ["c"]}},
        {"metadata": {"finalizers": ["c", "a", "b"]}},
    ),
    (
        "primitive-list-deletion-directive",
        "apps/v1",
        "Deployment",
        {"metadata": {"finalizers": ["a", "b", "c"]}},
        {
            "metadata": {
                "$deleteFromPrimitiveList/finalizers": ["b"],
                "$setElementOrder/finalizers": ["a", "c"],
            }
        },
        {"metadata": {"finalizers": ["a", "c"]}},
    ),
    (
        "owner-references-merge-by-uid",
        "apps/v1",
        "ReplicaSet",
        {"metadata": {"ownerReferences": [{"uid": "1", "name": "d", "controller": True}]}},
        {"metadata": {"ownerReferences": [{"uid": "1", "blockOwnerDeletion": True}]}},
        {
            "metadata": {
                "ownerReferences": [{"uid": "1", "name": "d", "controller": True, "blockOwnerDeletion": True}]
            }
        },
    ),
    (
        "pod-status-conditions-merge-by-type",
        "v1",
        "Pod",
        {
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "False"},
                    {"type": "Initialized", "status": "True"},
                ]
            }
        },
        {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        {
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}]
            }
        },
    ),
    (
        "deployment-status-conditions-merge-by-type",
        "apps/v1",
        "Deployment",
        {"status": {"conditions": [{"type": "Available", "status": "False"}]}},
        {"status": {"conditions": [{"type": "Progressing", "status": "True"}]}},
        {
            "status": {
                "conditions": [
                    {"type": "Progressing", "status": "True"},
                    {"type": "Available", "status": "False"},
                ]
            }
        },
    ),
    (
        "retain-keys-clears-other-strategy-fields",
        "apps/v1",
        "Deployment",
        {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
        {"spec": {"strategy": {"type": "Recreate"}}},
    ),
    (
        "patch-replace-on-a-map",
        "apps/v1",
        "Deployment",
        {"spec": {"selector": {"matchLabels": {"a": "1", "b": "2"}}}},
        {"spec": {"selector": {"$patch": "replace", "matchLabels": {"c": "3"}}}},
        {"spec": {"selector": {"matchLabels": {"c": "3"}}}},
    ),
    (
        "patch-delete-on-a-map-empties-it",
        "v1",
        "Pod",
        {"spec": {"securityContext": {"runAsUser": 1}, "nodeName": "n"}},
        {"spec": {"securityContext": {"$patch": "delete"}}},
        {"spec": {"securityContext": {}, "nodeName": "n"}},
    ),
    (
        "patch-merge-on-a-map-is-a-plain-merge",
        "v1",
        "ConfigMap",
        {"data": {"a": "1"}},
        {"data": {"$patch": "merge", "b": "2"}},
        {"data": {"a": "1", "b": "2"}},
    ),
    (
        "patch-replace-as-list-item-replaces-the-list",
        "v1",
        "Pod",
        {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}},
        {"spec": {"containers": [{"name": "c"}, {"$patch": "replace"}]}},
        {"spec": {"containers": [{"name": "c"}]}},
    ),
    (
        "null-deletes-a-key-and-labels-merge",
        "v1",
        "ConfigMap",
        {"metadata": {"labels": {"a": "1", "b": "2"}}, "data": {"k": "v"}},
        {"metadata": {"labels": {"a": None, "c": "3"}}, "data": None},
        {"metadata": {"labels": {"b": "2", "c": "3"}}},
    ),
    (
        "new-list-gets-directives-stripped",
        "v1",
        "Pod",
        {"spec": {}},
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "a"}],
                "containers": [{"name": "a", "env": [{"name": "X", "value": None}]}],
            }
        },
        {"spec": {"containers": [{"name": "a", "env": [{"name": "X"}]}]}},
    ),
    (
        "custom-resource-falls-back-to-json-merge-patch",
        "example.com/v1",
        "Widget",
        {"spec": {"containers": [{"name": "a", "image": "1"}], "keep": 1, "drop": 2}},
        {"spec": {"containers": [{"name": "b"}], "drop": None}},
        {"spec": {"containers": [{"name": "b"}], "keep": 1}},
    ),
]


@pytest.mark.parametrize(
    ("api_version", "kind", "target", "patch", "expected"),
    [case[1:] for case in STRATEGIC_CASES],
    ids=[case[0] for case in STRATEGIC_CASES],
)
def test_strategic_merge_patch(
    api_version: str, kind: str, target: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    target_before, patch_before = copy.deepcopy(target), copy.deepcopy(patch)
    assert apply_strategic_merge_patch(target, patch, api_version, kind) == expected
    assert target == target_before and patch == patch_before


@pytest.mark.parametrize(
    ("target", "patch", "needle"),
    [
        ({"spec": {"containers": [{"name": "a"}]}}, {"spec": {"containers": [{"image": "x"}]}}, "merge key"),
        ({"spec": {"selector": {}}}, {"spec": {"selector": {"$patch": "bogus"}}}, "spec.selector"),
        (
            {"spec": {"strategy": {}}},
            {"spec": {"strategy": {"$retainKeys": ["type"], "x": 1}}},
            "$retainKeys",
        ),
        ({}, {"metadata": {"$setElementOrder/finalizers": "a"}}, "metadata.finalizers"),
    ],
    ids=["missing-merge-key", "unknown-directive", "retain-keys-violated", "bad-set-element-order"],
)
def test_strategic_merge_patch_errors(target: dict[str, Any], patch: dict[str, Any], needle: str) -> None:
    with pytest.raises(PatchError) as caught:
        apply_strategic_merge_patch(target, patch, "v1", "Pod")
    assert needle in str(caught.value)


def test_merge_key_table_covers_every_pod_template() -> None:
    for kind, path in [
        ("Pod", "spec.containers"),
        ("Deployment", "spec.template.spec.containers"),
        ("StatefulSet", "spec.template.spec.initContainers.env"),
        ("DaemonSet", "spec.template.spec.volumes"),
        ("ReplicaSet", "spec.template.spec.containers.ports"),
        ("Job", "spec.template.spec.ephemeralContainers.volumeMounts"),
        ("CronJob", "spec.jobTemplate.spec.template.spec.containers.volumeDevices"),
    ]:
        assert (kind, path) in MERGE_KEYS, (kind, path)
    assert merge_key_for("Anything", "metadata.finalizers") == ""
    assert merge_key_for("Deployment", "spec.template.metadata.ownerReferences") == "uid"
    assert merge_key_for("Deployment", "spec.template.spec.tolerations") is None


# --- JSON merge patch -------------------------------------------------------------------------

MERGE_PATCH_CASES = [
    ({"a": 1, "b": 2}, {"a": None}, {"b": 2}),
    ({"a": {"b": 1, "c": 2}}, {"a": {"c": None, "d": 3}}, {"a": {"b": 1, "d": 3}}),
    ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
    ({"a": "x"}, {"a": {"b": None, "c": 1}}, {"a": {"c": 1}}),
    ({"a": {"b": 1}}, {"a": "scalar"}, {"a": "scalar"}),
    ({}, {"missing": None}, {}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), MERGE_PATCH_CASES)
def test_json_merge_patch(target: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]) -> None:
    target_before = copy.deepcopy(target)
    assert apply_json_merge_patch(target, patch) == expected
    assert target == target_before


@pytest.mark.parametrize(("target", "patch", "expected"), [
    *MERGE_PATCH_CASES,
    ({"spec": {"turns": [1]}, "status": {"a": {"x": 1}, "b": 2}}, {"status": {"b": 3, "c": {"d": None}}},
     {"spec": {"turns": [1]}, "status": {"a": {"x": 1}, "b": 3, "c": {}}}),
])
def test_a_merge_patch_that_shares_changes_neither_input(target: dict[str, Any], patch: dict[str, Any],
                                                         expected: dict[str, Any]) -> None:
    """The status write's merge patch gives the same result without copying the stored object: what the patch
    does not reach is the target's very value, and neither the target nor the patch is changed."""
    target_before, patch_before = copy.deepcopy(target), copy.deepcopy(patch)
    merged = merge_patch_sharing(target, patch)
    assert merged == expected
    assert target == target_before and patch == patch_before
    for key, value in target.items():
        if key not in patch and isinstance(value, (dict, list)):
            assert merged[key] is value


# --- JSON patch ------------------------------------------------------------------------------

DOC: dict[str, Any] = {"metadata": {"labels": {"a/b": "1", "t~x": "2"}}, "items": [1, 2, 3]}

JSON_PATCH_CASES: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = [
    ("add-key", [{"op": "add", "path": "/spec", "value": {"r": 1}}], {**DOC, "spec": {"r": 1}}),
    ("add-append-dash", [{"op": "add", "path": "/items/-", "value": 4}], {**DOC, "items": [1, 2, 3, 4]}),
    ("add-insert", [{"op": "add", "path": "/items/0", "value": 0}], {**DOC, "items": [0, 1, 2, 3]}),
    ("remove-index", [{"op": "remove", "path": "/items/1"}], {**DOC, "items": [1, 3]}),
    (
        "remove-escaped-slash",
        [{"op": "remove", "path": "/metadata/labels/a~1b"}],
        {**DOC, "metadata": {"labels": {"t~x": "2"}}},
    ),
    (
        "replace-escaped-tilde",
        [{"op": "replace", "path": "/metadata/labels/t~0x", "value": "3"}],
        {**DOC, "metadata": {"labels": {"a/b": "1", "t~x": "3"}}},
    ),
    (
        "move",
        [{"op": "move", "from": "/items", "path": "/list"}],
        {"metadata": DOC["metadata"], "list": [1, 2, 3]},
    ),
    ("copy", [{"op": "copy", "from": "/items/0", "path": "/first"}], {**DOC, "first": 1}),
    (
        "test-then-replace",
        [
            {"op": "test", "path": "/items", "value": [1, 2, 3.0]},
            {"op": "replace", "path": "/items/2", "value": 9},
        ],
        {**DOC, "items": [1, 2, 9]},
    ),
]


@pytest.mark.parametrize(
    ("ops", "expected"), [c[1:] for c in JSON_PATCH_CASES], ids=[c[0] for c in JSON_PATCH_CASES]
)
@pytest.mark.parametrize("share_target", [False, True], ids=["copied", "shared"])
def test_json_patch(ops: list[dict[str, Any]], expected: dict[str, Any], share_target: bool) -> None:
    """Each operation gives the RFC's result and leaves the target as it was, whether the result is built on a
    copy of the target or shares with it what no operation changed (the sandbox's custom-resource writes)."""
    before = copy.deepcopy(DOC)
    assert apply_json_patch(DOC, ops, share_target=share_target) == expected
    assert before == DOC


def test_a_shared_json_patch_copies_only_what_it_changes() -> None:
    """An append to a 500-turn thread's turns makes a new turns list, spec and object; status, metadata and
    every turn are the stored object's own. A later operation changing a container an earlier one made or
    reached changes the patch's copy, never the target."""
    stored = {"metadata": {"name": "c1", "labels": {"a": "1"}},
              "spec": {"turns": [{"text": f"t{i}"} for i in range(500)]},
              "status": {"revisions": [{"revision": 1}]}}
    before = copy.deepcopy(stored)
    appended = apply_json_patch(stored, [{"op": "add", "path": "/spec/turns/-", "value": {"text": "t500"}}],
                                share_target=True)
    assert len(appended["spec"]["turns"]) == 501 and stored == before
    assert appended["status"] is stored["status"] and appended["metadata"] is stored["metadata"]
    assert appended["spec"]["turns"] is not stored["spec"]["turns"]
    turns = zip(appended["spec"]["turns"], stored["spec"]["turns"], strict=False)
    assert all(new is old for new, old in turns)
    again = apply_json_patch(stored, [
        {"op": "add", "path": "/metadata/labels/b", "value": "2"},
        {"op": "replace", "path": "/metadata/labels/a", "value": "9"},
        {"op": "copy", "from": "/status/revisions", "path": "/spec/old"},
        {"op": "add", "path": "/spec/old/0/revision", "value": 7},
        {"op": "move", "from": "/spec/turns/0", "path": "/status/first"},
        {"op": "replace", "path": "/status/first/text", "value": "moved"},
    ], share_target=True)
    assert stored == before
    assert again["metadata"]["labels"] == {"a": "9", "b": "2"}
    assert again["spec"]["old"] == [{"revision": 7}] and again["status"]["revisions"] == [{"revision": 1}]
    assert again["status"]["first"] == {"text": "moved"} and again["spec"]["turns"][0] == {"text": "t1"}


@pytest.mark.parametrize(
    ("ops", "needle"),
    [
        ([{"op": "test", "path": "/items/0", "value": 2}], "op 0 (test /items/0): test failed"),
        ([{"op": "test", "path": "/items/0", "value": True}], "test failed"),
        ([{"op": "remove", "path": "/nope"}], "path not found"),
        ([{"op": "replace", "path": "/metadata/nope/x", "value": 1}], "path not found"),
        ([{"op": "add", "path": "/items/7", "value": 1}], "out of range"),
        ([{"op": "add", "path": "/items/01", "value": 1}], "invalid array index"),
        ([{"op": "add", "path": "items", "value": 1}], "must start with '/'"),
        ([{"op": "add", "path": "/x"}], "missing 'value'"),
        ([{"op": "frobnicate", "path": "/x"}], "unknown op"),
        ([{"op": "move", "from": "/metadata", "path": "/metadata/labels/x"}], "own children"),
        ([{"op": "remove", "path": ""}], "whole document"),
        ([{"op": "add", "path": "/a", "value": 1}, {"op": "remove", "path": "/b"}], "op 1"),
        ([{"op": "replace", "path": "", "value": [1]}], "must be an object"),
    ],
)
def test_json_patch_errors(ops: list[dict[str, Any]], needle: str) -> None:
    with pytest.raises(PatchError) as caught:
        apply_json_patch(DOC, ops)
    assert needle in str(caught.value)


def test_json_patch_replace_root() -> None:
    assert apply_json_patch(DOC, [{"op": "replace", "path": "", "value": {"x": 1}}]) == {"x": 1}


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        # Without $setElementOrder: patch items keep the patch's order, server-only items stay
        # after the patch items they followed in the live list (apiserver mergeSortedSlice).
        (["a", "b", "c"], ["b", "a"], ["b", "a", "c"]),
        (["a", "b"], ["c", "a"], ["c", "a", "b"]),
    ],
    ids=["reorder-by-patch", "new-before-unknown-neighbours"],
)
def test_keyed_list_order_without_set_element_order(
    target: list[str], patch: list[str], expected: list[str]
) -> None:
    result = apply_strategic_merge_patch(
        {"spec": {"containers": [{"name": n} for n in target]}},
        {"spec": {"containers": [{"name": n} for n in patch]}},
        "v1",
        "Pod",
    )
    assert [c["name"] for c in result["spec"]["containers"]] == expected


def test_set_element_order_on_primitive_set() -> None:
    result = apply_strategic_merge_patch(
        {"metadata": {"finalizers": ["a", "b"]}},
        {"metadata": {"$setElementOrder/finalizers": ["b", "c", "a"], "finalizers": ["c"]}},
        "v1",
        "Secret",
    )
    assert result == {"metadata": {"finalizers": ["b", "c", "a"]}}


def test_whole_object_patch_delete_and_replace() -> None:
    target = {"kind": "ConfigMap", "data": {"a": "1"}}
    assert apply_strategic_merge_patch(target, {"$patch": "delete"}, "v1", "ConfigMap") == {}
    replaced = apply_strategic_merge_patch(
        target, {"$patch": "replace", "kind": "ConfigMap"}, "v1", "ConfigMap"
    )
    assert replaced == {"kind": "ConfigMap"}


def test_type_change_replaces_value() -> None:
    result = apply_strategic_merge_patch(
        {"spec": {"x": [1]}}, {"spec": {"x": {"y": None, "z": 1}}}, "v1", "Pod"
    )
    assert result == {"spec": {"x": {"z": 1}}}


def test_json_patch_nested_list_append_and_non_list_ops() -> None:
    pod = {"spec": {"containers": [{"name": "a", "env": []}]}}
    result = apply_json_patch(
        pod, [{"op": "add", "path": "/spec/containers/0/env/-", "value": {"name": "X"}}]
    )
    assert result["spec"]["containers"][0]["env"] == [{"name": "X"}]
    with pytest.raises(PatchError):
        apply_json_patch(pod, {"op": "add"})  # type: ignore[arg-type]
    with pytest.raises(PatchError, match="op 0"):
        apply_json_patch(pod, ["not-an-op"])  # type: ignore[list-item]
