"""The embedded dev server: HTTP/1.1 on loopback, every request through ``Default.fetch``.

Stdlib asyncio only. Keep-alive by default (HTTP/1.1), ``Connection: close`` honoured,
``Content-Length`` and chunked request bodies, and limits that answer instead of hanging:
request line / header line 8 KiB (414 / 431), 100 headers (431), body 100 MiB (413, the
smallest Cloudflare plan limit), 30 s to receive a request, 5 s idle keep-alive.

Cron triggers as wrangler serves them: ``/cdn-cgi/handler/scheduled`` and
``/cdn-cgi/local/scheduled`` answer the event outcome (``ok`` 200, else 500, like Miniflare),
``/__scheduled`` answers ``Ran scheduled event`` (wrangler's ``--test-scheduled`` middleware);
``cron`` and ``time`` (ms) come from the query string.

Shutdown stops accepting, lets in-flight requests finish, then awaits ``waitUntil`` work.
"""

import asyncio
import traceback
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devkit.embedded.runtime import Invocation, Runtime
from devkit.embedded.workers_shim import Request, Response

MAX_LINE = 8 * 1024
MAX_HEADERS = 100
MAX_BODY = 100 * 1024 * 1024
REQUEST_TIMEOUT = 30.0
IDLE_TIMEOUT = 5.0
SCHEDULED_PATHS = ("/cdn-cgi/handler/scheduled", "/cdn-cgi/local/scheduled", "/__scheduled")


class HttpError(Exception):
    def __init__(self, status: int, message: str = ""):
        super().__init__(message or HTTPStatus(status).phrase)
        self.status = status


@dataclass
class Incoming:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    @property
    def keep_alive(self) -> bool:
        connection = (self.header("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


async def _line(reader: asyncio.StreamReader, too_long: int) -> bytes:
    try:
        return await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError:
        raise HttpError(too_long) from None
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise HttpError(400, "incomplete request") from None
        raise EOFError from None


async def read_request(reader: asyncio.StreamReader) -> Incoming:
    """Parse one request; ``EOFError`` when the peer closed between requests."""
    line = await _line(reader, 414)
    while line in (b"\r\n", b"\n"):  # tolerate stray CRLF between requests (RFC 9112 §2.2)
        line = await _line(reader, 414)
    parts = line.decode("latin-1").strip().split(" ")
    if len(parts) != 3 or not parts[0].isalpha():
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise HttpError(505)
    request = Incoming(method.upper(), target, version)
    while True:
        raw = await _line(reader, 431)
        if raw in (b"\r\n", b"\n"):
            break
        if len(request.headers) >= MAX_HEADERS:
            raise HttpError(431)
        name, sep, value = raw.decode("latin-1").partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(400, "malformed header")
        request.headers.append((name, value.strip()))
    request.body = await _read_body(reader, request)
    return request


async def _read_body(reader: asyncio.StreamReader, request: Incoming) -> bytes:
    encoding = (request.header("transfer-encoding") or "").lower()
    if encoding:
        if encoding != "chunked":
            raise HttpError(501, "only chunked transfer-encoding is supported")
        return await _read_chunked(reader)
    length = request.header("content-length")
    if length is None:
        return b""
    if not length.isdigit():
        raise HttpError(400, "bad content-length")
    if int(length) > MAX_BODY:
        raise HttpError(413)
    try:
        return await reader.readexactly(int(length))
    except asyncio.IncompleteReadError:
        raise HttpError(400, "body shorter than content-length") from None


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = (await _line(reader, 400)).split(b";")[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise HttpError(400, "bad chunk size") from None
        if size == 0:
            while (await _line(reader, 431)) not in (b"\r\n", b"\n"):
                pass  # trailers are ignored
            return b"".join(chunks)
        total += size
        if total > MAX_BODY:
            raise HttpError(413)
        try:
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        except asyncio.IncompleteReadError:
            raise HttpError(400, "truncated chunk") from None


def invocation_line(invocation: Invocation) -> str:
    """The dev server's line per invocation: what ran, how it ended, what it used of its limits."""
    usage = invocation.usage
    what = f'cron "{invocation.name}"' if invocation.kind == "scheduled" else invocation.name
    parts = [
        f"[embedded] {what} {invocation.outcome} {invocation.duration_ms:.1f}ms",
        f"d1 {usage.d1_queries} (rows read {usage.rows_read}, written {usage.rows_written})",
        f"kv {usage.kv_operations}",
        f"subrequests {usage.subrequests} (fetch {usage.fetches})",
        f"cpu {usage.cpu_ms:.1f}ms",
    ]
    if invocation.wait_until:
        parts.append(f"waitUntil {invocation.wait_until}")
    if invocation.refused:
        parts.append(f"limit reached: {invocation.refused}")
    return " | ".join(parts)


def encode_response(status: int, headers: list[tuple[str, str]], body: bytes, keep_alive: bool, head: bool) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    lines = [f"HTTP/1.1 {status} {reason}"]
    for name, value in headers:
        if name.lower() not in ("content-length", "connection", "transfer-encoding"):
            lines.append(f"{name}: {value}")
    lines.append(f"content-length: {len(body)}")
    lines.append(f"connection: {'keep-alive' if keep_alive else 'close'}")
    head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    return head_bytes if head else head_bytes + body


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
                timeout = REQUEST_TIMEOUT if first else IDLE_TIMEOUT
                incoming = await asyncio.wait_for(read_request(reader), timeout)
            except (TimeoutError, EOFError):
                return
            except HttpError as exc:
                body = f"{exc}\n".encode()
                writer.write(encode_response(exc.status, [("content-type", "text/plain")], body, False, False))
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
            return 500, [("content-type", "text/plain")], b"Worker threw exception\n"

    def _report(self, invocation: Invocation) -> None:
        self.log(invocation_line(invocation))

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
