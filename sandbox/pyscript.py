"""What `python -c CODE` or `python app.py` would do, read from the code without running it.

Why: Python one-liners and small scripts are the most common commands in plain-kubectl tasks
(a syntax error that crash-loops, `print` then `sleep`, an `http.server`). The sandbox never runs
user code on the host; it compiles it (which executes nothing) and reads the top-level
statements: a SyntaxError or a missing third-party import fails as CPython would, prints of
literals are logged, `time.sleep` advances the clock, `while True` repeats, `sys.exit(n)` exits,
and a server's `serve_forever()`/`run(port=...)` listens.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field

THIRD_PARTY_OK = {"pip", "setuptools", "wheel"}


@dataclass
class Step:
    kind: str  # print | sleep | exit | listen | forever | loop
    value: object = None
    body: list[Step] = field(default_factory=list)


@dataclass
class Analysis:
    error: list[str] = field(default_factory=list)  # traceback lines on stderr, exit 1
    steps: list[Step] = field(default_factory=list)


def _syntax_error(exc: SyntaxError, filename: str) -> list[str]:
    lines = [f'  File "{filename}", line {exc.lineno or 1}']
    if exc.text:
        text = exc.text.rstrip("\n")
        stripped = text.lstrip()
        lines.append(f"    {stripped}")
        if exc.offset:
            caret = max(0, exc.offset - 1 - (len(text) - len(stripped)))
            lines.append("    " + " " * caret + "^")
    lines.append(f"{type(exc).__name__}: {exc.msg}")
    return lines


def _literal(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            else:
                parts.append("")
        return "".join(parts)
    return None


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id
        if isinstance(func, ast.Attribute):
            return func.attr
    return ""


def _port_of(call: ast.Call) -> int | None:
    for kw in call.keywords:
        if kw.arg == "port" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, int):
            return kw.value.value
    for arg in call.args:
        if isinstance(arg, ast.Tuple) and len(arg.elts) == 2:
            port = arg.elts[1]
            if isinstance(port, ast.Constant) and isinstance(port.value, int):
                return port.value
    return None


def _steps(statements: list[ast.stmt], ports: list[int]) -> list[Step]:
    out: list[Step] = []
    for stmt in statements:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
            port = _port_of(stmt.value)
            if port:
                ports.append(port)
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            call, name = stmt.value, _call_name(stmt.value)
            if name == "print":
                text = " ".join(t for t in (_literal(a) for a in call.args) if t is not None)
                out.append(Step("print", text))
            elif name == "sleep" and call.args and isinstance(call.args[0], ast.Constant) and \
                    isinstance(call.args[0].value, int | float):
                out.append(Step("sleep", float(call.args[0].value)))
            elif name in ("exit", "_exit"):
                code = call.args[0].value if call.args and isinstance(call.args[0], ast.Constant) else 0
                out.append(Step("exit", code if isinstance(code, int) else 1))
                return out
            elif name in ("serve_forever", "run", "run_forever", "listen"):
                port = _port_of(call)
                out.append(Step("listen", port or (ports[-1] if ports else None)))
                out.append(Step("forever"))
                return out
        elif isinstance(stmt, ast.While) and isinstance(stmt.test, ast.Constant) and stmt.test.value:
            out.append(Step("loop", body=_steps(stmt.body, ports)))
            return out
        elif (isinstance(stmt, ast.If | ast.With | ast.Try) and not isinstance(stmt, ast.If)) or (isinstance(stmt, ast.If) and _is_main_guard(stmt)):
            out.extend(_steps(stmt.body, ports))
        elif isinstance(stmt, ast.Raise):
            out.append(Step("exit", 1))
            return out
    return out


def _is_main_guard(stmt: ast.If) -> bool:
    test = stmt.test
    return isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"


def analyse(code: str, filename: str = "<string>") -> Analysis:
    try:
        tree = ast.parse(code, filename)
        compile(tree, filename, "exec")
    except SyntaxError as exc:
        return Analysis(error=_syntax_error(exc, filename))
    for stmt in tree.body:
        names = []
        if isinstance(stmt, ast.Import):
            names = [alias.name for alias in stmt.names]
        elif isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
            names = [stmt.module]
        for name in names:
            root = name.split(".")[0]
            if root not in sys.stdlib_module_names and root not in THIRD_PARTY_OK:
                return Analysis(error=["Traceback (most recent call last):",
                                       f'  File "{filename}", line {stmt.lineno}, in <module>',
                                       f"ModuleNotFoundError: No module named '{root}'"])
    return Analysis(steps=_steps(tree.body, []))
