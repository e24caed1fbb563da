"""The chart mounts a GGUF model for `type: local` backends, read-only, only when asked to.

Real: the chart rendered by Helm's Go SDK (helm-python-sdk); the objects as Kubernetes would get them.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.install.pods import find, render

pytestmark = pytest.mark.timeout(120)


def controller(values: dict[str, Any]) -> dict[str, Any]:
    return find(render(values), "Deployment", "aiop-ai-operator-controller")["spec"]["template"]["spec"]


def test_no_model_volume_by_default() -> None:
    spec = controller({})
    assert all(v["name"] != "models" for v in spec["volumes"])


@pytest.mark.parametrize("source,expected", [
    ({"existingClaim": "gguf-models"}, {"persistentVolumeClaim": {"claimName": "gguf-models", "readOnly": True}}),
    ({"image": "registry.example.com/models/gemma:3-270m"},
     {"image": {"reference": "registry.example.com/models/gemma:3-270m", "pullPolicy": "IfNotPresent"}}),
])
def test_a_model_from_a_claim_or_an_image_is_mounted_read_only(source: dict[str, str],
                                                                expected: dict[str, Any]) -> None:
    spec = controller({"localModel": {"enabled": True, **source}})
    volume = next(v for v in spec["volumes"] if v["name"] == "models")
    assert {k: v for k, v in volume.items() if k != "name"} == expected
    mounts = next(c for c in spec["containers"] if c["name"] == "controller")["volumeMounts"]
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in mounts


def test_enabled_without_a_source_is_refused_with_the_field() -> None:
    with pytest.raises(Exception, match="localModel: set existingClaim or image"):
        render({"localModel": {"enabled": True}})
