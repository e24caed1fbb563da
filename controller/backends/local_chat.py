"""The `local` backend: llama.cpp with a GGUF file the user mounts, in a child process of the controller.

Why embedded: an air-gapped cluster may have no model server at all, only a file (a PVC or an
image layer). llama-cpp-python runs that file and answers `create_chat_completion` with the same
chat-completions requests and bodies as llama.cpp's HTTP server, so this adapter is the OpenAI
adapter with another `send`: the request shapes, the memory of what the chat handler refuses, the
parsing and the error handling are the same code.

Why a child process and not a thread: llama.cpp is C++ that Python cannot interrupt or guard.
Its grammar sampler has crashed with SIGSEGV (seen in our own test run, and in llama-cpp-python's
issue tracker), and a generation cannot be stopped mid-way. In the controller's own process the
first would take the operator down with every thread it was handling, the second would hold the
model for minutes after the caller gave up. In a child (`ModelWorker`, one per file and settings,
started with `spawn` so no lock or thread of the controller is copied into it):
- a crash is a `TransientError` for that call ("the model's process ended: SIGSEGV"), and the next
  call starts a fresh child (loading a small GGUF takes about a second);
- a time-out kills the child at `timeout_s`: the CPU is free at once, nothing runs in the background;
- calls are serialised per model (a llama.cpp context is not re-entrant), waiting at most `timeout_s`.
What differs from an HTTP server, and is handled here:
- llama-cpp-python spells a JSON-schema'd reply `{"type": "json_object", "schema": ...}`, so the
  standard `json_schema` form is translated;
- a chat handler that is not one of llama-cpp-python's tool-calling handlers ignores `tools`
  (it renders the GGUF's own template): such a backend starts at the named-tool and JSON shapes.
The package `llama_cpp` is imported only in the child, and only when a `local` backend is
configured, so the controller's memory and start-up are unchanged without one.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from controller.backends import compat
from controller.backends.config import LocalConfig
from controller.backends.errors import ConfigError, InvalidOutput, TransientError
from controller.backends.openai_chat import OpenAIChat
from controller.backends.wire import Reply

TOOL_CALLING_FORMATS = ("chatml-function-calling", "functionary", "functionary-v1", "functionary-v2")
LOAD_TIMEOUT_S = 300.0
ModelKey = tuple[str, int, int | None, str | None]


def _serve(conn: Connection, key: ModelKey) -> None:
    """The child: load the model, then answer one request at a time until the pipe closes."""
    path, context_tokens, threads, chat_format = key
    try:
        from llama_cpp import Llama
    except ImportError:
        conn.send(("config", "type local needs the llama-cpp-python package: in a cluster, run the controller "
                           "from the image's local-model variant (chart value localModel.enabled: true, "
                           "tag suffix -local-model); elsewhere `pip install -r requirements-local-model.lock`"))
        return
    try:
        llama = Llama(model_path=path, n_ctx=context_tokens, n_threads=threads, n_threads_batch=threads,
                      chat_format=chat_format, verbose=False)
    except (ValueError, RuntimeError, KeyError) as exc:
        conn.send(("config", f"llama.cpp cannot load it: {exc}"))
        return
    conn.send(("ready", ""))
    while True:
        try:
            args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(("ok", llama.create_chat_completion(**args)))
        except Exception as exc:  # the chat handler refuses a shape (an assertion, a template error)
            conn.send(("error", (type(exc).__name__, str(exc))))


def _ended(process: multiprocessing.process.BaseProcess) -> str:
    process.join(1.0)
    code = process.exitcode
    if code is not None and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


class ModelWorker:
    """One child process holding one model; restarted after a crash or a time-out."""

    def __init__(self, key: ModelKey) -> None:
        self.key = key
        self.lock = threading.Lock()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None

    def start(self, timeout_s: float = LOAD_TIMEOUT_S) -> None:
        """Start the child if it is not running and wait for the model to load (`ConfigError` if it cannot)."""
        if self._process is not None and self._process.is_alive():
            return
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_serve, args=(child, self.key), name="aiop-local-model", daemon=True)
        process.start()
        child.close()
        if not parent.poll(timeout_s):
            process.kill()
            raise TransientError(f"the local model did not load within {timeout_s:g}s")
        try:
            kind, detail = parent.recv()
        except EOFError:
            raise ConfigError(f"llama.cpp ended while loading it ({_ended(process)})") from None
        if kind != "ready":
            process.join(5)
            raise ConfigError(detail)
        self._process, self._conn = process, parent

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None

    def call(self, args: dict[str, Any], timeout_s: float) -> tuple[str, Any]:
        """("ok", completion) or ("error", (type name, message)); `TransientError` on a time-out or crash."""
        started = time.monotonic()
        if not self.lock.acquire(timeout=timeout_s):
            raise TransientError(f"timed out after {timeout_s:g}s waiting for the local model (busy with another call)")
        try:
            self.start()
            assert self._conn is not None and self._process is not None
            process = self._process
            try:
                self._conn.send(args)
                if self._conn.poll(max(0.0, timeout_s - (time.monotonic() - started))):
                    outcome: tuple[str, Any] = self._conn.recv()
                    return outcome
            except (EOFError, OSError, BrokenPipeError):
                self.stop()
                raise TransientError(f"the local model's process ended ({_ended(process)}); "
                                     "the next call starts it again") from None
            self.stop()  # llama.cpp cannot be interrupted: the child goes, and with it the CPU it used
            raise TransientError(f"timed out after {timeout_s:g}s")
        finally:
            self.lock.release()


_workers: dict[ModelKey, ModelWorker] = {}
_loading = threading.Lock()


def model_worker(cfg: LocalConfig) -> ModelWorker:
    """The process's worker for this file and settings (started and loaded on first use)."""
    path = Path(cfg.model_path)
    if not path.is_file():
        raise ConfigError(f"backend {cfg.name}: model_path {cfg.model_path}: no such file (mount the GGUF there)")
    key: ModelKey = (str(path.resolve()), cfg.context_tokens, cfg.threads, cfg.chat_format)
    with _loading:
        worker = _workers.get(key) or ModelWorker(key)
        with worker.lock:
            try:
                worker.start()
            except ConfigError as exc:
                raise ConfigError(f"backend {cfg.name}: model_path {cfg.model_path}: {exc}") from exc
        _workers[key] = worker
        return worker


class LocalChat(OpenAIChat):
    """`ChatClient` over a llama.cpp model in a child process."""

    def __init__(self, config: LocalConfig) -> None:  # the OpenAI client is not needed: no super().__init__
        import openai

        self._openai = openai
        self.config = config
        self.context_tokens = config.context_tokens
        self.stream = False
        self.capabilities = compat.Capabilities()
        self.model = config.model or Path(config.model_path).name
        self.worker = model_worker(config)
        if (config.chat_format or "") not in TOOL_CALLING_FORMATS:
            for kind in ("tools", "one-tool"):
                self.capabilities.assume_refused(kind, ("tool_choice=required", "tool_choice=auto"),
                                                 "the GGUF template handler ignores tools")

    def send(self, body: dict[str, Any], stream: bool) -> Reply:
        args = dict(body)  # `model` names the answer's model: the configured name, not the file's path
        fmt = args.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            args["response_format"] = {"type": "json_object", "schema": fmt["json_schema"]["schema"]}
        kind, result = self.worker.call(args, self.config.timeout_s)
        if kind == "error":
            name, message = result
            if name == "ValueError" and "exceed context window" in message:
                raise compat.TooLong(400, f"{message} (context_tokens: {self.context_tokens})")
            raise compat.Refused(500, f"{name}: {message}"[:300])
        try:
            return self._parse(self._openai.types.chat.ChatCompletion.model_validate(result))
        except (ValueError, TypeError) as exc:
            raise InvalidOutput(f"llama.cpp's answer could not be read: {exc}") from exc
