"""The `local` backend: llama.cpp embedded in the controller, with a GGUF file the user mounts.

Why embedded: an air-gapped cluster may have no model server at all, only a file (a PVC or an
image layer). llama-cpp-python runs that file in the controller's process and answers
`create_chat_completion` with the same chat-completions requests and bodies as llama.cpp's HTTP
server, so this adapter is the OpenAI adapter with another `send`: the request shapes, the memory
of what the chat handler refuses, the parsing and the error handling are the same code.

What differs, and is handled here:
- the model is loaded once per process and file (an eval worker or a controller that builds its
  backends again reuses it), and calls are serialised on it (a llama.cpp context is not re-entrant);
- a time limit: the call returns a `TransientError` at `timeout_s`, like an HTTP time-out; llama.cpp
  cannot be interrupted, so the generation finishes in the background (bounded by `max_output_tokens`)
  and holds the model until then, as a model server would;
- llama-cpp-python spells a JSON-schema'd reply `{"type": "json_object", "schema": ...}`, so the
  standard `json_schema` form is translated;
- a chat handler that is not one of llama-cpp-python's tool-calling handlers ignores `tools`
  (it renders the GGUF's own template): such a backend starts at the named-tool and JSON shapes.
The package `llama_cpp` is imported here only, and only when a `local` backend is configured, so
the controller's memory and start-up are unchanged without one.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from controller.backends import compat
from controller.backends.config import LocalConfig
from controller.backends.errors import ConfigError, InvalidOutput, TransientError
from controller.backends.openai_chat import OpenAIChat
from controller.backends.wire import Reply

TOOL_CALLING_FORMATS = ("chatml-function-calling", "functionary", "functionary-v1", "functionary-v2")

_models: dict[tuple[str, int, int | None, str | None], tuple[Any, threading.Lock]] = {}
_loading = threading.Lock()


def load_model(cfg: LocalConfig) -> tuple[Any, threading.Lock]:
    """The process's `Llama` for this file and settings (loaded on first use), and its lock."""
    path = Path(cfg.model_path)
    if not path.is_file():
        raise ConfigError(f"backend {cfg.name}: model_path {cfg.model_path}: no such file (mount the GGUF there)")
    key = (str(path.resolve()), cfg.context_tokens, cfg.threads, cfg.chat_format)
    with _loading:
        if key not in _models:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise ConfigError(f"backend {cfg.name}: type local needs the llama-cpp-python package") from exc
            try:
                llama = Llama(model_path=key[0], n_ctx=cfg.context_tokens, n_threads=cfg.threads,
                              n_threads_batch=cfg.threads, chat_format=cfg.chat_format, verbose=False)
            except (ValueError, RuntimeError, KeyError) as exc:
                raise ConfigError(f"backend {cfg.name}: model_path {cfg.model_path}: llama.cpp cannot load it: "
                                  f"{exc}") from exc
            _models[key] = (llama, threading.Lock())
        return _models[key]


class LocalChat(OpenAIChat):
    """`ChatClient` over an in-process llama.cpp model."""

    def __init__(self, config: LocalConfig) -> None:  # the OpenAI client is not needed: no super().__init__
        import openai

        self._openai = openai
        self.config = config
        self.context_tokens = config.context_tokens
        self.stream = False
        self.capabilities = compat.Capabilities()
        self.model = config.model or Path(config.model_path).name
        self.llama, self._lock = load_model(config)
        if (config.chat_format or "") not in TOOL_CALLING_FORMATS:
            for kind in ("tools", "one-tool"):
                self.capabilities.assume_refused(kind, ("tool_choice=required", "tool_choice=auto"),
                                                 "the GGUF template handler ignores tools")

    def send(self, body: dict[str, Any], stream: bool) -> Reply:
        args = dict(body)  # `model` names the answer's model: the configured name, not the file's path
        fmt = args.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            args["response_format"] = {"type": "json_object", "schema": fmt["json_schema"]["schema"]}
        timeout = self.config.timeout_s
        started = time.monotonic()
        if not self._lock.acquire(timeout=timeout):
            raise TransientError(f"timed out after {timeout:g}s waiting for the local model (busy with another call)")
        outcome: dict[str, Any] = {}

        def generate() -> None:
            try:
                outcome["raw"] = self.llama.create_chat_completion(**args)
            except Exception as exc:
                outcome["error"] = exc
            finally:
                self._lock.release()

        worker = threading.Thread(target=generate, name="local-llama", daemon=True)
        worker.start()
        worker.join(max(0.0, timeout - (time.monotonic() - started)))
        if worker.is_alive():  # llama.cpp cannot be interrupted: it finishes (max_tokens) and frees the lock
            raise TransientError(f"timed out after {timeout:g}s")
        exc = outcome.get("error")
        if isinstance(exc, ValueError) and "exceed context window" in str(exc):
            raise compat.TooLong(400, f"{exc} (context_tokens: {self.context_tokens})") from exc
        if exc is not None:  # the chat handler refuses a shape (an assertion, a template error)
            raise compat.Refused(500, f"{type(exc).__name__}: {exc}"[:300]) from exc
        try:
            return self._parse(self._openai.types.chat.ChatCompletion.model_validate(outcome["raw"]))
        except (ValueError, TypeError) as exc:
            raise InvalidOutput(f"llama.cpp's answer could not be read: {exc}") from exc
