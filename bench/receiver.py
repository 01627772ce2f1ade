"""A loopback webhook receiver: answers every request ``200 ok`` and counts what arrived.

Deliveries in the benchmarks go here, so a send's cost includes a real HTTP delivery without
any third-party service. Minimal HTTP/1.1 with keep-alive, enough for httpx's client.
"""

import asyncio
from collections.abc import Callable


class Receiver:
    def __init__(self) -> None:
        self.hits = 0
        self._server: asyncio.Server | None = None
        self.port = 0
        self.on_hit: Callable[[], None] | None = None  # called after each request (e.g. to wake a waiter)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> "Receiver":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                if length:
                    await reader.readexactly(length)
                self.hits += 1
                if self.on_hit is not None:
                    self.on_hit()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
