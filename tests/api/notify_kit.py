"""Helpers for the notification API tests: channel setup, sends, direct SQL, receivers.

Direct SQL (a plain sqlite3 connection to the worker's D1 file) is only used to arrange what
a test cannot wait for — making a retry due, tying timestamps — and to look at rows.
"""

import base64
import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from edgenotify.scheduled import RETRY_CRON
from tests.api.receivers import LarkReceiver, Receiver, TelegramReceiver, WebhookReceiver

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"edgenotify-test-signing-key-32b!").decode()
BOT_TOKEN = "123456:" + "A" * 35
LARK_SECRET = "lark-sign-secret"
PAST = "2000-01-01T00:00:00.000Z"


class Receivers:
    """Creates receivers for one test and closes them all at teardown."""

    def __init__(self) -> None:
        self.all: list[Receiver] = []

    def _keep(self, receiver: Any) -> Any:
        self.all.append(receiver)
        return receiver

    def webhook(self, secret: str | None = WEBHOOK_SECRET) -> WebhookReceiver:
        return self._keep(WebhookReceiver(secret))

    def telegram(self, token: str = BOT_TOKEN) -> TelegramReceiver:
        return self._keep(TelegramReceiver(token))

    def lark(self, secret: str | None = LARK_SECRET) -> LarkReceiver:
        return self._keep(LarkReceiver(secret))

    def close(self) -> None:
        for receiver in self.all:
            receiver.close()


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    made = Receivers()
    yield made
    made.close()


@pytest.fixture
def api(worker: Any) -> Iterator["Api"]:
    # Keep failing deliveries quick; a timeout test lowers it further.
    worker.server_env.DELIVERY_TIMEOUT_SECONDS = "2"
    handle = Api(worker)
    handle.get("/v1/stats", user_id="nobody")  # the first request migrates the database
    yield handle


class Api:
    """The worker seen by a client, plus SQL access to its D1 file."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self.client = worker.client
        self.auth = worker.headers("client")
        self._db: sqlite3.Connection | None = None

    # -- HTTP -------------------------------------------------------------------------------
    def put_channel(self, user: str, channel: str, config: dict[str, Any], active: bool = True) -> None:
        response = self.client.put(
            f"/v1/users/{user}/channels/{channel}", json={"config": config, "is_active": active}, headers=self.auth
        )
        assert response.status_code == 200, response.text

    def webhook_for(self, user: str, receiver: WebhookReceiver, secret: str | None = WEBHOOK_SECRET) -> None:
        self.put_channel(user, "webhook", {"url": receiver.url, **({"secret": secret} if secret else {})})

    def telegram_for(self, user: str, receiver: TelegramReceiver, chat_id: str = "42") -> None:
        self.put_channel(
            user, "telegram", {"bot_token": receiver.token, "chat_id": chat_id, "api_base": receiver.base_url}
        )

    def lark_for(self, user: str, receiver: LarkReceiver, secret: str | None = LARK_SECRET) -> None:
        self.put_channel(user, "lark", {"webhook_url": receiver.url, **({"secret": secret} if secret else {})})

    def put_template(self, key: str, body: dict[str, Any]) -> None:
        response = self.client.put(f"/v1/templates/{key}", json=body, headers=self.auth)
        assert response.status_code == 200, response.text

    def send(self, body: dict[str, Any], key: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(self.auth)
        if key is not None:
            headers["idempotency-key"] = key
        return self.client.post("/v1/notifications", json=body, headers=headers, **kwargs)

    def sent(self, body: dict[str, Any], key: str | None = None) -> dict[str, str]:
        """Send, expect 202, return channel -> message id."""
        response = self.send(body, key)
        assert response.status_code == 202, response.text
        return {m["channel"]: m["message_id"] for m in response.json()["messages"]}

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params, headers=self.auth)

    def drain(self) -> None:
        self.worker.drain()

    def retry(self) -> None:
        response = self.worker.scheduled(RETRY_CRON)
        assert response.status_code == 200, response.text

    # -- SQL --------------------------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(self.worker.state_dir / "d1" / "DB.sqlite3", timeout=30, isolation_level=None)
            self._db.row_factory = sqlite3.Row
        return self._db

    def sql(self, query: str, *params: Any) -> list[dict[str, Any]]:
        return [dict(row) for row in self.db.execute(query, params).fetchall()]

    def log(self, message_id: str) -> dict[str, Any]:
        rows = self.sql("SELECT * FROM notification_logs WHERE message_id = ?", message_id)
        assert rows, f"no row for {message_id}"
        return rows[0]

    def attempts(self, message_id: str) -> list[dict[str, Any]]:
        return self.sql("SELECT * FROM delivery_attempts WHERE message_id = ? ORDER BY attempt", message_id)

    def count_logs(self, user: str | None = None) -> int:
        if user is None:
            return self.sql("SELECT COUNT(*) AS n FROM notification_logs")[0]["n"]
        return self.sql("SELECT COUNT(*) AS n FROM notification_logs WHERE user_id = ?", user)[0]["n"]

    def make_due(self, *message_ids: str) -> None:
        """Pretend the retry time (or lease) has passed, instead of waiting for it."""
        for message_id in message_ids:
            self.sql("UPDATE notification_logs SET next_attempt_at = ? WHERE message_id = ?", PAST, message_id)

    def user_stats(self, user: str) -> dict[str, Any]:
        rows = self.sql("SELECT * FROM user_stats WHERE user_id = ?", user)
        return rows[0] if rows else {}

    def task_runs(self) -> list[dict[str, Any]]:
        return self.sql("SELECT * FROM task_execution_records WHERE task_name = 'retry_due' ORDER BY id")


class SendGate:
    """Wraps the server's D1 binding and holds every idempotent send's batch until ``expected`` of
    them are waiting, then releases them all at once.

    This forces the worst case of a race: every request has resolved its channels and generated
    its own message ids before any of them reaches D1. (Without it the embedded server might
    finish one request before the next is read.) ``_binding`` lets the auto-migrator recognise
    the wrapped database as already migrated.
    """

    def __init__(self, inner: Any, expected: int, timeout: float = 20) -> None:
        self._binding = inner
        self.expected = expected
        self.timeout = timeout
        self.held = 0
        self._open: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._binding, name)

    def prepare(self, sql: str) -> Any:
        return self._binding.prepare(sql)

    async def batch(self, statements: list[Any]) -> Any:
        import asyncio

        if statements and statements[0].statement.startswith("INSERT INTO idempotency_keys"):
            if self._open is None:
                self._open = asyncio.Event()
            self.held += 1
            if self.held >= self.expected:
                self._open.set()
            await asyncio.wait_for(self._open.wait(), self.timeout)
        return await self._binding.batch(statements)


@pytest.fixture
def send_gate(api: Api) -> Iterator[Any]:
    """``send_gate(n)`` installs a :class:`SendGate` on the server's env; removed at teardown."""
    env = api.worker.server_env
    original = env.DB
    api.send({"user_id": "gate-warmup", "content": "x"})  # migrate through the real binding first

    def install(expected: int) -> SendGate:
        env.DB = SendGate(original, expected)
        return env.DB

    yield install
    env.DB = original
