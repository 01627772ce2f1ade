"""Per-invocation limits in the embedded runtime: each one refuses past its number, as production does.

Through the real server and the worker's own code (a cron, a send, a config write), with the limits
lowered by the ``LIMIT_*`` variables; plus ``Runtime.invoke`` (what operator CLIs use to run one
step of a long job as one invocation) for the properties a request cannot isolate: CPU per
invocation with concurrent invocations on one loop, and ``waitUntil`` work sharing its meter.
"""

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from devkit.embedded.env import build_env, configured_cpu_ms
from devkit.embedded.meter import CPU_EXCEEDED, TOO_MANY_API_REQUESTS, TOO_MANY_SUBREQUESTS, CpuLimitExceeded
from devkit.embedded.runtime import Invocation, Runtime
from edgenotify import app, scheduled
from edgenotify.db import Database
from edgenotify.db.d1 import D1Error
from edgenotify.limits import Limits
from edgenotify.ops.backups import catalog
from tests.conftest import RunningWorker, make_env, start_worker

BACKUP_CRON = "0 3 * * *"


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Any]:
    """``limited(rows=0, **LIMIT_vars)``: a worker with those limits on a database migrated beforehand
    (by a worker without them) holding ``rows`` delivered notifications."""
    stops = []

    def start(rows: int = 0, **limits: str) -> RunningWorker:
        state = tmp_path / f"state{len(stops)}"
        setup, stop = start_worker(state)
        assert setup.client.get("/health").status_code == 200  # migrates
        stop()
        with sqlite3.connect(state / "d1" / "DB.sqlite3") as db:
            db.executemany(
                "INSERT INTO notification_logs (message_id, user_id, channel_type, content, status) "
                "VALUES (?, ?, 'webhook', ?, 'success')",
                [(f"m{i}", f"u{i % 50}", "hello world " * 5) for i in range(rows)],
            )
        worker, stop = start_worker(state, **limits)
        stops.append(stop)
        return worker

    yield start
    for stop in stops:
        stop()


def complete_backups(worker: RunningWorker) -> list[str]:
    async def ids() -> list[str]:
        return [b.id for b in await catalog.list_backups(worker.server_env.BACKUPS) if b.complete]

    return worker.run(ids)


def line_of(worker: RunningWorker, what: str) -> str:
    lines = [line for line in worker.logs if line.startswith(f"[embedded] {what}")]
    assert lines, f"no invocation line for {what!r} in {worker.logs}"
    return lines[-1]


def test_d1_query_limit_stops_a_cron_and_the_next_invocation_starts_afresh(limited: Any) -> None:
    worker = limited(LIMIT_D1_QUERIES="5")
    assert worker.scheduled(BACKUP_CRON).text == "ok"  # the tasks failed; the event itself did not throw
    line = line_of(worker, f'cron "{BACKUP_CRON}"')
    assert "| d1 5 " in line and "limit reached: d1_queries" in line
    assert complete_backups(worker) == []  # no backup was completed
    # Counting is per invocation: the next request has its own 5 queries.
    response = worker.client.get("/v1/stats", params={"user_id": "u"}, headers=worker.headers())
    assert response.status_code == 200, response.text


def test_kv_operation_limit_refuses_the_second_invalidation(limited: Any, capfd: Any) -> None:
    worker = limited(LIMIT_KV_OPERATIONS="1")
    response = worker.client.put(
        "/v1/users/u1/channels/webhook",
        json={"config": {"url": "http://127.0.0.1:9/hook"}, "is_active": True},
        headers=worker.headers(),
    )
    assert response.status_code == 200, response.text  # KV is an optimisation: the write stands
    line = line_of(worker, "PUT /v1/users/u1/channels/webhook 200")
    assert "| kv 1 " in line and "limit reached: kv_operations" in line
    assert TOO_MANY_API_REQUESTS in capfd.readouterr().out  # the cache logged the refused delete


class BarrierReceiver:
    """A loopback JSON receiver that holds each request until ``gate`` are in flight (or all arrived),
    and records the most it ever saw at once: more than the connection limit means no queueing."""

    def __init__(self, gate: int, expected: int):
        self.gate, self.expected = gate, expected
        self.received = self.in_flight = self.most = 0
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                receiver.handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        handler.rfile.read(int(handler.headers.get("content-length") or 0))
        with self.cond:
            self.received += 1
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.in_flight >= self.gate or self.received >= self.expected, timeout=20)
            self.in_flight -= 1
        body = json.dumps({"ok": True, "code": 0, "result": {"message_id": 1}}).encode()
        handler.send_response(200)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def put_three_channels(worker: RunningWorker, user: str, base: str) -> None:
    configs = {
        "webhook": {"url": f"{base}/hook"},
        "telegram": {"bot_token": "123456:" + "A" * 35, "chat_id": "42", "api_base": base},
        "lark": {"webhook_url": f"{base}/lark"},
    }
    for channel, config in configs.items():
        response = worker.client.put(
            f"/v1/users/{user}/channels/{channel}", json={"config": config, "is_active": True}, headers=worker.headers()
        )
        assert response.status_code == 200, response.text


def test_connections_past_the_limit_wait_for_headers_instead_of_opening(limited: Any) -> None:
    # Deliveries use the limit minus one (one connection stays free for their D1 writes): 2 at once.
    worker = limited(LIMIT_CONNECTIONS="3")
    receiver = BarrierReceiver(gate=2, expected=3)
    try:
        put_three_channels(worker, "u1", receiver.url)
        assert worker.client.post("/v1/notifications", json={"user_id": "u1", "content": "hi"},
                                  headers=worker.headers()).status_code == 202  # fmt: skip
        worker.drain()
    finally:
        receiver.close()
    assert receiver.received == 3  # all three delivered: the third waited, it was not refused
    assert receiver.most == 2
    line = line_of(worker, "POST /v1/notifications 202")
    assert "subrequests" in line and "(fetch 3)" in line


def test_subrequest_limit_refuses_the_delivery_fetch(limited: Any, capfd: Any) -> None:
    worker = limited(LIMIT_SUBREQUESTS="6")
    receiver = BarrierReceiver(gate=1, expected=1)
    try:
        put_three_channels(worker, "u1", receiver.url)
        capfd.readouterr()
        # The request's D1 and KV calls, then the deliveries' fetches, then the batch recording them.
        assert worker.client.post("/v1/notifications", json={"user_id": "u1", "content": "hi"},
                                  headers=worker.headers()).status_code == 202  # fmt: skip
        worker.drain()
    finally:
        receiver.close()
    line = line_of(worker, "POST /v1/notifications 202")
    assert "| subrequests 6 (fetch " in line and "limit reached: subrequests" in line
    fetched = int(line.split("(fetch ")[1].split(")")[0])
    assert 0 < fetched < 3 and receiver.received == fetched  # the refused ones never left the worker
    assert TOO_MANY_SUBREQUESTS in capfd.readouterr().out  # what the refused delivery attempts saw


async def _burning_task(context: Any) -> None:
    """A cron task spending 40 ms of CPU, then calling D1 (where the runtime checks the budget): a
    stand-in for heavy work whose cost does not vary with the machine's load."""
    burn_cpu(40)
    await context.db.all("SELECT 1")


def test_cpu_limit_stops_a_cron_as_exceeded_cpu(limited: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(scheduled.CRON_TASKS, BACKUP_CRON, [f"{__name__}:_burning_task"])
    worker = limited(LIMIT_CPU_MS="10")
    response = worker.scheduled(BACKUP_CRON)
    assert (response.status_code, response.text) == (500, "exceededCpu")
    assert "limit reached: cpu_ms" in line_of(worker, f'cron "{BACKUP_CRON}" exceededCpu')


def test_cpu_limit_answers_a_request_with_a_json_503(limited: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    dispatch = app._dispatch

    async def burning(*args: Any) -> Any:  # 40 ms of CPU before the real dispatch (whose D1 call checks it)
        burn_cpu(40)
        return await dispatch(*args)

    monkeypatch.setattr(app, "_dispatch", burning)
    worker = limited(LIMIT_CPU_MS="10")
    response = worker.client.get("/admin/health", headers=worker.headers("admin"))
    assert response.status_code == 503 and response.json()["error"]["code"] == "exceeded_cpu", response.text
    assert "limit reached: cpu_ms" in line_of(worker, "GET /admin/health 503")


def test_a_backup_request_stays_inside_a_cpu_limit_as_a_job(limited: Any) -> None:
    """The backup is a job sized from the limits: the request does one bounded step and answers 202
    with the job instead of being stopped (20,000 rows need several steps at a 200 ms budget)."""
    worker = limited(rows=20_000, LIMIT_CPU_MS="200")
    response = worker.client.post("/admin/backups", json={"wait": True}, headers=worker.headers("admin"))
    assert response.status_code == 202 and response.json()["status"] == "running", response.text
    assert "limit reached" not in line_of(worker, "POST /admin/backups 202")


# -- one invocation, driven directly (what the operator CLIs do per step) ----------------------


def burn_cpu(ms: float) -> None:
    """Spend ``ms`` of this thread's CPU (measured, not slept)."""
    end = time.thread_time() + ms / 1000
    while time.thread_time() < end:
        pass


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    env = make_env(tmp_path / "state", LIMIT_D1_QUERIES="3", LIMIT_CPU_MS="500")
    reports: list[Invocation] = []
    runtime = Runtime(env, report=reports.append)
    runtime.reports = reports  # type: ignore[attr-defined]
    yield runtime
    env.close()


def test_invoke_counts_per_invocation_and_refuses_with_an_exception(runtime: Runtime) -> None:
    async def three(ctx: Any) -> int:
        db = Database(runtime.env.DB)
        for _ in range(3):
            await db.all("SELECT 1")
        return db.round_trips

    async def four(ctx: Any) -> None:
        await three(ctx)
        await Database(runtime.env.DB).all("SELECT 1")

    async def main() -> None:
        assert await runtime.invoke("step 1", three) == 3
        assert await runtime.invoke("step 2", three) == 3  # a fresh budget per invocation
        with pytest.raises(D1Error, match="Too many API requests by single Worker invocation"):
            await runtime.invoke("step 3", four)

    asyncio.run(main())
    usage = [(r.name, r.usage.d1_queries, r.refused) for r in runtime.reports]  # type: ignore[attr-defined]
    assert usage == [("step 1", 3, None), ("step 2", 3, None), ("step 3", 3, "d1_queries")]


def test_wait_until_work_shares_the_invocation_budget(runtime: Runtime) -> None:
    outcome: list[BaseException | int] = []

    async def later() -> None:
        db = Database(runtime.env.DB)
        try:
            for _ in range(2):
                await db.all("SELECT 1")
        except D1Error as exc:
            outcome.append(exc)
        outcome.append(db.round_trips)

    async def work(ctx: Any) -> None:
        await Database(runtime.env.DB).all("SELECT 1")
        await Database(runtime.env.DB).all("SELECT 1")
        ctx.waitUntil(later())

    asyncio.run(runtime.invoke("with waitUntil", work))
    assert isinstance(outcome[0], D1Error) and outcome[1] == 2  # the 2nd waitUntil query was the 4th
    report = runtime.reports[-1]  # type: ignore[attr-defined]
    assert (report.usage.d1_queries, report.wait_until, report.refused) == (3, 1, "d1_queries")


def test_cpu_is_metered_per_invocation_with_concurrent_invocations_on_one_loop(runtime: Runtime) -> None:
    async def busy(ctx: Any) -> None:
        for _ in range(10):
            burn_cpu(10)
            await asyncio.sleep(0)  # let the idle invocation run in between

    async def idle(ctx: Any) -> None:
        for _ in range(50):
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(runtime.invoke("busy", busy), runtime.invoke("idle", idle))

    asyncio.run(main())
    cpu = {r.name: r.usage.cpu_ms for r in runtime.reports}  # type: ignore[attr-defined]
    assert cpu["busy"] >= 100
    assert cpu["idle"] < cpu["busy"] / 10


def test_cpu_limit_stops_the_invocation_and_its_wait_until_work(runtime: Runtime) -> None:
    ran: list[str] = []

    async def later() -> None:
        await asyncio.sleep(0)
        ran.append("waitUntil")  # never: the invocation is already out of CPU

    async def work(ctx: Any) -> None:
        ctx.waitUntil(later())
        burn_cpu(60)  # over the 50 ms, in one step (no await): caught at the next call
        try:
            await Database(runtime.env.DB).all("SELECT 1")
        except Exception:  # a worker's catch-all does not see it: the invocation is over
            ran.append("handler")

    runtime.limits = replace(runtime.limits, cpu_ms=50)
    with pytest.raises(CpuLimitExceeded, match=CPU_EXCEEDED):
        asyncio.run(runtime.invoke("burn", work))
    report = runtime.reports[-1]  # type: ignore[attr-defined]
    assert ran == [] and (report.outcome, report.refused, report.usage.d1_queries) == ("exceededCpu", "cpu_ms", 0)


def test_d1_result_size_limit_fails_the_query_and_rolls_it_back(runtime: Runtime) -> None:
    assert runtime.limits.d1_result_bytes == 50 * 1024 * 1024
    runtime.limits = replace(runtime.limits, d1_result_bytes=10_000)  # not an env var: lowered here
    db = Database(runtime.env.DB)

    async def work(ctx: Any) -> None:
        await db.run("CREATE TABLE big (v TEXT)")
        await db.all("INSERT INTO big (v) VALUES (printf('%.*c', 20000, 'x')) RETURNING v")

    with pytest.raises(D1Error, match="byte limit of a D1 query result"):
        asyncio.run(runtime.invoke("big", work))

    async def count(ctx: Any) -> Any:
        return await db.first("SELECT COUNT(*) AS n FROM big")

    assert asyncio.run(runtime.invoke("count", count)) == {"n": 0}


def test_limits_come_from_the_plan_dev_vars_the_process_environment_and_wrangler_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    assert Runtime(make_env(state)).limits == Limits.for_plan("paid")  # paid by default
    assert Runtime(make_env(state, LIMIT_PLAN="free")).limits == Limits("free", 50, 1000, 50, 6, 10)
    dev_vars = tmp_path / ".dev.vars"
    dev_vars.write_text("LIMIT_D1_QUERIES=20\nLIMIT_CPU_MS=500\n")
    monkeypatch.setenv("LIMIT_CPU_MS", "400")  # the shell wins over .dev.vars
    env = build_env(state, dev_vars_path=dev_vars)
    assert (env.LIMIT_D1_QUERIES, env.LIMIT_CPU_MS) == ("20", "400")
    config = tmp_path / "wrangler.toml"
    config.write_text(Path("wrangler.toml").read_text() + "\n[limits]\ncpu_ms = 120000\n")
    assert configured_cpu_ms(config) == 120_000
    monkeypatch.delenv("LIMIT_CPU_MS")
    limits = Runtime(build_env(state, config, dev_vars_path=tmp_path / "none"), config_path=config).limits
    assert (limits.cpu_ms, limits.d1_queries) == (120_000, 1000)
