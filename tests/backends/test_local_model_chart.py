"""The chart mounts a GGUF model for `type: local` backends, read-only, only when asked to, and then runs the
controller from the image's local-model variant (the default image has no llama.cpp) with more memory.

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


def container(values: dict[str, Any], deployment: str) -> dict[str, Any]:
    spec = find(render(values), "Deployment", f"aiop-ai-operator-{deployment}")["spec"]["template"]["spec"]
    return next(c for c in spec["containers"] if c["name"] == deployment)


GGUF = {"name": "gemma", "type": "local", "model_path": "/models/gemma-3-270m-q4_k_m.gguf"}
LOCAL = {"localModel": {"enabled": True, "existingClaim": "gguf-models"},
         "backends": {"backends": [GGUF], "roles": {"summarizer": "gemma"}}}


def test_the_default_install_runs_the_default_image_with_its_memory() -> None:
    ctl = container({"image": {"tag": "1.2.3"}}, "controller")
    assert ctl["image"] == "ghcr.io/ai-operator/ai-operator:1.2.3"
    assert ctl["resources"] == {"requests": {"cpu": "100m", "memory": "384Mi"}, "limits": {"memory": "1Gi"}}


def test_a_local_model_runs_the_controller_from_the_variant_with_more_memory() -> None:
    """The variant holds llama.cpp; the model's child process needs ~0.7 GB beside the controller's ~0.4 GB.
    The UI never loads a model: it keeps the default image and memory."""
    values = {**LOCAL, "image": {"tag": "1.2.3"}, "controller": {"resources": {"requests": {"cpu": "250m"}}}}
    ctl = container(values, "controller")
    assert ctl["image"] == "ghcr.io/ai-operator/ai-operator:1.2.3-local-model"
    assert ctl["resources"] == {"requests": {"cpu": "250m", "memory": "1280Mi"}, "limits": {"memory": "2Gi"}}
    assert {"name": "tmp", "mountPath": "/tmp"} in ctl["volumeMounts"]  # the only writable path besides home
    assert ctl["securityContext"]["readOnlyRootFilesystem"] is True
    ui = container(values, "ui")
    assert ui["image"] == "ghcr.io/ai-operator/ai-operator:1.2.3"
    assert ui["resources"]["limits"] == {"memory": "1Gi"}


def test_the_variant_tag_and_its_memory_can_be_set() -> None:
    values = {**LOCAL, "localModel": {**LOCAL["localModel"], "controllerTagSuffix": "-llama",
                                      "resources": {"requests": {"memory": "3Gi"}, "limits": {"memory": "6Gi"}}}}
    ctl = container(values, "controller")
    assert ctl["image"].endswith("-llama")
    assert ctl["resources"] == {"requests": {"cpu": "100m", "memory": "3Gi"}, "limits": {"memory": "6Gi"}}


def test_a_local_backend_without_the_model_volume_is_refused_with_its_name() -> None:
    """Without localModel the controller would run the default image and stop at start-up ("type local needs
    the llama-cpp-python package"): the chart says so before anything is installed."""
    with pytest.raises(Exception, match=r"backend gemma has type local: set localModel\.enabled"):
        render({"backends": LOCAL["backends"]})


def test_a_model_path_outside_the_mount_is_refused_with_both_paths() -> None:
    backends = {"backends": [{**GGUF, "model_path": "/model/gemma.gguf"}], "roles": {"summarizer": "gemma"}}
    with pytest.raises(Exception, match=r"backend gemma: model_path /model/gemma\.gguf is not under "
                                        r"localModel\.mountPath /models"):
        render({**LOCAL, "backends": backends})
