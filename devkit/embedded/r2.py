"""An R2 bucket on local disk, shaped like R2 seen through the Python SDK's wrapper.

Rules and messages follow Miniflare (workers-sdk ``packages/miniflare/src/workers/r2/
{bucket,validator,errors}.worker.ts``, ``constants.ts``): keys ≤ 1024 bytes, values ≤ 5 GiB −
5 MiB, custom metadata ≤ 2048 bytes, list ``limit`` 1..1000 (default 1000), ``get`` ranges
(offset/length/suffix, 416 when unsatisfiable) and ``onlyIf`` etag conditions (a failed one
returns the object without a body); multipart: parts exist with matching etags,
every part but the last ≥ 5 MiB and all of one size, the last no bigger, completed or aborted
uploads are gone; ``etag`` is the MD5 (multipart: MD5 of the part MD5s + ``-N``). Errors read
``Error: <op>: <message> (<v4 code>)`` as workerd reports them. ``delete`` of more than 1000 keys
is refused as R2 documents it (Miniflare does not check).

Result shapes follow what the SDK wrapper gives on the edge: ``put``/``get``/``head``/``complete``
results are wrapped JS objects (``jsvalues.JsObject``: ``obj.key`` and ``obj["key"]``, but no
mapping protocol); items of ``list()["objects"]`` are raw proxies (attribute access only).

Storage: metadata in one SQLite file per bucket (``<state>/r2/<BINDING>/bucket.sqlite3``),
bodies in files next to it (``objects/``, ``parts/``; see ``r2bodies.py`` for why and for the
write/commit/unlink order that keeps a committed row pointing at a complete body). Memory stays
flat whatever the object size: bodies are written and copied in chunks, ``complete`` copies part
files in the kernel, and ``get`` reads only the requested range, when the body is read.
"""

import base64
import datetime as dt
import functools
import hashlib
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from devkit.embedded.jsvalues import JsDict, JsException, JsObject, JsProxy, check_sendable, json_parse, options, to_py
from devkit.embedded.meter import binding_call
from devkit.embedded.r2bodies import CHUNK_BYTES, BodyReader, BodyStore

T = TypeVar("T")

MAX_LIST_KEYS = 1000
MAX_DELETE_KEYS = 1000
MAX_KEY_SIZE = 1024
MAX_VALUE_SIZE = 5_368_709_120 - 5_242_880
MAX_METADATA_SIZE = 2048
MIN_MULTIPART_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000

# Metadata only: bodies are files (r2bodies.py). SCHEMA_VERSION 1 = bodies moved out of the
# ``body`` BLOB columns of earlier versions (migrated on open, see ``_migrate_blob_bodies``).
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, version TEXT NOT NULL, size INTEGER NOT NULL,
  etag TEXT NOT NULL, uploaded INTEGER NOT NULL, md5 TEXT, http_metadata TEXT NOT NULL,
  custom_metadata TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (upload_id TEXT PRIMARY KEY, key TEXT NOT NULL, http_metadata TEXT NOT NULL,
  custom_metadata TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'in_progress');
CREATE TABLE IF NOT EXISTS parts (upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, size INTEGER NOT NULL,
  etag TEXT NOT NULL, md5 TEXT NOT NULL, PRIMARY KEY (upload_id, part_number));
"""

# (http status, message, v4 code) — Miniflare's errors.worker.ts
ENTITY_TOO_LARGE = "Your proposed upload exceeds the maximum allowed object size.", 100100
ENTITY_TOO_SMALL = "Your proposed upload is smaller than the minimum allowed object size.", 10011
METADATA_TOO_LARGE = "Your metadata headers exceed the maximum allowed metadata size.", 10012
INVALID_OBJECT_NAME = "The specified object name is not valid.", 10020
INVALID_MAX_KEYS = "MaxKeys params must be positive integer <= 1000.", 10022
NO_SUCH_UPLOAD = "The specified multipart upload does not exist.", 10024
INVALID_PART = "One or more of the specified parts could not be found.", 10025
INVALID_ARGUMENT = "Invalid argument.", 10029
INVALID_RANGE = "The requested range is not satisfiable", 10039
BAD_UPLOAD = "There was a problem with the multipart upload.", 10048
INTERNAL_ERROR = "We encountered an internal error. Please try again.", 10001


def _fail(op: str, error: tuple[str, int]) -> JsException:
    message, code = error
    return JsException(f"{op}: {message} ({code})")


class _Value:
    """A value to store: its size up front (limits are checked before writing) and its chunks."""

    def __init__(self, op: str, value: Any):
        check_sendable(value)
        if isinstance(value, R2ObjectBody):  # streamed file to file, never whole in memory
            reader = value._take()
            self.size = reader.length
            self._chunks: Iterable[bytes] = reader.chunks()
            return
        if value is None:
            data = b""
        elif isinstance(value, str):
            data = value.encode("utf-8")
        elif isinstance(value, (bytes, memoryview)):
            data = value
        else:
            raise JsException(f"{op}: the value must be a string, bytes, an R2 object body or None", "TypeError")
        view = memoryview(data).cast("B")
        self.size = len(view)
        self._chunks = (view[i : i + CHUNK_BYTES] for i in range(0, self.size, CHUNK_BYTES))

    def chunks(self) -> Iterable[bytes]:
        return self._chunks


def _operation(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """An R2 call: one subrequest of the current invocation, its time kept out of the CPU figure."""

    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> T:
        with binding_call("r2"):
            return await method(*args, **kwargs)

    return call


def _check_key(op: str, key: Any) -> str:
    key = str(key)
    if len(key.encode("utf-8")) > MAX_KEY_SIZE:
        raise _fail(op, INVALID_OBJECT_NAME)
    return key


def _check_metadata(op: str, custom: dict[str, Any]) -> dict[str, str]:
    def length(text: str) -> int:  # Miniflare's serialisedLength
        return len(text) * 2 if any(ord(c) >= 256 for c in text) else len(text)

    custom = {str(k): str(v) for k, v in custom.items()}
    if sum(length(k) + length(v) for k, v in custom.items()) > MAX_METADATA_SIZE:
        raise _fail(op, METADATA_TOO_LARGE)
    return custom


def _condition(only_if: Any) -> Callable[[str], bool] | None:
    """``onlyIf`` as a test of the object's etag: ``etagMatches`` (strong comparison, ``*`` any)
    and ``etagDoesNotMatch`` (``*`` none), each ONE unquoted etag as workerd's ``R2Conditional``
    takes it (a quoted one is its TypeError). Dates and the ``Headers`` form are not implemented
    and refused rather than ignored."""
    if only_if is None:
        return None
    spec = dict(only_if)
    unknown = set(spec) - {"etagMatches", "etagDoesNotMatch"}
    if unknown:
        raise JsException(f"get: onlyIf {sorted(unknown)} is not implemented by the embedded runtime", "TypeError")
    tests: list[Callable[[str], bool]] = []
    for name, wanted in (("etagMatches", True), ("etagDoesNotMatch", False)):
        value = spec.get(name)
        if value is None:
            continue
        value = str(value)
        if value.startswith('"') and value.endswith('"'):
            raise JsException(f"Conditional ETag should not be wrapped in quotes ({value}).", "TypeError")
        tests.append(lambda etag, v=value, w=wanted: (v == "*" or v == etag) == w)
    return lambda etag: all(test(etag) for test in tests)


def _uploaded(ms: int) -> dt.datetime:
    """A NAIVE datetime, as the SDK's ``datetime.fromtimestamp(ms / 1000)`` yields in workerd (UTC)."""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).replace(tzinfo=None)


def _fields(row: sqlite3.Row, include: tuple[str, ...] = ("httpMetadata", "customMetadata")) -> dict[str, Any]:
    """An object's metadata fields as R2 returns them (``include`` limits the metadata, as ``list`` does)."""
    http = to_py(json.loads(row["http_metadata"])) if "httpMetadata" in include else JsDict()
    custom = to_py(json.loads(row["custom_metadata"])) if "customMetadata" in include else JsDict()
    checksums = R2Checksums(md5=memoryview(bytes.fromhex(row["md5"]))) if row["md5"] else R2Checksums()
    return {
        "key": row["key"],
        "version": row["version"],
        "size": row["size"],
        "etag": row["etag"],
        "httpEtag": f'"{row["etag"]}"',
        "uploaded": _uploaded(row["uploaded"]),
        "httpMetadata": http,
        "customMetadata": custom,
        "checksums": checksums,
        "storageClass": "Standard",
    }


class R2Checksums(JsObject):
    """``obj.checksums``: ``.md5`` as bytes (memoryview) and ``toJSON()`` with hex strings, as in workerd."""

    _js_name = "R2Checksums"

    def __init__(self, **digests: memoryview):
        self.__dict__.update(digests)
        self._names = tuple(digests)

    def toJSON(self) -> JsDict:
        return JsDict({name: bytes(getattr(self, name)).hex() for name in self._names})


class R2Object(JsObject):
    """Object metadata (``put``, ``head``, ``complete``): ``obj.key`` and ``obj["key"]``, not a mapping.

    ``head`` results also carry ``range`` (the whole object), as Miniflare returns them.
    """

    _js_name = "R2Object"

    def __init__(self, fields: dict[str, Any]):
        self.__dict__.update(fields)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "R2Object":
        return cls(_fields(row))

    def writeHttpMetadata(self, headers: Any) -> None:
        names = {
            "contentType": "content-type",
            "contentLanguage": "content-language",
            "contentDisposition": "content-disposition",
            "contentEncoding": "content-encoding",
            "cacheControl": "cache-control",
        }
        for field, header in names.items():
            if self.httpMetadata.get(field):
                headers[header] = self.httpMetadata[field]


class R2ObjectBody(R2Object):
    """``bucket.get(key)``: metadata plus a body that can be read once (only the range asked for).

    ``bodyUsed`` behaves as through the SDK wrapper, whose ``__getattr__`` caches an attribute on
    first access: ``obj["bodyUsed"]`` reads the live value, ``obj.bodyUsed`` repeats its first
    answer (contract ``r2_results_are_not_mappings``).
    """

    _js_name = "R2ObjectBody"

    def __init__(self, fields: dict[str, Any], reader: BodyReader):
        super().__init__({**fields, "range": JsDict(offset=reader.offset, length=reader.length)})
        self._reader = reader
        self._used = False

    @property
    def bodyUsed(self) -> bool:
        return self.__dict__.setdefault("_bodyUsed_first_read", self._used)

    def __getitem__(self, key: Any) -> Any:
        return self._used if key == "bodyUsed" else super().__getitem__(key)

    @property
    def body(self) -> bytes:
        """Stand-in for the JS ReadableStream: the workers shim's ``Response`` accepts it."""
        return self._consume()

    def _take(self) -> BodyReader:
        if self._used:
            raise JsException(
                "Body has already been used. It can only be used once. Use tee() first if you need to read it twice.",
                "TypeError",
            )
        self._used = True
        return self._reader

    def _consume(self) -> bytes:
        return self._take().read_all()

    async def arrayBuffer(self) -> memoryview:
        return memoryview(self._consume())

    async def bytes(self) -> bytes:
        return self._consume()

    async def text(self) -> str:
        return self._consume().decode("utf-8", "replace")

    async def json(self) -> Any:
        return json_parse(self._consume().decode("utf-8", "replace"))  # V8's SyntaxError on bad JSON


class R2Bucket:
    """``env.BACKUPS``. ``calls`` counts operations (each one is a subrequest on the edge)."""

    def __init__(self, directory: str | Path, min_part_size: int = MIN_MULTIPART_PART_SIZE):
        self.directory = Path(directory)
        self.min_part_size = min_part_size
        self.calls = 0
        self.bodies = BodyStore(self.directory)
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.directory / "bucket.sqlite3", timeout=10.0, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA synchronous = OFF")  # local dev state, as in d1.py
            conn.execute("PRAGMA journal_mode = TRUNCATE")
            if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                _migrate_blob_bodies(conn, self.bodies)
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _write(self, work: Callable[[sqlite3.Connection], None]) -> None:
        """Run ``work`` in one write transaction (callers unlink replaced bodies after it returns)."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            work(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # -- single objects --------------------------------------------------------------
    @_operation
    async def put(self, key: Any, value: Any, *args: Any, **kwargs: Any) -> R2Object:
        key = _check_key("put", key)
        opts = options(args, kwargs, 0)
        source = _Value("put", value)
        if source.size > MAX_VALUE_SIZE:
            raise _fail("put", ENTITY_TOO_LARGE)
        custom = _check_metadata("put", dict(opts.get("customMetadata") or {}))
        http = dict(opts.get("httpMetadata") or {})
        self.calls += 1
        version = secrets.token_hex(16)
        size, md5 = self.bodies.write(self.bodies.object_path(version), source.chunks())
        return self._store(key, version, size, md5, md5, http, custom)

    def _store(
        self,
        key: str,
        version: str,
        size: int,
        etag: str,
        md5: str | None,
        http: dict,
        custom: dict,
        also: Callable[[sqlite3.Connection], None] | None = None,
    ) -> R2Object:
        """Commit the row of a body already written (with ``also``, in the same transaction); the
        replaced version's body is unlinked after the commit, the new one if the commit fails."""
        replaced: list[str] = []

        def work(db: sqlite3.Connection) -> None:
            replaced.extend(r["version"] for r in db.execute("SELECT version FROM objects WHERE key = ?", (key,)))
            db.execute(
                "INSERT OR REPLACE INTO objects (key, version, size, etag, uploaded, md5, http_metadata, "
                "custom_metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key, version, size, etag, int(time.time() * 1000), md5, json.dumps(http), json.dumps(custom)),
            )
            if also is not None:
                also(db)

        try:
            self._write(work)
        except BaseException:
            self.bodies.remove([self.bodies.object_path(version)])
            raise
        self.bodies.remove(self.bodies.object_path(v) for v in replaced)
        return R2Object.from_row(self._row(key))

    def _row(self, key: str) -> sqlite3.Row | None:
        return self._db().execute("SELECT * FROM objects WHERE key = ?", (key,)).fetchone()

    @_operation
    async def head(self, key: Any) -> R2Object | None:
        key = _check_key("head", key)
        self.calls += 1
        row = self._row(key)
        if row is None:
            return None
        return R2Object({**_fields(row), "range": JsDict(offset=0, length=row["size"])})

    @_operation
    async def get(self, key: Any, *args: Any, **kwargs: Any) -> R2ObjectBody | R2Object | None:
        """The object with its body (the ``range`` asked for), None when there is none; with
        ``onlyIf`` and a condition that does not hold, the object WITHOUT a body (an ``R2Object``,
        its ``range`` the whole object), as workerd returns a 412 from R2; the condition is
        tested before the range, so a failed one wins over an unsatisfiable range (Miniflare)."""
        key = _check_key("get", key)
        opts = options(args, kwargs, 0)
        condition = _condition(opts.get("onlyIf"))
        self.calls += 1
        found = self._open_body(key)
        if found is None:
            return None
        row, fd = found
        if condition is not None and not condition(row["etag"]):
            os.close(fd)
            return R2Object({**_fields(row), "range": JsDict(offset=0, length=row["size"])})
        try:
            start, length = 0, row["size"]
            if opts.get("range") is not None:
                start, length = self._range(dict(opts["range"]), row["size"])
        except BaseException:
            os.close(fd)
            raise
        return R2ObjectBody(_fields(row), BodyReader(fd, start, length))

    def _open_body(self, key: str) -> tuple[sqlite3.Row, int] | None:
        """The row and an open descriptor on its body, taken under one shared lock: a writer that
        replaces or deletes the object cannot commit (and so unlink the body) in between."""
        db = self._db()
        db.execute("BEGIN")
        try:
            row = db.execute("SELECT * FROM objects WHERE key = ?", (key,)).fetchone()
            return None if row is None else (row, os.open(self.bodies.object_path(row["version"]), os.O_RDONLY))
        finally:
            db.execute("COMMIT")

    @staticmethod
    def _range(spec: dict[str, Any], size: int) -> tuple[int, int]:
        """Miniflare's ``Validator.range`` for ``{offset, length}`` / ``{suffix}``."""
        offset, length, suffix = spec.get("offset"), spec.get("length"), spec.get("suffix")
        if suffix is not None:
            if suffix <= 0:
                raise _fail("get", INVALID_RANGE)
            suffix = min(suffix, size)
            offset, length = size - suffix, suffix
        offset = 0 if offset is None else offset
        length = size - offset if length is None else length
        if offset < 0 or offset > size or length <= 0:
            raise _fail("get", INVALID_RANGE)
        return offset, min(length, size - offset)

    @_operation
    async def delete(self, keys: Any) -> None:
        many = keys if isinstance(keys, list) else [keys]
        if len(many) > MAX_DELETE_KEYS:
            raise _fail("delete", INVALID_ARGUMENT)
        many = [_check_key("delete", k) for k in many]
        self.calls += 1
        versions: list[str] = []

        def work(db: sqlite3.Connection) -> None:
            for key in many:
                versions.extend(r["version"] for r in db.execute("SELECT version FROM objects WHERE key = ?", (key,)))
                db.execute("DELETE FROM objects WHERE key = ?", (key,))

        self._write(work)
        self.bodies.remove(self.bodies.object_path(v) for v in versions)

    # -- list ------------------------------------------------------------------------
    @_operation
    async def list(self, *args: Any, **kwargs: Any) -> JsDict:
        opts = options(args, kwargs, 0)
        limit = opts.get("limit", MAX_LIST_KEYS)
        if not isinstance(limit, int) or limit < 1 or limit > MAX_LIST_KEYS:
            raise _fail("list", INVALID_MAX_KEYS)
        prefix = str(opts.get("prefix") or "")
        delimiter = opts.get("delimiter") or None
        include = tuple(opts.get("include") or ())
        after = self._after(opts)
        self.calls += 1
        rows = self._db().execute(
            "SELECT * FROM objects WHERE substr(key, 1, ?) = ? AND key > ? ORDER BY key",
            (len(prefix), prefix, after),
        )
        objects: list[JsProxy] = []
        prefixes: list[str] = []
        last_key = None
        truncated = False
        for row in rows:
            if len(objects) + len(prefixes) == limit:
                truncated = True
                break
            rest = row["key"][len(prefix) :]
            if delimiter and delimiter in rest:
                group = prefix + rest[: rest.index(delimiter) + len(delimiter)]
                if not prefixes or prefixes[-1] != group:
                    prefixes.append(group)
            else:
                objects.append(JsProxy(_fields(row, include)))  # unconverted on the edge
            last_key = row["key"]
        # With a delimiter a page ends after a whole group, so the cursor skips the group's other keys.
        if truncated and delimiter and prefixes and last_key is not None and last_key.startswith(prefixes[-1]):
            last_key = prefixes[-1] + "\U0010ffff"
        result = JsDict(objects=objects, truncated=truncated, delimitedPrefixes=prefixes)
        if truncated and last_key is not None:
            result["cursor"] = base64.urlsafe_b64encode(last_key.encode("utf-8")).decode("ascii")
        return result

    @staticmethod
    def _after(opts: dict[str, Any]) -> str:
        after = str(opts.get("startAfter") or "")
        cursor = opts.get("cursor")
        if cursor:
            try:
                after = max(after, base64.urlsafe_b64decode(str(cursor).encode("ascii")).decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                raise _fail("list", INVALID_ARGUMENT) from None
        return after

    # -- multipart -------------------------------------------------------------------
    @_operation
    async def createMultipartUpload(self, key: Any, *args: Any, **kwargs: Any) -> "R2MultipartUpload":
        key = _check_key("createMultipartUpload", key)
        opts = options(args, kwargs, 0)
        custom = _check_metadata("createMultipartUpload", dict(opts.get("customMetadata") or {}))
        http = dict(opts.get("httpMetadata") or {})
        self.calls += 1
        upload_id = base64.urlsafe_b64encode(secrets.token_bytes(96)).decode("ascii").rstrip("=")
        self._db().execute(
            "INSERT INTO uploads (upload_id, key, http_metadata, custom_metadata) VALUES (?, ?, ?, ?)",
            (upload_id, key, json.dumps(http), json.dumps(custom)),
        )
        return R2MultipartUpload(self, key, upload_id)

    def resumeMultipartUpload(self, key: Any, uploadId: str) -> "R2MultipartUpload":
        return R2MultipartUpload(self, _check_key("resumeMultipartUpload", key), str(uploadId))


class R2MultipartUpload(JsObject):
    """An upload in progress: ``key``, ``uploadId``, ``uploadPart``, ``complete``, ``abort``."""

    _js_name = "R2MultipartUpload"

    def __init__(self, bucket: R2Bucket, key: str, upload_id: str):
        self._bucket = bucket
        self.key = key
        self.uploadId = upload_id

    def _state(self) -> sqlite3.Row | None:
        return (
            self._bucket._db()
            .execute("SELECT * FROM uploads WHERE upload_id = ? AND key = ?", (self.uploadId, self.key))
            .fetchone()
        )

    def _part_etags(self) -> list[str]:
        rows = self._bucket._db().execute("SELECT etag FROM parts WHERE upload_id = ?", (self.uploadId,))
        return [row["etag"] for row in rows]

    @_operation
    async def uploadPart(self, partNumber: int, value: Any, *args: Any, **kwargs: Any) -> JsDict:
        source = _Value("uploadPart", value)
        if not isinstance(partNumber, int) or not 1 <= partNumber <= MAX_PART_NUMBER:
            raise JsException(  # workerd checks this before the request, as a TypeError
                f"Part number must be between 1 and {MAX_PART_NUMBER} (inclusive). Actual value was: {partNumber}",
                "TypeError",
            )
        bucket = self._bucket
        bucket.calls += 1
        upload = self._state()
        if upload is None or upload["state"] != "in_progress":
            raise _fail("uploadPart", NO_SUCH_UPLOAD)
        etag = secrets.token_hex(16)
        size, md5 = bucket.bodies.write(bucket.bodies.part_path(etag), source.chunks())
        replaced: list[str] = []

        def work(db: sqlite3.Connection) -> None:
            where = (self.uploadId, partNumber)
            old = db.execute("SELECT etag FROM parts WHERE upload_id = ? AND part_number = ?", where)
            replaced.extend(row["etag"] for row in old)
            db.execute(
                "INSERT OR REPLACE INTO parts (upload_id, part_number, size, etag, md5) VALUES (?, ?, ?, ?, ?)",
                (self.uploadId, partNumber, size, etag, md5),
            )

        try:
            bucket._write(work)
        except BaseException:
            bucket.bodies.remove([bucket.bodies.part_path(etag)])
            raise
        bucket.bodies.remove(bucket.bodies.part_path(e) for e in replaced)
        return JsDict(partNumber=partNumber, etag=etag)

    @_operation
    async def abort(self) -> None:
        bucket = self._bucket
        bucket.calls += 1
        upload = self._state()
        if upload is None:
            raise _fail("abortMultipartUpload", INTERNAL_ERROR)
        if upload["state"] != "in_progress":
            return
        etags = self._part_etags()

        def work(db: sqlite3.Connection) -> None:
            db.execute("UPDATE uploads SET state = 'aborted' WHERE upload_id = ?", (self.uploadId,))
            db.execute("DELETE FROM parts WHERE upload_id = ?", (self.uploadId,))

        bucket._write(work)
        bucket.bodies.remove(bucket.bodies.part_path(e) for e in etags)

    @_operation
    async def complete(self, uploadedParts: list[Any]) -> R2Object:
        op = "completeMultipartUpload"
        bucket = self._bucket
        bucket.calls += 1
        upload = self._state()
        if upload is None:
            raise _fail(op, INTERNAL_ERROR)
        if upload["state"] != "in_progress":
            raise _fail(op, NO_SUCH_UPLOAD)
        parts = self._selected_parts(op, uploadedParts)
        self._check_sizes(op, parts)
        if sum(p["size"] for p in parts) > MAX_VALUE_SIZE:
            raise _fail(op, ENTITY_TOO_LARGE)
        digest = md5_of_digests(bytes.fromhex(p["md5"]) for p in parts)
        version = secrets.token_hex(16)
        size = bucket.bodies.concatenate(
            bucket.bodies.object_path(version), [bucket.bodies.part_path(p["etag"]) for p in parts]
        )
        etags = self._part_etags()

        def end_upload(db: sqlite3.Connection) -> None:  # the object appears and the upload ends together
            ended = db.execute(
                "UPDATE uploads SET state = 'completed' WHERE upload_id = ? AND state = 'in_progress'", (self.uploadId,)
            )
            if ended.rowcount != 1:  # completed or aborted concurrently
                raise _fail(op, NO_SUCH_UPLOAD)
            db.execute("DELETE FROM parts WHERE upload_id = ?", (self.uploadId,))

        obj = bucket._store(
            self.key,
            version,
            size,
            f"{digest}-{len(parts)}",
            None,
            json.loads(upload["http_metadata"]),
            json.loads(upload["custom_metadata"]),
            end_upload,
        )
        bucket.bodies.remove(bucket.bodies.part_path(e) for e in etags)
        return obj

    def _selected_parts(self, op: str, selected: list[Any]) -> list[sqlite3.Row]:
        numbers = [int(p["partNumber"]) for p in selected]
        if len(set(numbers)) != len(numbers):
            raise _fail(op, INTERNAL_ERROR)
        stored = {
            row["part_number"]: row
            for row in self._bucket._db().execute("SELECT * FROM parts WHERE upload_id = ?", (self.uploadId,))
        }
        parts = []
        for part in selected:
            row = stored.get(int(part["partNumber"]))
            if row is None or row["etag"] != part["etag"]:
                raise _fail(op, INVALID_PART)
            parts.append(row)
        return parts

    def _check_sizes(self, op: str, parts: list[sqlite3.Row]) -> None:
        """Every part but the last ≥ the minimum (argument order), then uniform in part order."""
        minimum = self._bucket.min_part_size
        if any(p["size"] < minimum for p in parts[:-1]):
            raise _fail(op, ENTITY_TOO_SMALL)
        ordered = sorted(parts, key=lambda p: p["part_number"])
        sizes = {p["size"] for p in ordered[:-1]}
        if len(sizes) > 1 or any(s < minimum for s in sizes) or (sizes and ordered[-1]["size"] > sizes.pop()):
            raise _fail(op, BAD_UPLOAD)


def md5_of_digests(digests: Iterable[bytes]) -> str:
    """A multipart etag's hash: MD5 over the parts' binary MD5s."""
    return hashlib.md5(b"".join(digests)).hexdigest()


def _migrate_blob_bodies(conn: sqlite3.Connection, bodies: BodyStore) -> None:
    """Move bodies out of the ``body`` BLOB columns of a bucket written by an earlier version.

    Each BLOB is copied to its file in chunks (``blobopen``), then the columns are dropped, in one
    write transaction, so a bucket is either migrated whole or not at all (files written by an
    attempt that failed are orphans, never referenced).
    """
    moved = False
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table, name_column, path_of in (
            ("objects", "version", bodies.object_path),
            ("parts", "etag", bodies.part_path),
        ):
            columns = [r["name"] for r in conn.execute(f"PRAGMA table_info({table})")]
            if "body" not in columns:
                continue
            for row in conn.execute(f"SELECT rowid, {name_column} FROM {table}").fetchall():
                path = path_of(row[name_column])
                path.unlink(missing_ok=True)  # a leftover of an attempt that did not commit
                bodies.write(path, _blob_chunks(conn, table, row["rowid"]))
            conn.execute(f"ALTER TABLE {table} DROP COLUMN body")
            moved = True
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    if moved:
        conn.execute("VACUUM")  # give the BLOBs' pages back to the file system


def _blob_chunks(conn: sqlite3.Connection, table: str, rowid: int) -> Iterator[bytes]:
    with conn.blobopen(table, "body", rowid, readonly=True) as blob:
        while chunk := blob.read(CHUNK_BYTES):
            yield chunk
