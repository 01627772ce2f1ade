"""HTTP/1.1 requests in, responses out, for the embedded dev server (stdlib asyncio streams only).

Everything a client can get wrong is answered with a 4xx JSON error ``{"error": {"code",
"message", "field"}}`` (:class:`HttpError`), never a 5xx or a hang, and refused here where
Cloudflare's front end refuses it before any Worker runs:

* request line / header line over 8 KiB (414 / 431), more than 100 headers (431), a body over
  100 MiB (413, the smallest Cloudflare plan limit);
* a method that is not an HTTP token, an HTTP version other than 1.0/1.1, a header name that is
  not a token, a header value with a control character (a NUL, a bare CR...), a malformed
  ``Content-Length``, a transfer coding other than ``chunked`` (all 400);
* a head not complete within ``head_timeout`` (408); a body that stops arriving for
  ``body_idle`` seconds before its ``Content-Length`` (or last chunk) is reached (400: the
  client sent less than it announced, so waiting longer cannot help).

A method unknown to the Workers SDK (``QUERY``, ``PROPFIND``) is a valid token and reaches the
Worker, as it does on the edge.
"""

import asyncio
import json
import re
from dataclasses import dataclass, field
from http import HTTPStatus

MAX_LINE = 8 * 1024
MAX_HEADERS = 100
MAX_BODY = 100 * 1024 * 1024
READ_CHUNK = 64 * 1024

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 tchar
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # field values allow HTAB, SP, VCHAR, obs-text


class HttpError(Exception):
    """A request refused before the Worker sees it; ``code`` is the JSON error code."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def body(self) -> bytes:
        error = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return json.dumps({"error": error}).encode()


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


async def _line(reader: asyncio.StreamReader, too_long: HttpError) -> bytes:
    try:
        return await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError:
        raise too_long from None
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise HttpError(400, "incomplete_request", "the connection closed in the middle of the request") from None
        raise EOFError from None


_URI_TOO_LONG = HttpError(414, "uri_too_long", f"the request line is over {MAX_LINE} bytes")
_HEADER_TOO_LARGE = HttpError(431, "header_too_large", f"a header line is over {MAX_LINE} bytes")


async def read_request(
    reader: asyncio.StreamReader, first_line_timeout: float, head_timeout: float, body_idle: float
) -> Incoming:
    """Parse one request. ``EOFError`` (peer closed) or ``TimeoutError`` (nothing sent within
    ``first_line_timeout``) between requests: close quietly. Anything else wrong: :class:`HttpError`."""
    async with asyncio.timeout(first_line_timeout):
        line = await _line(reader, _URI_TOO_LONG)
        while line in (b"\r\n", b"\n"):  # tolerate stray CRLF between requests (RFC 9112 §2.2)
            line = await _line(reader, _URI_TOO_LONG)
    try:
        async with asyncio.timeout(head_timeout):
            request = _request_line(line)
            await _read_headers(reader, request)
    except TimeoutError:
        raise HttpError(408, "request_timeout", f"the request head did not arrive within {head_timeout:g} s") from None
    request.body = await _read_body(reader, request, body_idle)
    return request


def _request_line(line: bytes) -> Incoming:
    parts = line.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not parts[1]:
        raise HttpError(400, "malformed_request_line", "expected METHOD TARGET HTTP/1.1")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise HttpError(400, "unsupported_http_version", f"{version[:20]!r} is not HTTP/1.1 or HTTP/1.0")
    return Incoming(method.upper(), target, version)


async def _read_headers(reader: asyncio.StreamReader, request: Incoming) -> None:
    while True:
        raw = await _line(reader, _HEADER_TOO_LARGE)
        if raw in (b"\r\n", b"\n"):
            return
        if len(request.headers) >= MAX_HEADERS:
            raise HttpError(431, "too_many_headers", f"more than {MAX_HEADERS} headers")
        name, sep, value = raw.decode("latin-1").rstrip("\r\n").partition(":")
        if not sep or not _TOKEN.fullmatch(name):
            raise HttpError(400, "malformed_header", "a header line is not NAME: VALUE with a token name")
        value = value.strip(" \t")
        if _CONTROL.search(value):
            raise HttpError(400, "invalid_header_value", f"header {name} holds a control character", field=name)
        request.headers.append((name, value))


async def _read_body(reader: asyncio.StreamReader, request: Incoming, idle: float) -> bytes:
    encoding = (request.header("transfer-encoding") or "").lower()
    if encoding:
        if encoding != "chunked":
            raise HttpError(400, "unsupported_transfer_encoding", "only chunked transfer-encoding is supported")
        return await _read_chunked(reader, idle)
    length = request.header("content-length")
    if length is None:
        return b""
    if not length.isdigit():
        raise HttpError(400, "invalid_content_length", "Content-Length must be a decimal number", "content-length")
    if int(length) > MAX_BODY:
        raise HttpError(413, "payload_too_large", f"the body is over {MAX_BODY} bytes", "content-length")
    return await _read_exactly(reader, int(length), idle)


async def _read_exactly(reader: asyncio.StreamReader, size: int, idle: float) -> bytes:
    """``size`` bytes, each read allowed ``idle`` seconds: a client that sent less than it announced
    and waits for an answer gets one instead of a hang."""
    parts: list[bytes] = []
    got = 0
    while got < size:
        try:
            async with asyncio.timeout(idle):
                part = await reader.read(min(READ_CHUNK, size - got))
        except TimeoutError:
            part = b""
        if not part:
            raise HttpError(400, "incomplete_body", f"the body ended after {got} of the {size} bytes announced")
        parts.append(part)
        got += len(part)
    return b"".join(parts)


async def _chunk_line(reader: asyncio.StreamReader, idle: float) -> bytes:
    try:
        async with asyncio.timeout(idle):
            return await _line(reader, _HEADER_TOO_LARGE)
    except TimeoutError:
        raise HttpError(400, "incomplete_body", "the chunked body stopped before its last chunk") from None


async def _read_chunked(reader: asyncio.StreamReader, idle: float) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = await _chunk_line(reader, idle)
        try:
            size = int(size_line.split(b";")[0].strip(), 16)
        except ValueError:
            raise HttpError(400, "invalid_chunk", "a chunk size is not hexadecimal") from None
        if size == 0:
            while (await _chunk_line(reader, idle)) not in (b"\r\n", b"\n"):
                pass  # trailers are ignored
            return b"".join(chunks)
        total += size
        if total > MAX_BODY:
            raise HttpError(413, "payload_too_large", f"the body is over {MAX_BODY} bytes")
        chunks.append(await _read_exactly(reader, size, idle))
        await _read_exactly(reader, 2, idle)


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
