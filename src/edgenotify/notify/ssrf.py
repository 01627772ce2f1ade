"""Outbound URL policy (SSRF): a user-supplied URL may only point at the public internet over https.

Why here and not at delivery time only: a config that can never be delivered should be refused
when it is written, with a 422 naming the field, rather than fail later in a retry loop. Delivery
code calls :func:`check_url` again before each request, so a rule tightened later still applies.

Rules: https only; no credentials in the URL; a host is required; no ``localhost`` names; an IP
literal must be canonical (dotted-quad IPv4 or bracketed IPv6 — decimal, hex, octal and short
forms such as ``2130706433`` or ``0x7f.1`` are refused, because resolvers disagree on them) and
must be globally routable (private, loopback, link-local, shared, reserved, multicast and
unspecified ranges are refused, including IPv4 embedded in IPv6: mapped, NAT64, 6to4, Teredo).
In ``development`` loopback targets (``127.0.0.0/8``, ``::1``, ``localhost``) are allowed over
http or https so tests can deliver to local receivers. Names are not resolved (the edge has no
DNS API); Cloudflare's outbound fetch cannot reach private networks anyway.
"""

import ipaddress
import re
from urllib.parse import urlsplit

from edgenotify.http.errors import ApiError

MAX_URL_LENGTH = 2048
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
# Special-purpose ranges that Python 3.13's ``ipaddress`` (the edge's) counts as non-global but 3.11's
# does not (whole blocks, refused here on every interpreter so the policy does not depend on it):
# IETF protocol assignments, the local-use NAT64 prefix, IETF protocol assignments in IPv6,
# documentation (3fff::/20) and SRv6 SIDs.
_NOT_GLOBAL = tuple(
    ipaddress.ip_network(n) for n in ("192.0.0.0/24", "64:ff9b:1::/48", "2001::/23", "3fff::/20", "5f00::/16")
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ApiError):
    """A URL the outbound policy refuses: 422 ``unsafe_url`` naming the field."""

    def __init__(self, message: str, field: str):
        super().__init__(422, "unsafe_url", message, field=field)


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    return None


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_v4(address)
        if inner is not None and not _is_public(inner):
            return False
    refused = (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
        or any(address in network for network in _NOT_GLOBAL if network.version == address.version)
    )
    return not refused


def _shown(address: IPAddress) -> str:
    """The address as errors print it: an IPv4-mapped IPv6 address as ``::ffff:a.b.c.d`` on every Python
    (3.13 prints that form, 3.11 prints ``::ffff:a00:1``)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def _is_loopback(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _parse_host(host: str, field: str) -> IPAddress | str:
    """An IP address for IP literals, else the validated lower-case host name."""
    if host.startswith("["):
        try:
            return ipaddress.IPv6Address(host[1:-1].split("%")[0] if host.endswith("]") else "")
        except ValueError:
            raise UnsafeUrl("malformed IPv6 address in URL", field) from None
    name = host.lower().rstrip(".")
    labels = name.split(".")
    if labels and _NUMERIC_LABEL.match(labels[-1]):
        # WHATWG parsers treat a numeric last label as IPv4: only the canonical form is accepted.
        try:
            address = ipaddress.IPv4Address(name)
        except ValueError:
            raise UnsafeUrl("IP address must be written as four decimal octets", field) from None
        if str(address) != name:
            raise UnsafeUrl("IP address must be written as four decimal octets", field)
        return address
    if not name.isascii() or not _HOSTNAME.match(name):
        raise UnsafeUrl("host is not a valid (ASCII/punycode) host name", field)
    return name


def check_url(url: str, development: bool, field: str = "url") -> str:
    """Return ``url`` if the outbound policy allows it, else raise :class:`UnsafeUrl` (422).

    ``development`` additionally allows loopback targets over http(s). ``field`` is reported
    in the error so the client knows which config value was refused.
    """
    if not isinstance(url, str) or not url:
        raise UnsafeUrl("URL is required", field)
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"URL is longer than {MAX_URL_LENGTH} characters", field)
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url) or "\\" in url:
        raise UnsafeUrl("URL contains whitespace, control characters or backslashes", field)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise UnsafeUrl("URL is malformed", field) from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeUrl("URL must use https", field)
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise UnsafeUrl("URL must not contain credentials", field)
    netloc = parts.netloc
    raw_host = netloc[: netloc.index("]") + 1] if netloc.startswith("[") and "]" in netloc else netloc.split(":")[0]
    if not raw_host:
        raise UnsafeUrl("URL has no host", field)
    host = _parse_host(raw_host, field)
    if isinstance(host, str):
        loopback = host in _LOCAL_NAMES or host.endswith(".localhost")
    else:
        loopback = _is_loopback(host)
    if development and loopback:
        return url
    if scheme != "https":
        raise UnsafeUrl("URL must use https", field)
    if loopback:
        raise UnsafeUrl("URL must not point at localhost", field)
    if not isinstance(host, str) and not _is_public(host):
        raise UnsafeUrl(f"URL points at a non-public address ({_shown(host)})", field)
    return url
