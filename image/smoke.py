"""The image's smoke test, run inside the image by `make image` (stdlib and our code only).

Why more than `aiop --help`: `--help` loads the command line and nothing else, and the cuts of
`image/prune.py` could break what the processes load later. This starts each process the chart
runs as far as it goes without a cluster, as the image's user: the command lines of
`aiop controller`, `aiop sync` and `aiop doctor`; the embedding model as the controller loads it
(ONNX Runtime and the exported model, a vector of 384 numbers of length 1); and the UI server
(`aiop ui`, Streamlit) until its health endpoint and its page answer. A whole thread from the image,
against the sandbox, is `python -m bench.footprint --image IMAGE` (it needs the host's virtualenv).

With `--local-model GGUF` (the local-model variant, `make image-local-model`) it checks instead the
`type: local` backend as the controller builds it from a backends file: `aiop doctor` (through the
`aiop` command, as the chart starts it) gets an answer from it, then the adapter is built again here:
llama.cpp loads the mounted file in a `spawn` child process and answers one chat call, and this
process never imports llama_cpp. It prints the child's RSS, the time to load and answer, and whether the root file system
was writable (it must not need to be).

Usage, inside the image: `python smoke.py [--local-model GGUF]` (exit code 0 and one line per check, or
the failing output).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import IO

UI_TIMEOUT_S = 120.0


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"smoke: {' '.join(command)} exited with {done.returncode}:\n{done.stdout}{done.stderr}")
    print(f"ok  {' '.join(command)}")


def _embed() -> None:
    from controller.planning.offline.embedder import shared_embedder

    (vector,) = shared_embedder().encode(["scale web in shop to 3 replicas"])
    norm = math.sqrt(sum(float(x) * float(x) for x in vector))
    if len(vector) != 384 or abs(norm - 1.0) > 1e-3:
        raise SystemExit(f"smoke: the embedder gave {len(vector)} numbers of length {norm:.4f}, not 384 of length 1")
    print(f"ok  embedder ({os.environ.get('AIOP_EMBEDDER')}, {os.environ.get('AIOP_ONNX_MODEL_DIR')}): 384 numbers")


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:
        body: str = answer.read().decode(errors="replace")
        return body


def _ui() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    home = tempfile.mkdtemp(prefix="aiop-smoke-")
    with open(os.path.join(home, "ui.log"), "w+") as log:
        # its own process group: `aiop ui` starts Streamlit as a child, and both must go at the end
        ui = subprocess.Popen(["aiop", "ui", "--port", str(port), "--address", "127.0.0.1", "--home", home],
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_for_ui(ui, port, log)
        finally:
            _stop_group(ui)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _wait_for_ui(ui: subprocess.Popen[bytes], port: int, log: IO[str]) -> None:
    deadline = time.monotonic() + UI_TIMEOUT_S
    while True:
        try:
            if _get(f"http://127.0.0.1:{port}/_stcore/health").strip() == "ok":
                break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if ui.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            raise SystemExit(f"smoke: the UI did not answer /_stcore/health within {UI_TIMEOUT_S:.0f} s "
                             f"(exit code {ui.poll()}):\n{log.read()[-3000:]}")
        time.sleep(0.5)
    page = _get(f"http://127.0.0.1:{port}/")
    if "<title>" not in page:
        raise SystemExit(f"smoke: the UI's page has no <title>: {page[:300]!r}")
    print(f"ok  aiop ui: /_stcore/health and the page answer on port {port}")


def _rss_mb(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) of a process, in MB, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status.read().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _root_mount() -> str:
    """How / is mounted here: "read-only" (as the chart runs the pod; `image/readonly_run.py`) or "writable"."""
    with open("/proc/self/mounts") as mounts:
        roots = [line.split() for line in mounts.read().splitlines() if line.split()[1:2] == ["/"]]
    if not roots:
        return "not in /proc/self/mounts"
    return "read-only" if "ro" in roots[-1][3].split(",") else "writable"  # the last mount on / is the one seen


KUBECONFIG_NOWHERE = """apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
"""


def _doctor_backends(backends: str, folder: str) -> None:
    """`aiop doctor` asks each configured backend for a word, through `aiop`, the command the chart runs: the
    model's child process is spawned from that entry point (a `spawn` child runs the parent's main script
    again, so an unguarded one would start the command line in the child). No cluster: the other checks fail."""
    kubeconfig = os.path.join(folder, "kubeconfig")
    with open(kubeconfig, "w") as out:
        out.write(KUBECONFIG_NOWHERE)
    started = time.monotonic()
    done = subprocess.run(["aiop", "doctor", "--json", "--kubeconfig", kubeconfig, "--backends", backends],
                          capture_output=True, text=True, timeout=600)
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    ai = [r for r in results if r["name"] == "AI backends"]
    if not ai or not ai[0]["ok"]:
        raise SystemExit(f"smoke: aiop doctor's AI backends check failed:\n{done.stdout}{done.stderr[-3000:]}")
    print(f"ok  aiop doctor: {ai[0]['detail']} ({time.monotonic() - started:.1f} s, the model loaded and answered "
          "in a child of `aiop`)")


def _local_model(model: str) -> None:
    from controller.backends.config import load_config
    from controller.backends.factory import make_client
    from controller.backends.local_chat import LocalChat
    from controller.backends.wire import Msg

    folder = tempfile.mkdtemp(prefix="aiop-smoke-")
    backends = os.path.join(folder, "backends.yaml")
    with open(backends, "w") as out:
        out.write(f"backends:\n  - {{name: gemma, type: local, model_path: {model}, context_tokens: 8192, "
                  "max_output_tokens: 32, timeout_s: 300}\nroles: {summarizer: gemma}\n")
    _doctor_backends(backends, folder)
    (config,) = [b for b in load_config(backends).backends if b.name == "gemma"]
    started = time.monotonic()
    client = make_client(config, os.environ)
    assert isinstance(client, LocalChat)
    loaded = time.monotonic()
    reply = client.complete("You answer in one short sentence.", [Msg("user", "What is a Kubernetes pod?")], [], False)
    answered = time.monotonic()
    child = client.worker._process
    if not reply.text.strip() or child is None or not child.is_alive():
        raise SystemExit(f"smoke: the local model gave no answer ({reply!r}) or its process is gone")
    if "llama_cpp" in sys.modules:
        raise SystemExit("smoke: the adapter's process imported llama_cpp (it belongs in the model's child only)")
    rss, peak = _rss_mb(child.pid)
    print(f"ok  local backend ({model}): loaded in {loaded - started:.1f} s, answered {reply.output_tokens} tokens "
          f"in {answered - loaded:.1f} s ({reply.output_tokens / (answered - loaded):.1f} tokens/s): "
          f"{reply.text.strip()[:80]!r}")
    print(f"ok  the model's child process (pid {child.pid}, uid {os.getuid()}): RSS {rss:.0f} MB, peak {peak:.0f} MB; "
          f"the adapter's process {_rss_mb(os.getpid())[0]:.0f} MB without llama_cpp; root file system "
          f"{_root_mount()}")
    client.worker.stop()


def main() -> None:
    if sys.argv[1:2] == ["--local-model"] and len(sys.argv) == 3:
        _local_model(sys.argv[2])
        print("image smoke test (local model): passed")
        return
    if sys.argv[1:]:
        raise SystemExit(f"usage: python smoke.py [--local-model GGUF] (got {' '.join(sys.argv[1:])})")
    _run("aiop", "--help")
    _run("aiop", "controller", "--help")
    _run("aiop", "sync", "--help")
    _run("aiop", "doctor", "--help")
    _embed()
    _ui()
    print(f"image smoke test: passed (root file system {_root_mount()})")


if __name__ == "__main__":
    main()
