"""Fixtures for the install tests: a sandbox API server and free loopback ports.

The Kubernetes API is the sandbox (a faithful fake speaking the real REST protocol, see sandbox/);
it serves Leases, ServiceAccount tokens (TokenRequest) and RBAC as a real API server does.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from controller.adapters.kube import Kube, load_api_client

if TYPE_CHECKING:
    from sandbox.server import SandboxServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    from sandbox.server import SandboxServer

    home: Path = tmp_path_factory.mktemp("sandbox-home")
    with SandboxServer(port=0, home=home) as server:
        yield server


@pytest.fixture(scope="module")
def admin(sandbox: SandboxServer) -> Kube:
    return Kube(load_api_client(str(sandbox.kubeconfig_path)))
