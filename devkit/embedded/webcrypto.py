"""``crypto.subtle`` for the embedded runtime, backed by ``cryptography``.

On the edge the worker's WebCrypto is workerd's; under CPython there is none, so this module provides the
part of the Web Crypto API the worker uses, with the same calls and the same answers as Pyodide shows them:
promise-returning methods (here coroutines) named as in JS, results as ``ArrayBuffer`` values read with
``.to_bytes()``, keys as opaque ``CryptoKey`` objects, failures as ``JsException`` with the JS error name
(``OperationError`` for a failed authentication, ``NotSupportedError``, ``SyntaxError``, ``DataError``,
``InvalidAccessError``). Provided: AES-GCM through ``importKey("raw")``, ``encrypt`` and ``decrypt`` — what
``edgenotify.notify.crypto`` calls (HMAC signing stays on the stdlib ``hmac``, which Pyodide runs as is).
``install()`` registers it through ``edgenotify.webapi.provide``. ``cryptography`` is a development
dependency only.
"""

from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from devkit.embedded.jsvalues import JsException
from edgenotify import webapi

AES_KEY_BYTES = (16, 24, 32)
GCM_USAGES = {"encrypt", "decrypt"}


class ArrayBuffer:
    """A JS ``ArrayBuffer`` as Pyodide presents it: ``byteLength`` and ``to_bytes()``."""

    def __init__(self, data: bytes):
        self._data = bytes(data)

    @property
    def byteLength(self) -> int:  # noqa: N802 - the JS name
        return len(self._data)

    def to_bytes(self) -> bytes:
        return self._data


class CryptoKey:
    """An opaque key: the algorithm, its usages, and the raw bytes (never exposed: not extractable)."""

    def __init__(self, algorithm: str, raw: bytes, usages: set[str]):
        self.type = "secret"
        self.extractable = False
        self.algorithm = {"name": algorithm}
        self.usages = sorted(usages)
        self._raw = raw


def _name(algorithm: Any) -> str:
    name = algorithm if isinstance(algorithm, str) else (algorithm or {}).get("name")
    if not isinstance(name, str):
        raise JsException("Algorithm: name: Missing or not a string", "TypeError")
    return name


def _data(value: Any, what: str) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise JsException(f"Failed to execute: {what} is not a BufferSource", "TypeError")


def _check(key: Any, algorithm: str, usage: str) -> None:
    if not isinstance(key, CryptoKey):
        raise JsException("parameter 2 is not of type 'CryptoKey'", "TypeError")
    if key.algorithm["name"] != algorithm or usage not in key.usages:
        raise JsException("The requested operation is not valid for the provided key", "InvalidAccessError")


class SubtleCrypto:
    """``crypto.subtle``: the methods the worker calls, with WebCrypto's argument rules."""

    async def importKey(self, fmt: str, key_data: Any, algorithm: Any, extractable: bool, usages: Any) -> CryptoKey:  # noqa: N802
        name = _name(algorithm)
        if fmt != "raw":
            raise JsException(f"Unsupported key format: {fmt}", "NotSupportedError")
        if name != "AES-GCM":
            raise JsException(f"Unrecognized algorithm name: {name}", "NotSupportedError")
        wanted = set(usages or [])
        if not wanted or not wanted <= GCM_USAGES:
            raise JsException(f"Unsupported key usage for a {name} key", "SyntaxError")
        raw = _data(key_data, "keyData")
        if len(raw) not in AES_KEY_BYTES:
            raise JsException("Invalid key length", "DataError")
        return CryptoKey(name, raw, wanted)

    async def encrypt(self, algorithm: Any, key: Any, data: Any) -> ArrayBuffer:
        nonce, aad = self._gcm(algorithm, key, "encrypt")
        return ArrayBuffer(AESGCM(key._raw).encrypt(nonce, _data(data, "data"), aad))

    async def decrypt(self, algorithm: Any, key: Any, data: Any) -> ArrayBuffer:
        nonce, aad = self._gcm(algorithm, key, "decrypt")
        try:
            return ArrayBuffer(AESGCM(key._raw).decrypt(nonce, _data(data, "data"), aad))
        except InvalidTag:
            raise JsException("The operation failed for an operation-specific reason", "OperationError") from None

    @staticmethod
    def _gcm(algorithm: Any, key: Any, usage: str) -> tuple[bytes, bytes | None]:
        _check(key, _name(algorithm), usage)
        nonce = _data(algorithm.get("iv"), "iv")
        if not nonce:
            raise JsException("AES-GCM iv must not be empty", "OperationError")
        if algorithm.get("tagLength", 128) != 128:
            raise JsException("tagLength other than 128 is not provided here", "NotSupportedError")
        aad = algorithm.get("additionalData")
        return nonce, None if aad is None else _data(aad, "additionalData")


class Crypto:
    """The ``crypto`` global, as far as the worker uses it: ``subtle``."""

    def __init__(self) -> None:
        self.subtle = SubtleCrypto()


def install() -> None:
    """Make ``crypto`` available to ``src/`` under CPython (``edgenotify.webapi.web_global("crypto")``)."""
    webapi.provide("crypto", Crypto())
