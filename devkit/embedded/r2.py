"""An R2 bucket on local disk, shaped like R2 seen through the Python SDK's wrapper.

Rules and messages follow Miniflare (workers-sdk ``packages/miniflare/src/workers/r2/
{bucket,validator,errors}.worker.ts``, ``constants.ts``): keys ≤ 1024 bytes, values ≤ 5 GiB −
5 MiB, custom metadata ≤ 2048 bytes, list ``limit`` 1..1000 (default 1000), ``get`` ranges
(offset/length/suffix, 416 when unsatisfiable); multipart: parts exist with matching etags,
every part but the last ≥ 5 MiB and all of one size, the last no bigger, completed or aborted
uploads are gone; ``etag`` is the MD5 (multipart: MD5 of the part MD5s + ``-N``). Errors read
``Error: <op>: <message> (<v4 code>)`` as workerd reports them. Items of ``list()["objects"]``
are raw proxies (attribute access only), as the SDK wrapper leaves them on the edge.
``delete`` of more than 1000 keys is refused as R2 documents it (Miniflare does not check).

Storage is one SQLite file per bucket (``<state>/r2/<BINDING>/bucket.sqlite3``) holding
metadata and bodies, so an object and its metadata always change together.
"""

import base64
import datetime as dt
import hashlib
import json
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any

from devkit.embedded.jsvalues import JsDict, JsException, JsProxy, check_sendable, json_parse, options, to_py

MAX_LIST_KEYS = 1000
MAX_DELETE_KEYS = 1000
MAX_KEY_SIZE = 1024
MAX_VALUE_SIZE = 5_368_709_120 - 5_242_880
MAX_METADATA_SIZE = 2048
MIN_MULTIPART_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, version TEXT NOT NULL, size INTEGER NOT NULL,
  etag TEXT NOT NULL, uploaded INTEGER NOT NULL, md5 TEXT, http_metadata TEXT NOT NULL,
  custom_metadata TEXT NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (upload_id TEXT PRIMARY KEY, key TEXT NOT NULL, http_metadata TEXT NOT NULL,
  custom_metadata TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'in_progress');
CREATE TABLE IF NOT EXISTS parts (upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, size INTEGER NOT NULL,
  etag TEXT NOT NULL, md5 TEXT NOT NULL, body BLOB NOT NULL, PRIMARY KEY (upload_id, part_number));
"""

# (http status, message, v4 code) — Miniflare's errors.worker.ts
NO_SUCH_KEY = "The specified key does not exist.", 10007
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


def _body_bytes(op: str, value: Any) -> bytes:
    check_sendable(value)
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, memoryview)):
        return bytes(value)
    if isinstance(value, R2ObjectBody):
        return value._consume()
    raise JsException(f"{op}: the value must be a string, bytes, an R2 object body or None", "TypeError")


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


def _uploaded(ms: int) -> dt.datetime:
    """A NAIVE datetime, as the SDK's ``datetime.fromtimestamp(ms / 1000)`` yields in workerd (UTC)."""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).replace(tzinfo=None)


class R2Checksums(JsDict):
    """``obj.checksums``: ``.md5`` as bytes (memoryview) and ``toJSON()`` with hex strings, as in workerd."""

    def toJSON(self) -> JsDict:
        return JsDict({name: bytes(value).hex() for name, value in self.items()})


class R2Object(JsDict):
    """Object metadata: ``obj.key`` and ``obj["key"]`` both work, like the SDK's wrapped R2Object."""

    @classmethod
    def from_row(cls, row: sqlite3.Row, include: tuple[str, ...] = ("httpMetadata", "customMetadata")) -> "R2Object":
        http = to_py(json.loads(row["http_metadata"])) if "httpMetadata" in include else JsDict()
        custom = to_py(json.loads(row["custom_metadata"])) if "customMetadata" in include else JsDict()
        checksums = R2Checksums(md5=memoryview(bytes.fromhex(row["md5"]))) if row["md5"] else R2Checksums()
        return cls(
            key=row["key"],
            version=row["version"],
            size=row["size"],
            etag=row["etag"],
            httpEtag=f'"{row["etag"]}"',
            uploaded=_uploaded(row["uploaded"]),
            httpMetadata=http,
            customMetadata=custom,
            checksums=checksums,
            storageClass="Standard",
        )


class R2ObjectBody(R2Object):
    """``bucket.get(key)``: metadata plus a body that can be read once."""

    def _attach(self, data: bytes, range_: JsDict | None) -> "R2ObjectBody":
        dict.__setitem__(self, "bodyUsed", False)
        dict.__setitem__(self, "range", range_)
        object.__setattr__(self, "_data", data)
        return self

    @property
    def body(self) -> bytes:
        """Stand-in for the JS ReadableStream: the workers shim's ``Response`` accepts it."""
        return self._consume()

    def _consume(self) -> bytes:
        if self["bodyUsed"]:
            raise JsException(
                "Body has already been used. It can only be used once. Use tee() first if you need to read it twice.",
                "TypeError",
            )
        self["bodyUsed"] = True
        return self._data

    async def arrayBuffer(self) -> memoryview:
        return memoryview(self._consume())

    async def bytes(self) -> bytes:
        return self._consume()

    async def text(self) -> str:
        return self._consume().decode("utf-8", "replace")

    async def json(self) -> Any:
        return json_parse(self._consume().decode("utf-8", "replace"))  # V8's SyntaxError on bad JSON

    def writeHttpMetadata(self, headers: Any) -> None:
        names = {
            "contentType": "content-type",
            "contentLanguage": "content-language",
            "contentDisposition": "content-disposition",
            "contentEncoding": "content-encoding",
            "cacheControl": "cache-control",
        }
        for field, header in names.items():
            if self["httpMetadata"].get(field):
                headers[header] = self["httpMetadata"][field]


class R2Bucket:
    """``env.BACKUPS``. ``calls`` counts operations (each one is a subrequest on the edge)."""

    def __init__(self, directory: str | Path, min_part_size: int = MIN_MULTIPART_PART_SIZE):
        self.directory = Path(directory)
        self.min_part_size = min_part_size
        self.calls = 0
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
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- single objects --------------------------------------------------------------
    async def put(self, key: Any, value: Any, *args: Any, **kwargs: Any) -> R2Object:
        key = _check_key("put", key)
        opts = options(args, kwargs, 0)
        data = _body_bytes("put", value)
        if len(data) > MAX_VALUE_SIZE:
            raise _fail("put", ENTITY_TOO_LARGE)
        custom = _check_metadata("put", dict(opts.get("customMetadata") or {}))
        http = dict(opts.get("httpMetadata") or {})
        self.calls += 1
        md5 = hashlib.md5(data).hexdigest()
        return self._store(key, data, md5, md5, http, custom)

    def _store(self, key: str, data: bytes, etag: str, md5: str | None, http: dict, custom: dict) -> R2Object:
        self._db().execute(
            "INSERT OR REPLACE INTO objects (key, version, size, etag, uploaded, md5, http_metadata, custom_metadata, "
            "body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                secrets.token_hex(16),
                len(data),
                etag,
                int(time.time() * 1000),
                md5,
                json.dumps(http),
                json.dumps(custom),
                data,
            ),
        )
        return R2Object.from_row(self._row(key))

    def _row(self, key: str) -> sqlite3.Row | None:
        return self._db().execute("SELECT * FROM objects WHERE key = ?", (key,)).fetchone()

    async def head(self, key: Any) -> R2Object | None:
        key = _check_key("head", key)
        self.calls += 1
        row = self._row(key)
        return None if row is None else R2Object.from_row(row)

    async def get(self, key: Any, *args: Any, **kwargs: Any) -> R2ObjectBody | None:
        key = _check_key("get", key)
        opts = options(args, kwargs, 0)
        self.calls += 1
        row = self._row(key)
        if row is None:
            return None
        data = bytes(row["body"])
        range_ = None
        if opts.get("range") is not None:
            start, length = self._range(dict(opts["range"]), len(data))
            data = data[start : start + length]
            range_ = JsDict(offset=start, length=length)
        return R2ObjectBody(R2Object.from_row(row))._attach(data, range_)

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

    async def delete(self, keys: Any) -> None:
        many = keys if isinstance(keys, list) else [keys]
        if len(many) > MAX_DELETE_KEYS:
            raise _fail("delete", INVALID_ARGUMENT)
        many = [_check_key("delete", k) for k in many]
        self.calls += 1
        self._db().executemany("DELETE FROM objects WHERE key = ?", [(k,) for k in many])

    # -- list ------------------------------------------------------------------------
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
                objects.append(JsProxy(R2Object.from_row(row, include)))  # unconverted on the edge
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


class R2MultipartUpload:
    """An upload in progress: ``key``, ``uploadId``, ``uploadPart``, ``complete``, ``abort``."""

    def __init__(self, bucket: R2Bucket, key: str, upload_id: str):
        self.bucket = bucket
        self.key = key
        self.uploadId = upload_id

    def __getitem__(self, name: str) -> Any:  # upload["uploadId"], as the SDK wrapper allows
        return getattr(self, name)

    def _state(self, op: str) -> sqlite3.Row | None:
        return (
            self.bucket._db()
            .execute("SELECT * FROM uploads WHERE upload_id = ? AND key = ?", (self.uploadId, self.key))
            .fetchone()
        )

    async def uploadPart(self, partNumber: int, value: Any, *args: Any, **kwargs: Any) -> JsDict:
        data = _body_bytes("uploadPart", value)
        if not isinstance(partNumber, int) or not 1 <= partNumber <= MAX_PART_NUMBER:
            raise JsException(  # workerd checks this before the request, as a TypeError
                f"Part number must be between 1 and {MAX_PART_NUMBER} (inclusive). Actual value was: {partNumber}",
                "TypeError",
            )
        self.bucket.calls += 1
        upload = self._state("uploadPart")
        if upload is None or upload["state"] != "in_progress":
            raise _fail("uploadPart", NO_SUCH_UPLOAD)
        etag = secrets.token_hex(16)
        self.bucket._db().execute(
            "INSERT OR REPLACE INTO parts (upload_id, part_number, size, etag, md5, body) VALUES (?, ?, ?, ?, ?, ?)",
            (self.uploadId, partNumber, len(data), etag, hashlib.md5(data).hexdigest(), data),
        )
        return JsDict(partNumber=partNumber, etag=etag)

    async def abort(self) -> None:
        self.bucket.calls += 1
        upload = self._state("abortMultipartUpload")
        if upload is None:
            raise _fail("abortMultipartUpload", INTERNAL_ERROR)
        if upload["state"] != "in_progress":
            return
        db = self.bucket._db()
        db.execute("UPDATE uploads SET state = 'aborted' WHERE upload_id = ?", (self.uploadId,))
        db.execute("DELETE FROM parts WHERE upload_id = ?", (self.uploadId,))

    async def complete(self, uploadedParts: list[Any]) -> R2Object:
        op = "completeMultipartUpload"
        self.bucket.calls += 1
        upload = self._state(op)
        if upload is None:
            raise _fail(op, INTERNAL_ERROR)
        if upload["state"] != "in_progress":
            raise _fail(op, NO_SUCH_UPLOAD)
        parts = self._selected_parts(op, uploadedParts)
        self._check_sizes(op, parts)
        data = b"".join(bytes(p["body"]) for p in parts)
        if len(data) > MAX_VALUE_SIZE:
            raise _fail(op, ENTITY_TOO_LARGE)
        digest = hashlib.md5(b"".join(bytes.fromhex(p["md5"]) for p in parts)).hexdigest()
        db = self.bucket._db()
        db.execute("BEGIN IMMEDIATE")  # the object appears and the upload ends together
        try:
            obj = self.bucket._store(
                self.key,
                data,
                f"{digest}-{len(parts)}",
                None,
                json.loads(upload["http_metadata"]),
                json.loads(upload["custom_metadata"]),
            )
            db.execute("UPDATE uploads SET state = 'completed' WHERE upload_id = ?", (self.uploadId,))
            db.execute("DELETE FROM parts WHERE upload_id = ?", (self.uploadId,))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return obj

    def _selected_parts(self, op: str, selected: list[Any]) -> list[sqlite3.Row]:
        numbers = [int(p["partNumber"]) for p in selected]
        if len(set(numbers)) != len(numbers):
            raise _fail(op, INTERNAL_ERROR)
        stored = {
            row["part_number"]: row
            for row in self.bucket._db().execute("SELECT * FROM parts WHERE upload_id = ?", (self.uploadId,))
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
        minimum = self.bucket.min_part_size
        if any(p["size"] < minimum for p in parts[:-1]):
            raise _fail(op, ENTITY_TOO_SMALL)
        ordered = sorted(parts, key=lambda p: p["part_number"])
        sizes = {p["size"] for p in ordered[:-1]}
        if len(sizes) > 1 or any(s < minimum for s in sizes) or (sizes and ordered[-1]["size"] > sizes.pop()):
            raise _fail(op, BAD_UPLOAD)
