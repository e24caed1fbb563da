"""What the loop benchmarks share: a sandbox with the demo shop and `aiop controller` as its own process.

Why a separate process: the figures are the controller's (its memory, its latency under load), not
the driver's; the driver acts as the demo user through the custom resources, like the UI does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from controller.adapters.kube import Kube, load_api_client
from controller.api.types import Identity
from controller.client import ConversationClient
from controller.tools import bootstrap
from sandbox.server import SandboxServer


@dataclass
class Bench:
    server: SandboxServer
    kube: Kube
    client: ConversationClient
    controller: subprocess.Popen[bytes]
    who: Identity
    home: Path


def rss_kb(pid: int) -> tuple[int, int]:
    """(current, peak) resident set size of a process, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextmanager
def demo_with_controller(extra_env: dict[str, str] | None = None) -> Iterator[Bench]:
    home = Path(tempfile.mkdtemp(prefix="aiop-bench-"))
    with SandboxServer(port=0, home=home) as server:
        kube = Kube(load_api_client(str(server.kubeconfig_path)))
        bootstrap.install_crds(kube)
        bootstrap.install_admission(kube, server)
        bootstrap.install_demo(kube)
        env = {**os.environ, "AIOP_HOME": str(home), "AIOP_METRICS_PORT": "0", "AIOP_HEALTH_PORT": "0",
               "AIOP_LOG_LEVEL": "WARNING",
               **(extra_env or {})}
        log = (home / "controller.log").open("wb")  # kept with the home folder: what went wrong, if anything
        controller = subprocess.Popen([sys.executable, "-m", "controller.cli", "controller", "--kubeconfig",
                                       str(server.kubeconfig_path)], env=env, stdout=log, stderr=subprocess.STDOUT)
        print(f"bench home (sandbox, repos, controller.log): {home}", file=sys.stderr)
        try:
            yield Bench(server, kube, ConversationClient(kube), controller, Identity(user=bootstrap.DEMO_USER), home)
        finally:
            controller.terminate()
            controller.wait(timeout=20)
            log.close()


def write_result(name: str, result: dict[str, object]) -> None:
    """Print a benchmark's figures and keep them in bench/results/<name>.json."""
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
