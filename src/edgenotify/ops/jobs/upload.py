"""One R2 object written across invocations: a multipart upload whose open tail waits in R2.

R2 wants every part but the last to be of one size, at least 5 MiB. A backup step's output rarely
ends on a part boundary, so each step uploads the full parts it has and leaves the rest (less than
one part) in a small "carry" object, under a NEW key per step: the checkpoint names the carry it
belongs to, so a step killed after writing its carry still finds the previous one intact. Parts
re-uploaded by a retried step replace their earlier version (same part number), and ``complete``
lists only the parts the checkpoint knows. A backup that never fills one part is stored with a
single ``put`` at the end.

State (a dict kept in the job's checkpoint): ``upload_id``, ``parts`` ([{partNumber, etag}]),
``carry`` (key or None), ``carry_size``, ``size`` (bytes written so far).
"""

from collections.abc import Awaitable, Callable
from typing import Any

from edgenotify.ops.bucket import Bucket, BucketError, ObjectInfo


def new_state() -> dict[str, Any]:
    return {"upload_id": None, "parts": [], "carry": None, "carry_size": 0, "size": 0}


class ResumableUpload:
    def __init__(
        self,
        bucket: Bucket,
        key: str,
        state: dict[str, Any],
        part_size: int,
        on_created: Callable[[], Awaitable[None]] | None = None,
        content_type: str = "application/gzip",
    ):
        self.bucket = bucket
        self.key = key
        self.state = state
        self.part_size = part_size
        self.on_created = on_created  # persists the upload id at once, so no upload is ever untracked
        self.content_type = content_type
        self._buffer = bytearray()
        self._replaced_carry: str | None = None

    async def open(self) -> None:
        """Load the carry of the last checkpoint."""
        carry = self.state["carry"]
        if carry:
            data = await self.bucket.read(carry)
            if data is None or len(data) != self.state["carry_size"]:
                raise BucketError(f"the carry object {carry} is missing or has the wrong size")
            self._buffer = bytearray(data)

    async def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= self.part_size:
            part = bytes(self._buffer[: self.part_size])
            del self._buffer[: self.part_size]
            await self._upload_part(part)

    async def _upload_part(self, part: bytes) -> None:
        if self.state["upload_id"] is None:
            self.state["upload_id"] = await self.bucket.create_upload(self.key, self.content_type)
            if self.on_created is not None:
                await self.on_created()
        number = len(self.state["parts"]) + 1
        self.state["parts"].append(await self.bucket.upload_part(self.key, self.state["upload_id"], number, part))
        self.state["size"] += len(part)

    async def keep_tail(self, carry_key: str) -> None:
        """Store the bytes after the last full part as the carry of the next checkpoint."""
        self._replaced_carry = self.state["carry"]
        if self._buffer:
            await self.bucket.put(carry_key, bytes(self._buffer))
            self.state["carry"], self.state["carry_size"] = carry_key, len(self._buffer)
        else:
            self.state["carry"], self.state["carry_size"] = None, 0

    async def drop_replaced_carry(self) -> None:
        """After the checkpoint naming the new carry is saved, the previous one is garbage."""
        if self._replaced_carry and self._replaced_carry != self.state["carry"]:
            await self.bucket.delete([self._replaced_carry])

    @property
    def pending(self) -> int:
        return len(self._buffer)

    async def complete(self) -> ObjectInfo:
        """Upload the tail as the last part and complete (or ``put`` a small object). Idempotent:
        an upload completed by a killed earlier attempt is found by its size."""
        expected = self.state["size"] + len(self._buffer)
        upload_id = self.state["upload_id"]
        if upload_id is None:
            return await self.bucket.put(self.key, bytes(self._buffer), self.content_type)
        parts = list(self.state["parts"])
        try:
            if self._buffer:
                number = len(parts) + 1
                parts.append(await self.bucket.upload_part(self.key, upload_id, number, bytes(self._buffer)))
            return await self.bucket.complete(self.key, upload_id, parts)
        except BucketError:
            done = await self.bucket.head(self.key)
            if done is not None and done.size == expected:
                return done
            raise

    async def abort(self) -> None:
        """Abort the upload and delete the carry: nothing of the object stays behind."""
        if self.state["upload_id"]:
            try:
                await self.bucket.abort(self.key, self.state["upload_id"])
            except BucketError:
                pass  # already completed or aborted
        if self.state["carry"]:
            await self.bucket.delete([self.state["carry"]])
