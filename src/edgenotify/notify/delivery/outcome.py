"""What one delivery attempt produced, and the failure policy every channel shares.

An attempt is a success, a failure worth retrying, or a permanent failure. The shared HTTP policy
(Svix's, and what the Standard Webhooks spec recommends): 2xx succeeds; a redirect (never followed),
410 Gone and any other 4xx except 408 Request Timeout and 429 Too Many Requests are permanent,
because sending the same request again cannot change the answer; 408, 429, 5xx, timeouts and
network errors are retried. A channel refines this in its own module (e.g. Telegram's "chat not
found" answers, a webhook receiver's abort header). ``retry_after`` carries the receiver's own
pacing request; ``excerpt`` the start of the answer for the attempt history (scrubbed by the
dispatcher, which knows the config's secrets).
"""

from dataclasses import dataclass
from typing import Any

from edgenotify.clock import utcnow
from edgenotify.notify.delivery.schedule import parse_retry_after

MAX_ERROR_CHARS = 500
MAX_EXCERPT_BYTES = 1024

# Error classes recorded per attempt (stable: clients filter on them).
HTTP_STATUS = "http_status"
REDIRECT = "redirect"
BODY_ERROR = "body_error"
ABORTED = "aborted"
TIMEOUT = "timeout"
NETWORK = "network"
REFUSED_URL = "refused_url"
NO_CONFIG = "no_config"
CHANNEL_DISABLED = "channel_disabled"
CONFIG_UNAVAILABLE = "config_unavailable"
INTERNAL = "internal"

RETRYABLE_4XX = frozenset({408, 429})


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
    error_class: str | None = None
    excerpt: str | None = None


def failure(
    error: str,
    error_class: str = INTERNAL,
    *,
    status_code: int | None = None,
    retry_after: float | None = None,
    permanent: bool = False,
    excerpt: str | None = None,
) -> Attempt:
    return Attempt(False, error[:MAX_ERROR_CHARS], status_code, retry_after, permanent, error_class, excerpt)


def permanent_status(status: int) -> bool:
    """Whether an HTTP status means no retry can succeed (the shared policy above)."""
    return 300 <= status < 400 or (400 <= status < 500 and status not in RETRYABLE_4XX)


def excerpt_of(response: Any) -> str | None:
    """The first KB of the answer's body (UTF-8, cut on a character boundary), or None when empty."""
    data = response.content[:MAX_EXCERPT_BYTES]
    return data.decode("utf-8", errors="ignore") or None


def from_response(
    response: Any, body_error: str | None = None, retry_after: float | None = None, permanent: bool | None = None
) -> Attempt:
    """An httpx response as an attempt; ``body_error`` marks a 2xx whose body reports a failure,
    ``permanent`` overrides the shared policy for this answer (None: the shared policy decides)."""
    status = response.status_code
    header_delay = parse_retry_after(response.headers.get("retry-after"), utcnow())
    delay = retry_after if retry_after is not None else header_delay
    excerpt = excerpt_of(response)
    final = permanent_status(status) if permanent is None else permanent
    if 200 <= status < 300:
        if not body_error:
            return Attempt(True, status_code=status, excerpt=excerpt)
        return failure(f"HTTP {status}: {body_error}", BODY_ERROR, status_code=status, retry_after=delay,
                       permanent=bool(permanent), excerpt=excerpt)  # fmt: skip
    if 300 <= status < 400:
        location = response.headers.get("location", "")
        return failure(f"HTTP {status}: redirect to {location!r} not followed", REDIRECT, status_code=status,
                       permanent=final, excerpt=excerpt)  # fmt: skip
    snippet = " ".join(response.text[:200].split())
    text = f"HTTP {status}: {body_error or snippet}" if (body_error or snippet) else f"HTTP {status}"
    return failure(text, HTTP_STATUS, status_code=status, retry_after=delay, permanent=final, excerpt=excerpt)


def json_body(response: Any) -> dict[str, Any]:
    """The response body as a JSON object, or ``{}`` when it is not one."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
