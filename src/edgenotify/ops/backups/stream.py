"""Streaming an object into R2: gzip on the fly, multipart when it grows, flat memory.

``R2ObjectWriter`` holds at most one part in memory. Small objects (under one part) are written
with a single ``put`` at ``close()``; as soon as a full part has accumulated a multipart upload
starts and every part has exactly ``part_size`` bytes except the last, as R2 requires (parts of
one size, at least 5 MiB, the last one not larger). ``abort()`` cancels an upload in progress
or deletes an object already completed, so a failed backup leaves nothing behind.

``GzipWriter`` sits in front: text in, gzip bytes out, with running sizes and the SHA-256 of
the stored bytes (what the manifest records and the restore checks).
"""

import hashlib
import zlib
from dataclasses import dataclass
from typing import Any

MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_PART_SIZE = 8 * 1024 * 1024
GZIP_WBITS = 31  # zlib with a gzip header and trailer


@dataclass
class StoredObject:
    key: str
    size: int
    sha256: str
    parts: int  # 0 for a single put


class R2ObjectWriter:
    """Bytes to one R2 object: one ``put`` when small, a multipart upload when large."""

    def __init__(self, bucket: Any, key: str, part_size: int = DEFAULT_PART_SIZE, content_type: str | None = None):
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (R2's minimum)")
        self.bucket = bucket
        self.key = key
        self.part_size = part_size
        self.content_type = content_type
        self._buffer = bytearray()
        self._upload: Any = None
        self._parts: list[Any] = []
        self._hash = hashlib.sha256()
        self.size = 0
        self._stored = False

    async def write(self, data: bytes) -> None:
        if not data:
            return
        self._hash.update(data)
        self.size += len(data)
        self._buffer += data
        while len(self._buffer) >= self.part_size:
            part = bytes(self._buffer[: self.part_size])
            del self._buffer[: self.part_size]
            await self._upload_part(part)

    async def _upload_part(self, part: bytes) -> None:
        if self._upload is None:
            self._upload = await self.bucket.createMultipartUpload(self.key, **self._http())
        self._parts.append(await self._upload.uploadPart(len(self._parts) + 1, part))

    def _http(self) -> dict[str, Any]:
        return {"httpMetadata": {"contentType": self.content_type}} if self.content_type else {}

    async def close(self) -> StoredObject:
        rest = bytes(self._buffer)
        self._buffer = bytearray()
        if self._upload is None:
            await self.bucket.put(self.key, rest, **self._http())
        else:
            if rest:
                self._parts.append(await self._upload.uploadPart(len(self._parts) + 1, rest))
            await self._upload.complete(self._parts)
        self._stored = True
        return StoredObject(self.key, self.size, self._hash.hexdigest(), len(self._parts))

    async def abort(self) -> None:
        """Leave nothing behind: abort the upload in progress, or delete what was stored."""
        if self._stored:
            await self.bucket.delete(self.key)
        elif self._upload is not None:
            await self._upload.abort()
        self._buffer = bytearray()


class GzipWriter:
    """Text to gzip to an ``R2ObjectWriter``; compresses in bounded slices."""

    def __init__(self, sink: R2ObjectWriter, level: int = 6, flush_bytes: int = 256 * 1024):
        self.sink = sink
        self._zlib = zlib.compressobj(level, zlib.DEFLATED, GZIP_WBITS)
        self._pending: list[str] = []
        self._pending_chars = 0
        self.flush_bytes = flush_bytes
        self.text_bytes = 0  # uncompressed size
        self.statements = 0

    async def write(self, text: str) -> None:
        self._pending.append(text)
        self._pending_chars += len(text)
        if self._pending_chars >= self.flush_bytes:
            await self._drain()

    async def _drain(self) -> None:
        if not self._pending:
            return
        data = "".join(self._pending).encode("utf-8")
        self._pending, self._pending_chars = [], 0
        self.text_bytes += len(data)
        await self.sink.write(self._zlib.compress(data))

    async def close(self) -> StoredObject:
        await self._drain()
        await self.sink.write(self._zlib.flush())
        return await self.sink.close()

    async def abort(self) -> None:
        self._pending = []
        await self.sink.abort()
