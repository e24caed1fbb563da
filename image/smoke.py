"""The image's smoke test, run inside the image by `make image` (stdlib and our code only).

Why more than `aiop --help`: `--help` loads the command line and nothing else, and the cuts of
`image/prune.py` could break what the processes load later. This starts each process the chart
runs as far as it goes without a cluster, as the image's user: the command lines of
`aiop controller`, `aiop sync` and `aiop doctor`; the embedding model as the controller loads it
(ONNX Runtime and the exported model, a vector of 384 numbers of length 1); and the UI server
(`aiop ui`, Streamlit) until its health endpoint and its page answer. A whole thread from the image,
against the sandbox, is `python -m bench.footprint --image IMAGE` (it needs the host's virtualenv).

Usage, inside the image: `python smoke.py` (exit code 0 and one line per check, or the failing output).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import subprocess
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


def main() -> None:
    _run("aiop", "--help")
    _run("aiop", "controller", "--help")
    _run("aiop", "sync", "--help")
    _run("aiop", "doctor", "--help")
    _embed()
    _ui()
    print("image smoke test: passed")


if __name__ == "__main__":
    main()
