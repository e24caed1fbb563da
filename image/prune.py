"""Cut from the image's virtualenv what nothing in the image runs (issue 11: image ≤ 1.0 GB uncompressed).

Why a table and not `rm -rf` lines in the Containerfile: each cut says why it is safe, the build
prints what each one saved, and the one cut that depends on our code (the Kubernetes version the
catalog validates against) reads that version from the code, so the two cannot drift apart. Every
cut here is of files the controller, the UI and `aiop sync` never load. What proves it:
`image/precompile.py` runs after this and fails the build if any import of our code (or of what it
imports) stopped working; `make image` then runs `image/smoke.py` in the image (the commands, the
embedder, the UI server); `python -m bench.footprint --image` runs a whole thread from the image.

Run in the build stage: `python image/prune.py SITE_PACKAGES` (`--dry-run` lists and deletes nothing).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Cut:
    why: str
    globs: tuple[str, ...]  # relative to site-packages; a folder goes whole


CUTS = (
    Cut("test suites shipped inside packages: only their own test runners import them",
        ("*/tests", "*/test", "*/*/tests", "*/*/test")),
    Cut("type stubs, Cython sources and C headers: read by type checkers and compilers, never by Python at run time",
        ("**/*.pyi", "**/*.pxd", "**/*.pyx", "**/*.pxi", "pyarrow/include", "pyarrow/src", "numpy/_core/include")),
    Cut("kubernetes.aio, the client's asyncio twin: `import kubernetes` does not load it, our code uses the "
        "synchronous client (controller/adapters/kube.py) and kopf talks to the API server with aiohttp itself",
        ("kubernetes/aio",)),
    Cut("pyarrow's Arrow Flight RPC and its S3/GCS/Azure/HDFS file systems: loaded only by `import pyarrow.flight` "
        "and by pyarrow.fs's optional imports (which catch the ImportError); Streamlit's st.dataframe and the "
        "DuckDB store use in-memory tables only",
        ("pyarrow/libarrow_flight.so*", "pyarrow/libarrow_python_flight.so*", "pyarrow/_flight.*.so",
         "pyarrow/flight.py", "pyarrow/libarrow_s3.so*", "pyarrow/_s3fs.*.so", "pyarrow/_gcsfs.*.so",
         "pyarrow/_azurefs.*.so", "pyarrow/_hdfs.*.so", "pyarrow/_pyarrow_cpp_tests.*.so")),
    Cut("pyarrow's link-time copies of libarrow_python (the loader asks for the .so.MAJOR name only, its SONAME)",
        ("pyarrow/libarrow_python*.so", "pyarrow/libarrow_python*.so.*.*.*")),
    Cut("pydeck and altair: Streamlit imports them only inside st.pydeck_chart and the Vega-Lite charts, and the "
        "UI draws neither (it uses st.dataframe and st.graphviz_chart)",
        ("pydeck", "pydeck-*.dist-info", "altair", "altair-*.dist-info")),
    Cut("huggingface_hub and hf_xet: tokenizers declares them for Tokenizer.from_pretrained downloads; the image "
        "reads tokenizer.json from disk (controller/minilm.py) and never downloads (HF_HUB_OFFLINE=1)",
        ("huggingface_hub", "huggingface_hub-*.dist-info", "hf_xet", "hf_xet-*.dist-info")),
    Cut("onnxruntime's model tools (transformer optimisers, quantisation, converters): for preparing a model, "
        "not for running the exported one",
        ("onnxruntime/transformers", "onnxruntime/quantization", "onnxruntime/tools", "onnxruntime/datasets")),
    Cut("llama-cpp-python's copies for C programs and its full-version library names (local-model variant only): "
        "its wheel also puts llama.cpp's libraries, headers and CMake files at the top of site-packages, and a "
        "wheel cannot hold symlinks, so each library is there three times; llama_cpp loads lib<name>.so from "
        "llama_cpp/lib and those load each other by their SONAME, lib<name>.so.0",
        ("lib/libggml*", "lib/libllama*", "lib/libmtmd*", "lib/cmake/ggml", "lib/cmake/llama", "lib/pkgconfig/llama.pc",
         "include/ggml*.h", "include/gguf.h", "include/llama*.h", "include/mtmd*.h", "llama_cpp/lib/lib*.so.0.*")),
    Cut("pip, setuptools and wheel: nothing is installed at run time (read-only root file system)",
        ("pip", "pip-*.dist-info", "setuptools", "setuptools-*.dist-info", "_distutils_hack", "distutils-precedence.pth",
         "pkg_resources", "wheel", "wheel-*.dist-info")),
)

SCHEMAS = "kubernetes_validate/kubernetes-json-schema"


def schema_cut(site: Path, k8s_version: str) -> Cut:
    """kubernetes-validate ships the schemas of every Kubernetes version, loose and strict; keep the one folder
    that `kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)` reads (the newest version not newer
    than K8S_VERSION, as kubernetes_validate.utils picks it)."""
    def minor(name: str) -> tuple[int, int]:
        found = re.match(r"v?(\d+)\.(\d+)", name)
        if not found:
            raise ValueError(f"not a Kubernetes version: {name!r}")
        return int(found[1]), int(found[2])

    folders = sorted((site / SCHEMAS).glob("v*-local-strict"), key=lambda p: minor(p.name))
    usable = [f for f in folders if minor(f.name) <= minor(k8s_version)]
    if not usable:
        raise SystemExit(f"prune: no strict schema folder for Kubernetes {k8s_version} under {site / SCHEMAS} "
                         f"(found {[f.name for f in folders]})")
    keep = usable[-1].name
    others = tuple(f"{SCHEMAS}/{p.name}" for p in sorted((site / SCHEMAS).glob("v*")) if p.name != keep)
    return Cut(f"kubernetes-validate schemas of other Kubernetes versions than {keep} (the catalog validates "
               f"built-in kinds against {k8s_version}, strict: controller/catalog/manifest.py K8S_VERSION)", others)


def _size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def matches(site: Path, cut: Cut) -> Iterator[Path]:
    seen: set[Path] = set()
    for pattern in cut.globs:
        for path in sorted(site.glob(pattern)):
            if path not in seen and not any(parent in seen for parent in path.parents):
                seen.add(path)
                yield path


def prune(site: Path, cuts: tuple[Cut, ...], dry_run: bool = False) -> dict[str, int]:
    """Delete what each cut matches; returns the bytes each cut freed (0 when it matched nothing)."""
    freed: dict[str, int] = {}
    for cut in cuts:
        total = 0
        for path in list(matches(site, cut)):
            if not path.exists() and not path.is_symlink():
                continue  # inside a folder an earlier glob of this cut removed
            total += _size(path)
            if not dry_run:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        freed[cut.why] = total
    return freed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site_packages", type=Path)
    parser.add_argument("--k8s-version", default="",
                        help="default: K8S_VERSION of controller/catalog/manifest.py (importable on PYTHONPATH)")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    site: Path = args.site_packages
    if not (site / "kubernetes_validate").is_dir():
        raise SystemExit(f"prune: {site} is not the image's site-packages (no kubernetes_validate in it)")
    version = args.k8s_version
    if not version:
        from controller.catalog.manifest import K8S_VERSION

        version = K8S_VERSION
    freed = prune(site, (*CUTS, schema_cut(site, version)), dry_run=args.dry_run)
    for why, size in freed.items():
        print(f"{size / 1e6:7.1f} MB  {why}" if size else f"    -      (matched nothing) {why}")
    print(f"{sum(freed.values()) / 1e6:7.1f} MB  {'would be ' if args.dry_run else ''}freed in all")


if __name__ == "__main__":
    main(sys.argv[1:])
