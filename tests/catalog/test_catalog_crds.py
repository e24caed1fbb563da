"""Cloud resources render as objects the real ACK and Azure Service Operator CRDs accept, and no
parameter can inject YAML into a manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from controller.catalog.registry import validate_call
from controller.planning.memory_cluster import MemoryCluster
from controller.planning.types import ActionCall

SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "schemas"  # ../shared beside the repo

# The ASO StorageAccount CRD is not in the shared schemas; this is the subset of the
# storage.azure.com/v1api20230101 spec the catalog writes, with ASO's enums for kind and sku.
STORAGE_ACCOUNT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["kind", "owner", "sku"],
            "properties": {
                "azureName": {"type": "string", "maxLength": 24, "minLength": 3, "pattern": "^[a-z0-9]+$"},
                "location": {"type": "string"},
                "kind": {"enum": ["BlobStorage", "BlockBlobStorage", "FileStorage", "Storage", "StorageV2"]},
                "owner": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}},
                          "additionalProperties": False},
                "sku": {"type": "object", "required": ["name"], "properties": {"name": {"enum": [
                    "Premium_LRS", "Premium_ZRS", "Standard_GRS", "Standard_GZRS", "Standard_LRS",
                    "Standard_RAGRS", "Standard_RAGZRS", "Standard_ZRS"]}, "tier": {"type": "string"}}},
            },
            "additionalProperties": False,
        },
    },
}


def crd_schema(path: str, version: str) -> dict[str, Any]:
    crd = yaml.safe_load((SCHEMAS / path).read_text())
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            return _closed(v["schema"]["openAPIV3Schema"])
    raise AssertionError(f"{path} has no version {version}")


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """Structural schemas prune unknown fields; closing them makes a misspelled field fail the test."""
    out = dict(schema)
    if "properties" in out:
        out["properties"] = {k: _closed(v) for k, v in out["properties"].items()}
        out.setdefault("additionalProperties", False)
    if isinstance(out.get("items"), dict):
        out["items"] = _closed(out["items"])
    return out


def render(action: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    spec, validated = validate_call(ActionCall(action=action, params=params))
    return spec.render(validated, MemoryCluster([])).manifests


@pytest.mark.parametrize("params", [
    {"name": "backup-storage", "namespace": "shop"},
    {"name": "backup-storage", "namespace": "shop", "region": "us-west-1", "versioning": True, "encryption": True},
])
def test_s3_bucket_matches_the_ack_crd(params: dict[str, Any]) -> None:
    """The ACK S3 controller accepts the Bucket exactly as committed (no field it would prune)."""
    schema = crd_schema("ack/s3-buckets.yaml", "v1alpha1")
    for manifest in render("create-s3-bucket", params):
        jsonschema.validate(manifest, schema)


def test_resource_group_matches_the_aso_crd() -> None:
    """Azure Service Operator accepts the ResourceGroup, keeping the Azure name in azureName."""
    schema = crd_schema("aso/resourcegroups.yaml", "v1api20200601")
    for manifest in render("create-azure-resource-group",
                           {"name": "RG_Shop(dev)", "namespace": "shop", "location": "westeurope"}):
        jsonschema.validate(manifest, schema)


def test_storage_account_matches_the_aso_spec() -> None:
    """The StorageAccount names its ResourceGroup object as owner, with a valid kind and SKU."""
    for manifest in render("create-azure-storage-account", {
            "name": "shopdata01", "namespace": "shop", "resource_group": "RG_Shop(dev)", "location": "westeurope"}):
        jsonschema.validate(manifest, STORAGE_ACCOUNT_SCHEMA)
        assert manifest["spec"]["owner"] == {"name": "rg-shop-dev"}


def test_a_crd_rejects_a_misspelled_field() -> None:
    """The CRD check is not vacuous: a wrong field name fails it."""
    schema = crd_schema("ack/s3-buckets.yaml", "v1alpha1")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket", "metadata": {},
                             "spec": {"name": "b", "versionning": {"status": "Enabled"}}}, schema)


INJECTION = '"\nkind: Secret\nmetadata:\n  name: stolen\n'


@pytest.mark.parametrize(("action", "params", "field_path"), [
    ("set-configmap-key", {"name": "web-config", "namespace": "shop", "key": "motd", "value": INJECTION},
     ("data", "motd")),
    ("set-configmap-key", {"name": "web-config", "namespace": "shop", "key": "x", "value": "{{ 7*7 }}"},
     ("data", "x")),
    ("set-labels", {"api_version": "v1", "kind": "ConfigMap", "name": "web-config", "namespace": "shop",
                    "annotations": {"note": INJECTION}}, ("metadata", "annotations", "note")),
])
def test_values_cannot_inject_yaml(action: str, params: dict[str, Any], field_path: tuple[str, ...],
                                   shop: MemoryCluster) -> None:
    """A value that tries to close the string and add `kind: Secret` stays one string: the object keeps
    its kind and name, and the value lands verbatim where it was meant to."""
    spec, validated = validate_call(ActionCall(action=action, params=params))
    [manifest] = spec.render(validated, shop).manifests
    assert manifest["kind"] == "ConfigMap"
    assert manifest["metadata"]["name"] == "web-config"
    value: Any = manifest
    for key in field_path:
        value = value[key]
    assert value == params.get("value", INJECTION)
