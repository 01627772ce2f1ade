"""Helpers for the config/template/access/error tests: a client with auth, D1 rows, KV keys, D1 call counts."""

import asyncio
import base64
import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
BOT_TOKEN = "987654:" + "b" * 35
LARK_HOOK = "https://open.feishu.cn/open-apis/bot/v2/hook/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

CONFIGS = {
    "webhook": {"url": "https://hooks.example.com/in", "secret": WEBHOOK_SECRET},
    "telegram": {"bot_token": BOT_TOKEN, "chat_id": "-1001234567"},
    "lark": {"webhook_url": LARK_HOOK, "secret": "lark-secret-value"},
}
SECRETS = [WEBHOOK_SECRET, BOT_TOKEN, "lark-secret-value", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"]


class Client:
    """The worker as a client sees it, plus direct looks at its D1 file, KV and call counters."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self.http: httpx.Client = worker.client
        self.auth = worker.headers("client")
        self._db: sqlite3.Connection | None = None

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.auth, **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, json=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def put_config(self, user: str, channel: str, config: dict | None = None, active: bool = True) -> httpx.Response:
        body = {"config": config or CONFIGS[channel], "is_active": active}
        return self.put(f"/v1/users/{user}/channels/{channel}", body)

    # -- state behind the API -----------------------------------------------------------------
    def sql(self, query: str, *params: Any) -> list[dict[str, Any]]:
        if self._db is None:
            self._db = sqlite3.connect(self.worker.state_dir / "d1" / "DB.sqlite3")
            self._db.row_factory = sqlite3.Row
        return [dict(row) for row in self._db.execute(query, params)]

    def kv(self, key: str) -> str | None:
        return asyncio.run(self.worker.env.CONFIG_CACHE.get(key))

    @property
    def d1_calls(self) -> int:
        """Round trips the SERVER's D1 binding has seen so far."""
        return self.worker.server_env.DB.calls

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) <= {"code", "message", "field"} and body["error"]["message"], body
    return body["error"]


@pytest.fixture
def client(worker: Any) -> Iterator[Client]:
    made = Client(worker)
    assert made.get("/health").status_code == 200  # the isolate is migrated and warm
    yield made
    made.close()
