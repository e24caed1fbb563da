"""The renderer's pieces: what a reviewer sees in YAML, diffs, the workflow graph and the folder."""

from __future__ import annotations

import re

import pytest
from ruamel.yaml import YAML

from renderer.diff import apply_preview, strip_server_fields, unified_diff
from renderer.graph import workflow_dot
from renderer.manifests import TEMPLATES_DIR, RenderError, render_manifest, render_text, template_names
from renderer.thread_folder import ThreadRender, backup_filename, render_thread_folder
from renderer.yaml_out import dump_yaml

DEPLOY = {
    "status": {"replicas": 2},
    "spec": {"template": {"spec": {"containers": [{"ports": [{"containerPort": 80}], "name": "web",
                                                    "image": "nginx"}]}}, "replicas": 2},
    "metadata": {"uid": "u1", "resourceVersion": "7", "labels": {"b": "2", "a": "1"}, "namespace": "shop",
                 "name": "web", "managedFields": [{"manager": "x"}], "creationTimestamp": "2025-01-01T00:00:00Z",
                 "generation": 3},
    "kind": "Deployment", "apiVersion": "apps/v1",
}


def test_yaml_key_order_is_the_kubectl_order() -> None:
    """A manifest reads apiVersion, kind, metadata (name, namespace, labels), spec: as people expect."""
    text = dump_yaml(strip_server_fields(DEPLOY))
    assert text.splitlines()[:9] == [
        "apiVersion: apps/v1", "kind: Deployment", "metadata:", "  name: web", "  namespace: shop",
        "  labels:", "    a: '1'", "    b: '2'", "spec:",
    ]
    assert "- name: web\n        image: nginx" in text


@pytest.mark.parametrize("value", ["yes", "on", "off", "no", "y", "N", "1:20", "true", "null", "012", "1e3", "",
                                   "2024-01-01", "1_000", "~"])
def test_strings_that_yaml11_would_misread_are_quoted(value: str) -> None:
    """A ConfigMap value like `on` or `yes` reaches the cluster as a string, not a boolean."""
    text = dump_yaml({"data": {"k": value}})
    assert re.search(r"k: ['\"]", text), text
    assert YAML(typ="safe").load(text)["data"]["k"] == value


def test_multiline_values_are_block_scalars() -> None:
    """A config file stored in a ConfigMap stays readable in the commit."""
    text = dump_yaml({"data": {"app.conf": "a: 1\nb: 2\n"}})
    assert "app.conf: |\n    a: 1\n    b: 2\n" in text


def test_dump_is_deterministic_whatever_the_input_order() -> None:
    """Two plans with the same content produce the same bytes, however their dicts were built."""
    reordered = dict(reversed(list(DEPLOY.items())))
    assert dump_yaml(DEPLOY) == dump_yaml(reordered)


def test_diff_ignores_server_set_fields_and_status() -> None:
    """The approved diff shows the replica change only, not uid/resourceVersion/status noise."""
    after = apply_preview(DEPLOY, {"apiVersion": "apps/v1", "kind": "Deployment",
                                   "metadata": {"name": "web", "namespace": "shop"}, "spec": {"replicas": 5}})
    diff = unified_diff(DEPLOY, after, "deployment/shop/web.yaml")
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("---", "+++"))]
    assert changed == ["-  replicas: 2", "+  replicas: 5"]
    for noise in ("uid", "resourceVersion", "managedFields", "generation", "creationTimestamp", "status"):
        assert noise not in diff


def test_diff_of_a_new_object_and_no_change() -> None:
    """A new object shows as all-added; an unchanged one gives an empty diff."""
    new = unified_diff(None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}, "ns.yaml")
    assert new.startswith("--- /dev/null\n+++ b/ns.yaml") and "+kind: Namespace" in new
    assert unified_diff(DEPLOY, DEPLOY, "x") == ""


def test_preview_merges_containers_by_name_and_removes_nulls() -> None:
    """Setting one container's image keeps its ports; a null label is removed."""
    after = apply_preview(DEPLOY, {"metadata": {"labels": {"a": None}},
                                   "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "n:2"}]}}}})
    assert after["spec"]["template"]["spec"]["containers"] == [
        {"ports": [{"containerPort": 80}], "name": "web", "image": "n:2"}]
    assert after["metadata"]["labels"] == {"b": "2"}


def test_every_template_value_goes_through_tojson() -> None:
    """No template interpolates a raw value: every `{{ }}` ends with `| tojson`."""
    names = template_names()
    assert len(names) >= 15
    for path in TEMPLATES_DIR.glob("*.yaml.j2"):
        for expr in re.findall(r"{{(.*?)}}", path.read_text()):
            assert re.search(r"\|\s*tojson\s*$", expr), f"{path.name}: {{{{{expr}}}}}"


def test_templates_refuse_missing_values_and_unknown_names() -> None:
    """A template typo is an error, not an empty field in a committed manifest."""
    with pytest.raises(RenderError, match="undefined"):
        render_manifest("configmap-data", name="x", namespace="y", key="k")
    with pytest.raises(RenderError, match="no template"):
        render_manifest("nope")


def test_injection_through_a_key_stays_a_key() -> None:
    """Even a ConfigMap *key* holding YAML cannot add fields: it stays one key of data."""
    evil = 'k": 1\nkind: Secret\n"x'
    text = render_text("configmap-data", name="c", namespace="shop", key=evil, value="v")
    obj = render_manifest("configmap-data", name="c", namespace="shop", key=evil, value="v")
    assert obj["kind"] == "ConfigMap" and obj["data"] == {evil: "v"}
    assert text.count("\nkind:") == 1


def test_graph_has_every_stage_and_colours_risk() -> None:
    """The person sees request → … → approve → … → rate → PR, restore, and a red high-risk step."""
    dot = workflow_dot([{"id": "1", "title": "Scale web", "risk": "low"},
                        {"id": "2", "title": "Delete cm", "risk": "high"}])
    assert dot.startswith("digraph plan {")
    for node in ("request", "permissions", "knowledge", "action-1", "action-2", "approve", "backup", "commit",
                 "sync", "verify", "rate", "pr", "restore"):
        assert f'"{node}" [' in dot
    assert '"knowledge" -> "action-1"' in dot and '"action-2" -> "approve"' in dot
    assert "#ffcdd2" in dot and '"rate" -> "pr"' in dot


def test_graph_read_only_plan_has_no_approval() -> None:
    """A diagnosis-only plan shows no approve/commit/restore: nothing will change."""
    dot = workflow_dot([{"title": "Diagnose web", "risk": "none", "mutating": False}])
    assert '"approve"' not in dot and '"restore"' not in dot and '"answer"' in dot


def test_graph_labels_cannot_break_out() -> None:
    """A title with quotes cannot add nodes or attributes to the graph."""
    dot = workflow_dot([{"title": 'x"]; "evil" [label="pwned', "risk": "low"}])
    assert '"evil" [' not in dot
    assert '\\"' in dot


def _thread(**kw: object) -> ThreadRender:
    base: dict[str, object] = {"thread_id": "t1", "revision": 2, "digest": "sha256:" + "0" * 64,
                               "request": ["make it so"], "summary": "s"}
    base.update(kw)
    return ThreadRender(**base)  # type: ignore[arg-type]


def test_thread_folder_layout_and_restore_order() -> None:
    """Manifests are numbered in plan order; restore deletes newest first and re-applies backups."""
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": "a"}}
    files = render_thread_folder(_thread(
        manifests=[("", ns), ("", quota)], backups=[DEPLOY, DEPLOY],
        created=[{"apiVersion": "v1", "kind": "Namespace", "name": "a"},
                 {"apiVersion": "v1", "kind": "ResourceQuota", "namespace": "a", "name": "q"}],
    ))
    assert sorted(files) == [
        "threads/t1/backup/deployment-shop-web.yaml", "threads/t1/instructions.md", "threads/t1/kustomization.yaml",
        "threads/t1/manifests/01-namespace-a.yaml", "threads/t1/manifests/02-resourcequota-q.yaml",
        "threads/t1/plan.yaml", "threads/t1/restore.yaml",
    ]
    restore = YAML(typ="safe").load(files["threads/t1/restore.yaml"])
    assert [d["kind"] for d in restore["delete"]] == ["ResourceQuota", "Namespace"]
    assert restore["reapply"][0]["file"] == "backup/deployment-shop-web.yaml"
    assert "uid" not in files["threads/t1/backup/deployment-shop-web.yaml"]
    kustomization = YAML(typ="safe").load(files["threads/t1/kustomization.yaml"])
    assert kustomization["resources"] == ["manifests/01-namespace-a.yaml", "manifests/02-resourcequota-q.yaml"]
    assert "kubectl delete resourcequota/q -n a\nkubectl delete namespace/a" in files["threads/t1/instructions.md"]


def test_thread_folder_refuses_path_tricks() -> None:
    """A thread id or manifest name cannot write outside the thread folder."""
    with pytest.raises(ValueError, match="unsafe"):
        render_thread_folder(_thread(thread_id="../main"))
    with pytest.raises(ValueError, match="unsafe"):
        render_thread_folder(_thread(manifests=[("../../x", {"kind": "ConfigMap", "metadata": {"name": "x"}})]))


def test_backup_filename_for_cluster_scoped_objects() -> None:
    """Cluster-scoped objects (a Namespace) are saved as kind-name.yaml."""
    assert backup_filename({"kind": "Namespace", "metadata": {"name": "shop"}}) == "namespace-shop.yaml"
    assert backup_filename(DEPLOY) == "deployment-shop-web.yaml"


def test_renderer_does_not_know_the_controller() -> None:
    """The renderer takes plain data: none of its modules imports the controller."""
    from pathlib import Path

    import renderer

    for path in Path(renderer.__file__).parent.glob("*.py"):
        source = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+controller\b", source, re.MULTILINE), path.name
