"""A small POSIX-shell interpreter that runs in virtual time, to learn what a container's command does.

Why: plain-kubectl tasks run `busybox` or `nginx` with `sh -c "echo start; sleep 3600"`,
`while true; do date; sleep 5; done`, `python3 -c '...'` or a typo that exits 127. A real cluster's
answer (logs, exit code, restarts, CrashLoopBackOff, memory) follows from those scripts, so the
sandbox reads them: `;`, `&&`, `||`, `&`, pipes, redirections, `while`/`until`/`for`/`if`,
variables and `$(...)`. Nothing is executed on the host; programs are simulated by
sandbox/programs.py, and `sleep` only advances the script's clock. The same interpreter answers
`kubectl exec` (sandbox/kubelet.py) in exec mode, where time does not pass.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from sandbox.process import FOREVER, FileOp, FileSystem, Output, Process

OPERATORS = ("&&", "||", ";;", ">>", ">&", "<&", "&>", ";", "&", "|", ">", "<", "\n")
KEYWORDS_END = {"then", "elif", "else", "fi", "do", "done", "}"}
MAX_STEPS = 2000


class ShellSyntaxError(ValueError):
    pass


@dataclass
class Simple:
    words: list[str]
    redirects: list[tuple[str, str, str]] = field(default_factory=list)  # (fd, op, target)


@dataclass
class Loop:
    condition: list[Any]
    body: list[Any]
    until: bool = False


@dataclass
class For:
    var: str
    items: list[str]
    body: list[Any]


@dataclass
class If:
    branches: list[tuple[list[Any], list[Any]]]
    otherwise: list[Any] | None


@dataclass
class Group:
    body: list[Any]


# A list is [(pipeline, separator)], a pipeline is [command].


def tokenize(script: str) -> list[str]:
    lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|<>\n")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        raw = list(lexer)
    except ValueError as exc:  # unclosed quote
        raise ShellSyntaxError(f"Syntax error: {exc}") from exc
    tokens: list[str] = []
    for tok in raw:
        if tok and all(c in ";&|<>\n" for c in tok):
            i = 0
            while i < len(tok):
                op = next(o for o in (*OPERATORS, tok[i]) if tok.startswith(o, i))
                tokens.append(op)
                i += len(op)
        else:
            tokens.append(tok)
    return tokens


class Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, word: str) -> None:
        self.skip_newlines()
        if self.peek() != word:
            raise ShellSyntaxError(f'Syntax error: "{self.peek() or "end of file"}" unexpected (expecting "{word}")')
        self.take()

    def skip_newlines(self) -> None:
        while self.peek() in ("\n", ";"):
            self.take()

    def parse_list(self, stop: set[str]) -> list[tuple[list[Any], str]]:
        items: list[tuple[list[Any], str]] = []
        while True:
            while self.peek() == "\n":
                self.take()
            tok = self.peek()
            if tok is None or tok in stop:
                return items
            pipeline = self.parse_pipeline()
            sep = self.peek()
            if sep in (";", "&", "&&", "||", "\n"):
                self.take()
                items.append((pipeline, sep or ";"))
            else:
                items.append((pipeline, ";"))
                if sep is not None and sep not in stop:
                    raise ShellSyntaxError(f'Syntax error: "{sep}" unexpected')

    def parse_pipeline(self) -> list[Any]:
        commands = [self.parse_command()]
        while self.peek() == "|":
            self.take()
            while self.peek() == "\n":
                self.take()
            commands.append(self.parse_command())
        return commands

    def parse_command(self) -> Any:
        tok = self.peek()
        if tok in ("while", "until"):
            self.take()
            condition = self.parse_list({"do"})
            self.expect("do")
            body = self.parse_list({"done"})
            self.expect("done")
            return Loop(condition, body, until=tok == "until")
        if tok == "for":
            self.take()
            var = self.take()
            items: list[str] = []
            if self.peek() == "in":
                self.take()
                while self.peek() not in (";", "\n", "do", None):
                    items.append(self.take())
            self.skip_newlines()
            self.expect("do")
            body = self.parse_list({"done"})
            self.expect("done")
            return For(var, items, body)
        if tok == "if":
            self.take()
            branches = []
            condition = self.parse_list({"then"})
            self.expect("then")
            body = self.parse_list({"elif", "else", "fi"})
            branches.append((condition, body))
            otherwise = None
            while self.peek() == "elif":
                self.take()
                condition = self.parse_list({"then"})
                self.expect("then")
                branches.append((condition, self.parse_list({"elif", "else", "fi"})))
            if self.peek() == "else":
                self.take()
                otherwise = self.parse_list({"fi"})
            self.expect("fi")
            return If(branches, otherwise)
        if tok == "{":
            self.take()
            body = self.parse_list({"}"})
            self.expect("}")
            return Group(body)
        words: list[str] = []
        redirects: list[tuple[str, str, str]] = []
        while True:
            tok = self.peek()
            if tok is None or tok in (";", "&", "&&", "||", "|", "\n") or (not words and tok in KEYWORDS_END):
                break
            if tok in (">", ">>", ">&", "<", "<&", "&>"):
                self.take()
                fd = "1" if tok != "<" else "0"
                if words and words[-1] in ("1", "2") and tok != "&>":
                    fd = words.pop()
                if tok == "&>":
                    fd = "&"
                target = self.take() if self.peek() is not None else ""
                redirects.append((fd, tok, target))
                continue
            words.append(self.take())
        if not words and not redirects:
            raise ShellSyntaxError(f'Syntax error: "{tok or "end of file"}" unexpected')
        return Simple(words, redirects)


def parse(script: str) -> list[tuple[list[Any], str]]:
    parser = Parser(tokenize(script))
    items = parser.parse_list(set())
    if parser.peek() is not None:
        raise ShellSyntaxError(f'Syntax error: "{parser.peek()}" unexpected')
    return items


class ExitShell(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


class Forever(Exception):
    """The foreground process blocks forever (a server, `sleep infinity`, `tail -f`)."""


_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*|[?$#0-9]))")


class Shell:
    """Runs a parsed script against a Process under construction (or, in exec mode, collects output)."""

    def __init__(self, runtime: Any, env: dict[str, str], fs: FileSystem, exec_mode: bool = False,
                 style: str = "dash") -> None:
        self.runtime = runtime  # sandbox.programs.Runtime: availability and the programs themselves
        self.env = dict(env)
        self.fs = fs
        self.exec_mode = exec_mode
        self.style = style
        self.t = 0.0
        self.status = 0
        self.process = Process(stop_seconds=None)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.captures: list[list[tuple[str, str]]] = []
        self.steps = 0
        self.errexit = False
        self.stdin: str | None = None

    # -- output and files ---------------------------------------------------------------------

    def emit(self, text: str, stream: str = "stdout") -> None:
        if self.captures:
            self.captures[-1].append((text, stream))
        elif self.exec_mode:
            (self.stdout if stream == "stdout" else self.stderr).append(text)
        else:
            for line in text.splitlines() or [""]:
                self.process.output.append(Output(self.t, line, stream))

    def write_file(self, path: str, content: str, append: bool = False) -> bool:
        ok = self.fs.write(path, content, append)
        if ok and not self.exec_mode:
            self.process.files.append(FileOp(self.t, path, content, append))
        return ok

    def remove_file(self, path: str) -> bool:
        ok = self.fs.remove(path)
        if ok and not self.exec_mode:
            self.process.files.append(FileOp(self.t, path, None))
        return ok

    def sleep(self, seconds: float) -> None:
        if seconds == FOREVER:
            if not self.exec_mode:
                raise Forever()
            return
        if not self.exec_mode:
            self.t += seconds

    def finish(self, code: int) -> None:
        self.process.exit_at = self.t
        self.process.exit_code = code

    def add_memory(self, mib: float) -> None:
        self.process.memory.append((self.t, self.process.memory_at(self.t) + mib))

    def not_found(self, name: str) -> int:
        if self.style == "busybox":
            self.emit(f"sh: {name}: not found\n", "stderr")
        elif self.style == "bash":
            self.emit(f"bash: line 1: {name}: command not found\n", "stderr")
        else:
            self.emit(f"/bin/sh: 1: {name}: not found\n", "stderr")
        return 127

    # -- expansion ----------------------------------------------------------------------------

    def expand(self, word: str) -> str:
        if "$(" in word or "`" in word:
            word = re.sub(r"\$\(\(([^()]*)\)\)", lambda m: self._arith(m.group(1)), word)
            word = re.sub(r"\$\(([^()]*)\)|`([^`]*)`", lambda m: self._substitute(m.group(1) or m.group(2)), word)

        def var(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(3)
            if name == "?":
                return str(self.status)
            if name == "$":
                return "1"
            value = self.env.get(name, "")
            return value if value or m.group(2) is None else m.group(2)

        return _VAR.sub(var, word)

    def _arith(self, expr: str) -> str:
        text = _VAR.sub(lambda m: self.env.get(m.group(1) or m.group(3), "0") or "0", expr)
        text = re.sub(r"[A-Za-z_][A-Za-z0-9_]*", lambda m: self.env.get(m.group(0), "0") or "0", text)
        if not re.fullmatch(r"[\d\s+\-*/%()]*", text):
            return "0"
        try:
            return str(int(eval(text.replace("/", "//"), {"__builtins__": {}}, {})))  # digits and operators only
        except (SyntaxError, ZeroDivisionError, TypeError, ValueError):
            return "0"

    def _substitute(self, script: str) -> str:
        self.captures.append([])
        try:
            self.run_list(parse(script))
        except (ShellSyntaxError, Forever):
            pass
        finally:
            captured = self.captures.pop()
        return "".join(t for t, s in captured if s == "stdout").rstrip("\n")

    # -- execution ----------------------------------------------------------------------------

    def run_list(self, items: list[tuple[list[Any], str]]) -> int:
        run_next = True
        for pipeline, sep in items:
            if run_next:
                if sep == "&":
                    self._background(pipeline)
                    self.status = 0
                else:
                    self.status = self.run_pipeline(pipeline)
                    if self.errexit and self.status != 0 and sep not in ("&&", "||"):
                        raise ExitShell(self.status)
            if sep == "&&":
                run_next = self.status == 0
            elif sep == "||":
                run_next = self.status != 0
            else:
                run_next = True
        return self.status

    def _background(self, pipeline: list[Any]) -> None:
        saved_t, saved_process = self.t, self.process
        shadow = Process(stop_seconds=None)
        self.process = shadow
        try:
            self.run_pipeline(pipeline)
        except (Forever, ExitShell):
            pass
        finally:
            self.process, self.t = saved_process, saved_t
        self.process.listen |= shadow.listen
        self.process.output.extend(shadow.output)
        self.process.files.extend(shadow.files)
        self.process.cpu_millicores += shadow.cpu_millicores
        for at, mib in shadow.memory:
            self.process.memory.append((at, self.process.memory_at(at) + mib))
        self.process.memory.sort()
        self.process.http.update(shadow.http)

    def run_pipeline(self, pipeline: list[Any]) -> int:
        if len(pipeline) == 1:
            return self.run_command(pipeline[0])
        status = 0
        stdin: str | None = None
        for index, command in enumerate(pipeline):
            last = index == len(pipeline) - 1
            if not last:
                self.captures.append([])
            self.stdin = stdin
            try:
                status = self.run_command(command)
            finally:
                self.stdin = None
                if not last:
                    captured = self.captures.pop()
                    stdin = "".join(t for t, s in captured if s == "stdout")
                    for text, stream in captured:
                        if stream == "stderr":
                            self.emit(text, "stderr")
        return status

    def run_command(self, command: Any) -> int:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise Forever()
        if isinstance(command, Simple):
            return self._simple(command)
        if isinstance(command, Group):
            return self.run_list(command.body)
        if isinstance(command, If):
            for condition, body in command.branches:
                if self.run_list(condition) == 0:
                    return self.run_list(body)
            return self.run_list(command.otherwise) if command.otherwise is not None else 0
        if isinstance(command, For):
            items = [w for item in command.items for w in self.expand(item).split()]
            for item in items[:MAX_STEPS]:
                self.env[command.var] = item
                self.run_list(command.body)
            return self.status
        if isinstance(command, Loop):
            return self._loop(command)
        raise ShellSyntaxError(f"unsupported command {command!r}")

    def _loop(self, loop: Loop) -> int:
        first = True
        while True:
            holds = self.run_list(loop.condition) == 0
            if holds == loop.until:
                return 0
            start, outputs_before = self.t, len(self.process.output)
            self.run_list(loop.body)
            period = self.t - start
            if first and period > 0 and not self.exec_mode and self._condition_is_constant(loop.condition):
                body = tuple(Output(o.at - start, o.text, o.stream) for o in self.process.output[outputs_before:])
                self.process.repeat = (start + period, period, body)
                raise Forever()
            if period == 0 and (self.exec_mode or self.steps > MAX_STEPS // 2):
                raise Forever()
            first = False

    @staticmethod
    def _condition_is_constant(condition: list[Any]) -> bool:
        if len(condition) != 1 or len(condition[0][0]) != 1:
            return False
        command = condition[0][0][0]
        return isinstance(command, Simple) and command.words[:1] in (["true"], [":"], ["["], ["sleep"])

    def _simple(self, command: Simple) -> int:
        words = [self.expand(w) for w in command.words]
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
            name, _, value = words.pop(0).partition("=")
            self.env[name] = value
        if not words:
            return 0
        if not command.redirects:
            return int(self.runtime.call(self, words))
        return self._redirected(words, command.redirects)

    def _redirected(self, words: list[str], redirects: list[tuple[str, str, str]]) -> int:
        self.captures.append([])
        try:
            status = self.runtime.call(self, words)
        finally:
            captured = self.captures.pop()
        routes = {"stdout": "stdout", "stderr": "stderr"}
        files: dict[str, tuple[str, bool]] = {}
        for fd, op, target in redirects:
            target = self.expand(target)
            streams = ["stdout", "stderr"] if fd == "&" else ["stderr" if fd == "2" else "stdout"]
            for stream in streams:
                if op == ">&":
                    routes[stream] = "stderr" if target == "2" else "stdout"
                elif op in (">", ">>", "&>"):
                    routes[stream] = f"file:{target}"
                    files[target] = ("", op == ">>")
        for text, stream in captured:
            route = routes[stream]
            if route.startswith("file:"):
                path = route[5:]
                content, append = files[path]
                files[path] = (content + text, append)
            else:
                self.emit(text, route)
        for path, (content, append) in files.items():
            if path != "/dev/null" and not self.write_file(path, content, append):
                self.emit(f"sh: can't create {path}: Read-only file system\n", "stderr")
                return 1
        return int(status)


def run_script(runtime: Any, script: str, env: dict[str, str], fs: FileSystem, style: str,
               exec_mode: bool = False) -> Shell:
    """Interpret `script`; the Shell holds the resulting process (or, in exec mode, the output)."""
    shell = Shell(runtime, env, fs, exec_mode, style)
    try:
        items = parse(script)
    except ShellSyntaxError as exc:
        prefix = "sh: " if style == "busybox" else "/bin/sh: 1: "
        shell.emit(f"{prefix}{exc}\n", "stderr")
        shell.status = 2
        shell.finish(2)
        return shell
    try:
        shell.run_list(items)
        shell.finish(shell.status)
    except ExitShell as stop:
        shell.status = stop.code
        shell.finish(stop.code)
    except Forever:
        shell.process.exit_at = None
    return shell
