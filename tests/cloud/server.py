"""One aiohttp server on a background event loop, bound to 127.0.0.1 on a free port, HTTP or HTTPS.

Why: the cloud fakes are real servers the SDKs talk to over sockets (boto3's and the Azure SDK's own
request building, signing, TLS and retries run for real); this is the small part they share.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BackgroundServer:
    def __init__(self, handler: Handler, ssl_context: ssl.SSLContext | None = None) -> None:
        self._handler = handler
        self._ssl = ssl_context
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"{'https' if self._ssl else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> BackgroundServer:
        ready = threading.Event()

        async def begin() -> None:
            app = web.Application(client_max_size=8 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", self._handler)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(begin())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name="cloud-fake")
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake cloud server did not start")
        return self

    def stop(self) -> None:
        async def end() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        if self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(end(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._thread = None
