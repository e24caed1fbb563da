"""Kubeconfig files for the sandbox: one for the admin, one per added user.

Why files: kubectl, the official client (`config.load_kube_config`) and `aiop` all find a cluster
through a kubeconfig, so the sandbox writes real ones (token auth, context `aiop-sandbox`, the sandbox CA).
"""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

from sandbox.store import write_atomic

CONTEXT = "aiop-sandbox"


def render(server_url: str, user: str, token: str, context: str = CONTEXT, namespace: str = "default",
           ca_pem: bytes | None = None) -> str:
    cluster: dict[str, str] = {"server": server_url}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {"name": context, "context": {"cluster": CONTEXT, "user": user, "namespace": namespace}}
        ],
        "current-context": context,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False)


def write(path: Path, server_url: str, user: str, token: str, context: str = CONTEXT,
          ca_pem: bytes | None = None) -> Path:
    write_atomic(path, render(server_url, user, token, context, ca_pem=ca_pem))
    path.chmod(0o600)
    return path
