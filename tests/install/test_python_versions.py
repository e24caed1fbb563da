"""Every pin of requirements.lock has a wheel for Python 3.11, 3.12 and 3.13 (issue 11 §8).

Why: `requires-python` promises those three, and `make install` installs the lock with pip, which
must never build from source (no compilers on a fresh machine, no backtracking). For each pin and
version the test asks the package index pip is configured with for the pin's files (the PEP 691
JSON of its simple page, the same list `pip download` chooses from) and looks for a wheel whose tags
that CPython on x86-64 Linux accepts (`packaging.tags`, as pip's finder does), not yanked, with a
`requires-python` that admits the version. Downloading every wheel for three versions (several GB)
is too slow for CI, so real `pip download --only-binary=:all: --python-version X --no-deps` runs
only as a cross-check on a small pin per version; it is also the probe: the test is skipped only
when the package index cannot be reached.
"""

from __future__ import annotations

import re
import ssl
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from tests.charts.paths import ROOT

pytestmark = [pytest.mark.timeout(900), pytest.mark.xdist_group("network")]
VERSIONS = ((3, 11), (3, 12), (3, 13))
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "linux_x86_64"]
UNREACHABLE = re.compile(r"(Failed to establish a new connection|Temporary failure in name resolution|"
                         r"Network is unreachable|ConnectTimeout|Max retries exceeded|No route to host)")


def pins() -> list[tuple[str, str]]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    found = [line.split("#")[0].strip() for line in lines]
    return [(name.strip(), version.strip()) for name, _, version in (p.partition("==") for p in found if "==" in p)]


def accepted_tags(version: tuple[int, int]) -> set[Tag]:
    return {*cpython_tags(version, platforms=PLATFORMS), *compatible_tags(version, platforms=PLATFORMS)}


def index_url() -> str:
    configured = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                                capture_output=True, text=True).stdout.strip()
    if configured:
        return configured.rstrip("/")
    from pip._internal.models.index import PyPI  # pip's own default index

    return str(PyPI.simple_url).rstrip("/")


def files_of(client: httpx.Client, base: str, name: str) -> list[dict[str, Any]]:
    response = client.get(f"{base}/{canonicalize_name(name)}/",
                          headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    response.raise_for_status()
    files: list[dict[str, Any]] = response.json()["files"]
    return files


def has_wheel(files: list[dict[str, Any]], pinned: str, version: tuple[int, int]) -> bool:
    tags, python = accepted_tags(version), Version(f"{version[0]}.{version[1]}.0")
    for item in files:
        filename = item["filename"]
        if not filename.endswith(".whl") or item.get("yanked"):
            continue
        try:
            _, wheel_version, _, wheel_tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:  # old uploads with names pip would not accept either
            continue
        if wheel_version != Version(pinned) or not wheel_tags & tags:
            continue
        try:
            if item.get("requires-python") and python not in SpecifierSet(item["requires-python"]):
                continue
        except InvalidSpecifier:
            pass
        return True
    return False


def pip_download(pin: str, version: tuple[int, int], folder: Path) -> subprocess.CompletedProcess[str]:
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    return subprocess.run(
        [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet", "--no-deps",
         "--only-binary=:all:", "--python-version", f"{version[0]}.{version[1]}", "--implementation", "cp",
         *platforms, "-d", str(folder), pin], capture_output=True, text=True, timeout=600)


def test_every_pin_has_a_wheel_for_each_supported_python(tmp_path: Path) -> None:
    small = "packaging==" + dict(pins()).get("packaging", "")
    for version in VERSIONS:  # the probe, and a cross-check of the tag logic with pip itself
        done = pip_download(small, version, tmp_path / f"py{version[1]}")
        if done.returncode != 0 and UNREACHABLE.search(done.stderr):
            pytest.skip(f"the package index is unreachable: {done.stderr.strip().splitlines()[-1]}")
        assert done.returncode == 0, done.stderr
    base = index_url()
    with httpx.Client(verify=ssl.create_default_context(), timeout=120, follow_redirects=True) as client, \
            ThreadPoolExecutor(max_workers=8) as pool:
        listed = dict(zip(pins(), pool.map(lambda pin: files_of(client, base, pin[0]), pins()), strict=True))
    assert has_wheel(listed[("packaging", small.partition("==")[2])], small.partition("==")[2], (3, 13))
    missing = [f"{name}=={pinned} (Python {v[0]}.{v[1]})" for (name, pinned), files in listed.items()
               for v in VERSIONS if not has_wheel(files, pinned, v)]
    assert not missing, "pins without a wheel (pip would build them from source):\n" + "\n".join(missing)
