"""argocd/ and argocd/flux/ manifests, validated against the real Argo CD and Flux CRD schemas.

Why a second, stricter check: those CRD schemas do not set additionalProperties=false, so a typo such
as `syncOptoins` passes JSON-schema validation and is then silently pruned by the API server. The
`unknown_keys` walker fails on every key that the schema does not declare.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT.parent / "shared" / "schemas"
MANIFESTS = ROOT / "argocd"
METADATA_KEYS = {"name", "namespace", "labels", "annotations", "finalizers", "generateName"}


def load_crds() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema, from every CRD under shared/schemas/{argocd,flux}."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for path in [*SCHEMAS.glob("argocd/*.yaml"), *SCHEMAS.glob("flux/*.yaml")]:
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            for version in crd["spec"]["versions"]:
                key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
                out[key] = version["schema"]["openAPIV3Schema"]
    return out


CRDS = load_crds()


def unknown_keys(obj: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Paths of keys in `obj` that `schema` does not declare (where it does not allow unknown fields)."""
    found: list[str] = []
    if isinstance(obj, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        open_map = schema.get("x-kubernetes-preserve-unknown-fields") or extra not in (None, False)
        for key, value in obj.items():
            where = f"{path}.{key}" if path else key
            if props is not None and key in props:
                found += unknown_keys(value, props[key], where)
            elif isinstance(extra, dict):
                found += unknown_keys(value, extra, where)
            elif not open_map:
                found.append(where)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(obj):
            found += unknown_keys(item, schema["items"], f"{path}[{index}]")
    return found


def problems(obj: dict[str, Any]) -> list[str]:
    """Schema errors and unknown keys of one custom resource (empty when valid)."""
    schema = CRDS.get((obj.get("apiVersion", ""), obj.get("kind", "")))
    if schema is None:
        return [f"no CRD schema for {obj.get('apiVersion')} {obj.get('kind')}"]
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(obj)]
    body = {k: v for k, v in obj.items() if k != "metadata"}
    errors += [f"unknown field {p}" for p in unknown_keys(body, schema)]
    errors += [f"unknown field metadata.{k}" for k in set(obj.get("metadata", {})) - METADATA_KEYS]
    return errors


def manifests() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(MANIFESTS.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and (doc["apiVersion"].split("/")[0].endswith(("argoproj.io", "fluxcd.io")) and "helm." not in doc["apiVersion"]):
                found.append((f"{path.relative_to(ROOT)}:{doc['kind']}/{doc['metadata']['name']}", doc))
    return found


ALL = manifests()


def test_every_expected_manifest_exists() -> None:
    kinds = sorted({(doc["kind"], label.split("/")[1]) for label, doc in ALL})
    assert ("AppProject", "operator") in kinds and ("Application", "operator") in kinds
    assert ("ApplicationSet", "threads") in kinds and ("AppProject", "threads") in kinds
    assert ("GitRepository", "flux") in kinds and ("Kustomization", "flux") in kinds
    assert len(ALL) == 9, [label for label, _ in ALL]


@pytest.mark.parametrize(("label", "doc"), ALL, ids=[label for label, _ in ALL])
def test_manifest_matches_real_crd_schema(label: str, doc: dict[str, Any]) -> None:
    assert problems(doc) == [], label


def test_unknown_and_invalid_fields_are_caught() -> None:
    app = next(doc for label, doc in ALL if label.startswith("argocd/operator/application.yaml"))
    typo = {**app, "spec": {**app["spec"], "syncPolicy": {"syncOptoins": ["ServerSideApply=true"]}}}
    assert problems(typo) == ["unknown field spec.syncPolicy.syncOptoins"]
    wrong_type = {**app, "spec": {**app["spec"], "source": {**app["spec"]["source"], "path": 3}}}
    assert any("spec.source.path" in p for p in problems(wrong_type))
    kustomization = next(doc for label, doc in ALL if "kustomization-example" in label)
    missing = {**kustomization, "spec": {k: v for k, v in kustomization["spec"].items() if k != "sourceRef"}}
    assert any("sourceRef" in p for p in problems(missing))


def test_thread_sync_uses_server_side_apply_on_the_thread_branch() -> None:
    appset = next(doc for _, doc in ALL if doc["kind"] == "ApplicationSet")
    template = appset["spec"]["template"]["spec"]
    assert template["source"]["targetRevision"] == "thread/{{.thread}}"
    assert template["source"]["path"] == "threads/{{.thread}}/manifests"
    assert template["project"] == "aiop-thread-{{.thread}}"
    assert "ServerSideApply=true" in template["syncPolicy"]["syncOptions"]
    project = next(doc for label, doc in ALL if "appproject-example" in label)
    assert project["spec"]["clusterResourceWhitelist"] == []
    assert [d["namespace"] for d in project["spec"]["destinations"]] == ["team-a"]
    assert "*" not in str(project["spec"]["namespaceResourceWhitelist"])
    flux = next(doc for label, doc in ALL if "kustomization-example" in label)
    repo = next(doc for label, doc in ALL if "gitrepository-example" in label)
    assert repo["spec"]["ref"]["branch"] == "thread/3f9c2a"
    assert flux["spec"]["path"] == "./threads/3f9c2a/manifests" and flux["spec"]["prune"] is True
    assert flux["spec"]["sourceRef"]["name"] == repo["metadata"]["name"]
