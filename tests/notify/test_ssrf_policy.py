"""The outbound URL policy (SSRF) as a pure function: refusals name the field, dev allows loopback."""

import pytest

from edgenotify.http.errors import body_of, status_of
from edgenotify.notify.ssrf import UnsafeUrl, check_url

REFUSED = [
    "http://example.com/hook",  # not https
    "ftp://example.com/",
    "https://user:pw@example.com/",  # credentials
    "https://@example.com/",
    "https://",  # no host
    "https://exa mple.com/",
    "https://example.com:99999/",
    "https://例え.jp/",  # not punycode
    "https://127.0.0.1/",
    "https://localhost/",
    "https://api.localhost/",
    "https://2130706433/",  # decimal form of 127.0.0.1
    "https://0x7f000001/",  # hex
    "https://0177.0.0.1/",  # octal
    "https://127.1/",  # short form
    "https://10.1.2.3/",
    "https://172.16.0.1/",
    "https://192.168.1.1/",
    "https://169.254.169.254/latest/meta-data",  # cloud metadata, link-local
    "https://100.64.0.1/",  # shared address space
    "https://0.0.0.0/",
    "https://224.0.0.1/",
    "https://240.0.0.1/",
    "https://[::1]/",
    "https://[::]/",
    "https://[fe80::1]/",
    "https://[fc00::1]/",
    "https://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "https://[::ffff:a00:1]/",
    "https://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "https://[2002:c0a8:101::]/",  # 6to4 of 192.168.1.1
]

ALLOWED = [
    "https://example.com/hook?x=1",
    "https://8.8.8.8/",
    "https://[2606:4700::1111]/",
    "https://EXAMPLE.com:8443/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_refused_urls_name_the_field(url):
    with pytest.raises(UnsafeUrl) as info:
        check_url(url, development=False, field="config.url")
    assert status_of(info.value.code) == 422
    assert body_of(info.value)["error"] == {"code": "unsafe_url", "message": info.value.message, "field": "config.url"}


@pytest.mark.parametrize("url", ALLOWED)
def test_public_https_urls_pass(url):
    assert check_url(url, development=False) == url


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://localhost:9/x", "https://[::1]:1/"])
def test_development_allows_loopback_only(url):
    assert check_url(url, development=True) == url
    with pytest.raises(UnsafeUrl):
        check_url(url, development=False)


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1/", "https://192.168.0.1/", "http://example.com/", "https://2130706433/"]
)
def test_development_still_refuses_other_private_targets(url):
    with pytest.raises(UnsafeUrl):
        check_url(url, development=True)
