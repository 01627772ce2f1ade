"""AES-GCM at rest through WebCrypto: round trip, random nonces, AAD binding, old values, clear errors.

Under CPython ``crypto.subtle`` is the embedded runtime's stand-in (``devkit.embedded.webcrypto``); the
contract ``crypto_sealed_values_cross_runtimes`` runs the same checks on Pyodide's real WebCrypto.
"""

import asyncio
import base64
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from devkit.embedded import webcrypto
from edgenotify.http.errors import status_of
from edgenotify.notify.channels import mask_config, mask_secret
from edgenotify.notify.channels.webhook import parse_secret as parse_webhook_secret
from edgenotify.notify.crypto import ConfigCryptoError, decrypt, encrypt, seal, unseal

KEY = base64.b64encode(bytes(range(32))).decode()
OTHER = base64.b64encode(os.urandom(32)).decode()
# Sealed with ``cryptography``'s AESGCM, as every enc:v1 value was before WebCrypto: it must keep opening.
VECTOR = "enc:v1:ZGVmZ2hpamtsbW5vMzmtAxqbM+ocWH2fshYPnh20Y2n/A4FQ2hvKyd1uvY5/6lWBi4TxiSc="
VECTOR_PLAIN = '{"secret":"whsec_vector"}'

webcrypto.install()


def run(coro):
    return asyncio.run(coro)


def test_round_trip_and_random_nonce():
    a = run(encrypt('{"secret":"whsec_x"}', KEY, "u1/webhook"))
    b = run(encrypt('{"secret":"whsec_x"}', KEY, "u1/webhook"))
    assert a.startswith("enc:v1:") and a != b and "whsec_x" not in a
    assert run(decrypt(a, KEY, "u1/webhook")) == '{"secret":"whsec_x"}'


def test_values_sealed_before_webcrypto_still_open_and_bytes_are_identical():
    assert run(decrypt(VECTOR, KEY, "u1/webhook")) == VECTOR_PLAIN
    nonce = base64.b64decode(VECTOR[len("enc:v1:") :])[:12]
    assert run(encrypt(VECTOR_PLAIN, KEY, "u1/webhook", nonce=nonce)) == VECTOR
    blob = base64.b64decode(run(encrypt("x", KEY, "a"))[len("enc:v1:") :])
    assert AESGCM(bytes(range(32))).decrypt(blob[:12], blob[12:], b"a") == b"x"


@pytest.mark.parametrize("key,aad", [(OTHER, "u1/webhook"), (KEY, "u2/webhook"), (KEY, "u1/lark")])
def test_wrong_key_or_row_is_a_clear_error(key, aad):
    sealed = run(encrypt("x", KEY, "u1/webhook"))
    with pytest.raises(ConfigCryptoError) as info:
        run(decrypt(sealed, key, aad))
    assert (status_of(info.value.code), info.value.code.name) == (503, "config_decryption_failed")


def test_missing_key_and_malformed_key():
    sealed = run(encrypt("x", KEY, "a"))
    with pytest.raises(ConfigCryptoError) as info:
        run(unseal(sealed, None, "a"))
    assert info.value.code.name == "config_decryption_failed"
    for bad in ["not base64!", base64.b64encode(b"short").decode()]:
        with pytest.raises(ConfigCryptoError) as info:
            run(seal("x", bad, "a"))
        assert info.value.code.name == "encryption_key_invalid"
    for corrupt in ["enc:v1:%%%", "enc:v1:AAAA"]:
        with pytest.raises(ConfigCryptoError):
            run(decrypt(corrupt, KEY, "a"))


def test_plaintext_passes_through_without_key_and_with_key():
    assert run(seal("{}", None, "a")) == "{}"
    assert run(unseal("{}", None, "a")) == "{}" and run(unseal("{}", KEY, "a")) == "{}"


def test_embedded_subtle_refuses_what_webcrypto_refuses():
    subtle = webcrypto.Crypto().subtle
    for args, name in [
        (("jwk", bytes(32), {"name": "AES-GCM"}, False, ["encrypt"]), "NotSupportedError"),
        (("raw", bytes(32), {"name": "AES-CBC"}, False, ["encrypt"]), "NotSupportedError"),
        (("raw", bytes(32), {"name": "AES-GCM"}, False, ["sign"]), "SyntaxError"),
        (("raw", bytes(7), {"name": "AES-GCM"}, False, ["encrypt"]), "DataError"),
    ]:
        with pytest.raises(webcrypto.JsException) as info:
            run(subtle.importKey(*args))
        assert info.value.name == name
    key = run(subtle.importKey("raw", bytes(32), {"name": "AES-GCM"}, False, ["decrypt"]))
    with pytest.raises(webcrypto.JsException) as info:
        run(subtle.encrypt({"name": "AES-GCM", "iv": bytes(12)}, key, b"x"))
    assert info.value.name == "InvalidAccessError"


def test_masking():
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    assert mask_secret(secret, "whsec_") == "whsec_****" + secret[-4:]
    assert (
        mask_config("webhook", {"url": "https://x.example", "secret": secret})["secret"] == "whsec_****" + secret[-4:]
    )
    assert mask_secret("short") == "****"
    masked = mask_config(
        "lark", {"webhook_url": "https://open.feishu.cn/open-apis/bot/v2/hook/abcdef0123456789", "secret": "s" * 20}
    )
    assert masked == {"webhook_url": "https://open.feishu.cn/open-apis/bot/v2/hook/****6789", "secret": "****ssss"}
    assert mask_config("telegram", {"bot_token": "123:" + "A" * 35, "chat_id": "42"})["bot_token"] == "****AAAA"


def test_webhook_secret_format():
    assert len(parse_webhook_secret("whsec_" + base64.b64encode(b"k" * 24).decode())) == 24
    for bad in ["nope", "whsec_***", "whsec_" + base64.b64encode(b"k" * 10).decode()]:
        with pytest.raises(ValueError):
            parse_webhook_secret(bad)


def test_a_web_api_the_embedded_runtime_does_not_provide_is_a_clear_error():
    from edgenotify import webapi

    with pytest.raises(RuntimeError, match="does not exist under CPython"):
        webapi.web_global("SomethingElse")
    assert webapi.to_js({"a": b"x"}) == {"a": b"x"}  # CPython: arguments pass unchanged
