"""`sandbox.main.run`, what `aiop sandbox` starts: prints where to connect and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from kubernetes import client, config


def test_run_prints_kubeconfig_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The foreground server writes an admin kubeconfig that works, and exits cleanly on SIGTERM."""
    code = f"from sandbox.main import run; run(0, {str(tmp_path / 'state')!r}, {str(tmp_path / 'home')!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parents[2], env={**os.environ})
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        second = proc.stdout.readline().strip()
        assert first == f"kubeconfig: {tmp_path / 'home' / 'sandbox' / 'kubeconfig'}"
        assert second.startswith("url: https://127.0.0.1:")
        api = config.new_client_from_config(config_file=first.split(": ", 1)[1])
        names = [ns.metadata.name for ns in client.CoreV1Api(api).list_namespace().items]
        assert "default" in names
        api.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
