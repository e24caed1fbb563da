"""`aiop knowledge ...` and `aiop sync`: the knowledge store from the command line (other tools call these).

Why here and lazy: cli.py stays fast to start, so it imports this module only when a knowledge
command runs; the model and the database drivers load only when a store is opened.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

knowledge_app = typer.Typer(no_args_is_help=True, help="The knowledge store: import, search, benchmark.")

DbOpt = Annotated[str | None, typer.Option("--db", help="Store URL: postgresql://... or a DuckDB file "
                                                          "(default: $AIOP_HOME/knowledge.duckdb).")]
HomeOpt = Annotated[Path | None, typer.Option("--home", help="State folder (default $AIOP_HOME or ~/.aiop).")]


def _open(db: str | None, home: Path | None) -> Any:
    from controller.engine.services import PlannerEmbedder
    from controller.knowledge.factory import open_local, open_url
    from controller.settings import load_settings

    settings = load_settings()
    if home is not None:
        settings = settings.with_home(home.expanduser().resolve())
    origin = settings.planning.cluster_id
    if db:
        return open_url(db, PlannerEmbedder(), origin=origin, maintenance_work_mem=settings.pg_maintenance_work_mem)
    return open_local(settings.home, PlannerEmbedder(), origin=origin)


def _record(line: dict[str, Any], number: int) -> Any:
    from controller.knowledge.base import ThreadRecord

    rating = line.get("rating")
    return ThreadRecord(
        thread_id=str(line.get("thread_id") or f"import-{number}"), request=str(line.get("request", "")),
        resolution=str(line.get("resolution", "")), rating=int(rating) if rating is not None else None,
        tags=tuple(str(t) for t in line.get("tags") or ()), context=str(line.get("context") or ""),
        cluster_id=str(line.get("cluster") or "local"), user_id=str(line.get("user") or ""),
        timestamp=str(line.get("timestamp") or ""), steps=tuple(line.get("steps") or ()))


def _lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        if raw.strip():
            try:
                out.append(json.loads(raw))
            except json.JSONDecodeError as exc:
                typer.secho(f"error: {path}:{number}: {exc}", fg=typer.colors.RED, err=True)
                raise typer.Exit(2) from exc
    return out


@knowledge_app.command("import")
def import_(file: Path, db: DbOpt = None, home: HomeOpt = None) -> None:
    """Import past threads, one JSON object a line: {thread_id?, request, resolution, rating, tags, context, cluster}."""
    import hashlib

    lines = _lines(file)
    records = []
    for number, line in enumerate(lines, start=1):
        if "thread_id" not in line or not line["thread_id"]:
            digest = hashlib.sha256(json.dumps(line, sort_keys=True).encode()).hexdigest()[:12]
            line = {**line, "thread_id": f"import-{digest}"}  # stable: importing twice adds nothing
        records.append(_record(line, number))
    store = _open(db, home)
    try:
        new = store.add_threads(records)
    finally:
        store.close()
    typer.echo(f"imported {len(records)} thread(s) into {db or 'the local store'} ({new} change event(s) applied)")


def _result(hit: Any) -> dict[str, Any]:
    return {"thread_id": hit.thread_id, "request": hit.request, "resolution": hit.resolution,
            "rating": hit.rating, "score": hit.score, "why": hit.why, "steps": hit.steps}


@knowledge_app.command("search")
def search(text: Annotated[str | None, typer.Argument()] = None,
           top: Annotated[int, typer.Option("--top", help="Results per query.")] = 5,
           as_json: Annotated[bool, typer.Option("--json")] = False,
           queries: Annotated[Path | None, typer.Option("--queries", help="JSONL of {\"query\": ...}.")] = None,
           min_rating: Annotated[int | None, typer.Option("--min-rating")] = None,
           tag: Annotated[list[str] | None, typer.Option("--tag")] = None,
           cluster: Annotated[str | None, typer.Option("--cluster")] = None,
           context: Annotated[str | None, typer.Option("--context")] = None,
           db: DbOpt = None, home: HomeOpt = None) -> None:
    """Search past threads: TEXT, or a batch with --queries (one JSON line out per query)."""
    if (text is None) == (queries is None):
        typer.secho("error: give TEXT or --queries FILE", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    store = _open(db, home)
    try:
        def run(q: str) -> list[dict[str, Any]]:
            hits = store.search(q, top_k=top, min_rating=min_rating, tags=tuple(tag or ()), cluster=cluster,
                                context=context)
            return [_result(h) for h in hits]

        if queries is not None:
            for line in _lines(queries):
                q = str(line.get("query", ""))
                typer.echo(json.dumps({"query": q, "results": run(q)}))
            return
        results = run(str(text))
        if as_json:
            typer.echo(json.dumps(results, indent=2))
            return
        if not results:
            typer.echo("no matching threads")
        for r in results:
            typer.echo(f"{r['thread_id']}\trating {r['rating']}\tscore {r['score']}\n  request: {r['request']}\n"
                       f"  resolution: {r['resolution']}\n  why: {r['why']}")
    finally:
        store.close()


@knowledge_app.command("bench")
def bench(threads: Annotated[int, typer.Option("--threads", help="Synthetic threads to ingest.")] = 10_000,
          store: Annotated[str, typer.Option("--store", help="duckdb | postgres")] = "duckdb",
          queries: Annotated[int, typer.Option("--queries", help="Searches to time.")] = 200,
          db: DbOpt = None, home: HomeOpt = None) -> None:
    """Ingest a synthetic corpus and time searches: `<store> <N> threads: search p50/p95, ingest rate`."""
    from controller.settings import load_settings
    from controller.tools.knowledge_bench import run_bench

    line = run_bench(store, threads, queries, db=db, home=home,
                     maintenance_work_mem=load_settings().pg_maintenance_work_mem)
    typer.echo(line)


@knowledge_app.command("retention")
def retention(days: Annotated[int, typer.Option("--days", help="Delete threads older than this.")],
              db: DbOpt = None, home: HomeOpt = None) -> None:
    """Delete threads (and their messages, revisions, ratings, events) older than N days."""
    s = _open(db, home)
    try:
        typer.echo(f"deleted {s.purge_older_than(days)} thread(s) older than {days} days")
    finally:
        s.close()


@knowledge_app.command("forget-user")
def forget_user(user: str, db: DbOpt = None, home: HomeOpt = None) -> None:
    """Delete a user's threads, ratings, messages and preferences (and sync the deletion)."""
    s = _open(db, home)
    try:
        typer.echo(f"deleted {s.forget_user(user)} thread(s) of {user} and all their ratings, messages, preferences")
    finally:
        s.close()


def sync_command(once: Annotated[bool, typer.Option("--once", help="Sync once and exit.")] = False,
                 interval: Annotated[float, typer.Option(help="Seconds between syncs.")] = 30.0,
                 cache_size: Annotated[int, typer.Option("--cache-size", help="Threads kept in the cache.")] = 5000,
                 home: HomeOpt = None) -> None:
    """Sync this cluster's knowledge cache with the central DB ($AIOP_KNOWLEDGE_URL): the sidecar."""
    from controller.engine.services import PlannerEmbedder
    from controller.knowledge.factory import open_cache
    from controller.settings import load_settings

    settings = load_settings()
    if home is not None:
        settings = settings.with_home(home.expanduser().resolve())
    if not settings.knowledge_url:
        typer.secho("error: set AIOP_KNOWLEDGE_URL to the central PostgreSQL", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    cache = open_cache(settings.home, settings.knowledge_url, PlannerEmbedder(), origin=settings.planning.cluster_id,
                       cache_size=cache_size, maintenance_work_mem=settings.pg_maintenance_work_mem)
    if once:
        report = cache.agent.sync_once()
        typer.echo(f"pushed {report.pushed}, pulled {report.pulled}, evicted {report.evicted}"
                   + (f", error: {report.error}" if report.error else ""))
        raise typer.Exit(0 if report.ok else 1)
    stop = threading.Event()
    try:
        cache.agent.run(stop, interval)
    except KeyboardInterrupt:
        stop.set()
        sys.exit(130)
