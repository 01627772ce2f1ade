"""The embedded dev server: HTTP/1.1 on loopback, every request through ``Default.fetch``.

Stdlib asyncio only. Keep-alive by default (HTTP/1.1), ``Connection: close`` honoured,
``Content-Length`` and chunked request bodies; malformed requests get a 4xx JSON answer, never
a hang (``http1.py``): 30 s for a request head, a body that stalls for 2 s before its announced
length is a 400, 5 s idle keep-alive. A Worker exception is a 500 JSON ``worker_threw``.
One line per invocation (``Invocation.line``): what ran, its outcome, what it used.

Cron triggers as wrangler serves them: ``/cdn-cgi/handler/scheduled`` and
``/cdn-cgi/local/scheduled`` answer the event outcome (``ok`` 200, else 500, like Miniflare),
``/__scheduled`` answers ``Ran scheduled event`` (wrangler's ``--test-scheduled`` middleware);
``cron`` and ``time`` (ms) come from the query string.

Shutdown stops accepting, lets in-flight requests finish, then awaits ``waitUntil`` work.
"""

import asyncio
import json
import traceback
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devkit.embedded.http1 import MAX_LINE, HttpError, Incoming, encode_response, read_request
from devkit.embedded.runtime import Invocation, Runtime
from devkit.embedded.workers_shim import Request, Response

REQUEST_TIMEOUT = 30.0
IDLE_TIMEOUT = 5.0
BODY_IDLE_TIMEOUT = 2.0
SCHEDULED_PATHS = ("/cdn-cgi/handler/scheduled", "/cdn-cgi/local/scheduled", "/__scheduled")
JSON = [("content-type", "application/json")]
# The edge answers an uncaught exception with its error 1101 page; here the same fact, as JSON.
WORKER_THREW = json.dumps({"error": {"code": "worker_threw", "message": "Worker threw exception"}}).encode()


class EmbeddedServer:
    """``await start()`` binds (port 0 picks a free one), ``await shutdown()`` drains and stops."""

    def __init__(self, runtime: Runtime, host: str = "127.0.0.1", port: int = 8787, log: Any = print):
        self.runtime = runtime
        if runtime.report is None:
            runtime.report = self._report
        self.host = host
        self.port = port
        self.log = log
        self._server: asyncio.base_events.Server | None = None
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._connections: set[asyncio.StreamWriter] = set()
        self._closing = False
        self.body_idle_timeout = BODY_IDLE_TIMEOUT

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, self.host, self.port, limit=MAX_LINE)
        self.port = self._server.sockets[0].getsockname()[1]

    async def shutdown(self) -> None:
        """Stop accepting, finish in-flight requests, await waitUntil work, close idle connections."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)
        await self.runtime.drain()
        for writer in list(self._connections):
            writer.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            await self._serve_connection(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(writer)
            writer.close()

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = True
        while not self._closing:
            try:
                wait = REQUEST_TIMEOUT if first else IDLE_TIMEOUT
                incoming = await read_request(reader, wait, REQUEST_TIMEOUT, self.body_idle_timeout)
            except (TimeoutError, EOFError):
                return
            except HttpError as exc:
                writer.write(encode_response(exc.status, JSON, exc.body(), False, False))
                await writer.drain()
                return
            first = False
            task = asyncio.current_task()
            assert task is not None
            self._in_flight.add(task)
            try:
                keep_alive = incoming.keep_alive and not self._closing
                status, headers, body = await self._respond(incoming)
                writer.write(encode_response(status, headers, body, keep_alive, incoming.method == "HEAD"))
                await writer.drain()
            finally:
                self._in_flight.discard(task)
            if not keep_alive:
                return

    async def _respond(self, incoming: Incoming) -> tuple[int, list[tuple[str, str]], bytes]:
        path = urlsplit(incoming.target).path
        try:
            if path in SCHEDULED_PATHS:
                return await self._scheduled(path, incoming)
            return await self._fetch(incoming)
        except Exception:
            self.log(f"[embedded] worker threw:\n{traceback.format_exc()}")
            return 500, JSON, WORKER_THREW

    def _report(self, invocation: Invocation) -> None:
        self.log(invocation.line())

    async def _fetch(self, incoming: Incoming) -> tuple[int, list[tuple[str, str]], bytes]:
        host = incoming.header("host") or f"{self.host}:{self.port}"
        url = incoming.target if "://" in incoming.target else f"http://{host}{incoming.target}"
        body = incoming.body if incoming.method not in ("GET", "HEAD") else None
        request = Request(url, incoming.method, incoming.headers, body)
        response: Response = await self.runtime.fetch(request)
        return response.status, list(response.headers.items()), await response.bytes()

    async def _scheduled(self, path: str, incoming: Incoming) -> tuple[int, list[tuple[str, str]], bytes]:
        query = parse_qs(urlsplit(incoming.target).query)
        cron = query.get("cron", [""])[0]
        raw_time = query.get("time", [""])[0]
        when = int(raw_time) if raw_time.isdigit() else None
        outcome = await self.runtime.scheduled(cron, when)
        status = 200 if outcome == "ok" else 500
        text = "Ran scheduled event" if path == "/__scheduled" and outcome == "ok" else outcome
        return status, [("content-type", "text/plain;charset=UTF-8")], text.encode()
