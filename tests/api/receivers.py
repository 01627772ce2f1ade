"""Real loopback HTTP receivers for delivery tests: each is a small threaded HTTP server.

A receiver records every request (headers, raw body, parsed JSON) BEFORE it answers, so once
``worker.drain()`` has returned — the worker's httpx call has completed — the request is already
in ``requests``: tests never sleep. Answers are scripted: a queue of one-off answers, then the
default answer. ``hang()`` makes the receiver hold requests until the test ends (timeouts).

Three flavours verify what the real services verify:

* :class:`WebhookReceiver` — the Standard Webhooks signature (``webhook-id``/``-timestamp``/
  ``-signature``, HMAC-SHA256 keyed by the base64 secret after ``whsec_``, 5-minute tolerance);
* :class:`TelegramReceiver` — the Bot API path ``/bot<token>/sendMessage`` and its JSON body,
  answering ``{"ok": true, ...}``, or a 429 with ``parameters.retry_after`` on request;
* :class:`LarkReceiver` — the bot body, and ``timestamp``/``sign`` (HMAC-SHA256 keyed by
  ``"{timestamp}\\n{secret}"`` over an empty message) when a secret is configured; answers
  ``{"code": 0}`` or Lark's sign error (code 19021) when the signature is wrong.
"""

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_SECONDS = 300


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    verified: bool | None = None  # signature check (None: nothing to verify)
    problem: str | None = None  # why verification failed

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    """A threaded HTTP server on 127.0.0.1 (port chosen by the OS)."""

    default = Answer(200, {"ok": True})

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.answers: deque[Answer] = deque()
        self.fallback = self.default
        self._lock = threading.Lock()
        self._hanging = False
        self._drip: float | None = None
        self.before_answer: Any = None  # optional callable run (in the server thread) before answering
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                receiver._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # A short poll interval keeps shutdown() (which waits for the next poll) fast at teardown.
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    # -- scripting ------------------------------------------------------------------------
    def answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None, times: int = 1) -> None:
        """Queue ``times`` one-off answers (used before the default answer)."""
        for _ in range(times):
            self.answers.append(Answer(status, {} if body is None else body, headers or {}))

    def always(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.fallback = Answer(status, {} if body is None else body, headers or {})

    def hang(self) -> None:
        """Hold every request until :meth:`close` (the client's timeout fires first)."""
        self._hanging = True

    def drip(self, interval: float) -> None:
        """Answer 200 with headers at once, then the body one byte per ``interval`` seconds."""
        self._drip = interval

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    # -- serving ------------------------------------------------------------------------
    def verify(self, record: Recorded) -> Answer | None:
        """Check the request; may return an answer that overrides the script (e.g. a sign error)."""
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        record = Recorded(handler.command, handler.path, headers, body)
        override = self.verify(record)
        with self._lock:
            self.requests.append(record)
            answer = override or (self.answers.popleft() if self.answers else self.fallback)
        if self._hanging:
            self._release.wait(30)
            return
        if self.before_answer is not None:
            self.before_answer()
        payload = json.dumps(answer.body).encode() if not isinstance(answer.body, bytes) else answer.body
        if self._drip is not None:
            self._send_dripping(handler, payload)
            return
        handler.send_response(answer.status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(payload)))
        for name, value in answer.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)

    def _send_dripping(self, handler: BaseHTTPRequestHandler, payload: bytes) -> None:
        handler.send_response(200)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(payload) + 200))
        handler.end_headers()
        body = payload + b" " * 200
        try:
            for index in range(len(body)):
                handler.wfile.write(body[index : index + 1])
                handler.wfile.flush()
                if self._release.wait(self._drip):
                    return
        except OSError:  # the client gave up and closed the connection
            return


def webhook_signature(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class WebhookReceiver(Receiver):
    """Verifies Standard Webhooks signatures when constructed with the endpoint's secret."""

    default = Answer(200, {"received": True})

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        super().__init__()

    @property
    def url(self) -> str:
        return f"{self.base_url}/hook"

    def verify(self, record: Recorded) -> Answer | None:
        if self.secret is None:
            return None
        msg_id = record.headers.get("webhook-id", "")
        timestamp = record.headers.get("webhook-timestamp", "")
        given = record.headers.get("webhook-signature", "")
        if not msg_id or not timestamp.isdigit():
            record.verified, record.problem = False, "missing webhook-id or webhook-timestamp"
        elif abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
            record.verified, record.problem = False, "timestamp outside tolerance"
        else:
            expected = webhook_signature(self.secret, msg_id, timestamp, record.body)
            versions = [part.split(",", 1) for part in given.split()]
            record.verified = any(v == "v1" and hmac.compare_digest(sig, expected) for v, sig in versions)
            record.problem = None if record.verified else "signature mismatch"
        return None if record.verified else Answer(401, {"error": record.problem})


class TelegramReceiver(Receiver):
    """A fake Bot API: checks the token in the path, answers like Telegram."""

    default = Answer(200, {"ok": True, "result": {"message_id": 1}})

    def __init__(self, token: str) -> None:
        self.token = token
        super().__init__()

    def rate_limit(self, retry_after: int, times: int = 1) -> None:
        body = {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {retry_after}",
                "parameters": {"retry_after": retry_after}}  # fmt: skip
        self.answer(429, body, times=times)

    def verify(self, record: Recorded) -> Answer | None:
        record.verified = record.path == f"/bot{self.token}/sendMessage"
        if not record.verified:
            record.problem = f"unexpected path {record.path}"
            return Answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        return None


def lark_sign(secret: str, timestamp: str) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class LarkReceiver(Receiver):
    """A fake Lark custom bot: verifies ``sign`` when it has a secret; errors are HTTP 200 + code."""

    default = Answer(200, {"code": 0, "msg": "success", "data": {}})

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        super().__init__()

    @property
    def url(self) -> str:
        return f"{self.base_url}/open-apis/bot/v2/hook/test-hook-id"

    def verify(self, record: Recorded) -> Answer | None:
        if self.secret is None:
            return None
        try:
            data = record.json
            timestamp = str(data["timestamp"])
            record.verified = hmac.compare_digest(str(data["sign"]), lark_sign(self.secret, timestamp))
            if record.verified and abs(time.time() - int(timestamp)) > 3600:
                record.verified = False
        except (ValueError, KeyError, TypeError):
            record.verified = False
        if record.verified:
            return None
        record.problem = "sign match fail or timestamp is not within one hour from current time"
        return Answer(200, {"code": 19021, "msg": record.problem, "data": {}})
