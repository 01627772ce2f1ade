"""One thin facade over the R2 binding, the twin of ``edgenotify.db.Database`` for D1.

Why a facade: R2 results arrive as JavaScript objects (attribute access only on the edge, no
mapping protocol), bodies as ``ArrayBuffer``s, and each call is a subrequest counted against the
invocation's limit. The facade hands out Python values (``ObjectInfo``, ``Body``, ``bytes``), lists every
page, deletes in R2's batches of 1,000 keys, drives multipart uploads by key and upload id (so an
upload started by one invocation is continued or aborted by another), and counts ``calls`` so a
job can stay inside its subrequest budget.
"""

from dataclasses import dataclass, field
from typing import Any

MAX_DELETE_KEYS = 1000
MIN_PART_SIZE = 5 * 1024 * 1024  # every multipart part but the last, all of one size


class BucketError(Exception):
    """An R2 call that failed; ``message`` is the runtime's text."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ObjectChanged(Exception):
    """A conditional read found the object with another etag than the one asked for: it was
    replaced (or rewritten) since that etag was seen. Not a failed call: R2 answered."""

    def __init__(self, key: str, expected: str, actual: str):
        super().__init__(f"R2 object {key} has etag {actual}, not {expected}: it was replaced")
        self.key, self.expected, self.actual = key, expected, actual


@dataclass
class Body:
    """What a read returns: the bytes and the etag of the object they came from."""

    data: bytes
    etag: str


@dataclass
class ObjectInfo:
    key: str
    size: int
    etag: str
    custom: dict[str, str] = field(default_factory=dict)


def _info(obj: Any) -> ObjectInfo:
    return ObjectInfo(str(obj.key), int(obj.size), str(obj.etag))


class Bucket:
    """The R2 binding with Python values in and out. ``calls`` counts operations (subrequests)."""

    def __init__(self, binding: Any):
        self.binding = binding
        self.calls = 0

    async def _call(self, what: str, awaitable: Any) -> Any:
        self.calls += 1
        try:
            return await awaitable
        except Exception as exc:  # JsException on the edge, the embedded runtime's error locally
            raise BucketError(f"R2 {what}: {exc}") from exc

    async def put(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo:
        options = {"httpMetadata": {"contentType": content_type}} if content_type else {}
        return _info(await self._call(f"put {key}", self.binding.put(key, data, **options)))

    async def head(self, key: str) -> ObjectInfo | None:
        obj = await self._call(f"head {key}", self.binding.head(key))
        return None if obj is None else _info(obj)

    async def get(
        self, key: str, offset: int | None = None, length: int | None = None, etag: str | None = None
    ) -> Body | None:
        """The object's bytes (or the range ``offset``, ``length``) with its etag.

        None when there is no such object. With ``etag`` the read is conditional (R2's ``onlyIf:
        {etagMatches}``): when the object's etag differs, R2 sends no bytes and this raises
        ``ObjectChanged`` (R2 answers with the object's metadata and no body, not null, so "gone"
        and "replaced" stay distinct). A matching etag proves the bytes are those of the object
        that had it, without hashing them again.
        """
        options: dict[str, Any] = {}
        if offset is not None:
            options["range"] = {"offset": offset, "length": length}
        if etag is not None:
            options["onlyIf"] = {"etagMatches": etag}
        obj = await self._call(f"get {key}", self.binding.get(key, **options))
        if obj is None:
            return None
        if not hasattr(obj, "arrayBuffer"):  # an R2Object: the condition failed
            raise ObjectChanged(key, etag or "", str(obj.etag))
        return Body(bytes(await obj.arrayBuffer()), str(obj.etag))

    async def read(
        self, key: str, offset: int | None = None, length: int | None = None, etag: str | None = None
    ) -> bytes | None:
        """``get``'s bytes alone: None when there is no such object, ``ObjectChanged`` as there."""
        body = await self.get(key, offset, length, etag)
        return None if body is None else body.data

    async def list_objects(self, prefix: str) -> list[ObjectInfo]:
        """Every object under ``prefix``, in key order (one call per 1,000 keys)."""
        found: list[ObjectInfo] = []
        cursor = None
        while True:
            options: dict[str, Any] = {"prefix": prefix, "limit": 1000}
            if cursor:
                options["cursor"] = cursor
            page = await self._call(f"list {prefix}", self.binding.list(**options))
            found.extend(_info(o) for o in page["objects"])
            if not page["truncated"]:
                return found
            cursor = page["cursor"]

    async def delete(self, keys: list[str]) -> int:
        for start in range(0, len(keys), MAX_DELETE_KEYS):
            await self._call("delete", self.binding.delete(keys[start : start + MAX_DELETE_KEYS]))
        return len(keys)

    async def create_upload(self, key: str, content_type: str | None = None) -> str:
        options = {"httpMetadata": {"contentType": content_type}} if content_type else {}
        upload = await self._call(f"createMultipartUpload {key}", self.binding.createMultipartUpload(key, **options))
        return str(upload.uploadId)

    def _upload(self, key: str, upload_id: str) -> Any:
        return self.binding.resumeMultipartUpload(key, upload_id)

    async def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        """Upload (or replace) part ``number``; returns ``{"partNumber", "etag"}`` for ``complete``."""
        part = await self._call(f"uploadPart {number}", self._upload(key, upload_id).uploadPart(number, data))
        return {"partNumber": int(part["partNumber"]), "etag": str(part["etag"])}

    async def complete(self, key: str, upload_id: str, parts: list[dict[str, Any]]) -> ObjectInfo:
        return _info(await self._call(f"complete {key}", self._upload(key, upload_id).complete(parts)))

    async def abort(self, key: str, upload_id: str) -> None:
        await self._call(f"abort {key}", self._upload(key, upload_id).abort())
