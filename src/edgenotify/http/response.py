"""The response as the application builds it; ``entry.py`` turns it into the runtime's Response."""

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return HttpResponse(status, body, {"content-type": "application/json; charset=utf-8", **(headers or {})})
