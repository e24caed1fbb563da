"""Fixtures: a session-wide real PostgreSQL, fresh databases per test, both stores behind one fixture."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.knowledge.duckdb_store import DuckDBStore
from controller.knowledge.embedding import HashingEmbedder
from controller.knowledge.sqlstore import SqlStore
from tests.knowledge.pgserver import PgServer

_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    server = PgServer().init()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_url(pg: PgServer) -> str:
    return pg.fresh_database(f"t{next(_names)}")


@pytest.fixture(params=["duckdb", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "duckdb":
        s: SqlStore = DuckDBStore(tmp_path / "k.duckdb", HashingEmbedder(), origin="c1")
    else:
        from controller.knowledge.postgres_store import PostgresStore

        url = request.getfixturevalue("pg_url")
        s = PostgresStore(url, HashingEmbedder(), origin="c1")
    try:
        yield s
    finally:
        s.close()
