"""Without a `type: local` backend the controller never loads llama.cpp, even where it is installed.

Why it matters: the local-model image variant (`make image-local-model`) holds llama-cpp-python, and
the chart runs it whenever `localModel.enabled` is set. The footprint targets of the install issue
(controller RSS <= 400 MB, ready <= 10 s) hold only if nothing of llama.cpp is imported until a local
backend is configured, and then only in the model's child process. Each case runs in a fresh Python
process (this test process may have imported llama_cpp for other tests) that builds the backend the
way the controller does at start (`default_backend(load_settings())`, from AIOP_BACKENDS), with
llama-cpp-python installed in the same virtualenv, as in the variant image.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.timeout(180)

PROBE = """
import importlib.util, json, sys
from controller.backends.errors import ConfigError
from controller.engine.services import default_backend
from controller.settings import load_settings
import controller.cli
try:
    backend = type(default_backend(load_settings())).__name__
except ConfigError as exc:
    backend = f"ConfigError: {exc}"
print(json.dumps({"backend": backend, "installed": importlib.util.find_spec("llama_cpp") is not None,
                  "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("llama_cpp", "llama_cpp_python")),
                  "factory": "controller.backends.factory" in sys.modules}))
"""


def probe(tmp_path: Path, backends: dict[str, object] | None) -> dict[str, object]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AIOP_HOME": str(tmp_path / "home")}
    if backends is not None:
        path = tmp_path / "backends.yaml"
        path.write_text(yaml.safe_dump(backends))
        env["AIOP_BACKENDS"] = str(path)
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=150,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_offline_default_does_not_load_llama_cpp(tmp_path: Path) -> None:
    result = probe(tmp_path, None)
    assert result["installed"], "llama-cpp-python should be installed here (make install), as in the variant image"
    assert result == {"backend": "OfflineBackend", "installed": True, "loaded": [], "factory": True}


def test_remote_backends_do_not_load_llama_cpp(tmp_path: Path) -> None:
    backends = {"backends": [{"name": "gpt", "type": "openai", "model": "gpt-4o-mini",
                              "base_url": "http://127.0.0.1:9/v1"},
                             {"name": "rules", "type": "offline"}],
                "roles": {"router": "rules", "planner": ["gpt", "rules"], "summarizer": "gpt"}}
    assert probe(tmp_path, backends) == {"backend": "CooperativeBackend", "installed": True, "loaded": [],
                                         "factory": True}


def test_a_local_backend_is_checked_before_llama_cpp_is_loaded(tmp_path: Path) -> None:
    """A local backend whose file is missing stops the start with the path; the controller's own process still
    holds no llama.cpp (the model is loaded in a child process, and only for a file that is there)."""
    backends = {"backends": [{"name": "gemma", "type": "local", "model_path": str(tmp_path / "absent.gguf")}],
                "roles": {"summarizer": "gemma"}}
    result = probe(tmp_path, backends)
    assert result["loaded"] == []
    assert result["backend"] == (f"ConfigError: backend gemma: model_path {tmp_path / 'absent.gguf'}: no such file "
                                 "(mount the GGUF there)")
