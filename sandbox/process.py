"""A container's process as a timeline: what it prints, listens on, allocates and writes, and when it exits.

Why a timeline: the kubelet never runs anything; it asks "at t seconds after start, is the process
still alive, which ports accept connections, how much memory does it hold, what has it logged?".
Every answer follows from this record, built once per container start from the image's declared
`Run` (sandbox/behaviour.py) or from its command line (sandbox/shell.py), so logs, probes,
OOM kills and exits agree with each other and survive a restart of the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from sandbox.behaviour import LogLine, Run

FOREVER = float("inf")
MAX_LOG_LINES = 5000  # a looping container's log is cut here (kubelet rotates at 10 MiB anyway)


@dataclass(frozen=True)
class Output:
    at: float
    text: str
    stream: str = "stdout"


@dataclass(frozen=True)
class FileOp:
    """A write (content), an append, or a removal (content None) at `at` seconds after start."""

    at: float
    path: str
    content: str | None
    append: bool = False


@dataclass
class Process:
    listen: set[int] = field(default_factory=set)
    ready_after: float = 0.0
    exit_at: float | None = None  # seconds after start; None: runs until stopped
    exit_code: int = 0
    memory: list[tuple[float, float]] = field(default_factory=list)  # (at, MiB) steps
    cpu_millicores: float = 0.0
    output: list[Output] = field(default_factory=list)
    repeat: tuple[float, float, tuple[Output, ...]] | None = None  # (from, period, lines within a period)
    files: list[FileOp] = field(default_factory=list)
    http: dict[str, int] = field(default_factory=dict)
    pages: dict[str, str] = field(default_factory=dict)
    doc_root: str = ""
    stop_seconds: float | None = None  # after SIGTERM; None: ignores it (PID 1 without a handler)
    start_error: str = ""
    listen_declared: bool = False

    def memory_at(self, t: float) -> float:
        value = 0.0
        for at, mib in self.memory:
            if at <= t:
                value = mib
        return value

    def peak_memory_time(self, limit_mib: float) -> float | None:
        """When memory first exceeds `limit_mib` (the OOM kill), or None."""
        for at, mib in sorted(self.memory):
            if mib > limit_mib:
                return at
        return None

    def log_lines(self, until: float) -> list[Output]:
        """Everything written up to `until` seconds after start, repeated output included."""
        lines = [o for o in self.output if o.at <= until]
        if self.repeat is not None:
            start, period, body = self.repeat
            cycle = 0
            while period > 0 and len(lines) < MAX_LOG_LINES:
                base = start + cycle * period
                if base > until:
                    break
                lines.extend(Output(base + o.at, o.text, o.stream) for o in body if base + o.at <= until)
                cycle += 1
        return lines[-MAX_LOG_LINES:]

    def http_status(self, path: str) -> int:
        """What a GET of `path` answers: 0 when the port does not speak HTTP."""
        if not self.http:
            return 200
        if path in self.http:
            return self.http[path]
        return self.http.get("*", 200)


class FileSystem(Protocol):
    """What a container sees: its own files plus its mounted volumes."""

    def read(self, path: str) -> str | None: ...

    def write(self, path: str, content: str, append: bool = False) -> bool: ...

    def remove(self, path: str) -> bool: ...

    def listdir(self, path: str) -> list[str] | None: ...


class ScratchFiles:
    """A plain in-memory file system (a container's writable layer, an emptyDir, a volume's data)."""

    def __init__(self, files: dict[str, str] | None = None) -> None:
        self.files: dict[str, str] = dict(files or {})

    def read(self, path: str) -> str | None:
        return self.files.get(path)

    def write(self, path: str, content: str, append: bool = False) -> bool:
        self.files[path] = (self.files.get(path, "") + content) if append else content
        return True

    def remove(self, path: str) -> bool:
        removed = [p for p in self.files if p == path or p.startswith(path.rstrip("/") + "/")]
        for p in removed:
            del self.files[p]
        return bool(removed)

    def listdir(self, path: str) -> list[str] | None:
        prefix = path.rstrip("/") + "/"
        names = sorted({p[len(prefix):].split("/")[0] for p in self.files if p.startswith(prefix)})
        return names or None


def _lines(entries: list[str | LogLine]) -> list[Output]:
    out = []
    for entry in entries:
        if isinstance(entry, str):
            out.append(Output(0.0, entry))
        else:
            out.append(Output(entry.after_seconds, entry.text, entry.stream))
    return out


def from_run(run: Run, env: dict[str, str], substitutions: dict[str, str], at: float = 0.0) -> Process:
    """The process an image's declared `Run` describes, started `at` seconds into the container."""
    for requirement in run.require_env:
        if not any(env.get(name) for name in requirement.any_of):
            return Process(exit_at=at, exit_code=requirement.exit_code,
                           output=[Output(at + o.at, _subst(o.text, substitutions), o.stream)
                                   for o in _lines(requirement.logs)])
    process = Process(
        listen=set(run.listen) if isinstance(run.listen, list) else set(),
        listen_declared=run.listen == "declared",
        ready_after=at + run.ready_after_seconds,
        exit_at=None if run.exit_after_seconds is None else at + run.exit_after_seconds,
        exit_code=run.exit_code,
        memory=[(at, run.memory_mib)] if run.memory_mib else [],
        cpu_millicores=run.cpu_millicores,
        output=[Output(at + o.at, _subst(o.text, substitutions), o.stream) for o in _lines(run.logs)],
        http=dict(run.http),
        pages={path: _subst(text, substitutions) for path, text in run.pages.items()},
        doc_root=run.doc_root,
        stop_seconds=run.stop_seconds,
    )
    return process


def _subst(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    return text


def substitute(text: str, values: dict[str, str]) -> str:
    """`${tag}`-style placeholders of the behaviour file filled in."""
    return _subst(text, values)
