"""Outbound HTTP for deliveries: one httpx client API, one transport per runtime, one deadline per attempt.

The interface the delivery code uses (stable)::

    client = make_client(timeout)            # an httpx.AsyncClient; use it as ``async with client:``
    async with attempt_deadline(timeout):    # the whole attempt, answer body included, or DeadlineExceeded
        response = await client.post(...)

httpx stays the client on both runtimes; what moves the bytes differs, as httpx's own ``_transports/``
split it (one ``AsyncBaseTransport`` interface, one module per backend):

* CPython (embedded runtime, tests): httpx's own transport (:mod:`.native`, sockets + TLS).
* Pyodide (the edge): :class:`.fetch.FetchTransport` over the runtime's ``fetch``. httpx's default
  transport cannot even be built there (``httpcore`` imports ``ssl``, which Pyodide lacks).

Either way redirects are never followed (a 3xx is the answer) and :func:`attempt_deadline` bounds the
whole attempt: httpx's timeouts are per phase, so a receiver trickling one byte every 2 s kept a 3 s-timeout
attempt open for minutes.
"""

import httpx

from edgenotify import usage
from edgenotify.notify.delivery.transport.deadline import DeadlineExceeded, attempt_deadline
from edgenotify.webapi import ON_PYODIDE

__all__ = ["DeadlineExceeded", "attempt_deadline", "make_client"]


def make_client(timeout: float) -> httpx.AsyncClient:
    """A client for one batch of deliveries: no redirects followed, ``timeout`` seconds per phase.

    Never fails on Pyodide (it does not touch ``ssl`` there); on CPython it reuses the isolate's one TLS
    context (:func:`.native.ssl_context`).
    """
    options = {
        "timeout": httpx.Timeout(timeout),
        "follow_redirects": False,
        "event_hooks": {"request": [usage.on_request]},  # each request counts in the invocation's log line
    }
    if ON_PYODIDE:
        from edgenotify.notify.delivery.transport.fetch import FetchTransport

        return httpx.AsyncClient(transport=FetchTransport(), **options)
    from edgenotify.notify.delivery.transport.native import ssl_context

    return httpx.AsyncClient(verify=ssl_context(), **options)
