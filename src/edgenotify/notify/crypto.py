"""Channel configs at rest: AES-256-GCM when ``CONFIG_ENCRYPTION_KEY`` is set, plain JSON otherwise.

Stored form: ``enc:v1:<base64(nonce[12] + ciphertext + tag[16])>``. The nonce is random per write
(96 bits, as GCM wants), and the associated data binds the ciphertext to its row
(``"{user_id}/{channel}"``), so a ciphertext copied into another user's row does not decrypt.
The key is the secret ``CONFIG_ENCRYPTION_KEY``: base64 of 32 random bytes.

The cipher is the runtime's WebCrypto (``crypto.subtle``, reached through :mod:`edgenotify.webapi`):
workerd's on the edge, the embedded runtime's stand-in under CPython. WebCrypto's AES-GCM output is
``ciphertext + tag``, the same bytes every ``enc:v1:`` value has held since the first release, so values
written before keep opening. Its calls are promises, hence the ``async`` functions.
Failures are :class:`ConfigCryptoError` (503, a clear code), never an unexplained 500.
"""

import base64
import binascii
import os
from typing import Any

from edgenotify.http.errors import ApiError
from edgenotify.webapi import js_error_name, to_js, web_global

PREFIX = "enc:v1:"
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32


class ConfigCryptoError(ApiError):
    """The stored config cannot be sealed or opened with the configured key (server-side state)."""

    def __init__(self, code: str, message: str):
        super().__init__(503, code, message)


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX)


def parse_key(key_b64: str) -> bytes:
    """Decode the base64 key; 32 bytes or :class:`ConfigCryptoError` (``encryption_key_invalid``)."""
    try:
        key = base64.b64decode(key_b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigCryptoError("encryption_key_invalid", "CONFIG_ENCRYPTION_KEY must be base64 of 32 bytes")
    return key


async def _aes_key(key: bytes) -> Any:
    subtle = web_global("crypto").subtle
    return await subtle.importKey("raw", to_js(key), to_js({"name": "AES-GCM"}), False, to_js(["encrypt", "decrypt"]))


def _params(nonce: bytes, aad: str) -> Any:
    return to_js({"name": "AES-GCM", "iv": nonce, "additionalData": aad.encode("utf-8"), "tagLength": TAG_BYTES * 8})


async def encrypt(plaintext: str, key_b64: str, aad: str, nonce: bytes | None = None) -> str:
    """The ``enc:v1:`` form of ``plaintext``; ``nonce`` is random unless a test pins it to compare bytes."""
    key = await _aes_key(parse_key(key_b64))
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    subtle = web_global("crypto").subtle
    sealed = await subtle.encrypt(_params(nonce, aad), key, to_js(plaintext.encode("utf-8")))
    return PREFIX + base64.b64encode(nonce + sealed.to_bytes()).decode("ascii")


async def decrypt(stored: str, key_b64: str | None, aad: str) -> str:
    if not key_b64:
        raise ConfigCryptoError(
            "config_decryption_failed", "stored config is encrypted but CONFIG_ENCRYPTION_KEY is not set"
        )
    key = await _aes_key(parse_key(key_b64))
    try:
        blob = base64.b64decode(stored[len(PREFIX) :], validate=True)
        if len(blob) < NONCE_BYTES + TAG_BYTES:
            raise ValueError("ciphertext too short")
        subtle = web_global("crypto").subtle
        plain = await subtle.decrypt(_params(blob[:NONCE_BYTES], aad), key, to_js(blob[NONCE_BYTES:]))
        return plain.to_bytes().decode("utf-8")
    except Exception as exc:
        # WebCrypto rejects a wrong key, row or tampered bytes with an OperationError; bad base64,
        # a short blob or non-UTF-8 plaintext are ValueErrors. Anything else is a bug: let it surface.
        if not (isinstance(exc, ValueError) or js_error_name(exc) == "OperationError"):
            raise
        raise ConfigCryptoError(
            "config_decryption_failed",
            "stored config cannot be decrypted with the configured CONFIG_ENCRYPTION_KEY",
        ) from None


async def seal(plaintext: str, key_b64: str | None, aad: str) -> str:
    """The stored form of ``plaintext``: encrypted when a key is configured, as is otherwise."""
    return await encrypt(plaintext, key_b64, aad) if key_b64 else plaintext


async def unseal(stored: str, key_b64: str | None, aad: str) -> str:
    """The plaintext of a stored value; plaintext rows (written before a key was set) pass through."""
    return await decrypt(stored, key_b64, aad) if is_encrypted(stored) else stored
