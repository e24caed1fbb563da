"""copy_json: the store's copies are real deep copies, equal to what copy.deepcopy gives."""

from __future__ import annotations

import copy
import enum
from typing import Any

from sandbox.jsoncopy import copy_json


class Phase(enum.Enum):
    READY = "Ready"


class Name(str):
    pass


def test_a_copy_is_equal_and_shares_nothing_mutable() -> None:
    obj: dict[str, Any] = {"metadata": {"name": "c1", "labels": {"a": "b"}, "generation": 3},
                           "spec": {"turns": [{"text": "scale web", "author": {"user": "alice", "groups": ["devs"]}}],
                                    "replicas": 2, "ratio": 0.5, "paused": False, "note": None}}
    copied = copy_json(obj)
    assert copied == obj and copied is not obj
    copied["spec"]["turns"][0]["author"]["groups"].append("admins")
    copied["metadata"]["labels"]["a"] = "changed"
    copied["spec"]["turns"].append({"text": "more"})
    assert obj["spec"]["turns"] == [{"text": "scale web", "author": {"user": "alice", "groups": ["devs"]}}]
    assert obj["metadata"]["labels"] == {"a": "b"}
    assert type(copied["spec"]["paused"]) is bool and type(copied["spec"]["ratio"]) is float


def test_values_marshal_cannot_write_are_deep_copied_as_copy_deepcopy_does() -> None:
    shared = ["x"]
    obj = {"phase": Phase.READY, "name": Name("web"), "items": [shared, shared]}
    copied = copy_json(obj)
    assert copied == copy.deepcopy(obj)
    assert copied["phase"] is Phase.READY and type(copied["name"]) is Name
    assert copied["items"][0] is copied["items"][1] and copied["items"][0] is not shared
