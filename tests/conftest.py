"""Shared fixtures: the embedded runtime's env and a running embedded server.

``embedded_env``  a fresh env (D1/KV/R2 under ``tmp_path/state``, ENVIRONMENT=development,
                  random API/ADMIN tokens). Use it directly from async code in the test.
``worker``        the real HTTP server (``devkit.embedded.server``) on a free port, in a
                  background thread with its own event loop. Attributes:
                  ``base_url``, ``api_token``, ``admin_token``, ``state_dir``,
                  ``client`` (``httpx.Client`` with base_url, no auth header set),
                  ``env`` (a SECOND isolate's view of the same state: its own SQLite
                  connections, safe to use from the test thread, e.g. ``asyncio.run(...)``),
                  ``server_env`` (the server's own env; only touch it through ``run``),
                  ``run(coro_fn)`` (await ``coro_fn()`` on the server loop, return its result),
                  ``drain()`` (wait for all pending ``waitUntil`` work), ``scheduled(cron)``
                  (fire a cron through ``/cdn-cgi/handler/scheduled``; returns the response),
                  ``headers(role)`` (the Authorization header for "client" or "admin").

Auto-migration state (``edgenotify.migrations.automigrate``) is kept per binding for the life of
the process; every binding these fixtures create is forgotten at teardown so nothing leaks
between tests.
"""

import asyncio
import secrets
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from devkit.embedded.env import Env, build_env
from devkit.embedded.runtime import Runtime
from devkit.embedded.server import EmbeddedServer


def _forget_migrations(env: Env) -> None:
    from edgenotify.migrations import automigrate

    for value in vars(env).values():
        if hasattr(value, "prepare"):
            automigrate.forget(value)  # also drops its asyncio.Lock, which must not outlive its loop


def make_env(state_dir: Path, **overrides: str) -> Env:
    """An env on ``state_dir`` for a development Worker; ``overrides`` set vars/secrets."""
    values = {
        "ENVIRONMENT": "development",
        "API_TOKEN": secrets.token_urlsafe(24),
        "ADMIN_TOKEN": secrets.token_urlsafe(24),
        **overrides,
    }
    return build_env(state_dir, dev_vars_path=state_dir / "no.dev.vars", overrides=values)


@pytest.fixture
def embedded_env(tmp_path: Path) -> Iterator[Env]:
    env = make_env(tmp_path / "state")
    yield env
    _forget_migrations(env)
    env.close()


@dataclass
class RunningWorker:
    base_url: str
    api_token: str
    admin_token: str
    state_dir: Path
    client: httpx.Client
    env: Env
    server_env: Env
    loop: asyncio.AbstractEventLoop
    server: EmbeddedServer
    logs: list[str] = field(default_factory=list)

    def run(self, coro_fn: Callable[[], Coroutine[Any, Any, Any]], timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro_fn(), self.loop).result(timeout)

    def drain(self, timeout: float = 60) -> None:
        self.run(self.server.runtime.drain, timeout)

    def scheduled(self, cron: str) -> httpx.Response:
        return self.client.get("/cdn-cgi/handler/scheduled", params={"cron": cron})

    def headers(self, role: str = "client") -> dict[str, str]:
        token = self.admin_token if role == "admin" else self.api_token
        return {"authorization": f"Bearer {token}"}


def start_worker(state_dir: Path, **overrides: str) -> tuple[RunningWorker, Callable[[], None]]:
    """Start a server thread on a free port; returns the handle and a stop function."""
    server_env = make_env(state_dir, **overrides)
    logs: list[str] = []
    server = EmbeddedServer(Runtime(server_env), "127.0.0.1", 0, log=logs.append)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start())
        except BaseException as exc:  # surfaced to the test thread below
            failure.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="embedded-worker", daemon=True)
    thread.start()
    if not started.wait(30):
        raise RuntimeError("the embedded worker did not start within 30 s")
    if failure:
        raise failure[0]
    token_env = {k: getattr(server_env, k) for k in ("ENVIRONMENT", "API_TOKEN", "ADMIN_TOKEN")}
    test_env = make_env(state_dir, **{**overrides, **token_env})
    worker = RunningWorker(
        base_url=server.url,
        api_token=server_env.API_TOKEN,
        admin_token=server_env.ADMIN_TOKEN,
        state_dir=state_dir,
        client=httpx.Client(base_url=server.url, timeout=60),
        env=test_env,
        server_env=server_env,
        loop=loop,
        server=server,
        logs=logs,
    )

    def stop() -> None:
        worker.client.close()
        asyncio.run_coroutine_threadsafe(server.shutdown(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        for env in (server_env, test_env):
            _forget_migrations(env)
            env.close()

    return worker, stop


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[RunningWorker]:
    handle, stop = start_worker(tmp_path / "state")
    yield handle
    stop()
