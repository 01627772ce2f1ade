"""The backup object as a series of gzip members ("chunks"), each with its offset, size and digest.

``gunzip`` (and ``zcat | wrangler d1 execute --file``) reads concatenated members as one stream,
so the object stays one plain ``.sql.gz``; a restore reads a chunk alone with one ranged GET,
checks its SHA-256 against the manifest before running any of it, and resumes at a chunk
boundary. A member never spans two job steps (zlib's state cannot be checkpointed), and it ends
once it holds ``chunk_sql_bytes`` of SQL, so resuming inside a chunk re-reads little.

Each member ends with a comment line listing its statements' byte lengths (``STATEMENT_BYTES``):
a restore slices the statements out instead of scanning ~4 MB of SQL for their ends (on Pyodide
that scan was a tenth of a restore's CPU). SQL tools read it as the comment it is.
"""

import zlib
from itertools import accumulate
from typing import Any

from edgenotify.hashing import Sha256
from edgenotify.ops.jobs.upload import ResumableUpload

GZIP_WBITS = 31
CHUNK_SQL_BYTES = 4 * 1024 * 1024
# 100k log rows (55 MB of SQL): level 2 is 0.54 s and 10.8 MiB, level 4 0.87 s and 9.8 MiB, level 6 1.14 s
# and 9.2 MiB. CPU is what an invocation is short of; R2 bytes are cheap.
GZIP_LEVEL = 2
STATEMENT_BYTES = b"-- edgenotify statement bytes:"


def statement_lengths_line(lengths: list[int]) -> bytes:
    return STATEMENT_BYTES + b" " + " ".join(map(str, lengths)).encode("ascii") + b"\n"


def split_by_lengths(text: bytes) -> list[bytes] | None:
    """The statements of a member's text by its closing lengths line; None when it has none (or it
    does not add up, e.g. a member written before the line existed): the caller scans instead."""
    start = text.rfind(b"\n", 0, len(text) - 1) + 1
    line = text[start:]
    if not line.startswith(STATEMENT_BYTES):
        return None
    lengths = list(map(int, line[len(STATEMENT_BYTES) :].split()))
    if sum(lengths) != start:
        return None
    ends = list(accumulate(lengths))
    return [text[end - n : end] for n, end in zip(lengths, ends, strict=True)]


class ChunkWriter:
    """Statements in, gzip members out to a ``ResumableUpload``; chunk records go to ``chunks``."""

    def __init__(self, chunks: list[dict[str, Any]], upload: ResumableUpload, level: int, chunk_sql_bytes: int):
        self.chunks = chunks
        self.upload = upload
        self.level = level
        self.chunk_sql_bytes = chunk_sql_bytes
        self._zlib: Any = None
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._hash: Any = None
        self._size = 0
        self._sql_bytes = 0
        self._statements = 0
        self._lengths: list[int] = []

    @property
    def offset(self) -> int:
        last = self.chunks[-1] if self.chunks else None
        return last["offset"] + last["size"] if last else 0

    async def write(self, statement: str) -> None:
        await self.write_bytes(statement.encode("utf-8"))

    async def write_bytes(self, data: bytes) -> None:
        """One statement, already UTF-8."""
        if self._zlib is None:
            self._zlib = zlib.compressobj(self.level, zlib.DEFLATED, GZIP_WBITS)
            self._hash, self._size, self._sql_bytes, self._statements = Sha256(), 0, 0, 0
            self._lengths = []
        self._lengths.append(len(data))
        self._sql_bytes += len(data)
        self._statements += 1
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= 256 * 1024:  # compress in slices: one zlib call per ~256 KB
            await self._emit(self._zlib.compress(b"".join(self._pending)))
            self._pending, self._pending_bytes = [], 0

    async def _emit(self, data: bytes) -> None:
        if data:
            await self._hash.update(data)
            self._size += len(data)
            await self.upload.write(data)

    async def maybe_end(self, kind: str) -> None:
        if self._zlib is not None and self._sql_bytes >= self.chunk_sql_bytes:
            await self.end(kind)

    async def end(self, kind: str) -> None:
        """Finish the current member (if any) and record it as a chunk of ``kind``."""
        if self._zlib is None:
            return
        tail = statement_lengths_line(self._lengths)
        self._pending.append(tail)
        self._sql_bytes += len(tail)
        await self._emit(self._zlib.compress(b"".join(self._pending)) + self._zlib.flush())
        self._pending, self._pending_bytes = [], 0
        self.chunks.append(
            {
                "offset": self.offset,
                "size": self._size,
                "sha256": await self._hash.hexdigest(),
                "sql_bytes": self._sql_bytes,
                "statements": self._statements,
                "kind": kind,
            }
        )
        self._zlib = None
