"""Reading a backup back: byte chunks from R2 (ranged GETs) or elsewhere, gunzip, statements.

R2 objects are read in ranges (``get(key, range={offset, length})``), the Workers API shape
every runtime here implements, so memory stays at one chunk whatever the object size, without
depending on how a runtime exposes streams. Gzip is detected by its magic bytes, so plain SQL
(``wrangler d1 export`` output) and our ``.sql.gz`` go through the same path.
"""

import codecs
import hashlib
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from edgenotify.db.sqlsplit import StatementSplitter
from edgenotify.ops.bucket import Bucket

CHUNK_BYTES = 4 * 1024 * 1024
INFLATE_SLICE = 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"

Chunks = Callable[[], AsyncIterator[bytes]]


class SourceError(Exception):
    """The object is missing, truncated, or not UTF-8 SQL."""


def r2_chunks(binding: Any, key: str, chunk_bytes: int = CHUNK_BYTES) -> Chunks:
    """A re-openable chunk source over one R2 object (ranged reads through the R2 facade)."""
    bucket = Bucket(binding)

    async def chunks() -> AsyncIterator[bytes]:
        head = await bucket.head(key)
        if head is None:
            raise SourceError(f"R2 object {key} does not exist")
        size = head.size
        offset = 0
        while offset < size:
            length = min(chunk_bytes, size - offset)
            data = await bucket.read(key, offset, length)
            if data is None:
                raise SourceError(f"R2 object {key} disappeared while being read")
            if not data:
                raise SourceError(f"R2 object {key} returned no bytes at offset {offset}")
            offset += len(data)
            yield data

    return chunks


def bytes_chunks(data: bytes, chunk_bytes: int = CHUNK_BYTES) -> Chunks:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), chunk_bytes):
            yield data[i : i + chunk_bytes]

    return chunks


@dataclass
class ReadStats:
    size: int = 0
    gzip: bool = False
    text_bytes: int = 0
    _hash: Any = field(default_factory=hashlib.sha256)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


async def statements(chunks: Chunks, stats: ReadStats | None = None) -> AsyncIterator[str]:
    """Every SQL statement of the source, in order; ``stats`` gets the raw size and SHA-256."""
    async for statement, _ in located(chunks, 0, stats):
        yield statement


async def located(chunks: Chunks, skip: int = 0, stats: ReadStats | None = None) -> AsyncIterator[tuple[str, int]]:
    """The statements after the first ``skip`` characters of the SQL text, each with the offset just
    past it: where a later read resumes (``skip``), the text before it only inflated and decoded,
    never split again. An offset past a statement lands before its ``;``, which alone is no statement."""
    stats = stats if stats is not None else ReadStats()
    inflater: Any = None
    decoder = codecs.getincrementaldecoder("utf-8")()
    splitter = StatementSplitter()
    first = True
    seen = 0  # characters decoded so far
    async for chunk in chunks():
        stats.size += len(chunk)
        stats._hash.update(chunk)
        if first:
            first = False
            stats.gzip = chunk[:2] == GZIP_MAGIC
            inflater = _Members() if stats.gzip else None
        for raw in _inflate(inflater, chunk):
            stats.text_bytes += len(raw)
            text = _decode(decoder, raw)
            seen += len(text)
            for found in _split(splitter, _after(text, seen, skip), skip):
                yield found
    tail = b""
    if inflater is not None:
        tail = inflater.flush()
        stats.text_bytes += len(tail)
    text = _decode(decoder, tail, final=True)
    seen += len(text)
    for found in _split(splitter, _after(text, seen, skip), skip) + _ends(splitter, splitter.close(), skip):
        yield found


def _after(text: str, seen: int, skip: int) -> str:
    """What of ``text`` (ending at character ``seen`` of the whole) lies past ``skip``."""
    start = len(text) - (seen - skip)
    return text if start <= 0 else text[start:]


def _split(splitter: StatementSplitter, text: str, base: int) -> list[tuple[str, int]]:
    return _ends(splitter, splitter.feed(text), base) if text else []


def _ends(splitter: StatementSplitter, found: list[str], base: int) -> list[tuple[str, int]]:
    """Statements with their end offsets; the splitter's start offsets are dropped as they are used
    (kept, they would grow by one per statement of a file of any size)."""
    starts = splitter.offsets[len(splitter.offsets) - len(found) :]
    splitter.offsets.clear()
    return [(statement, base + start + len(statement)) for statement, start in zip(found, starts, strict=True)]


class _Members:
    """Gunzip of a stream of gzip members, as ``gunzip`` reads it (a backup is one member per chunk)."""

    def __init__(self) -> None:
        self._zlib = zlib.decompressobj(31)
        self.unconsumed_tail = b""

    def decompress(self, data: bytes, limit: int) -> bytes:
        out = self._zlib.decompress(data, limit)
        while self._zlib.eof and self._zlib.unused_data and not out:  # next member, nothing to hand out yet
            rest = self._zlib.unused_data
            self._zlib = zlib.decompressobj(31)
            out = self._zlib.decompress(rest, limit)
        if self._zlib.eof and self._zlib.unused_data:
            rest = self._zlib.unused_data
            self._zlib = zlib.decompressobj(31)
            self.unconsumed_tail = rest
        else:
            self.unconsumed_tail = self._zlib.unconsumed_tail
        return out

    def flush(self) -> bytes:
        tail = self._zlib.flush()
        if not self._zlib.eof:
            raise SourceError("the gzip stream is truncated")
        return tail


def _inflate(inflater: Any, chunk: bytes) -> Iterator[bytes]:
    """Decompressed text in slices of at most ``INFLATE_SLICE`` bytes (one slice alive at a time)."""
    if inflater is None:
        yield chunk
        return
    try:
        yield inflater.decompress(chunk, INFLATE_SLICE)
        while inflater.unconsumed_tail:
            yield inflater.decompress(inflater.unconsumed_tail, INFLATE_SLICE)
    except zlib.error as exc:
        raise SourceError(f"the gzip stream is corrupt: {exc}") from exc


def _decode(decoder: Any, raw: bytes, final: bool = False) -> str:
    try:
        return decoder.decode(raw, final)
    except UnicodeDecodeError as exc:
        raise SourceError(f"the SQL is not valid UTF-8: {exc}") from exc
