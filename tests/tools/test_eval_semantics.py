"""The eval runner's judgement: Kubernetes value semantics, unchanged checks, invalid scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from controller.cli import app
from controller.kubevalues import quantity, scalar_equal, subset_mismatch
from controller.tools.expectations import alerts_ok, counts_for_unchanged, differences, lacks_problem
from controller.tools.scenario import ScenarioError, load_scenario


@pytest.mark.parametrize(("a", "b"), [("1Gi", "1024Mi"), (10, "10"), ("250m", 0.25), ("1k", 1000), ("1e3", "1k")])
def test_quantities_compare_by_value(a: object, b: object) -> None:
    """Values compare as Kubernetes serializes them."""
    assert scalar_equal(a, b)


@pytest.mark.parametrize(("a", "b"), [("1Gi", "1G"), ("nginx:1.27", "nginx:1.27.2"), (True, "true"), ("5", 6)])
def test_different_values_differ(a: object, b: object) -> None:
    """Near misses are misses."""
    assert not scalar_equal(a, b)


def test_quantity_parses_only_quantities() -> None:
    assert quantity("512Mi") == 512 * 2**20 and quantity("web") is None and quantity(None) is None


def test_containers_match_by_name_other_lists_by_position() -> None:
    """containers/ports/env match by name or port; other lists item by item with the same length."""
    live = {"spec": {"containers": [{"name": "side", "image": "x"}, {"name": "web", "image": "nginx:1.27.2",
                                                                      "ports": [{"containerPort": 8080}]}],
                     "policyTypes": ["Ingress", "Egress"]}}
    assert subset_mismatch({"spec": {"containers": [{"name": "web", "image": "nginx:1.27.2"}]}}, live) == ""
    assert "web" in subset_mismatch({"spec": {"containers": [{"name": "web", "image": "nginx:1"}]}}, live)
    assert "found 2" in subset_mismatch({"spec": {"policyTypes": ["Ingress"]}}, live)


def test_unchanged_ignores_the_operators_own_records() -> None:
    """Events, conversations, the operator namespace and owned objects do not count; changes do."""
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop",
                                                                           "resourceVersion": "1"}, "spec": {"replicas": 2}}
    assert not counts_for_unchanged({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"}}, "aiop-system")
    assert not counts_for_unchanged({"apiVersion": "aiop.dev/v1alpha1", "kind": "AIConversation",
                                     "metadata": {"name": "c"}}, "aiop-system")
    assert counts_for_unchanged(deploy, "aiop-system")
    assert not counts_for_unchanged({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"}}, "aiop-system")
    provisioned = {"apiVersion": "v1", "kind": "PersistentVolume",
                   "metadata": {"name": "pvc-1", "annotations": {"pv.kubernetes.io/provisioned-by": "ebs.csi.aws.com"}},
                   "spec": {"claimRef": {"name": "data", "namespace": "shop"}}}
    assert not counts_for_unchanged(provisioned, "aiop-system")
    assert counts_for_unchanged({**provisioned, "metadata": {"name": "pv-by-hand"}}, "aiop-system")
    cut = {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
           "metadata": {"name": "snapcontent-0f1e"},
           "spec": {"driver": "ebs.csi.aws.com", "source": {"volumeHandle": "vol-1"},
                    "volumeSnapshotRef": {"name": "aiop-shop-t-data", "namespace": "shop"}}}
    assert not counts_for_unchanged(cut, "aiop-system")  # the snapshot controller's, for a VolumeSnapshot
    imported = {**cut, "spec": {**cut["spec"], "source": {"snapshotHandle": "snap-0abc"}}}
    assert counts_for_unchanged(imported, "aiop-system")  # pre-provisioned by a person: part of the cluster
    moved = {**deploy, "metadata": {**deploy["metadata"], "resourceVersion": "9"}}
    assert differences({"k": deploy}, {"k": moved}, set()) == []
    scaled = {**deploy, "spec": {"replicas": 5}}
    assert differences({"k": deploy}, {"k": scaled}, set()) == ["k changed"]
    assert differences({"k": deploy}, {"k": scaled}, {"k"}) == []


@pytest.mark.parametrize(("expected", "actual", "ok"), [(0, 0, True), (0, 1, False), (">=1", 2, True),
                                                         (">=1", 0, False), ("1", 1, True)])
def test_alert_counts(expected: int | str, actual: int, ok: bool) -> None:
    assert alerts_ok(expected, actual) is ok


def test_invalid_scenario_names_file_and_field(tmp_path: Path) -> None:
    """A scenario with a misspelled field is refused with its file and field, and `aiop eval` exits 2."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nnamespace: shop\nidentity: {user: a}\nturns: [{say: hi}]\nexpect: {phase: Completed, "
                   "mentoins: [x]}\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(bad)
    assert "bad.yaml" in str(err.value) and "mentoins" in str(err.value)
    result = CliRunner().invoke(app, ["eval", str(bad)])
    assert result.exit_code == 2 and "INVALID" in result.output


def test_a_turn_has_exactly_one_step(tmp_path: Path) -> None:
    bad = tmp_path / "two.yaml"
    bad.write_text("name: x\nnamespace: shop\nidentity: {user: a}\nturns: [{say: hi, rate: 100}]\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(bad)
    assert "turns" in str(err.value) and "exactly one" in str(err.value)


def _web(env: list[dict[str, str]]) -> dict[str, object]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop",
                                                                        "labels": {"tier": "front"}},
            "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27", "env": env}]}}}}


LACKS_DEBUG = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"template": {"spec": {"containers": [{"name": "web", "env": [{"name": "DEBUG"}]}]}}}}


def test_lacks_holds_once_the_env_var_is_gone() -> None:
    """`lacks` is `objects` negated: the object exists and does not contain the fields."""
    assert lacks_problem(LACKS_DEBUG, [_web([{"name": "LOG_LEVEL", "value": "info"}])]) == ""


def test_lacks_fails_while_the_env_var_is_there_or_the_object_is_missing() -> None:
    """A remaining env var, or no object at all, is reported with the object's key."""
    still = lacks_problem(LACKS_DEBUG, [_web([{"name": "DEBUG", "value": "1"}, {"name": "LOG_LEVEL", "value": "x"}])])
    assert "apps/v1/Deployment/shop/web" in still and "still has" in still
    assert lacks_problem(LACKS_DEBUG, []) == "no apps/v1/Deployment/shop/web exists"


def test_lacks_compares_labels_with_value_semantics() -> None:
    """Metadata other than name/namespace is compared too (a label that must be gone)."""
    wanted = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop",
                                                                          "labels": {"tier": "front"}}}
    assert "still has" in lacks_problem(wanted, [_web([])])
    other = {**wanted, "metadata": {**wanted["metadata"], "labels": {"tier": "back"}}}
    assert lacks_problem(other, [_web([])]) == ""


def test_lacks_is_part_of_the_scenario_format(tmp_path: Path) -> None:
    """A scenario may say `lacks`; a misspelled field next to it is still refused."""
    good = tmp_path / "good.yaml"
    good.write_text("name: x\nnamespace: shop\nidentity: {user: a}\nturns: [{say: hi}]\n"
                    "expect: {lacks: [{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: shop}, "
                    "data: {k: v}}]}\n")
    assert load_scenario(good).expect.lacks[0]["data"] == {"k": "v"}
