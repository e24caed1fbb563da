"""Reuse that reuses (issue 13 §6): past threads' actions and values, adapted; low ratings steer away.

Knowledge hits are what the store's search returns (`KnowledgeHit`, with the plan's steps as the
engine stores them on every rating). The person sees which thread a plan came from, values taken from
it when the request leaves them out, objects always from this request and this cluster.
"""

from __future__ import annotations

from controller.planning.offline.planner import OfflineBackend
from controller.planning.types import KnowledgeHit
from tests.planning.fixtures import request, shop_cluster


def _hit(thread: str, text: str, rating: int | None, steps: list[dict[str, object]] | None = None,
         comment: str = "", cluster: str = "local", resolution: str = "done") -> KnowledgeHit:
    return KnowledgeHit(thread_id=thread, request=text, resolution=resolution, rating=rating, steps=steps or [],
                        comment=comment, cluster_id=cluster)


def test_a_rated_100_thread_supplies_the_values_the_request_leaves_out(backend: OfflineBackend) -> None:
    """'raise the memory of worker like last time': the limit comes from the past plan, the target from here."""
    past = _hit("ops-mem-api", "raise the memory limit of api to 1536Mi", 100,
                [{"action": "set-resources", "params": {"kind": "Deployment", "name": "api", "namespace": "shop",
                                                        "limits": {"memory": "1536Mi"}}}])
    result = backend.propose(request("raise the memory limit of worker", knowledge=[past]), shop_cluster())
    assert result.kind == "plan" and result.reused_from == ["ops-mem-api"]
    assert result.actions[0].params["name"] == "worker"
    assert result.actions[0].params["limits"] == {"memory": "1536Mi"}
    assert "ops-mem-api" in result.answer and "adapted" in result.answer


def test_a_named_thread_from_another_cluster_is_adapted(backend: OfflineBackend) -> None:
    """'do what ops-scale-frontend did, for api': the action and value of that thread, on api here."""
    past = _hit("ops-scale-frontend", "scale the frontend deployment in prod to 6 replicas", 100,
                cluster="eu-west-prod")
    result = backend.propose(request("do what ops-scale-frontend did, but for api", knowledge=[past]), shop_cluster())
    assert [a.action for a in result.actions] == ["scale"]
    assert result.actions[0].params == {"kind": "Deployment", "name": "api", "namespace": "shop", "replicas": 6}
    assert result.reused_from == ["ops-scale-frontend"] and "eu-west-prod" in result.answer


def test_a_request_that_states_everything_is_only_credited(backend: OfflineBackend) -> None:
    past = _hit("th-42", "scale the checkout deployment in shop to 6 replicas", 100)
    result = backend.propose(request("scale worker in shop to 4 replicas", knowledge=[past]), shop_cluster())
    assert result.actions[0].params["replicas"] == 4 and result.reused_from == ["th-42"]


def test_threads_below_100_or_of_another_kind_are_not_reused(backend: OfflineBackend) -> None:
    hits = [_hit("th-1", "scale api to 6", 80), _hit("th-2", "create an s3 bucket named logs", 100)]
    assert backend.propose(request("scale worker to 4", knowledge=hits), shop_cluster()).reused_from == []


def test_a_failed_restart_is_said_when_asked_again(backend: OfflineBackend) -> None:
    """A command is kept (the person asked for it) but the past failure and its comment are said."""
    failed = _hit("th-7", "restart the worker", 20,
                  [{"action": "restart", "params": {"kind": "Deployment", "name": "worker", "namespace": "shop"}}],
                  comment="restarting did nothing, it was OOMKilled again")
    result = backend.propose(request("restart the worker deployment", knowledge=[failed]), shop_cluster())
    assert [a.action for a in result.actions] == ["restart"]
    assert "th-7" in result.answer and "OOMKilled again" in result.answer


def test_an_offered_fix_that_already_failed_is_not_offered_again(backend: OfflineBackend) -> None:
    """A diagnosis steers away from what failed: the OOM fix that was rated 10 is not proposed again."""
    from tests.planning.test_offline_behaviour import pod

    cluster = shop_cluster(pod("worker-5c6d-xyz12", "worker", statuses=[
        {"name": "worker", "ready": True, "restartCount": 5,
         "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]))
    failed = _hit("th-9", "worker keeps restarting", 10,
                  [{"action": "set-resources", "params": {"kind": "Deployment", "name": "worker", "namespace": "shop",
                                                          "limits": {"memory": "512Mi"}}}],
                  comment="more memory did not help, it leaks")
    result = backend.propose(request("worker pods keep restarting, can you check?", knowledge=[failed]), cluster)
    assert "OOMKilled" in result.answer and result.actions == []
    assert "I am not offering set-resources of worker again" in result.answer and "it leaks" in result.answer


def test_the_threads_a_request_names_are_read_from_referring_words_only() -> None:
    """The engine fetches these by id (they may rank low in a search); object names are not looked up."""
    from controller.planning.references import referenced_threads

    assert referenced_threads("do what ops-scale-frontend did, but for api") == ["ops-scale-frontend"]
    assert referenced_threads("like in thread abc123, raise the memory of worker") == ["abc123"]
    assert referenced_threads("same as `Shop-Scale-Web`, for payments") == ["Shop-Scale-Web"]
    assert referenced_threads("scale web to 4 like last time") == []
    assert referenced_threads("restart the worker deployment") == []
