"""The CLIs other tools call, and the engine passing a user's preferences to planners."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from controller.cli import app
from controller.engine.planning import Planner
from controller.knowledge.base import ThreadRecord
from controller.knowledge.duckdb_store import DuckDBStore
from controller.knowledge.embedding import HashingEmbedder
from controller.knowledge.memory import MemoryKnowledgeStore

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def fake_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    # the project's own seam: the CLI's embedder (the real MiniLM is exercised by bench/knowledge)
    monkeypatch.setattr("controller.engine.services.PlannerEmbedder", HashingEmbedder)


def test_import_search_and_batch(tmp_path: Path) -> None:
    db = str(tmp_path / "k.duckdb")
    lines = [{"thread_id": "keep-me", "request": "scale the checkout deployment to 6 replicas",
              "resolution": "scaled checkout", "rating": 100, "tags": ["k8s"], "context": "prod", "cluster": "eks-1"},
             {"request": "create an s3 bucket for logs", "resolution": "bucket made", "rating": 80, "tags": ["aws"]}]
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(app, ["knowledge", "import", str(tmp_path / "t.jsonl"), "--db", db])
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["knowledge", "search", "scale checkout", "--top", "1", "--json", "--db", db])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out[0]["thread_id"] == "keep-me" and set(out[0]) >= {"thread_id", "request", "resolution", "rating", "score"}
    (tmp_path / "q.jsonl").write_text('{"query": "bucket for logs"}\n{"query": "scale checkout"}\n')
    result = runner.invoke(app, ["knowledge", "search", "--queries", str(tmp_path / "q.jsonl"), "--top", "2",
                                 "--json", "--db", db])
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["query"] for r in rows] == ["bucket for logs", "scale checkout"]
    assert rows[0]["results"][0]["request"].startswith("create an s3 bucket")
    store = DuckDBStore(db, HashingEmbedder())
    assert store.count() == 2  # importing twice keeps one copy of each thread
    store.close()


def test_bench_line_format(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["knowledge", "bench", "--threads", "300", "--queries", "20",
                                      "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    import re

    assert re.fullmatch(r"duckdb 300 threads: search p50 [\d.]+ ms, p95 [\d.]+ ms, ingest \d+ threads/s\n",
                        result.output)


def test_sync_needs_a_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AIOP_KNOWLEDGE_URL", raising=False)
    result = CliRunner().invoke(app, ["sync", "--once", "--home", str(tmp_path)])
    assert result.exit_code == 2


def test_sync_once_against_postgres(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_url: str) -> None:
    monkeypatch.setenv("AIOP_KNOWLEDGE_URL", pg_url)
    result = CliRunner().invoke(app, ["sync", "--once", "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("pushed 0, pulled 0")


class _Knowledge(MemoryKnowledgeStore):
    pass


def test_planner_passes_preferences() -> None:
    store = _Knowledge()
    store.add_thread(ThreadRecord("p1", "scale web", "scaled", user_id="alice", rating=100,
                                  steps=({"action": "scale", "params": {"namespace": "shop", "replicas": 4}},)))
    planner: Any = Planner.__new__(Planner)
    planner.knowledge = store
    assert planner._preferences("alice")["replicas"] == 4
    assert planner._preferences("alice")["namespace"] == "shop"

    class Broken(MemoryKnowledgeStore):
        def preferences(self, user: str) -> dict[str, Any]:
            raise RuntimeError("down")

    planner.knowledge = Broken()
    assert planner._preferences("alice") == {}
