"""`aiop up`: the product on embedded defaults, in one process tree, stopped cleanly by Ctrl-C.

Without --kubeconfig it starts the sandbox API server (state kept under $AIOP_HOME/sandbox/state),
installs the CRDs, the chart's admission policy and a demo shop (Deployments web and worker, a
crashing worker pod, user demo@example.com who may edit in shop and approve), then runs the
controller and the chat UI, and prints what runs where.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from controller.adapters.kube import Kube, load_api_client
from controller.adapters.telemetry import serve_metrics, setup_logging
from controller.settings import Settings
from controller.tools import bootstrap

UI_APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"


def run_up(settings: Settings, api_port: int, ui_port: int, metrics_port: int, behaviour: Any = None) -> None:
    """`behaviour`: the sandbox's behaviour (sandbox.behaviour.Behaviour; None: the shipped default)."""
    from controller.engine.runner import start_operator_thread, warm_up
    from controller.engine.services import build_services
    from controller.serve.health import Health

    quiet = "log_level" not in settings.serve.model_fields_set  # `aiop up` keeps the terminal for its summary
    setup_logging(settings.serve.log_format, "WARNING" if quiet else settings.serve.log_level)
    settings.home.mkdir(parents=True, exist_ok=True)
    server: Any = None
    if not settings.kube.kubeconfig:
        from sandbox.server import SandboxServer

        server = SandboxServer(port=api_port, state_dir=settings.sandbox_dir / "state", home=settings.home,
                               behaviour=behaviour).start()
        settings = settings.with_kubeconfig(str(server.kubeconfig_path))
    assert settings.kube.kubeconfig is not None
    kube = Kube(load_api_client(settings.kube.kubeconfig))
    bootstrap.install_crds(kube)
    if server is not None:
        bootstrap.install_admission(kube, server)
        bootstrap.install_demo(kube)
        demo_kubeconfig = server.user_kubeconfig(bootstrap.DEMO_USER)
    settings = settings.with_serve(metrics_port=metrics_port)
    serve_metrics(metrics_port, settings.serve.bind_address)
    thread, stop = start_operator_thread(settings, build_services(settings))
    warm_up(Health())  # as `aiop controller`: the first message need not wait for the model; then gc.freeze
    ui = _start_ui(settings, ui_port) if ui_port and UI_APP.exists() else None

    print("ai-operator is up:", flush=True)
    if server is not None:
        print(f"  sandbox API server  {server.url}", flush=True)
        print(f"  admin kubeconfig    {server.kubeconfig_path}", flush=True)
        print(f"  demo user           {bootstrap.DEMO_USER} (kubeconfig {demo_kubeconfig})", flush=True)
    print(f"  controller          running (metrics http://127.0.0.1:{metrics_port}/metrics)", flush=True)
    if ui is not None:
        print(f"  chat UI             http://127.0.0.1:{ui_port}", flush=True)
    print(f"  local repo          {settings.local_repo}", flush=True)
    print(f'  try: aiop chat say first-chat "scale web in shop to 3" --home {settings.home}', flush=True)
    print("Ctrl-C stops everything.", flush=True)

    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    print("stopping…", flush=True)
    if ui is not None:
        ui.terminate()
        ui.wait(timeout=10)
    stop.set()
    thread.join(timeout=10)
    if server is not None:
        server.stop()
    print("stopped.", flush=True)


def _start_ui(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(ui_command(port, "127.0.0.1"), env=ui_environment(settings, sandbox=True))


def ui_command(port: int, address: str) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(UI_APP), "--server.port", str(port),
            "--server.address", address, "--server.headless", "true", "--browser.gatherUsageStats", "false"]


def ui_environment(settings: Settings, sandbox: bool) -> dict[str, str]:
    """The UI reads its settings from the environment (ui/config.py); sandbox mode enables the user picker."""
    env = {**os.environ, "AIOP_HOME": str(settings.home), "AIOP_KUBECONFIG": settings.kube.kubeconfig or ""}
    if sandbox:
        env["AIOP_UI_SANDBOX"] = "1"
    return env
