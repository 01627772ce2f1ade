"""CPython's backend: httpx's own transport (sockets, TLS), with the isolate's one TLS context."""

import ssl

import httpx

_ssl_context: ssl.SSLContext | None = None


def ssl_context() -> ssl.SSLContext:
    """The isolate's one TLS context, built on first use and shared by every client.

    A new ``httpx.AsyncClient`` otherwise builds its own context and loads certifi's CA bundle:
    20-55 ms of CPU per delivery that blocks the event loop (bench/RESULTS.md section 4). Built
    lazily, never at import: the edge snapshots imports and forbids entropy at global scope. A
    context (unlike a client and its connection pool) is not bound to an event loop, so the
    embedded server's per-thread loops can share it safely.
    """
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = httpx.create_ssl_context()
    return _ssl_context
