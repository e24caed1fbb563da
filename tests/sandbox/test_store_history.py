"""The store's event history: what a resuming watch and a paged list see, at the edge of the window.

Pure (no server): the history keeps each version once, as bytes, and an event's `old` is the previous
event's version — so the cases that matter are the ones where that previous version already left the
window, an object deleted and created again, and a list continued at an old resourceVersion.
"""

from __future__ import annotations

import pytest

from sandbox.errors import ApiError
from sandbox.store import ADDED, DELETED, MODIFIED, Store


def _cm(name: str, value: str, labels: dict[str, str] | None = None) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "ns", "labels": labels or {}}, "data": {"v": value}}


def test_replayed_events_carry_the_version_before_them_even_past_the_window() -> None:
    store = Store(history_limit=3)
    first = store.put("", "configmaps", _cm("a", "1", {"app": "web"}))
    for i in range(3):
        store.put("", "configmaps", _cm(f"other-{i}", str(i)))  # pushes a's ADDED out of the window
    since = store.resource_version
    store.put("", "configmaps", _cm("a", "2"))  # the label is gone: a selector watch must see a DELETED
    replay = store.events_since(since)
    assert [(e.type, e.obj["data"]["v"]) for e in replay] == [(MODIFIED, "2")]
    assert replay[0].old == first  # kept although a's previous event left the window
    replay[0].obj["data"]["v"] = "changed by a watcher"
    assert store.events_since(since)[0].obj["data"]["v"] == "2"  # a replay is a copy, never the store


def test_a_list_continued_at_an_old_version_sees_the_objects_as_they_were() -> None:
    store = Store(history_limit=100)
    store.put("", "configmaps", _cm("a", "1"))
    store.put("", "configmaps", _cm("b", "1"))
    at = store.resource_version
    store.put("", "configmaps", _cm("a", "2"))
    gone = store.put("", "configmaps", _cm("b", "2"))
    store.remove("", "configmaps", gone)
    store.put("", "configmaps", _cm("c", "1"))
    store.remove("", "configmaps", store.put("", "configmaps", _cm("b", "again")))
    then = store.objects_at("", "configmaps", "ns", at)
    assert then is not None
    assert [(o["metadata"]["name"], o["data"]["v"]) for o in then] == [("a", "1"), ("b", "1")]
    assert [e.type for e in store.events_since(at)] == [MODIFIED, MODIFIED, DELETED, ADDED, ADDED, DELETED]


def test_a_version_older_than_the_window_is_expired() -> None:
    store = Store(history_limit=2)
    for i in range(4):
        store.put("", "configmaps", _cm("a", str(i)))
    assert store.objects_at("", "configmaps", "ns", 1) is None
    with pytest.raises(ApiError) as err:
        store.events_since(1)
    assert err.value.code == 410
