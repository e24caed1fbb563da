"""The chat dashboard against a real sandbox API server and the real controller (kopf).

Same pattern as tests/engine: the Kubernetes API is the sandbox (RBAC, impersonation and the
chart's admission policy enforced), the AI backend is scripted at the `Backend` seam, git and
the local forge are real. AppTest runs `ui/app.py` in this process, so the page reads its
settings from the environment we set here, exactly as `aiop up` passes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from tests.engine.conftest import ALICE, DAVE, Loop, start_loop
from tests.ui.cdp import Browser, find_chromium

APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"


@pytest.fixture(scope="package")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    """With the CSI snapshot CRDs and a VolumeSnapshotClass for the sandbox's driver (restore shows snapshots)."""
    from tests.snapshots import objects as o

    yield from start_loop(tmp_path_factory.mktemp("aiop-ui-home"), extra_crds=o.snapshot_crds(),
                          extra_objects=[o.snapshot_class(), *o.storage_rights(ALICE.user)])


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """Headless Chromium driven over the DevTools protocol (tests/ui/cdp.py)."""
    binary = find_chromium()
    if binary is None:
        pytest.skip("Chromium not found (apt-get install -y chromium, or `make install` as root)")
    b = Browser(binary, tmp_path / "profile")
    try:
        yield b
    finally:
        b.close()


AppFactory = Callable[..., AppTest]


@pytest.fixture
def make_app(loop: Loop, monkeypatch: pytest.MonkeyPatch) -> AppFactory:
    """An AppTest of ui/app.py acting (sandbox picker) as `user`, against `kubeconfig` (default: the loop's)."""
    assert DAVE  # the loop's users: alice (edit+approve), carol (view), dave (edit, no approve)

    def make(user: str, kubeconfig: str | None = None) -> AppTest:
        env = {"AIOP_KUBECONFIG": kubeconfig or str(loop.server.kubeconfig_path),
               "AIOP_HOME": str(loop.settings.home), "AIOP_UI_SANDBOX": "1", "AIOP_UI_SANDBOX_USERS": user,
               "AIOP_UI_NAMESPACES": "shop", "AIOP_UI_ANSWER_TIMEOUT": "60", "AIOP_UI_POLL_SECONDS": "0.5"}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return AppTest.from_file(str(APP), default_timeout=90)

    return make


def dead_kubeconfig(loop: Loop, tmp_path: Path) -> str:
    """The loop's kubeconfig pointing at a port where no API server listens."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config: dict[str, Any] = yaml.safe_load(Path(loop.server.kubeconfig_path).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{port}"
    path = tmp_path / "dead-kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def page_text(at: AppTest) -> str:
    """Everything a person can read on the page (main area and sidebar), as one string."""
    parts: list[str] = []
    for kind in ("title", "subheader", "markdown", "caption", "error", "warning", "info", "success", "code",
                 "metric", "exception"):
        for element in getattr(at, kind):
            parts.append(str(getattr(element, "value", "") or ""))
            if kind == "metric":
                parts.append(str(element.label))
    for element in at.button:
        parts.append(str(element.label))
    return "\n".join(parts)


def read_with_official_client(loop: Loop, namespace: str, name: str) -> dict[str, Any]:
    """The conversation as the official kubernetes client reads it (as admin), not through our own client."""
    from kubernetes import client, config

    from controller.api.constants import GROUP, VERSION

    api = config.new_client_from_config(config_file=str(loop.server.kubeconfig_path))
    try:
        found: dict[str, Any] = client.CustomObjectsApi(api).get_namespaced_custom_object(
            GROUP, VERSION, namespace, "aiconversations", name)
        return found
    finally:
        api.close()


def current_thread(at: AppTest) -> tuple[str, str]:
    current = at.session_state["current"]
    return current[0], current[1]
