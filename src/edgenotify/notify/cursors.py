"""One cursor scheme for every keyset-paginated list (delivery logs, templates, operator views).

A cursor is ``c1.`` + base64url(JSON list of the next page's first key values) + ``.`` + a
truncated HMAC-SHA256 over the list's name and that JSON. So a client can neither forge nor alter
one (a 400 ``invalid_cursor``, never a query on attacker-chosen values), a cursor of one list is
refused by another, and it is bounded (:data:`MAX_CURSOR_CHARS`; every value is type- and
range-checked after the MAC, so even a validly signed id beyond what D1 can bind is a 400).

The MAC key is not derived from any client's token, so rotating ``API_TOKEN`` or ``ADMIN_TOKEN``
keeps every cursor valid: it is the Worker secret ``CURSOR_SECRET`` when set, else a random key the
worker creates once in ``system_configs`` (``cursor_key``) and keeps per isolate (one small D1 read
on the first list request an isolate serves).
"""

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from typing import Any

from edgenotify import errors
from edgenotify.db.d1 import MAX_BINDABLE_INTEGER, Query
from edgenotify.errors import DomainError

MAX_CURSOR_CHARS = 512
MAX_TEXT_CHARS = 256
SECRET_VAR = "CURSOR_SECRET"
_VERSION = "c1"
_MAC_BYTES = 16
_STORED_KEY = "cursor_key"
_CREATE_KEY = (
    "INSERT INTO system_configs (config_key, config_value, description) VALUES (?, ?, ?)"
    " ON CONFLICT (config_key) DO NOTHING"
)
_READ_KEY = "SELECT config_value FROM system_configs WHERE config_key = ?"

_isolate_keys: list[tuple[Any, bytes]] = []  # (D1 binding, key): one per database this isolate serves


def invalid_cursor(message: str = "cursor is not one this API issued for this list") -> DomainError:
    return DomainError(errors.INVALID_CURSOR, message, "cursor")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def cursor_key(context: Any) -> bytes:
    """The MAC key: from ``CURSOR_SECRET``, else the database's own random key (created on first use)."""
    secret = getattr(context.env, SECRET_VAR, None)
    if secret:
        return hashlib.sha256(b"edgenotify/cursor:" + str(secret).encode()).digest()
    binding = context.db.binding
    for known, key in _isolate_keys:
        if known is binding:
            return key
    description = "MAC key of pagination cursors (random; replacing it invalidates open cursors)"
    create = Query.of(_CREATE_KEY, _STORED_KEY, secrets.token_urlsafe(32), description)
    _, read = await context.db.batch([create, Query.of(_READ_KEY, _STORED_KEY)])
    key = hashlib.sha256(b"edgenotify/cursor:" + read.rows[0]["config_value"].encode()).digest()
    _isolate_keys.append((binding, key))
    return key


def _mac(key: bytes, list_name: str, payload: bytes) -> bytes:
    return hmac.new(key, list_name.encode() + b"\n" + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def encode(key: bytes, list_name: str, values: list[str | int]) -> str:
    payload = json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode()
    return f"{_VERSION}.{_b64(payload)}.{_b64(_mac(key, list_name, payload))}"


def _valid(value: Any, kind: type) -> bool:
    if kind is int:
        return type(value) is int and 0 <= value <= MAX_BINDABLE_INTEGER
    return type(value) is str and 0 < len(value) <= MAX_TEXT_CHARS


def decode(key: bytes, list_name: str, token: str, shape: tuple[type, ...]) -> list[str | int]:
    """The key values of a cursor this API issued for ``list_name``; ``invalid_cursor`` otherwise."""
    parts = token.split(".")
    if len(token) > MAX_CURSOR_CHARS or len(parts) != 3 or parts[0] != _VERSION:
        raise invalid_cursor()
    try:
        payload, mac = _unb64(parts[1]), _unb64(parts[2])
    except (binascii.Error, ValueError):
        raise invalid_cursor() from None
    if not hmac.compare_digest(mac, _mac(key, list_name, payload)):
        raise invalid_cursor()
    try:
        values = json.loads(payload)
    except ValueError:
        raise invalid_cursor() from None
    if not isinstance(values, list) or len(values) != len(shape):
        raise invalid_cursor()
    if not all(_valid(v, kind) for v, kind in zip(values, shape, strict=True)):
        raise invalid_cursor("cursor values are out of range")
    return values
