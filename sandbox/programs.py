"""The programs a simulated container has: the shell's builtins, coreutils, and the image's own.

Why: a command does what its image can do. `python3` in an nginx image is "not found" (exit 127,
a CrashLoopBackOff), `sleep 3600` keeps a busybox running, `dd ... bs=1M count=150` fills 150 MiB of
page cache (an OOM kill under a 128Mi limit), `nc -lk -p 8080` listens. Each image declares its
programs in the behaviour file; those the sandbox knows are simulated here, the others succeed
silently (or, for interpreters and servers given a script, keep running on the declared ports).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any, Protocol

from sandbox import quantity
from sandbox.behaviour import Image, Run
from sandbox.process import FOREVER, FileSystem, Output, Process, from_run
from sandbox.pyscript import analyse
from sandbox.shell import ExitShell, Forever, Shell, run_script

COREUTILS = frozenset(
    ["cat", "echo", "printf", "ls", "env", "printenv", "hostname", "sleep", "touch", "rm", "mkdir", "rmdir", "cp", "mv", "date", "dd", "tail", "head", "true", "false", "test", "[", "id", "whoami", "uname", "pwd", "grep", "wc", "yes", "kill", "ps", "sh", "sort", "uniq", "cut", "tr", "tee", "sed", "awk", "find", "xargs", "chmod", "chown", "ln", "df", "du", "seq", "expr", "basename", "dirname", "stat", "sync", "nproc", "mount", "timeout", "nohup", "base64", "md5sum", "sha256sum"]
)
BUSYBOX = COREUTILS | frozenset(["wget", "nc", "httpd", "nslookup", "ping", "vi", "free", "top", "ip", "ifconfig", "netstat", "telnet"])
BUILTINS = frozenset(["echo", "printf", "test", "[", "true", "false", "exit", "export", "set", "cd", "exec", "wait", "trap", "read", "source", ".", ":", "unset", "shift", "return", "eval", "ulimit", "umask", "type", "command", "local"])
SHELLS = frozenset({"sh", "bash", "ash", "dash"})
INTERPRETERS = frozenset({"node", "java", "ruby", "php", "dotnet", "gunicorn", "uvicorn", "npm", "yarn", "npx",
                          "deno", "bun", "go", "flask", "perl", "php-fpm", "apache2-foreground"})


class Network(Protocol):
    """The cluster network as seen from a pod: HTTP GET of a URL, or an error text."""

    def get(self, url: str) -> tuple[int, str] | str: ...

    def resolve(self, host: str) -> str | None: ...


def parse_duration(text: str) -> float:
    """`sleep` arguments: `3600`, `0.5`, `5m`, `1d`, `infinity`."""
    if text in ("infinity", "inf"):
        return FOREVER
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text)
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


class Runtime:
    """What one container can run: its image's programs and rules, its hostname, its network."""

    def __init__(self, image: Image | None, substitutions: dict[str, str], hostname: str,
                 network: Network | None = None, declared_ports: tuple[int, ...] = (),
                 started: float = 0.0, uid: int = 0) -> None:
        self.image = image
        self.substitutions = substitutions
        self.hostname = hostname
        self.network = network
        self.declared_ports = declared_ports
        self.started = started
        self.uid = uid
        programs = set(image.programs if image else ())
        expanded: set[str] = set()
        for name in programs:
            expanded |= COREUTILS if name == "coreutils" else {name}
        style = image.shell if image else "dash"
        if style == "busybox":
            expanded |= BUSYBOX
        if style != "none":
            expanded |= SHELLS if style != "busybox" else {"sh", "ash"}
            if style == "bash":
                expanded.add("bash")
        self.programs = frozenset(expanded)
        self.style = style
        self.handlers: dict[str, Callable[[Shell, list[str]], int]] = {
            name[5:].replace("_", "-"): getattr(self, name) for name in dir(self) if name.startswith("prog_")
        }
        self.handlers["["] = self.prog_test
        self.handlers[":"] = self.prog_true

    def available(self, name: str) -> bool:
        return name in self.programs or (self.style != "none" and name in BUILTINS)

    def rule_for(self, line: str) -> Run | None:
        if self.image is None:
            return None
        for rule in self.image.commands:
            if rule.pattern.fullmatch(line):
                return self.image.run if rule.run == "image" else rule.run
        return None

    # -- dispatch -------------------------------------------------------------------------------

    def call(self, shell: Shell, words: list[str]) -> int:
        name = words[0].rsplit("/", 1)[-1]
        run = self.rule_for(" ".join(words))
        if run is not None:
            return self.start_run(shell, run)
        if name in SHELLS and self.available(name):
            return self._subshell(shell, words)
        if "/" in words[0] and shell.fs.read(words[0]) is not None and name not in self.programs:
            return self._subshell(shell, ["sh", words[0], *words[1:]])
        if not self.available(name):
            return shell.not_found(words[0])
        handler = self.handlers.get(name)
        if handler is not None:
            return handler(shell, words[1:])
        if name in INTERPRETERS and len(words) > 1:
            shell.process.listen_declared = True
            raise Forever()
        return 0

    def start_run(self, shell: Shell, run: Run) -> int:
        """A program the behaviour file describes, started at the script's current time."""
        started = from_run(run, shell.env, self.substitutions, shell.t)
        process = shell.process
        process.listen |= started.listen
        process.listen_declared |= started.listen_declared
        process.ready_after = max(process.ready_after, started.ready_after)
        process.cpu_millicores += started.cpu_millicores
        process.http.update(started.http)
        process.pages.update(started.pages)
        process.doc_root = started.doc_root or process.doc_root
        for at, mib in started.memory:
            process.memory.append((at, process.memory_at(at) + mib))
        if shell.exec_mode:
            for out in started.output:
                shell.emit(out.text + "\n", out.stream)
        else:
            process.output.extend(started.output)
        if started.exit_at is None:
            process.stop_seconds = started.stop_seconds
            raise Forever()
        shell.sleep(started.exit_at - shell.t)
        return started.exit_code

    def _subshell(self, shell: Shell, words: list[str]) -> int:
        args = words[1:]
        while args and args[0].startswith("-") and args[0] != "-c":
            args = args[1:]
        if args and args[0] == "-c":
            script = args[1] if len(args) > 1 else ""
        elif args:
            content = shell.fs.read(args[0])
            if content is None:
                shell.emit(f"sh: can't open '{args[0]}': No such file or directory\n", "stderr")
                return 2
            script = content
        else:
            return 0
        from sandbox.shell import parse

        try:
            return shell.run_list(parse(script))
        except ValueError as exc:
            shell.emit(f"sh: {exc}\n", "stderr")
            return 2

    # -- builtins -------------------------------------------------------------------------------

    def prog_echo(self, shell: Shell, args: list[str]) -> int:
        newline = True
        while args and args[0] in ("-n", "-e", "-ne", "-en"):
            newline = newline and "n" not in args[0]
            args = args[1:]
        text = " ".join(args).replace("\\n", "\n").replace("\\t", "\t")
        shell.emit(text + ("\n" if newline else ""))
        return 0

    def prog_printf(self, shell: Shell, args: list[str]) -> int:
        if not args:
            return 1
        fmt, values = args[0], list(args[1:])
        text = re.sub(r"%[sd]", lambda m: values.pop(0) if values else "", fmt)
        shell.emit(text.replace("\\n", "\n").replace("\\t", "\t"))
        return 0

    def prog_true(self, shell: Shell, args: list[str]) -> int:
        return 0

    def prog_false(self, shell: Shell, args: list[str]) -> int:
        return 1

    def prog_exit(self, shell: Shell, args: list[str]) -> int:
        raise ExitShell(int(args[0]) if args and args[0].lstrip("-").isdigit() else shell.status)

    def prog_set(self, shell: Shell, args: list[str]) -> int:
        if any(a.startswith("-") and "e" in a for a in args):
            shell.errexit = True
        return 0

    def prog_export(self, shell: Shell, args: list[str]) -> int:
        for arg in args:
            name, sep, value = arg.partition("=")
            if sep:
                shell.env[name] = value
        return 0

    def prog_exec(self, shell: Shell, args: list[str]) -> int:
        if not args:
            return 0
        status = self.call(shell, args)
        raise ExitShell(status)

    def prog_sleep(self, shell: Shell, args: list[str]) -> int:
        try:
            total = sum(parse_duration(a) for a in args)
        except ValueError:
            shell.emit(f"sleep: invalid time interval '{args[0] if args else ''}'\n", "stderr")
            return 1
        shell.sleep(total)
        return 0

    def prog_test(self, shell: Shell, args: list[str]) -> int:
        args = [a for a in args if a != "]"]
        negate = bool(args) and args[0] == "!"
        if negate:
            args = args[1:]
        result = False
        if len(args) == 2 and args[0] in ("-f", "-e", "-r", "-s"):
            content = shell.fs.read(args[1])
            result = content is not None and (args[0] != "-s" or bool(content))
        elif len(args) == 2 and args[0] == "-d":
            result = shell.fs.listdir(args[1]) is not None
        elif len(args) == 2 and args[0] in ("-z", "-n"):
            result = (args[1] == "") == (args[0] == "-z")
        elif len(args) == 3 and args[1] in ("=", "==", "!="):
            result = (args[0] == args[2]) == (args[1] != "!=")
        elif len(args) == 3 and args[1] in ("-eq", "-ne", "-lt", "-le", "-gt", "-ge"):
            try:
                a, b = int(args[0]), int(args[2])
            except ValueError:
                return 2
            result = {"-eq": a == b, "-ne": a != b, "-lt": a < b, "-le": a <= b, "-gt": a > b, "-ge": a >= b}[args[1]]
        elif len(args) == 1:
            result = args[0] != ""
        return 0 if result != negate else 1

    # -- files ----------------------------------------------------------------------------------

    def prog_cat(self, shell: Shell, args: list[str]) -> int:
        files = [a for a in args if not a.startswith("-") or a == "-"]
        if not files:
            shell.emit(shell.stdin or "")
            return 0
        status = 0
        for path in files:
            content = shell.fs.read(path)
            if content is None:
                message = (f"cat: can't open '{path}': No such file or directory" if self.style == "busybox"
                           else f"cat: {path}: No such file or directory")
                shell.emit(message + "\n", "stderr")
                status = 1
            else:
                shell.emit(content)
        return status

    def prog_touch(self, shell: Shell, args: list[str]) -> int:
        for path in (a for a in args if not a.startswith("-")):
            shell.write_file(path, "", append=True)
        return 0

    def prog_mkdir(self, shell: Shell, args: list[str]) -> int:
        return 0

    def prog_rm(self, shell: Shell, args: list[str]) -> int:
        force = any(a.startswith("-") and "f" in a for a in args)
        status = 0
        for path in (a for a in args if not a.startswith("-")):
            if not shell.remove_file(path) and not force:
                shell.emit(f"rm: can't remove '{path}': No such file or directory\n", "stderr")
                status = 1
        return status

    def prog_cp(self, shell: Shell, args: list[str]) -> int:
        paths = [a for a in args if not a.startswith("-")]
        if len(paths) != 2 or shell.fs.read(paths[0]) is None:
            shell.emit(f"cp: can't stat '{paths[0] if paths else ''}': No such file or directory\n", "stderr")
            return 1
        shell.write_file(paths[1], shell.fs.read(paths[0]) or "")
        return 0

    def prog_mv(self, shell: Shell, args: list[str]) -> int:
        status = self.prog_cp(shell, args)
        if status == 0:
            shell.remove_file(next(a for a in args if not a.startswith("-")))
        return status

    def prog_ls(self, shell: Shell, args: list[str]) -> int:
        paths = [a for a in args if not a.startswith("-")] or ["."]
        status = 0
        for path in paths:
            names = shell.fs.listdir(path)
            if names is not None:
                shell.emit("".join(f"{n}\n" for n in names))
            elif shell.fs.read(path) is not None:
                shell.emit(path + "\n")
            else:
                shell.emit(f"ls: {path}: No such file or directory\n", "stderr")
                status = 1
        return status

    def prog_tee(self, shell: Shell, args: list[str]) -> int:
        append = "-a" in args
        text = shell.stdin or ""
        for path in (a for a in args if not a.startswith("-")):
            shell.write_file(path, text, append)
        shell.emit(text)
        return 0

    def prog_tail(self, shell: Shell, args: list[str]) -> int:
        if any(a in ("-f", "-F") for a in args):
            shell.sleep(FOREVER)
            return 0
        return self._lines(shell, args, tail=True)

    def prog_head(self, shell: Shell, args: list[str]) -> int:
        return self._lines(shell, args, tail=False)

    def _lines(self, shell: Shell, args: list[str], tail: bool) -> int:
        count, files, rest = 10, [], list(args)
        while rest:
            arg = rest.pop(0)
            if arg == "-n" and rest:
                count = int(rest.pop(0).lstrip("+") or 10)
            elif re.fullmatch(r"-n?\d+", arg):
                count = int(arg.lstrip("-n"))
            elif not arg.startswith("-"):
                files.append(arg)
        text = shell.stdin or "" if not files else (shell.fs.read(files[0]) or "")
        lines = text.splitlines(keepends=True)
        shell.emit("".join(lines[-count:] if tail else lines[:count]))
        return 0

    def prog_grep(self, shell: Shell, args: list[str]) -> int:
        flags = [a for a in args if a.startswith("-")]
        rest = [a for a in args if not a.startswith("-")]
        if not rest:
            return 2
        pattern, files = rest[0], rest[1:]
        text = shell.stdin or "" if not files else "".join(shell.fs.read(f) or "" for f in files)
        ignore = any("i" in f for f in flags)
        try:
            regex = re.compile(pattern, re.IGNORECASE if ignore else 0)
        except re.error:
            regex = re.compile(re.escape(pattern))
        lines = [line for line in text.splitlines(keepends=True) if regex.search(line)]
        if not any("q" in f for f in flags):
            shell.emit(str(len(lines)) + "\n" if any("c" in f for f in flags) else "".join(lines))
        return 0 if lines else 1

    def prog_wc(self, shell: Shell, args: list[str]) -> int:
        files = [a for a in args if not a.startswith("-")]
        text = shell.stdin or "" if not files else (shell.fs.read(files[0]) or "")
        value = len(text) if "-c" in args else len(text.splitlines())
        shell.emit(f"{value}\n")
        return 0

    # -- identity and environment -----------------------------------------------------------------

    def prog_env(self, shell: Shell, args: list[str]) -> int:
        shell.emit("".join(f"{k}={v}\n" for k, v in shell.env.items()))
        return 0

    def prog_printenv(self, shell: Shell, args: list[str]) -> int:
        if not args:
            return self.prog_env(shell, args)
        missing = [a for a in args if a not in shell.env]
        shell.emit("".join(f"{shell.env[a]}\n" for a in args if a in shell.env))
        return 1 if missing else 0

    def prog_hostname(self, shell: Shell, args: list[str]) -> int:
        shell.emit(self.hostname + "\n")
        return 0

    def prog_whoami(self, shell: Shell, args: list[str]) -> int:
        shell.emit("root\n" if self.uid == 0 else f"whoami: unknown uid {self.uid}\n", "stdout" if self.uid == 0
                   else "stderr")
        return 0 if self.uid == 0 else 1

    def prog_id(self, shell: Shell, args: list[str]) -> int:
        name = "(root)" if self.uid == 0 else ""
        shell.emit(f"uid={self.uid}{name} gid={self.uid}{name} groups={self.uid}{name}\n")
        return 0

    def prog_uname(self, shell: Shell, args: list[str]) -> int:
        shell.emit("Linux\n" if not args else f"Linux {self.hostname} 6.8.0 x86_64 GNU/Linux\n")
        return 0

    def prog_date(self, shell: Shell, args: list[str]) -> int:
        moment = dt.datetime.fromtimestamp(self.started + shell.t, dt.UTC)
        shell.emit(moment.strftime("%a %b %d %H:%M:%S UTC %Y") + "\n")
        return 0

    def prog_seq(self, shell: Shell, args: list[str]) -> int:
        numbers = [int(a) for a in args if a.lstrip("-").isdigit()]
        first, last = (1, numbers[0]) if len(numbers) == 1 else (numbers[0], numbers[-1]) if numbers else (1, 0)
        shell.emit("".join(f"{i}\n" for i in range(first, min(last, first + 10000) + 1)))
        return 0

    def prog_kill(self, shell: Shell, args: list[str]) -> int:
        return 0

    # -- resources ------------------------------------------------------------------------------

    def prog_dd(self, shell: Shell, args: list[str]) -> int:
        opts = dict(a.split("=", 1) for a in args if "=" in a)
        try:
            block = quantity.to_bytes(opts.get("bs", "512").replace("K", "Ki").replace("M", "Mi").replace("G", "Gi"))
            count = int(opts.get("count", "0"))
        except (ValueError, quantity.QuantityError):
            shell.emit(f"dd: invalid number '{opts.get('bs')}'\n", "stderr")
            return 1
        target = opts.get("of", "")
        total = block * count
        if target and target != "/dev/null":
            shell.add_memory(total / 2**20)  # written pages stay in the page cache, charged to the container
            shell.write_file(target, "")
        shell.emit(f"{count}+0 records in\n{count}+0 records out\n", "stderr")
        return 0

    def prog_stress(self, shell: Shell, args: list[str]) -> int:
        opts: dict[str, str] = {}
        rest = list(args)
        while rest:
            arg = rest.pop(0)
            if arg.startswith("--") and "=" in arg:
                key, value = arg.split("=", 1)
                opts[key] = value
            elif arg.startswith("-") and rest and not rest[0].startswith("-"):
                opts[arg] = rest.pop(0)
            elif arg.startswith("-"):
                opts[arg] = ""
        vm = int(opts.get("--vm", opts.get("-m", "0")) or 0)
        cpu = int(opts.get("--cpu", opts.get("-c", "0")) or 0)
        size = opts.get("--vm-bytes", "256M").replace("M", "Mi").replace("G", "Gi").replace("K", "Ki")
        shell.emit(f"stress: info: [1] dispatching hogs: {cpu} cpu, 0 io, {vm} vm, 0 hdd\n")
        shell.process.cpu_millicores += 1000 * cpu
        if vm:
            shell.add_memory(vm * quantity.mib(size))
        timeout = opts.get("--timeout", opts.get("-t"))
        if timeout:
            seconds = parse_duration(timeout)
            shell.sleep(seconds)
            shell.emit(f"stress: info: [1] successful run completed in {int(seconds)}s\n")
            return 0
        shell.sleep(FOREVER)
        return 0

    def prog_yes(self, shell: Shell, args: list[str]) -> int:
        shell.sleep(FOREVER)
        return 0

    # -- servers and network ----------------------------------------------------------------------

    def _listen(self, shell: Shell, port: int, foreground: bool) -> int:
        if shell.exec_mode:
            return 0
        shell.process.listen.add(port)
        if foreground:
            raise Forever()
        return 0

    def prog_nc(self, shell: Shell, args: list[str]) -> int:
        if any(a.startswith("-") and "l" in a for a in args):
            ports = [int(a) for a in args if a.isdigit()]
            return self._listen(shell, ports[-1] if ports else 0, True)
        if self.network is not None and len(args) >= 2 and args[-1].isdigit():
            host = next(a for a in args if not a.startswith("-"))
            answer = self.network.get(f"tcp://{host}:{args[-1]}")
            return 0 if not isinstance(answer, str) else 1
        return 1

    def prog_httpd(self, shell: Shell, args: list[str]) -> int:
        port = 80
        if "-p" in args and args.index("-p") + 1 < len(args):
            port = int(args[args.index("-p") + 1].rsplit(":", 1)[-1])
        return self._listen(shell, port, "-f" in args)

    def prog_python(self, shell: Shell, args: list[str]) -> int:
        if args[:2] == ["-m", "http.server"]:
            port = next((int(a) for a in args[2:] if a.isdigit()), 8000)
            shell.emit(f"Serving HTTP on 0.0.0.0 port {port} (http://0.0.0.0:{port}/) ...\n")
            return self._listen(shell, port, True)
        options = [a for a in args if a in ("-u", "-B", "-O")]
        rest = [a for a in args if a not in options]
        if not rest:
            return 0
        if rest[0] == "-c":
            code, filename = (rest[1] if len(rest) > 1 else ""), "<string>"
        elif rest[0] in ("-V", "--version"):
            shell.emit("Python 3\n")
            return 0
        else:
            code_or_none = shell.fs.read(rest[0])
            if code_or_none is None:
                shell.emit(f"python: can't open file '{rest[0]}': [Errno 2] No such file or directory\n", "stderr")
                return 2
            code, filename = code_or_none, rest[0]
        result = analyse(code, filename)
        if result.error:
            shell.emit("\n".join(result.error) + "\n", "stderr")
            return 1
        return self._python_steps(shell, result.steps)

    prog_python3 = prog_python

    def _python_steps(self, shell: Shell, steps: list[Any]) -> int:
        for step in steps:
            if step.kind == "print":
                shell.emit(f"{step.value}\n")
            elif step.kind == "sleep":
                shell.sleep(float(step.value))  # type: ignore[arg-type,unused-ignore]
            elif step.kind == "exit":
                return int(step.value)  # type: ignore[call-overload,unused-ignore]
            elif step.kind == "listen":
                if step.value:
                    shell.process.listen.add(int(step.value))  # type: ignore[call-overload,unused-ignore]
                else:
                    shell.process.listen_declared = True
            elif step.kind == "forever":
                shell.sleep(FOREVER)
            elif step.kind == "loop":
                start, before = shell.t, len(shell.process.output)
                self._python_steps(shell, step.body)
                period = shell.t - start
                if period > 0 and not shell.exec_mode:
                    body = tuple(Output(o.at - start, o.text, o.stream) for o in shell.process.output[before:])
                    shell.process.repeat = (start + period, period, body)
                shell.sleep(FOREVER)
        return 0

    def prog_curl(self, shell: Shell, args: list[str]) -> int:
        urls = [a for a in args if re.match(r"^(https?://)?[\w.-]+(:\d+)?(/.*)?$", a) and not a.startswith("-")]
        if not urls or self.network is None:
            shell.emit("curl: (6) Could not resolve host\n", "stderr")
            return 6
        answer = self.network.get(urls[-1] if "://" in urls[-1] else f"http://{urls[-1]}")
        if isinstance(answer, str):
            code = 6 if "resolve" in answer else 7
            shell.emit(f"curl: ({code}) {answer}\n", "stderr")
            return code
        status, body = answer
        if any(a in ("-f", "--fail", "-sf", "-fsS", "-fs", "-sSf") for a in args) and status >= 400:
            shell.emit(f"curl: (22) The requested URL returned error: {status}\n", "stderr")
            return 22
        if any(a in ("-I", "--head") for a in args):
            shell.emit(f"HTTP/1.1 {status}\n")
        else:
            shell.emit(body)
        return 0

    def prog_wget(self, shell: Shell, args: list[str]) -> int:
        urls = [a for a in args if not a.startswith("-") and a != "-"]
        if not urls or self.network is None:
            return 1
        url = urls[-1] if "://" in urls[-1] else f"http://{urls[-1]}"
        answer = self.network.get(url)
        if isinstance(answer, str):  # busybox's wording
            host = url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
            address = self.network.resolve(host)
            shell.emit(f"wget: bad address '{host}'\n" if address is None else
                       f"wget: can't connect to remote host ({address}): Connection refused\n", "stderr")
            return 1
        status, body = answer
        if status >= 400:
            shell.emit(f"wget: server returned error: HTTP/1.1 {status}\n", "stderr")
            return 1
        shell.emit(body if any("O" in a for a in args if a.startswith("-")) else "")
        return 0

    def prog_nslookup(self, shell: Shell, args: list[str]) -> int:
        host = next((a for a in args if not a.startswith("-")), "")
        address = self.network.resolve(host) if self.network is not None else None
        shell.emit("Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n")
        if address is None:
            shell.emit(f"** server can't find {host}: NXDOMAIN\n\n")
            return 1
        shell.emit(f"Name:\t{host}\nAddress: {address}\n\n")
        return 0


def plan_process(runtime: Runtime, argv: list[str], env: dict[str, str], fs: FileSystem) -> Process:
    """The process a container with this command line starts (argv empty: the image's own)."""
    image = runtime.image
    if not argv:
        if image is None:
            return Process()
        return from_run(image.run, env, runtime.substitutions)
    line = " ".join(argv)
    run = runtime.rule_for(line)
    if run is not None:
        return from_run(run, env, runtime.substitutions)
    name = argv[0].rsplit("/", 1)[-1]
    if not runtime.available(name) and not (name in SHELLS and runtime.style != "none"):
        return Process(start_error=f'exec: "{argv[0]}": executable file not found in $PATH')
    shell = run_script(runtime, "", env, fs, runtime.style)  # a fresh shell for one simple command
    try:
        status = runtime.call(shell, argv)
        shell.finish(status)
    except ExitShell as stop:
        shell.finish(stop.code)
    except Forever:
        shell.process.exit_at = None
    return shell.process
