"""One total deadline per delivery attempt, on every runtime.

httpx's ``Timeout`` bounds each phase (connect, each read, each write) separately: an answer that
keeps arriving slowly never trips it. The deadline here bounds the attempt as a whole by cancelling
it; on Pyodide the fetch transport also aborts the JS ``fetch`` (its ``AbortController``), so the
connection does not outlive the attempt.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx


class DeadlineExceeded(httpx.TimeoutException):
    """The attempt did not complete (answer body included) within its total deadline."""


@asynccontextmanager
async def attempt_deadline(seconds: float) -> AsyncIterator[None]:
    """Cancel the block after ``seconds`` and raise :class:`DeadlineExceeded` (an ``httpx.TimeoutException``)."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise DeadlineExceeded(f"no complete answer within {seconds:g}s") from None
