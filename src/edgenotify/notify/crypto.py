"""Channel configs at rest: AES-256-GCM when ``CONFIG_ENCRYPTION_KEY`` is set, plain JSON otherwise.

Stored form: ``enc:v1:<base64(nonce[12] + ciphertext + tag[16])>``. The nonce is random per write
(96 bits, as GCM wants), and the associated data binds the ciphertext to its row
(``"{user_id}/{channel}"``), so a ciphertext copied into another user's row does not decrypt.
The key is the secret ``CONFIG_ENCRYPTION_KEY``: base64 of 32 random bytes.

``cryptography`` is imported inside the functions, never at module level: the parity runtime
(Pyodide offline) cannot load compiled wheels, and plaintext configs must keep working there.
Failures are :class:`ConfigCryptoError` (a clear code), never an unexplained 500.
"""

import base64
import binascii
import os

from edgenotify import errors
from edgenotify.errors import DomainError

PREFIX = "enc:v1:"
NONCE_BYTES = 12
KEY_BYTES = 32


class ConfigCryptoError(DomainError):
    """The stored config cannot be sealed or opened with the configured key (server-side state)."""


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX)


def parse_key(key_b64: str) -> bytes:
    """Decode the base64 key; 32 bytes or :class:`ConfigCryptoError` (``encryption_key_invalid``)."""
    try:
        key = base64.b64decode(key_b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigCryptoError(errors.ENCRYPTION_KEY_INVALID, "CONFIG_ENCRYPTION_KEY must be base64 of 32 bytes")
    return key


def encrypt(plaintext: str, key_b64: str, aad: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(parse_key(key_b64)).encrypt(nonce, plaintext.encode("utf-8"), aad.encode("utf-8"))
    return PREFIX + base64.b64encode(nonce + sealed).decode("ascii")


def decrypt(stored: str, key_b64: str | None, aad: str) -> str:
    if not key_b64:
        raise ConfigCryptoError(
            errors.CONFIG_DECRYPTION_FAILED, "stored config is encrypted but CONFIG_ENCRYPTION_KEY is not set"
        )
    key = parse_key(key_b64)
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        blob = base64.b64decode(stored[len(PREFIX) :], validate=True)
        if len(blob) < NONCE_BYTES + 16:
            raise ValueError("ciphertext too short")
        plain = AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad.encode("utf-8"))
        return plain.decode("utf-8")
    except (InvalidTag, binascii.Error, ValueError):
        raise ConfigCryptoError(
            errors.CONFIG_DECRYPTION_FAILED,
            "stored config cannot be decrypted with the configured CONFIG_ENCRYPTION_KEY",
        ) from None


def seal(plaintext: str, key_b64: str | None, aad: str) -> str:
    """The stored form of ``plaintext``: encrypted when a key is configured, as is otherwise."""
    return encrypt(plaintext, key_b64, aad) if key_b64 else plaintext


def unseal(stored: str, key_b64: str | None, aad: str) -> str:
    """The plaintext of a stored value; plaintext rows (written before a key was set) pass through."""
    return decrypt(stored, key_b64, aad) if is_encrypted(stored) else stored
