"""`/healthz` and `/readyz`: what the kubelet asks a controller pod, answered from recorded facts.

Why its own thread and stdlib server: liveness must answer "is the event loop alive?", so the
server cannot run on the loop it judges. The loop (kopf's, or the leader election's while a
replica waits as standby) calls `beat()`; a beat older than `stale_after_s` fails liveness and
the kubelet restarts the pod. Readiness lists its checks (CRDs found, embedder loaded, leader
with watches established, or standby), so `curl /readyz` says what is missing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STANDBY, LEADER, STARTING = "standby", "leader", "starting"


@dataclass
class Health:
    """Facts about this replica, set by the runner; read by the HTTP handlers (thread-safe)."""

    stale_after_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last_beat: float | None = None
    _facts: dict[str, bool] = field(default_factory=lambda: {"crds": False, "embedder": False, "watching": False})
    _role: str = STARTING

    def beat(self) -> None:
        with self._lock:
            self._last_beat = self.clock()

    def set(self, fact: str, value: bool = True) -> None:
        with self._lock:
            self._facts[fact] = value

    @property
    def role(self) -> str:
        with self._lock:
            return self._role

    @role.setter
    def role(self, value: str) -> None:
        with self._lock:
            self._role = value

    def live(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            age = None if self._last_beat is None else self.clock() - self._last_beat
        ok = age is not None and age <= self.stale_after_s
        return ok, {"loop": "alive" if ok else "stalled", "lastBeatSecondsAgo": None if age is None else round(age, 1)}

    def ready(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            facts, role = dict(self._facts), self._role
        checks = {"crds": facts["crds"], "embedder": facts["embedder"],
                  "role": role in (LEADER, STANDBY), "watching": role != LEADER or facts["watching"]}
        return all(checks.values()), {"role": role, "checks": checks}


def _handler(health: Health) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                ok, body = health.live()
            elif path == "/readyz":
                ok, body = health.ready()
            else:
                self._send(404, {"error": f"no such endpoint {path}; try /healthz or /readyz"})
                return
            self._send(200 if ok else 503, {"ok": ok, **body})

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds: not worth a log line
            return

    return Handler


def serve_health(health: Health, port: int, address: str = "127.0.0.1") -> ThreadingHTTPServer | None:
    """Serve /healthz and /readyz on a daemon thread (port 0 = off). Returns the server (its port for tests)."""
    if not port:
        return None
    server = ThreadingHTTPServer((address, port), _handler(health))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="aiop-health", daemon=True).start()
    return server
