"""A local HTTP server that answers the REST calls PyGithub and python-gitlab make.

Why a real server rather than mocks: the clients' own request building (paths, encoding of
`group%2Fproject`, auth headers, pagination) is what we rely on, so it must run for real. Response
bodies are shaped after GitHub's and GitLab's REST API documentation (only the fields the clients
read). Every request is recorded, so tests can assert the auth header was sent and the token never
appeared in a URL.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

Handler = Callable[["Seen", dict[str, str]], tuple[int, Any]]


@dataclass
class Seen:
    method: str
    path: str  # raw (still percent-encoded), without the query
    query: str
    headers: dict[str, str]
    body: Any


class FakeForgeServer:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.seen: list[Seen] = []
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.routes.append((method, re.compile(f"^{pattern}$"), fn))
            return fn
        return register

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        raw = request.rel_url.raw_path
        text = await request.text()
        seen = Seen(request.method, raw, request.rel_url.raw_query_string, dict(request.headers),
                    json.loads(text) if text else None)
        self.seen.append(seen)
        for method, pattern, fn in self.routes:
            match = pattern.match(raw)
            if method == request.method and match:
                status, body = fn(seen, match.groupdict())
                return web.json_response(body, status=status)
        return web.json_response({"message": "Not Found"}, status=404)

    def __enter__(self) -> FakeForgeServer:
        ready = threading.Event()

        async def start() -> None:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(start())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self._runner is not None:
                await self._runner.cleanup()
        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
