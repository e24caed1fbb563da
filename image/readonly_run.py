"""Run a command in a locally built image the way the chart runs the pod: read-only root, UID 65532.

Why: the chart sets `readOnlyRootFilesystem: true` and mounts only /tmp and `$AIOP_HOME` writable
(emptyDirs), but `buildah run` has no read-only root, so a process that writes anywhere else (a
cache under $HOME, bytecode next to a module, a lock file of a native library) passes `make image`
and fails in the cluster. No OCI runtime runs here (crun 1.8 refuses this host's hybrid cgroups, and
there is no Docker engine), so this does with the kernel what a runtime does for
`readOnlyRootFilesystem`: in a private mount namespace (`unshare --mount`) it bind-mounts the image's
root file system (`buildah mount` of a fresh working container) and remounts it read-only, puts a
tmpfs on each writable path, bind-mounts the given host paths read-only, mounts /proc and /dev, and
runs the command chrooted as the image's user with exactly the image's environment and working
folder. It shares the host's network and PID namespace (as `buildah run --isolation chroot` does),
so a process in it reaches a server on 127.0.0.1. Root only; the working container is removed after.

Usage: `python image/readonly_run.py IMAGE [--bind HOST:DEST]... [--writable DEST]... -- COMMAND...`
(default writable paths: /tmp and the image's $AIOP_HOME, as the chart's emptyDirs).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

BUILDAH = ("buildah", "--storage-driver", "vfs")


def image_config(image: str) -> dict[str, object]:
    """The image's OCI config: User, Env, WorkingDir."""
    raw = subprocess.run([*BUILDAH, "inspect", "--type", "image", image], check=True, capture_output=True, text=True)
    config: dict[str, object] = json.loads(raw.stdout)["OCIv1"]["config"]
    return config


def mount_script(root: str, target: str, config: dict[str, object], binds: list[tuple[str, str]],
                 writable: list[str], command: list[str]) -> str:
    """The shell script run inside `unshare --mount`: mounts on the empty folder `target`, then the command
    chrooted there as the image's user."""
    env = [str(e) for e in config.get("Env") or []]  # type: ignore[union-attr]
    user = str(config.get("User") or "65532:65532")
    workdir = str(config.get("WorkingDir") or "/")
    q = shlex.quote
    lines = ["set -eu", f"r={q(target)}", f"mount --rbind {q(root)} \"$r\""]
    for dest in writable:
        lines += [f"mkdir -p \"$r\"{q(dest)}",
                  f"mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs \"$r\"{q(dest)}"]
    for host, dest in binds:
        make = (f"mkdir -p \"$r\"{q(dest)}" if Path(host).is_dir()
                else f"mkdir -p \"$r\"{q(str(Path(dest).parent))} && touch \"$r\"{q(dest)}")
        lines += [make, f"mount --bind {q(host)} \"$r\"{q(dest)}", f"mount -o remount,bind,ro \"$r\"{q(dest)}"]
    start = q(f'cd {q(workdir)} && exec "$@"')
    lines += ["mount -o remount,bind,ro \"$r\"",  # the root only: the tmpfs and binds below keep their own flags
              "mount -t proc proc \"$r\"/proc", "mount --rbind /dev \"$r\"/dev",
              f"exec chroot --userspec={q(user)} \"$r\" /usr/bin/env -i {' '.join(q(e) for e in env)} "
              f"/bin/sh -c {start} sh {' '.join(q(c) for c in command)}"]
    return "\n".join(lines)


def run(image: str, binds: list[tuple[str, str]], writable: list[str] | None, command: list[str]) -> int:
    config = image_config(image)
    if writable is None:
        home = next((str(e).split("=", 1)[1] for e in config.get("Env") or [] if str(e).startswith("AIOP_HOME=")),
                    None)  # type: ignore[union-attr]
        writable = ["/tmp", *([home] if home else [])]
    container = subprocess.run([*BUILDAH, "from", "--quiet", image], check=True, capture_output=True,
                               text=True).stdout.strip()
    try:
        root = subprocess.run([*BUILDAH, "mount", container], check=True, capture_output=True, text=True).stdout.strip()
        with tempfile.TemporaryDirectory(prefix="aiop-readonly-") as target:  # the mounts vanish with the namespace
            script = mount_script(root, target, config, binds, writable, command)
            return subprocess.run(["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script]).returncode
    finally:
        subprocess.run([*BUILDAH, "umount", container], capture_output=True)
        subprocess.run([*BUILDAH, "rm", container], capture_output=True)


def main(argv: list[str]) -> None:
    if "--" not in argv:
        raise SystemExit("usage: readonly_run.py IMAGE [--bind HOST:DEST]... [--writable DEST]... -- COMMAND...")
    split = argv.index("--")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("--bind", action="append", default=[], help="HOST:DEST, mounted read-only")
    parser.add_argument("--writable", action="append", default=None, help="a tmpfs at DEST (default: /tmp, $AIOP_HOME)")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1:]
    binds = []
    for bind in args.bind:
        host, sep, dest = bind.partition(":")
        if not sep or not dest.startswith("/") or not Path(host).exists():
            raise SystemExit(f"--bind {bind}: expected HOST:DEST with an existing HOST path and an absolute DEST")
        binds.append((str(Path(host).resolve()), dest))
    if not command:
        raise SystemExit("readonly_run.py: no command after --")
    sys.exit(run(args.image, binds, args.writable, command))


if __name__ == "__main__":
    main(sys.argv[1:])
