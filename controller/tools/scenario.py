"""The eval scenario format (../shared/eval/README.md), validated strictly.

A scenario that is not valid is reported with its file, the field and what is wrong (exit 2),
never half-run. Checking the end state against `expect` is pure and lives in `expectations.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from controller.tools.cloud_fakes import CloudSpec


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdentitySpec(Strict):
    user: str = Field(min_length=1)
    groups: list[str] = Field(default_factory=list)


class GitExpect(Strict):
    thread_branch: bool | None = None
    pull_request: bool | None = None


class Expect(Strict):
    phase: str | None = None
    mutating: bool | None = None
    mentions: list[str] = Field(default_factory=list)
    mentions_not: list[str] = Field(default_factory=list)
    objects: list[dict[str, Any]] = Field(default_factory=list)
    absent: list[dict[str, Any]] = Field(default_factory=list)
    lacks: list[dict[str, Any]] = Field(default_factory=list,
                                        description="Each must exist and must NOT match these fields.")
    unchanged: bool | None = None
    unchanged_except: list[str] | None = None
    git: GitExpect | None = None
    alerts: int | str | None = None
    reuse: bool | None = None

    @field_validator("mentions", "mentions_not", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        return [str(v) for v in value] if isinstance(value, list) else value

    @field_validator("alerts")
    @classmethod
    def _alerts(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip().lstrip(">=<").strip().isdigit():
            raise ValueError("alerts is a number or a comparison like '>=1'")
        return value


class ApproveRevision(Strict):
    revision: int = Field(ge=1)


class Turn(Strict):
    say: str | None = None
    expect: Expect | None = None
    approve: Literal["latest"] | ApproveRevision | None = None
    rate: int | None = Field(default=None, ge=0, le=100)
    restore: bool | None = None

    def kind(self) -> str:
        given = [k for k in ("say", "expect", "approve", "rate", "restore") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"a turn has exactly one of say/expect/approve/rate/restore, got {given or 'none'}")
        return given[0]


class KnowledgeItem(Strict):
    thread_id: str | None = None
    request: str
    resolution: str
    rating: int | None = Field(default=None, ge=0, le=100)
    tags: list[str] = Field(default_factory=list)
    context: str | None = None
    cluster: str | None = None


class Scenario(Strict):
    name: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    namespace: str = Field(min_length=1)
    identity: IdentitySpec
    cluster: list[dict[str, Any]] = Field(default_factory=list)
    knowledge: list[KnowledgeItem] = Field(default_factory=list)
    cloud: CloudSpec | None = None  # what the fake AWS/Azure hold (controller/tools/cloud_fakes.py); optional
    turns: list[Turn] = Field(min_length=1)
    expect: Expect = Field(default_factory=Expect)

    @field_validator("cluster")
    @classmethod
    def _objects(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, obj in enumerate(value):
            for key in ("apiVersion", "kind", "metadata"):
                if key not in obj:
                    raise ValueError(f"cluster[{index}] has no {key}")
            if "name" not in (obj.get("metadata") or {}):
                raise ValueError(f"cluster[{index}].metadata has no name")
        return value

    @field_validator("turns")
    @classmethod
    def _turns(cls, value: list[Turn]) -> list[Turn]:
        for index, turn in enumerate(value):
            try:
                turn.kind()
            except ValueError as exc:
                raise ValueError(f"turns[{index}]: {exc}") from exc
        return value


class ScenarioError(Exception):
    """The file, the field and what is wrong."""


def load_scenario(path: Path) -> Scenario:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: cannot read YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping")
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise ScenarioError(f"{path}: {field}: {first['msg']}") from exc


def scenario_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")))
        elif path.exists():
            files.append(path)
        else:
            raise ScenarioError(f"{path}: no such file or folder")
    return files
