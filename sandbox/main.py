"""Run the sandbox API server in the foreground (what `aiop sandbox` calls).

Why a separate entry point: the CLI wires flags to `run()`; the server itself stays a library
object that tests start in-process.
"""

from __future__ import annotations

import gc
import signal
import threading
from pathlib import Path

from sandbox.behaviour import Behaviour, load_behaviour
from sandbox.faults import load_plan
from sandbox.server import SandboxServer


def run(port: int = 0, state_dir: Path | str | None = None, home: Path | str | None = None,
        faults: Path | str | None = None, seed: int | None = None,
        behaviour: Behaviour | Path | str | None = None) -> None:
    """Start the sandbox, print its kubeconfig path and URL, and block until SIGINT or SIGTERM.

    `faults` is a fault file (sandbox.faults), `seed` overrides its seed; a bad file raises
    `FaultPlanError` naming the file and the field before anything starts. `behaviour` is the simulated
    cluster's behaviour file (sandbox.behaviour; default: the one shipped); a bad one raises
    `BehaviourError` the same way."""
    plan = load_plan(faults, seed) if faults is not None else None
    cluster = behaviour if isinstance(behaviour, Behaviour) else load_behaviour(behaviour)
    stopped = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stopped.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with SandboxServer(port=port, state_dir=state_dir, home=home, faults=plan, behaviour=cluster) as sandbox:
            gc.collect()  # what started with the server lives as long as it: out of the collector's full passes
            gc.freeze()
            print(f"kubeconfig: {sandbox.kubeconfig_path}", flush=True)
            print(f"url: {sandbox.url}", flush=True)
            while not stopped.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    run()
