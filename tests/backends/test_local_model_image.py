"""What the local-model image variant cuts from llama-cpp-python leaves everything llama_cpp loads.

Why here and not only in `make image-local-model`: the image build is on demand (root, buildah, 15-20 min),
and `image/prune.py`'s cut of the wheel's duplicate libraries is only safe while llama_cpp loads
`lib<name>.so` from `llama_cpp/lib` and those find each other by SONAME there. A new llama-cpp-python
that loads another name would break the variant's `type: local` backend in a cluster; this notices it
with the wheel installed here (the same one the variant installs), with no image build. Real: the
installed wheel's files and their ELF dynamic sections (readelf, from binutils, which building llama.cpp
needs anyway).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
# The libraries llama_cpp opens by name with ctypes (llama_cpp.llama_cpp, llama_cpp._ggml, llama_cpp.mtmd_cpp).
LOADED_BY_NAME = ("llama", "ggml", "mtmd")


def prune_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("image_prune", REPO / "image" / "prune.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


def needed(library: Path) -> list[str]:
    dynamic = subprocess.run(["readelf", "-d", str(library)], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)


def test_the_cut_keeps_every_library_llama_cpp_loads() -> None:
    spec = importlib.util.find_spec("llama_cpp")  # found, not imported: nothing of llama.cpp is loaded here
    if spec is None or spec.origin is None:
        pytest.fail("llama-cpp-python is not installed (make install builds it)")
    assert shutil.which("readelf"), "readelf (binutils) is needed"
    site = Path(spec.origin).parents[1]
    lib = site / "llama_cpp" / "lib"
    source = "\n".join(p.read_text() for p in (site / "llama_cpp").glob("*.py"))
    assert source.count("load_shared_library(") >= len(LOADED_BY_NAME), "llama_cpp loads libraries differently now"
    keep = {lib / f"lib{name}.so" for name in LOADED_BY_NAME}
    queue = list(keep)
    while queue:  # and what they need from the same folder, by the names the dynamic loader asks for
        for name in needed(queue.pop()):
            if (lib / name).exists() and lib / name not in keep:
                keep.add(lib / name)
                queue.append(lib / name)
    prune = prune_module()
    cut = next(c for c in prune.CUTS if c.why.startswith("llama-cpp-python's copies"))
    removed = set(prune.matches(site, cut))
    assert all(path.exists() for path in keep)
    assert not keep & removed, f"the cut would remove what llama_cpp loads: {sorted(keep & removed)}"
    assert {p.name for p in removed if p.parent == lib} == {p.name for p in lib.glob("lib*.so.0.*")}
    assert sum(prune._size(p) for p in removed) > 30e6  # the wheel's copies for C programs are really cut
