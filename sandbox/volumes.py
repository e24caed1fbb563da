"""What a container's file system shows: its own writable layer plus the pod's mounted volumes.

Why: verify steps read files through `kubectl exec ... cat`, nginx serves what a ConfigMap mounts
at its document root, a StatefulSet's data must survive a pod's restart on its PVC, and a pod
whose ConfigMap or Secret does not exist never starts (`MountVolume.SetUp failed`). ConfigMap and
Secret volumes read the live objects; emptyDir lives as long as the pod, a PVC's data as long as
its PersistentVolume (in memory: a restart of the sandbox empties volumes).
"""

from __future__ import annotations

import base64
import posixpath
from dataclasses import dataclass
from typing import Any

from sandbox.process import FileOp, FileSystem, ScratchFiles
from sandbox.store import Store


def _norm(path: str) -> str:
    return posixpath.normpath("/" + path.lstrip("/")) if path else "/"


class ObjectVolume:
    """A ConfigMap or Secret volume: keys (or `items`) as files, read-only, always current."""

    def __init__(self, store: Store, namespace: str, kind: str, name: str, items: list[dict[str, Any]]) -> None:
        self.store, self.namespace, self.kind, self.name, self.items = store, namespace, kind, name, items

    def _files(self) -> dict[str, str]:
        plural = "configmaps" if self.kind == "ConfigMap" else "secrets"
        obj = self.store.get(("", plural, self.namespace, self.name)) or {}
        data: dict[str, str] = {}
        if self.kind == "ConfigMap":
            data.update({k: str(v) for k, v in (obj.get("data") or {}).items()})
        else:
            for key, value in (obj.get("data") or {}).items():
                try:
                    data[key] = base64.b64decode(str(value)).decode("utf-8", "replace")
                except ValueError:
                    data[key] = ""
            data.update({k: str(v) for k, v in (obj.get("stringData") or {}).items()})
        if self.items:
            return {str(i.get("path") or i.get("key")): data[i["key"]] for i in self.items if i.get("key") in data}
        return data

    def read(self, path: str) -> str | None:
        return self._files().get(path.lstrip("/"))

    def write(self, path: str, content: str, append: bool = False) -> bool:
        return False

    def remove(self, path: str) -> bool:
        return False

    def listdir(self, path: str) -> list[str] | None:
        rel = path.strip("/")
        files = self._files()
        if not rel:
            return sorted(files)
        names = sorted({k[len(rel) + 1:].split("/")[0] for k in files if k.startswith(rel + "/")})
        return names or None


class RelativeFiles:
    """A ScratchFiles volume addressed by paths relative to its mount point."""

    def __init__(self, files: ScratchFiles) -> None:
        self.files = files

    def read(self, path: str) -> str | None:
        return self.files.read(_norm(path))

    def write(self, path: str, content: str, append: bool = False) -> bool:
        return self.files.write(_norm(path), content, append)

    def remove(self, path: str) -> bool:
        return self.files.remove(_norm(path))

    def listdir(self, path: str) -> list[str] | None:
        if _norm(path) == "/":
            names = sorted({p.lstrip("/").split("/")[0] for p in self.files.files})
            return names
        return self.files.listdir(_norm(path))


@dataclass
class Mount:
    path: str
    volume: Any
    read_only: bool


class ContainerFiles:
    """One container's view: the longest matching mount wins, the rest is the container's own layer."""

    def __init__(self, mounts: list[Mount], local: ScratchFiles, static: dict[str, str]) -> None:
        self.mounts = sorted(mounts, key=lambda m: len(m.path), reverse=True)
        self.local = local
        self.static = static  # /etc/hostname, /etc/hosts and friends

    def _route(self, path: str) -> tuple[Any, str, bool]:
        path = _norm(path)
        for mount in self.mounts:
            if path == mount.path or path.startswith(mount.path.rstrip("/") + "/"):
                return mount.volume, path[len(mount.path.rstrip("/")):] or "/", mount.read_only
        return None, path, False

    def read(self, path: str) -> str | None:
        volume, rel, _ = self._route(path)
        if volume is not None:
            return volume.read(rel)  # type: ignore[no-any-return]
        return self.local.read(rel) if rel not in self.static else self.static[rel]

    def write(self, path: str, content: str, append: bool = False) -> bool:
        volume, rel, read_only = self._route(path)
        if volume is not None:
            return False if read_only else bool(volume.write(rel, content, append))
        return self.local.write(rel, content, append)

    def remove(self, path: str) -> bool:
        volume, rel, read_only = self._route(path)
        if volume is not None:
            return False if read_only else bool(volume.remove(rel))
        return self.local.remove(rel)

    def listdir(self, path: str) -> list[str] | None:
        volume, rel, _ = self._route(path)
        if volume is not None:
            return volume.listdir(rel)  # type: ignore[no-any-return]
        return self.local.listdir(rel)


class Overlay:
    """Reads through to a base, writes kept aside: used while planning a process ahead of time."""

    def __init__(self, base: FileSystem) -> None:
        self.base = base
        self.top = ScratchFiles()
        self.removed: set[str] = set()

    def read(self, path: str) -> str | None:
        path = _norm(path)
        if path in self.top.files:
            return self.top.files[path]
        return None if path in self.removed else self.base.read(path)

    def write(self, path: str, content: str, append: bool = False) -> bool:
        path = _norm(path)
        if append and path not in self.top.files:
            content = (self.read(path) or "") + content
            append = False
        self.removed.discard(path)
        return self.top.write(path, content, append)

    def remove(self, path: str) -> bool:
        path = _norm(path)
        existed = self.read(path) is not None
        self.top.files.pop(path, None)
        self.removed.add(path)
        return existed

    def listdir(self, path: str) -> list[str] | None:
        names = set(self.base.listdir(path) or []) | set(self.top.listdir(_norm(path)) or [])
        return sorted(names) or None


def apply(fs: FileSystem, ops: list[FileOp], start: int, until: float) -> int:
    """Apply a process's file operations due by `until` (seconds after start); returns how many are done."""
    index = start
    while index < len(ops) and ops[index].at <= until:
        op = ops[index]
        if op.content is None:
            fs.remove(op.path)
        else:
            fs.write(op.path, op.content, op.append)
        index += 1
    return index


def missing_volume(store: Store, namespace: str, volume: dict[str, Any]) -> str:
    """Why a volume cannot be mounted (the FailedMount message), or ''."""
    name = volume.get("name", "")
    for key, kind, plural in (("configMap", "configmap", "configmaps"), ("secret", "secret", "secrets")):
        source = volume.get(key)
        if source is None or source.get("optional"):
            continue
        ref = source.get("name") if key == "configMap" else source.get("secretName")
        if store.get(("", plural, namespace, ref or "")) is None:
            return f'MountVolume.SetUp failed for volume "{name}" : {kind} "{ref}" not found'
    for projected in ((volume.get("projected") or {}).get("sources") or []):
        for key, kind, plural in (("configMap", "configmap", "configmaps"), ("secret", "secret", "secrets")):
            source = projected.get(key)
            if source and not source.get("optional") and store.get(("", plural, namespace, source.get("name", ""))) is None:
                return f'MountVolume.SetUp failed for volume "{name}" : {kind} "{source.get("name")}" not found'
    return ""
