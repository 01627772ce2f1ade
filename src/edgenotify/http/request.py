"""The request as the application sees it: plain Python values, already read from the runtime."""

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from edgenotify.http.errors import ApiError

MAX_BODY_BYTES = 64 * 1024
# A client's x-request-id is kept when it matches; otherwise the app makes one (the OpenAPI text shows it).
REQUEST_ID_FORMAT = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed in JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


@dataclass
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    path_params: dict[str, str] = field(default_factory=dict)
    request_id: str = ""

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.url).path) or "/"

    @property
    def query(self) -> dict[str, str]:
        """Query parameters; the last value wins for repeated names."""
        return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The body as JSON, with stable error codes for everything a client can get wrong."""
        ctype = (self.header("content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise ApiError(415, "unsupported_media_type", "Content-Type must be application/json")
        if len(self.body) > MAX_BODY_BYTES:
            raise ApiError(413, "payload_too_large", f"body exceeds {MAX_BODY_BYTES} bytes")
        try:
            data = json.loads(self.body.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float)
            # Lone surrogates (``"\ud800"``) are valid JSON but not encodable text: refuse them here, not
            # later as a 500 when storing or echoing them.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
            return data
        except RecursionError:
            raise ApiError(400, "invalid_json", "body is nested too deeply") from None
        except ValueError as exc:  # includes UnicodeDecodeError / UnicodeEncodeError
            raise ApiError(400, "invalid_json", f"body is not valid JSON: {str(exc)[:200]}") from exc
