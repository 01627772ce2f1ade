"""What one delivery attempt produced, and how an HTTP answer becomes one.

Every channel turns its answer into an :class:`Attempt` the same way: 2xx is success, anything
else (3xx — redirects are never followed —, 4xx, 5xx, timeouts, network errors) is a failure
whose ``error`` says why. ``retry_after`` carries the receiver's own pacing request, and
``permanent`` marks failures no retry can fix (e.g. a URL the outbound policy refuses).
"""

from dataclasses import dataclass
from typing import Any

from edgenotify.clock import utcnow
from edgenotify.notify.delivery.backoff import parse_retry_after

MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class Message:
    """A rendered message bound for one channel: exactly what ``notification_logs`` stores."""

    message_id: str
    user_id: str
    channel: str
    subject: str | None
    content: str
    template_key: str | None = None
    created_at: str | None = None

    @property
    def text(self) -> str:
        """Subject and content as one plain text, for chat channels that have no subject."""
        return f"{self.subject}\n\n{self.content}" if self.subject else self.content


@dataclass(frozen=True)
class Attempt:
    ok: bool
    error: str | None = None
    status_code: int | None = None
    retry_after: float | None = None
    permanent: bool = False


def failure(error: str, *, status_code: int | None = None, retry_after: float | None = None, permanent: bool = False):
    return Attempt(False, error[:MAX_ERROR_CHARS], status_code, retry_after, permanent)


def from_response(response: Any, body_error: str | None = None, retry_after: float | None = None) -> Attempt:
    """An httpx response as an attempt; ``body_error`` marks a 2xx whose body reports a failure."""
    status = response.status_code
    header_delay = parse_retry_after(response.headers.get("retry-after"), utcnow())
    delay = retry_after if retry_after is not None else header_delay
    if 200 <= status < 300:
        if body_error:
            return failure(f"HTTP {status}: {body_error}", status_code=status, retry_after=delay)
        return Attempt(True, status_code=status)
    if 300 <= status < 400:
        location = response.headers.get("location", "")
        return failure(f"HTTP {status}: redirect to {location!r} not followed", status_code=status)
    snippet = " ".join(response.text[:200].split())
    return failure(f"HTTP {status}: {snippet}" if snippet else f"HTTP {status}", status_code=status, retry_after=delay)


def json_body(response: Any) -> dict[str, Any]:
    """The response body as a JSON object, or ``{}`` when it is not one."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
