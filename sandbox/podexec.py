"""`kubectl exec`: the pods/exec subresource over the WebSocket channel protocol of client-go.

Why: client-go (kubectl 1.30+) runs exec over WebSocket (`v5.channel.k8s.io`, falling back to SPDY
only when the upgrade fails), and a diagnosis often starts with `kubectl exec POD -- cat /etc/...`.
The API server checks what it checks before proxying to a kubelet (the pod exists, the container
belongs to it, it is scheduled and not finished; RBAC `create` on `pods/exec`), then speaks the
channel protocol: binary frames whose first byte is the stream (0 stdin, 1 stdout, 2 stderr, 3 the
final Status, 4 resize; in v5 a `255, <stream>` frame closes a stream), and a Status on stream 3 that
says Success, NonZeroExitCode (kubectl exits with that code) or the runtime's error.

What runs the command is a hook (`ExecHook`) that the simulated cluster fills (sandbox/simulator.py:
declared commands from the behaviour file, a small shell); without it, every command gets the answer
of a container that lacks the binary. SPDY and interactive terminals (`-t`) are not modelled: a
`tty` request runs the command once, without a terminal.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from sandbox import errors

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


class ExecOutcome(Protocol):
    """What an exec hook answers: output and exit code, or `error` when the command cannot start."""

    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...
    @property
    def exit_code(self) -> int: ...
    @property
    def error(self) -> str: ...


# (namespace, pod, container, command, stdin or None) -> outcome; raises ApiError when the container
# cannot be reached. Called on the server loop.
ExecHook = Callable[[str, str, str, list[str], "str | None"], ExecOutcome]


@dataclass(frozen=True)
class NoBinary:
    """The outcome of a command in a container that has no such binary (no simulated cluster)."""

    command: str
    stdout: str = ""
    stderr: str = ""
    exit_code: int = 126

    @property
    def error(self) -> str:
        return ("OCI runtime exec failed: exec failed: unable to start container process: "
                f'exec: "{self.command}": executable file not found in $PATH: unknown')


def no_binaries(namespace: str, pod: str, container: str, command: list[str], stdin: str | None) -> ExecOutcome:
    return NoBinary(command[0] if command else "")


@dataclass(frozen=True)
class ExecRequest:
    """The query of `GET .../pods/<name>/exec`."""

    container: str
    command: list[str]
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool


def parse_request(query: Any) -> ExecRequest:
    def flag(name: str) -> bool:
        return str(query.get(name, "")).lower() in ("true", "1")

    command = list(query.getall("command", []))
    if not command:
        raise errors.bad_request("you must specify at least 1 command")
    if not (flag("stdin") or flag("stdout") or flag("stderr")):
        raise errors.bad_request("you must specify at least one of stdin, stdout, stderr")
    return ExecRequest(str(query.get("container", "")), command, flag("stdin"), flag("stdout"), flag("stderr"),
                       flag("tty"))


def check_target(pod: dict[str, Any], request: ExecRequest) -> str:
    """What the API server checks before it proxies to the kubelet; returns the container to use."""
    name = pod["metadata"]["name"]
    spec = pod.get("spec") or {}
    containers = [c.get("name", "") for c in spec.get("containers") or []]
    others = [c.get("name", "") for c in (spec.get("initContainers") or []) + (spec.get("ephemeralContainers") or [])]
    container = request.container
    if not container:
        if len(containers) != 1:
            raise errors.bad_request(f"a container name must be specified for pod {name}, choose one of: "
                                     f"[{' '.join(containers)}]")
        container = containers[0]
    if container not in containers + others:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise errors.bad_request(f"cannot exec into a container in a completed pod; current phase is {phase}")
    if not spec.get("nodeName"):
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    return container


def outcome_status(request: ExecRequest, outcome: ExecOutcome) -> dict[str, Any]:
    """The Status the kubelet sends on the error stream when the command ends."""
    if outcome.error:
        exec_id = secrets.token_hex(32)
        message = (f"Internal error occurred: error executing command in container: failed to exec in "
                   f'container: failed to start exec "{exec_id}": {outcome.error}')
        return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError",
                "details": {"causes": [{"message": message.removeprefix("Internal error occurred: ")}]},
                "code": 500}
    if outcome.exit_code:
        return {"metadata": {}, "status": "Failure",
                "message": f"command terminated with non-zero exit code: error executing command "
                           f"[{' '.join(request.command)}], exit code {outcome.exit_code}",
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": str(outcome.exit_code)}]}}
    return {"metadata": {}, "status": "Success"}


async def serve(http: web.Request, namespace: str, pod: str, request: ExecRequest, container: str,
                hook: ExecHook) -> web.WebSocketResponse:
    """Upgrade to the channel protocol, collect stdin, run the command, stream its output and Status."""
    ws = web.WebSocketResponse(protocols=PROTOCOLS)
    await ws.prepare(http)
    stdin = await _read_stdin(ws) if request.stdin else None
    try:
        outcome = hook(namespace, pod, container, request.command, stdin)
        status = outcome_status(request, outcome)
        if request.stdout and outcome.stdout:
            await ws.send_bytes(bytes([STDOUT]) + outcome.stdout.encode())
        if outcome.stderr:
            stream = STDOUT if request.tty or not request.stderr else STDERR
            await ws.send_bytes(bytes([stream]) + outcome.stderr.encode())
    except errors.ApiError as exc:
        status = {key: value for key, value in exc.status().items() if key not in ("kind", "apiVersion")}
    await ws.send_bytes(bytes([ERROR]) + json.dumps(status, separators=(",", ":")).encode())
    await ws.close()
    return ws


async def _read_stdin(ws: web.WebSocketResponse) -> str:
    """Everything sent on stream 0 until the client closes it (v5) or the connection."""
    chunks: list[bytes] = []
    async for message in ws:
        if message.type != WSMsgType.BINARY or not message.data:
            if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.ERROR):
                break
            continue
        data: bytes = message.data
        if data[0] == STDIN:
            chunks.append(data[1:])
        elif data[0] == CLOSE and data[1:2] == bytes([STDIN]):
            break
    return b"".join(chunks).decode("utf-8", errors="replace")
