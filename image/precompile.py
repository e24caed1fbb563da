"""Compile to bytecode only the modules the image's processes load, and prove they still import.

Why: the root file system is read-only, so Python cannot cache bytecode at run time; whatever has no
`.pyc` in the image is compiled again at every start (the kubernetes client alone is 30 MB of
source: seconds of CPU per start). Compiling the whole virtualenv instead costs ~200 MB of `.pyc`
for modules nothing loads. So the build imports what runs — every module of our packages, and every
module our code names in an import statement anywhere (also the ones imported inside functions,
such as onnxruntime, duckdb or boto3), plus the entry modules of the UI server — and compiles
exactly the files that got loaded.

The `.pyc` are checked-hash (PEP 552): valid whatever the file times become when the layer is
copied, and still checked against the source. The same run is the check that `image/prune.py` cut
nothing that is used: an import that fails for any reason other than a package that is not in
the image by design (`image/runtime.txt` leaves out torch, pytest, ...) fails the build.

Run in the build stage: `python image/precompile.py APP_DIR PACKAGE...`.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import py_compile
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

# Loaded by the processes but named by no import statement of ours: `streamlit run` (the UI's command,
# controller/tools/up.py) starts from these.
ENTRY_MODULES = ("streamlit.__main__", "streamlit.web.cli", "streamlit.web.bootstrap", "streamlit.web.server.server",
                 "streamlit.runtime.scriptrunner")
# Scripts, not modules: importing them would run them (`streamlit run` executes the page itself).
SCRIPTS = frozenset({"ui.app"})


def our_modules(app: Path, packages: Iterable[str]) -> Iterator[str]:
    for package in packages:
        for path in sorted((app / package).rglob("*.py")):
            parts = path.relative_to(app).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(source: str) -> tuple[set[str], set[str]]:
    """Absolute module names the import statements of `source` name: (modules, maybe modules).

    `import a.b` and `from a import b` name the module a (and a.b); b of `from a import b` may be a
    module or an attribute.
    """
    modules: set[str] = set()
    maybe: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
            maybe.update(f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*")
    return modules, maybe - modules


def _installed(top: str) -> bool:
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def import_all(modules: Iterable[str], maybe: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """Import each name; returns (absent by design, broken). A name in `maybe` that is no module is fine."""
    absent, broken = [], []
    optional = set(maybe)
    for name in [*dict.fromkeys(modules), *sorted(optional)]:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            top = (exc.name or name).split(".")[0]
            if not _installed(top):
                absent.append(f"{name} (needs {top})")
            elif not (name in optional and exc.name == name):
                broken.append(f"{name}: {exc}")
        except Exception as exc:  # an import that breaks at import time is what this check is for
            broken.append(f"{name}: {type(exc).__name__}: {exc}")
    return absent, broken


def compile_loaded(roots: Iterable[Path]) -> tuple[int, int]:
    """Write checked-hash .pyc for every loaded module whose source lies under one of `roots`."""
    count = size = 0
    prefixes = tuple(str(root.resolve()) + "/" for root in roots)
    for module in list(sys.modules.values()):
        source = getattr(module, "__file__", None) or ""
        if not source.endswith(".py") or not str(Path(source).resolve()).startswith(prefixes):
            continue
        target = importlib.util.cache_from_source(source)
        py_compile.compile(source, cfile=target, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
        count, size = count + 1, size + Path(target).stat().st_size
    return count, size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", type=Path, help="the folder holding our packages (on PYTHONPATH)")
    parser.add_argument("packages", nargs="+", help="our packages, e.g. controller renderer ui")
    args = parser.parse_args(argv)
    sys.dont_write_bytecode = True  # only compile_loaded writes, and only what was loaded
    ours = [m for m in our_modules(args.app, args.packages) if m not in SCRIPTS]
    modules, maybe = set(), set()
    for package in args.packages:
        for path in (args.app / package).rglob("*.py"):
            certain, possible = imported_names(path.read_text())
            modules |= certain
            maybe |= possible
    theirs = sorted(n for n in modules if n.split(".")[0] not in args.packages)
    absent, broken = import_all([*ours, *theirs, *ENTRY_MODULES],
                                sorted(n for n in maybe - modules if n.split(".")[0] not in args.packages))
    if absent:
        print(f"precompile: not in the image by design, so not loaded: {', '.join(absent)}")
    if broken:
        raise SystemExit("precompile: these imports fail in the image:\n  " + "\n  ".join(broken))
    site = [Path(p) for p in sys.path if p.endswith("site-packages")]
    count, size = compile_loaded([args.app, *site])
    print(f"precompile: {count} modules loaded and compiled ({size / 1e6:.1f} MB of .pyc)")


if __name__ == "__main__":
    main(sys.argv[1:])
