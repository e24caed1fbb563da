"""A benchmark's worth of plain-kubectl tasks (tests/sandbox/tasks/*) against a fresh sandbox each.

Each task is written as for a real kind cluster: `setup.sh` of plain kubectl (run unchanged, from the
task's folder, with the real kubectl on PATH), a `prompt`, a `verify.sh` and a reference `fix.sh`. On a
real cluster the setup succeeds, verify fails before the fix and passes after it - the same must hold
here, or the sandbox could not tell a good fix from a bad one. The API server is the sandbox; the
cluster behind it is simulated from the default behaviour file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.server import SandboxServer

TASKS = Path(__file__).parent / "tasks"
NAMES = sorted(p.name for p in TASKS.iterdir() if (p / "setup.sh").exists())
KUBECTL_DIR = Path(sys.executable).parent


def run(script: Path, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(script)], cwd=script.parent, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_there_are_enough_tasks() -> None:
    """At least 24 tasks, each with a setup, a prompt, a verify and a reference fix."""
    assert len(NAMES) >= 24
    for name in NAMES:
        folder = TASKS / name
        assert all((folder / f).exists() for f in ("setup.sh", "prompt", "verify.sh", "fix.sh")), name
        assert (folder / "prompt").read_text().strip()


@pytest.mark.parametrize("name", NAMES)
def test_task_sets_up_fails_verification_then_passes_after_the_fix(name: str, tmp_path: Path) -> None:
    with SandboxServer(home=tmp_path / "home") as sandbox:
        home = tmp_path / "kubectl-home"
        home.mkdir()
        env = {**os.environ, "KUBECONFIG": str(sandbox.kubeconfig_path), "HOME": str(home),
               "PATH": f"{KUBECTL_DIR}{os.pathsep}{os.environ.get('PATH', '')}"}
        folder = TASKS / name
        setup = run(folder / "setup.sh", env)
        assert setup.returncode == 0, f"setup.sh failed:\n{setup.stdout}\n{setup.stderr}"
        before = run(folder / "verify.sh", env)
        assert before.returncode != 0, f"verify.sh passed before any fix:\n{before.stdout}"
        fix = run(folder / "fix.sh", env)
        assert fix.returncode == 0, f"fix.sh failed:\n{fix.stdout}\n{fix.stderr}"
        after = run(folder / "verify.sh", env)
        assert after.returncode == 0, f"verify.sh failed after the fix:\n{after.stdout}\n{after.stderr}"
