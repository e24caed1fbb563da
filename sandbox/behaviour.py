"""How the simulated cluster behaves, as data: nodes, storage classes, the registry and its images.

Why a file and not code: a real cluster's behaviour follows from the pod spec plus facts the
sandbox cannot know (which images exist, what their processes do, how much memory they take).
Following kwok's idea (nodes and pod lifecycles driven by declared stages), those facts are a
small YAML file: the default one ships as `sandbox/behaviour.yaml`; `aiop sandbox --behaviour FILE`
and `SandboxServer(behaviour=...)` replace it. Nothing in the simulated cluster keys on object
names; everything follows from the spec and this file.

Format (keys as in Kubernetes, camelCase):

    nodes:            [{name, count, labels, taints, capacity}]
    storageClasses:   [{name, default, provisioner, volumeBindingMode, allowVolumeExpansion, reclaimPolicy}]
    timing:           {pullSeconds, backOffBaseSeconds, backOffMaxSeconds, probeTimeoutSeconds}
    registry:         {open: [repository globs that pull even when not listed], openRun: Run}
    images:           [{repository (glob), tags (regexes), sizeBytes, pullSeconds, shell, entrypoint, programs,
                        run: Run, commands: [{match (regex), run: Run | image}], exec: [{match, stdout,
                        stderr, exitCode}]}]
    Run:              {listen: [ports] | declared, readyAfterSeconds, exitAfterSeconds, exitCode,
                       memoryMiB, cpuMillicores, logs: [text | {afterSeconds, text, stream}],
                       http: {path: status}, pages: {path: body}, docRoot, stopSeconds,
                       requireEnv: [{anyOf, logs, exitCode}]}
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

DEFAULT_FILE = Path(__file__).with_name("behaviour.yaml")
DOCKER_HUB = "docker.io"


class BehaviourError(ValueError):
    """A behaviour file that cannot be used: says which file, which field and what is wrong."""


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a regular expression ({exc}): {pattern!r}") from exc
    return pattern


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class LogLine(_Model):
    text: str
    after_seconds: float = 0
    stream: Literal["stdout", "stderr"] = "stdout"


class EnvRequirement(_Model):
    """The process refuses to start unless one of these variables is set (postgres, mysql)."""

    any_of: list[str]
    logs: list[str | LogLine] = []
    exit_code: int = 1


class Run(_Model):
    """What a container's process does once started."""

    listen: list[int] | Literal["declared"] = []
    ready_after_seconds: float = 0
    exit_after_seconds: float | None = None
    exit_code: int = 0
    memory_mib: float = Field(default=0, alias="memoryMiB")
    cpu_millicores: float = 0
    logs: list[str | LogLine] = []
    http: dict[str, int] = {}
    pages: dict[str, str] = {}
    doc_root: str = ""
    stop_seconds: float = 0
    require_env: list[EnvRequirement] = []


class _Matching(_Model):
    """A rule chosen by a regular expression that must match the whole command line."""

    match: str

    @field_validator("match")
    @classmethod
    def _regex(cls, value: str) -> str:
        return _compiles(value)

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(self.match)


class CommandRule(_Matching):
    """A command line (command + args joined as a shell would show them) and what it does."""

    run: Run | Literal["image"] = "image"


class ExecRule(_Matching):
    """A command `kubectl exec` may run in the container and its answer."""

    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0


class Image(_Model):
    repository: str
    tags: list[str] = [".*"]
    size_bytes: int = 50_000_000
    pull_seconds: float | None = None
    shell: Literal["busybox", "dash", "bash", "none"] = "dash"
    entrypoint: list[str] = []  # when a pod gives only `args` (exec-wrapper entrypoints need none)
    programs: list[str] = []
    run: Run = Run()
    commands: list[CommandRule] = []
    exec: list[ExecRule] = []

    @field_validator("tags")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        return [_compiles(tag) for tag in value]

    def has_tag(self, tag: str) -> bool:
        return any(re.fullmatch(pattern, tag) for pattern in self.tags)


class Taint(_Model):
    key: str
    value: str = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class NodeSpec(_Model):
    name: str
    count: int = 1
    labels: dict[str, str] = {}
    taints: list[Taint] = []
    capacity: dict[str, str] = {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"}

    @field_validator("capacity", mode="before")
    @classmethod
    def _quantities(cls, value: Any) -> Any:
        """`cpu: 4` is as good as `cpu: "4"` (node status holds quantities as strings)."""
        if isinstance(value, dict):
            return {k: str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
                    for k, v in value.items()}
        return value

    def names(self) -> list[str]:
        """`worker`, `worker2`, `worker3`: the names kind gives a group of nodes."""
        return [self.name if i == 1 else f"{self.name}{i}" for i in range(1, self.count + 1)]


class StorageClassSpec(_Model):
    name: str
    default: bool = False
    provisioner: str = "rancher.io/local-path"
    volume_binding_mode: Literal["Immediate", "WaitForFirstConsumer"] = "Immediate"
    allow_volume_expansion: bool = True
    reclaim_policy: Literal["Delete", "Retain"] = "Delete"
    parameters: dict[str, str] = {}


class Timing(_Model):
    pull_seconds: float = 0
    back_off_base_seconds: float = 10
    back_off_max_seconds: float = 300
    back_off_reset_seconds: float = 600
    snapshot_seconds: float = 0  # how long a CSI driver takes to cut a snapshot, and Velero a backup or restore


class Registry(_Model):
    open: list[str] = []
    open_run: Run = Run(listen="declared")


class Behaviour(_Model):
    nodes: list[NodeSpec]
    storage_classes: list[StorageClassSpec] = []
    timing: Timing = Timing()
    registry: Registry = Registry()
    images: list[Image] = []

    def node_names(self) -> list[str]:
        return [name for spec in self.nodes for name in spec.names()]

    def pull(self, reference: str) -> Pull:
        """What the registry answers for an image reference (the kubelet's pull)."""
        ref = parse_image(reference)
        if ref is None:
            return Pull(None, None, "InvalidImageName", invalid_name_message(reference))
        for image in self.images:
            if fnmatch.fnmatchcase(ref.name, normalise_repository(image.repository)):
                if ref.digest or image.has_tag(ref.tag):
                    return Pull(ref, image, "", "")
                return Pull(ref, None, "ErrImagePull", not_found_message(ref))
        if any(fnmatch.fnmatchcase(ref.name, normalise_repository(p)) for p in self.registry.open):
            return Pull(ref, Image(repository=ref.name, run=self.registry.open_run), "", "")
        return Pull(ref, None, "ErrImagePull", access_denied_message(ref))


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference: `nginx` is docker.io/library/nginx:latest."""

    registry: str
    path: str
    tag: str
    digest: str = ""

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.path}"

    @property
    def full(self) -> str:
        return f"{self.name}@{self.digest}" if self.digest else f"{self.name}:{self.tag}"


@dataclass(frozen=True)
class Pull:
    """The registry's answer: the image (when it exists) or the kubelet's error reason and message."""

    ref: ImageRef | None
    image: Image | None
    reason: str
    message: str


_REFERENCE = re.compile(
    r"^(?:(?P<registry>[a-zA-Z0-9.-]+(?::\d+)?|localhost(?::\d+)?)/)?"
    r"(?P<path>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


def parse_image(reference: str) -> ImageRef | None:
    """Parse as the container runtime does; None for an invalid reference (uppercase, spaces...)."""
    text = reference.strip()
    first, _, rest = text.partition("/")
    if rest and not ("." in first or ":" in first or first == "localhost"):
        text = f"{DOCKER_HUB}/{text}"  # `library/nginx`, `bitnami/redis`: Docker Hub paths
    match = _REFERENCE.match(text)
    if not match:
        return None
    registry = match.group("registry") or DOCKER_HUB
    path = match.group("path")
    if match.group("registry") and not ("." in registry or ":" in registry or registry == "localhost"):
        path = f"{registry}/{path}"
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return ImageRef(registry, path, match.group("tag") or "latest", match.group("digest") or "")


def normalise_repository(pattern: str) -> str:
    """A repository glob in the file (`nginx`, `bitnami/*`, `ghcr.io/*`) as a full name glob."""
    first, _, rest = pattern.partition("/")
    if not rest:
        return f"{DOCKER_HUB}/library/{pattern}"
    if "." in first or ":" in first or first == "localhost" or first == "*":
        return pattern
    return f"{DOCKER_HUB}/{pattern}"


def invalid_name_message(reference: str) -> str:
    return (f'Failed to apply default image tag "{reference}": couldn\'t parse image name "{reference}": '
            f"invalid reference format")


def not_found_message(ref: ImageRef) -> str:
    return (f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref.full}": '
            f'failed to resolve reference "{ref.full}": {ref.full}: not found')


def access_denied_message(ref: ImageRef) -> str:
    return (f'rpc error: code = Unknown desc = failed to pull and unpack image "{ref.full}": '
            f'failed to resolve reference "{ref.full}": pull access denied, repository does not exist '
            f"or may require authorization: server message: insufficient_scope: authorization failed")


def _where(error: dict[str, Any], doc: Any) -> str:
    parts: list[str] = []
    node = doc
    for loc in error.get("loc", ()):
        if isinstance(loc, int):
            name = node[loc].get("name") or node[loc].get("repository") if isinstance(node, list) and \
                isinstance(node[loc], dict) else None
            parts[-1:] = [f"{parts[-1] if parts else ''}[{name or loc}]"]
            node = node[loc] if isinstance(node, list) and loc < len(node) else None
        else:
            parts.append(str(loc))
            node = node.get(loc) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def parse_behaviour(text: str, source: str = "<behaviour>") -> Behaviour:
    """Validate a behaviour document; BehaviourError names the file, the field and the problem."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BehaviourError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise BehaviourError(f"{source}: a behaviour file is a mapping with `nodes`, `images`, ...")
    try:
        behaviour = Behaviour.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(dict(e), doc)}: {e['msg']}" for e in exc.errors())
        raise BehaviourError(f"{source}: {problems}") from exc
    if not behaviour.nodes:
        raise BehaviourError(f"{source}: nodes: at least one node is needed to run pods")
    defaults = [sc.name for sc in behaviour.storage_classes if sc.default]
    if len(defaults) > 1:
        raise BehaviourError(f"{source}: storageClasses: more than one default class: {', '.join(defaults)}")
    return behaviour


def load_behaviour(path: Path | str | None = None) -> Behaviour:
    """The behaviour in `path`, or the default one shipped with the sandbox."""
    file = Path(path) if path is not None else DEFAULT_FILE
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise BehaviourError(f"{file}: cannot read the behaviour file: {exc.strerror}") from exc
    return parse_behaviour(text, str(file))


_default: Behaviour | None = None


def default_behaviour() -> Behaviour:
    """The shipped default, parsed once per process."""
    global _default
    if _default is None:
        _default = load_behaviour()
    return _default
