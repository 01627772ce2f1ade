"""Bodies of the embedded R2 bucket: one file per object version and per uploaded part.

Why files and not BLOBs: a backup of a large database is a multipart object of hundreds of MB.
Held as BLOBs, completing the upload meant joining every part in memory and serving a range
meant loading the whole object; with files, completing is a kernel-side copy of the part files
(``copy_file_range``), a range is one ``pread`` of just that range, and a body being written
goes through in chunks. Memory no longer grows with object size, only with what a caller asks
to read.

Layout under the bucket directory: ``objects/<version>`` and ``parts/<etag>``. Versions and
part etags are random and never reused, so the order "write the file, then commit the row that
names it; commit the row's removal, then unlink the file" keeps every committed row pointing to
a complete file. A crash in between can only leave an orphan file, never a row without a body.
A reader opens the file while it still holds SQLite's shared lock on the row it read (see
``R2Bucket._open_body``), and an open descriptor keeps reading the old bytes even after a
writer replaced and unlinked them, as an R2 read in flight does.
"""

import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

CHUNK_BYTES = 1024 * 1024


class BodyStore:
    """Where bodies live and the three things done to them: write, concatenate, remove."""

    def __init__(self, root: Path):
        self.root = root

    def object_path(self, version: str) -> Path:
        return self.root / "objects" / version

    def part_path(self, etag: str) -> Path:
        return self.root / "parts" / etag

    def write(self, path: Path, chunks: Iterable[bytes]) -> tuple[int, str]:
        """Write ``chunks`` to a new file; (size, MD5 hex), the MD5 computed as the bytes go by."""
        path.parent.mkdir(parents=True, exist_ok=True)
        md5 = hashlib.md5()
        size = 0
        try:
            with open(path, "xb") as out:
                for chunk in chunks:
                    md5.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return size, md5.hexdigest()

    def concatenate(self, path: Path, sources: list[Path]) -> int:
        """A new file holding ``sources`` one after the other, copied by the kernel where it can."""
        path.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        try:
            with open(path, "xb") as out:
                for source in sources:
                    with open(source, "rb") as src:
                        size += _copy(src.fileno(), out.fileno(), os.fstat(src.fileno()).st_size)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return size

    @staticmethod
    def remove(paths: Iterable[Path]) -> None:
        for path in paths:
            path.unlink(missing_ok=True)


def _copy(src: int, dst: int, count: int) -> int:
    """``count`` bytes from ``src`` to the end of ``dst``: ``copy_file_range`` (no user-space
    buffer), else bounded ``read``/``write``."""
    done = 0
    while done < count:
        try:
            moved = os.copy_file_range(src, dst, min(count - done, 1 << 30))
        except (AttributeError, OSError):
            moved = 0
        if moved == 0:
            data = os.read(src, min(CHUNK_BYTES, count - done))
            if not data:
                break
            os.write(dst, data)
            moved = len(data)
        done += moved
    return done


class BodyReader:
    """One open body: ``length`` bytes from ``offset`` of a file, read once, all or in chunks.

    Holds the descriptor (not the path) so the bytes stay readable if the object is replaced
    or deleted meanwhile; ``close()`` (also on garbage collection) releases it.
    """

    def __init__(self, fd: int, offset: int, length: int):
        self._fd: int | None = fd
        self.offset = offset
        self.length = length

    def read_all(self) -> bytes:
        """The whole range: one ``pread`` (the only allocation is the bytes returned)."""
        first = self._pread(self.offset, self.length)
        if len(first) == self.length:
            self.close()
            return first
        data = first + b"".join(self.chunks(self.offset + len(first)))  # only for reads the kernel split
        return data

    def chunks(self, start: int | None = None) -> Iterator[bytes]:
        position = self.offset if start is None else start
        end = self.offset + self.length
        try:
            while position < end:
                data = self._pread(position, min(CHUNK_BYTES, end - position))
                if not data:
                    raise OSError(f"R2 body file ended at byte {position}, expected {end}")
                position += len(data)
                yield data
        finally:
            self.close()

    def _pread(self, position: int, length: int) -> bytes:
        if self._fd is None:
            raise ValueError("the body is closed")
        return os.pread(self._fd, length, position) if length else b""

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()
