"""AES-GCM at rest: round trip, random nonces, AAD binding, clear errors for wrong/missing/bad keys."""

import base64
import os

import pytest

from edgenotify.notify.channels import mask_config, mask_secret
from edgenotify.notify.channels.webhook import parse_secret as parse_webhook_secret
from edgenotify.notify.crypto import ConfigCryptoError, decrypt, encrypt, seal, unseal

KEY = base64.b64encode(bytes(range(32))).decode()
OTHER = base64.b64encode(os.urandom(32)).decode()


def test_round_trip_and_random_nonce():
    a = encrypt('{"secret":"whsec_x"}', KEY, "u1/webhook")
    b = encrypt('{"secret":"whsec_x"}', KEY, "u1/webhook")
    assert a.startswith("enc:v1:") and a != b and "whsec_x" not in a
    assert decrypt(a, KEY, "u1/webhook") == '{"secret":"whsec_x"}'


@pytest.mark.parametrize("key,aad", [(OTHER, "u1/webhook"), (KEY, "u2/webhook"), (KEY, "u1/lark")])
def test_wrong_key_or_row_is_a_clear_error(key, aad):
    sealed = encrypt("x", KEY, "u1/webhook")
    with pytest.raises(ConfigCryptoError) as info:
        decrypt(sealed, key, aad)
    assert (info.value.status, info.value.code) == (503, "config_decryption_failed")


def test_missing_key_and_malformed_key():
    sealed = encrypt("x", KEY, "a")
    with pytest.raises(ConfigCryptoError) as info:
        unseal(sealed, None, "a")
    assert info.value.code == "config_decryption_failed"
    for bad in ["not base64!", base64.b64encode(b"short").decode()]:
        with pytest.raises(ConfigCryptoError) as info:
            seal("x", bad, "a")
        assert info.value.code == "encryption_key_invalid"
    with pytest.raises(ConfigCryptoError):
        decrypt("enc:v1:%%%", KEY, "a")


def test_plaintext_passes_through_without_key_and_with_key():
    assert seal("{}", None, "a") == "{}"
    assert unseal("{}", None, "a") == "{}" and unseal("{}", KEY, "a") == "{}"


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
