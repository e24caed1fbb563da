"""What the loop benchmarks share: the sandbox API server with the demo shop, and `aiop controller`, each
as its own process.

Why separate processes: the figures are the controller's and the API server's (their CPU, memory and
latency under load), not the driver's; the driver acts as the demo user through the custom resources,
like the UI does. In one process with the driver, the API server would wait for the driver's decoding
of every watch event (one interpreter lock), which no real API server does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from controller.adapters.kube import Kube, load_api_client
from controller.api.types import Identity
from controller.client import ConversationClient
from controller.tools import bootstrap


@dataclass(frozen=True)
class Sandbox:
    """`aiop sandbox` running as its own process."""

    process: subprocess.Popen[str]
    kubeconfig_path: Path


@dataclass
class Bench:
    server: Sandbox
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
def sandbox_process(home: Path) -> Iterator[Sandbox]:
    """`aiop sandbox` on a free port with `home` (all it prints in home/sandbox.log), until the block ends."""
    path = home / "sandbox.log"
    log = path.open("w")
    process = subprocess.Popen([sys.executable, "-m", "controller.cli", "sandbox", "--port", "0", "--home", str(home)],
                               env={**os.environ, "AIOP_HOME": str(home)}, stdout=log, stderr=subprocess.STDOUT,
                               text=True)
    try:
        deadline = time.monotonic() + 60
        while not (said := re.search(r"^kubeconfig: (.+)$", path.read_text(), re.MULTILINE)):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not start (exit {process.poll()}): see {path}")
            time.sleep(0.1)
        yield Sandbox(process, Path(said.group(1).strip()))
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@contextmanager
def demo_with_controller(extra_env: dict[str, str] | None = None) -> Iterator[Bench]:
    home = Path(tempfile.mkdtemp(prefix="aiop-bench-"))
    with sandbox_process(home) as server:
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
