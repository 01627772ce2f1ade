"""A KV namespace on local disk, shaped like Workers KV seen through the Python SDK's wrapper.

Validation and messages follow Miniflare (workers-sdk ``packages/miniflare/src/workers/kv/
{validator,namespace}.worker.ts``, ``constants.ts``) as workerd surfaces them to the Worker
(``Error: KV <OP> failed: <status> <message>``; ``list`` reports as ``GET``): keys of at most
512 UTF-8 bytes; an empty, ``.`` or ``..`` key is a ``TypeError`` from workerd itself;
``expirationTtl`` and ``expiration`` at least 60 s ahead; metadata ≤ 1024 bytes of JSON;
values ≤ 25 MiB; list ``limit`` 1..1000 with an opaque cursor; bulk get 1..100 keys of type
text/json only; bad JSON under ``type="json"`` is a ``SyntaxError``. Expired keys read as
missing and are left out of lists. Messages were checked against Pyodide + Miniflare
(``python -m devkit.parity``).

Storage is one SQLite file per namespace (``<state>/kv/<BINDING>/kv.sqlite3``): ordered
listing and atomic overwrite for free, and safe to share between threads and processes.
"""

import base64
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from devkit.embedded.jsvalues import JsDict, JsException, check_sendable, js_string, options, to_py
from devkit.embedded.meter import binding_call

MIN_EXPIRATION_TTL = 60
MIN_CACHE_TTL = 30
MAX_LIST_KEYS = 1000
MAX_KEY_SIZE = 512
MAX_VALUE_SIZE = 25 * 1024 * 1024
MAX_METADATA_SIZE = 1024
MAX_BULK_GET_KEYS = 100
TYPES = ("text", "json", "arrayBuffer", "stream")

_SCHEMA = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, expiration INTEGER, metadata TEXT)"


def _fail(op: str, status: int, message: str) -> JsException:
    return JsException(f"KV {op} failed: {status} {message}")


def _js_int(value: Any) -> int | None:
    """``parseInt(String(value))``: leading digits, or None for NaN."""
    text = str(value).strip()
    digits = ""
    for i, ch in enumerate(text):
        if ch.isdigit() or (i == 0 and ch in "+-"):
            digits += ch
        else:
            break
    try:
        return int(digits)
    except ValueError:
        return None


def _validate_key(op: str, key: Any) -> str:
    if not isinstance(key, str):
        key = str(key)
    if key == "":  # workerd checks these before Miniflare sees the request
        raise JsException("Key name cannot be empty.", "TypeError")
    if key in (".", ".."):
        raise JsException(f'"{key}" is not allowed as a key name.', "TypeError")
    size = len(key.encode("utf-8"))
    if size > MAX_KEY_SIZE:
        raise _fail(op, 414, f"UTF-8 encoded length of {size} exceeds key length limit of {MAX_KEY_SIZE}.")
    return key


class KVNamespace:
    """``env.CONFIG_CACHE``: get / getWithMetadata / put / delete / list. ``calls`` counts operations."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.calls = 0
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.directory / "kv.sqlite3", timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA synchronous = OFF")  # local dev state, as in d1.py
            self._conn.execute("PRAGMA journal_mode = TRUNCATE")
            self._conn.execute(_SCHEMA)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- reads -----------------------------------------------------------------------
    def _entry(self, key: str) -> tuple[bytes, int | None, Any] | None:
        row = self._db().execute("SELECT value, expiration, metadata FROM kv WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        value, expiration, metadata = row
        if expiration is not None and expiration <= time.time():
            self._db().execute("DELETE FROM kv WHERE key = ? AND expiration = ?", (key, expiration))
            return None
        return bytes(value), expiration, None if metadata is None else json.loads(metadata)

    @staticmethod
    def _read_options(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if args and isinstance(args[0], str):  # get(key, "json")
            return {"type": args[0], **kwargs}
        opts = options(args, kwargs, 0)
        cache_ttl = opts.get("cacheTtl")
        if cache_ttl is not None and (not isinstance(cache_ttl, (int, float)) or cache_ttl < MIN_CACHE_TTL):
            raise _fail("GET", 400, f"Invalid cache_ttl of {cache_ttl}. Cache TTL must be at least {MIN_CACHE_TTL}.")
        return opts

    @staticmethod
    def _decode(value: bytes, kind: str) -> Any:
        if kind == "text":
            return value.decode("utf-8", "replace")
        if kind == "json":
            text = value.decode("utf-8", "replace")
            try:
                return to_py(json.loads(text))
            except ValueError:  # JSON.parse's SyntaxError, worded as V8 words it
                shown = text if len(text) <= 30 else text[:10] + "..." + text[-10:]
                token = text[:1] or "end of JSON input"
                raise JsException(f"Unexpected token '{token}', \"{shown}\" is not valid JSON", "SyntaxError") from None
        if kind == "arrayBuffer":
            return memoryview(value)  # what to_py makes of an ArrayBuffer
        raise JsException(
            'Unknown response type. Possible types are "text", "arrayBuffer", "json", and "stream".',
            "TypeError",
        )

    async def get(self, key: Any, *args: Any, **kwargs: Any) -> Any:
        return await self._get(key, args, kwargs, with_metadata=False)

    async def getWithMetadata(self, key: Any, *args: Any, **kwargs: Any) -> Any:
        return await self._get(key, args, kwargs, with_metadata=True)

    async def _get(self, key: Any, args: tuple[Any, ...], kwargs: dict[str, Any], with_metadata: bool) -> Any:
        opts = self._read_options(args, kwargs)
        kind = opts.get("type") or "text"
        if kind == "stream":
            raise JsException("the embedded KV has no streams; use text, json or arrayBuffer", "TypeError")
        if kind not in TYPES:
            self._decode(b"", kind)  # raises workerd's "Unknown response type" error
        if isinstance(key, list):
            with binding_call("kv"):  # a bulk get is one operation
                self.calls += 1
                return self._bulk_get(key, kind, with_metadata)
        key = _validate_key("GET", key)
        with binding_call("kv"):
            self.calls += 1
            entry = self._entry(key)
        value = None if entry is None else self._decode(entry[0], kind)
        if not with_metadata:
            return value
        metadata = None if entry is None else to_py(entry[2])
        return JsDict(value=value, metadata=metadata, cacheStatus=None)

    def _bulk_get(self, keys: list[Any], kind: str, with_metadata: bool) -> JsDict:
        if kind not in ("text", "json"):
            raise _fail("GET_BULK", 400, f'"{kind}" is not a valid type. Use "json" or "text"')
        if len(keys) > MAX_BULK_GET_KEYS:
            raise _fail("GET_BULK", 400, f"You can request a maximum of {MAX_BULK_GET_KEYS} keys")
        if not keys:
            raise _fail("GET_BULK", 400, "You must request a minimum of 1 key")
        out = JsDict()
        for key in keys:
            entry = self._entry(_validate_key("GET_BULK", key))
            if entry is None:
                out[key] = None
                continue
            try:
                value = self._decode(entry[0], kind)
            except ValueError:
                msg = f"At least one of the requested keys corresponds to a non-{kind} value"
                raise _fail("GET_BULK", 400, msg) from None
            out[key] = JsDict(value=value, metadata=to_py(entry[2])) if with_metadata else value
        return out

    # -- writes ----------------------------------------------------------------------
    async def put(self, key: Any, value: Any, *args: Any, **kwargs: Any) -> None:
        key = _validate_key("PUT", key)
        opts = options(args, kwargs, 0)
        data = self._value_bytes(value)
        expiration = self._expiration(opts)
        metadata = None if opts.get("metadata") is None else json.dumps(opts["metadata"], separators=(",", ":"))
        if metadata is not None and len(metadata.encode("utf-8")) > MAX_METADATA_SIZE:
            size = len(metadata.encode("utf-8"))
            raise _fail("PUT", 413, f"Metadata length of {size} exceeds limit of {MAX_METADATA_SIZE}.")
        if len(data) > MAX_VALUE_SIZE:
            raise _fail("PUT", 413, f"Value length of {len(data)} exceeds limit of {MAX_VALUE_SIZE}.")
        with binding_call("kv"):
            self.calls += 1
            self._db().execute(
                "INSERT OR REPLACE INTO kv (key, value, expiration, metadata) VALUES (?, ?, ?, ?)",
                (key, data, expiration, metadata),
            )

    @staticmethod
    def _value_bytes(value: Any) -> bytes:
        check_sendable(value)
        if isinstance(value, str):
            return value.encode("utf-8")
        if isinstance(value, (bytes, memoryview)):
            return bytes(value)
        if value is None or isinstance(value, (bool, int, float)):
            # workerd takes the value where a string is expected: String(5) == "5", String(null) == "null"
            # (seen on Miniflare: parity contract kv_put_coerces_values_to_strings).
            return js_string(value).encode("utf-8")
        raise JsException(
            "KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values.",
            "TypeError",
        )

    @staticmethod
    def _expiration(opts: dict[str, Any]) -> int | None:
        now = int(time.time())
        if opts.get("expirationTtl") is not None:
            raw = opts["expirationTtl"]
            ttl = _js_int(raw)
            if ttl is None or ttl <= 0:
                raise _fail("PUT", 400, f"Invalid expiration_ttl of {raw}. Please specify integer greater than 0.")
            if ttl < MIN_EXPIRATION_TTL:
                msg = f"Invalid expiration_ttl of {raw}. Expiration TTL must be at least {MIN_EXPIRATION_TTL}."
                raise _fail("PUT", 400, msg)
            return now + ttl
        if opts.get("expiration") is not None:
            raw = opts["expiration"]
            expiration = _js_int(raw)
            if expiration is None or expiration <= now:
                raise _fail(
                    "PUT",
                    400,
                    f"Invalid expiration of {raw}. Please specify integer greater than the current number of "
                    "seconds since the UNIX epoch.",
                )
            if expiration < now + MIN_EXPIRATION_TTL:
                msg = (
                    f"Invalid expiration of {raw}. Expiration times must be at least {MIN_EXPIRATION_TTL} "
                    "seconds in the future."
                )
                raise _fail("PUT", 400, msg)
            return expiration
        return None

    async def delete(self, key: Any) -> None:
        key = _validate_key("DELETE", key)
        with binding_call("kv"):
            self.calls += 1
            self._db().execute("DELETE FROM kv WHERE key = ?", (key,))

    # -- list ------------------------------------------------------------------------
    async def list(self, *args: Any, **kwargs: Any) -> JsDict:
        opts = options(args, kwargs, 0)
        limit = opts.get("limit", MAX_LIST_KEYS)
        if not isinstance(limit, (int, float)) or limit < 1:
            raise _fail("GET", 400, f"Invalid key_count_limit of {limit}. Please specify an integer greater than 0.")
        if limit > MAX_LIST_KEYS:
            raise _fail(
                "GET", 400, f"Invalid key_count_limit of {limit}. Please specify an integer less than {MAX_LIST_KEYS}."
            )
        prefix = opts.get("prefix") or ""
        if len(prefix.encode("utf-8")) > MAX_KEY_SIZE:
            size = len(prefix.encode("utf-8"))
            raise _fail("GET", 414, f"UTF-8 encoded length of {size} exceeds key length limit of {MAX_KEY_SIZE}.")
        after = self._cursor_key(opts.get("cursor"))
        with binding_call("kv"):
            self.calls += 1
            rows = (
                self._db()
                .execute(
                    "SELECT key, expiration, metadata FROM kv WHERE substr(key, 1, ?) = ? AND key > ? "
                    "AND (expiration IS NULL OR expiration > ?) ORDER BY key LIMIT ?",
                    (len(prefix), prefix, after, time.time(), int(limit) + 1),
                )
                .fetchall()
            )
        page = rows[: int(limit)]
        keys = [self._key_entry(*row) for row in page]
        result = JsDict(keys=keys, list_complete=len(rows) <= int(limit), cacheStatus=None)
        if not result["list_complete"]:
            result["cursor"] = base64.urlsafe_b64encode(page[-1][0].encode("utf-8")).decode("ascii")
        return result

    @staticmethod
    def _key_entry(name: str, expiration: int | None, metadata: str | None) -> JsDict:
        entry = JsDict(name=name)
        if expiration is not None:
            entry["expiration"] = expiration
        if metadata is not None:
            entry["metadata"] = to_py(json.loads(metadata))
        return entry

    @staticmethod
    def _cursor_key(cursor: Any) -> str:
        if not cursor:
            return ""
        try:
            return base64.urlsafe_b64decode(str(cursor).encode("ascii")).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise _fail("GET", 400, "Invalid cursor") from None
