"""Lists in pages: `limit` and `continue`, as kubectl's --chunk-size and client-go's pager use them.

What a real cluster shows: at most `limit` items with a `continue` token and `remainingItemCount`;
following tokens returns the rest as of the first page's resourceVersion (objects created or deleted
meanwhile do not change it); a token whose version has been compacted is 410 Expired with the real
message and a fresh token; a token that is not one is 400.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from sandbox.server import SandboxServer
from tests.sandbox.conftest import Kubectl, api_client


def _create(core: client.CoreV1Api, *names: str) -> None:
    for name in names:
        core.create_namespaced_config_map("default", {"metadata": {"name": name}})


def _names(items: list[Any]) -> list[str]:
    return [item.metadata.name for item in items]


def test_pages_follow_continue_tokens_over_a_consistent_snapshot(api: client.ApiClient) -> None:
    """Page 2 is served as of page 1's version: a deletion and a creation in between do not show."""
    core = client.CoreV1Api(api)
    _create(core, "a", "b", "c", "d", "e")
    first = core.list_namespaced_config_map("default", limit=2)
    assert _names(first.items) == ["a", "b"]
    assert first.metadata.remaining_item_count == 3 and first.metadata._continue
    core.delete_namespaced_config_map("d", "default")
    _create(core, "cc")
    second = core.list_namespaced_config_map("default", limit=2, _continue=first.metadata._continue)
    assert _names(second.items) == ["c", "d"]
    assert second.metadata.resource_version == first.metadata.resource_version
    third = core.list_namespaced_config_map("default", limit=2, _continue=second.metadata._continue)
    assert _names(third.items) == ["e"] and not third.metadata._continue
    assert _names(core.list_namespaced_config_map("default").items) == ["a", "b", "c", "cc", "e"]


def test_selectors_page_without_a_remaining_count(api: client.ApiClient) -> None:
    """With a label selector the pages hold only matches, and remainingItemCount is not given."""
    core = client.CoreV1Api(api)
    for i in range(6):
        core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}",
                                                                   "labels": {"odd": str(i % 2)}}})
    seen, token = [], None
    while True:
        page = core.list_namespaced_config_map("default", limit=2, label_selector="odd=1", _continue=token)
        assert page.metadata.remaining_item_count is None
        seen += _names(page.items)
        token = page.metadata._continue
        if not token:
            break
    assert seen == ["c1", "c3", "c5"]


def test_an_expired_token_is_410_with_a_fresh_token(tmp_path: Path) -> None:
    """Once the first page's version leaves the history, continuing is refused the way etcd compaction is."""
    with SandboxServer(home=tmp_path, history_limit=5, simulate_workloads=False) as server:
        api = api_client(server)
        core = client.CoreV1Api(api)
        _create(core, "a", "b", "c")
        first = core.list_namespaced_config_map("default", limit=1)
        _create(core, *(f"z{i}" for i in range(8)))
        with pytest.raises(ApiException) as err:
            core.list_namespaced_config_map("default", limit=1, _continue=first.metadata._continue)
        status = json.loads(err.value.body)
        assert (err.value.status, status["reason"]) == (410, "Expired")
        assert status["message"].startswith("The provided continue parameter is too old to display a "
                                            "consistent list result.")
        resumed = core.list_namespaced_config_map("default", limit=100, _continue=status["metadata"]["continue"])
        assert _names(resumed.items)[:2] == ["b", "c"]  # inconsistent: what exists now, after "a"
        with pytest.raises(ApiException) as err:
            core.list_namespaced_config_map("default", limit=1, _continue="not-a-token")
        assert err.value.status == 400 and "continue key is not valid" in err.value.body
        api.close()


def test_kubectl_chunk_size(kubectl: Kubectl, api: client.ApiClient) -> None:
    """`kubectl get --chunk-size=2` asks for pages and prints every object once."""
    _create(client.CoreV1Api(api), *(f"cm{i}" for i in range(5)))
    out = kubectl("get", "configmaps", "--chunk-size=2", "-o", "name", "-v=6")
    assert out.stdout.split() == [f"configmap/cm{i}" for i in range(5)]
    requests = [line for line in out.stderr.splitlines() if "/configmaps?" in line]
    assert len(requests) == 3 and "limit=2" in requests[0] and "continue=" in requests[1]
