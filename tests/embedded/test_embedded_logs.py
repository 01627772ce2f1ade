"""The worker's own structured logs: one JSON ``invocation`` line per request, cron event and ``waitUntil`` work.

Read from the real server's stdout (what ``wrangler tail`` would show), and checked against the
embedded runtime's own per-invocation counts, which are measured at the bindings independently.
"""

import asyncio
import json
from typing import Any

from edgenotify.scheduled import RETRY_CRON
from tests.conftest import RunningWorker
from tests.embedded.test_embedded_limits import BarrierReceiver

COUNTS = ("d1_round_trips", "rows_read", "rows_written", "kv_operations", "r2_operations", "fetches", "subrequests")


def invocations(out: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in out.splitlines() if line.startswith('{"event":"invocation"')]
    for line in lines:
        assert set(COUNTS) <= set(line) and isinstance(line["duration_ms"], float)
    return lines


def test_a_request_line_names_the_route_status_error_and_counts(worker: RunningWorker, capfd: Any) -> None:
    worker.client.get("/health")  # migrates
    capfd.readouterr()
    headers = {**worker.headers(), "x-request-id": "req-1"}
    secret = "whsec_" + "c2VjcmV0LXNpZ25pbmcta2V5LTMyLWJ5dGVzLWxvbmch"
    config = {"url": "http://127.0.0.1:9/hook", "secret": secret}
    assert worker.client.put("/v1/users/alice/channels/webhook", json={"config": config}, headers=headers).is_success
    missing = worker.client.get("/v1/users/alice/channels/lark", headers={**headers, "x-request-id": "req-2"})
    assert missing.status_code == 404
    out = capfd.readouterr().out
    put, get = invocations(out)
    assert put["request_id"] == "req-1" and put["method"] == "PUT" and put["status"] == 200
    assert put["route"] == "/v1/users/{user_id}/channels/{channel}"  # the pattern: no ids in the line
    assert "error_code" not in put and put["kv_operations"] == 2 and put["d1_round_trips"] >= 1
    assert put["subrequests"] == put["d1_round_trips"] + put["kv_operations"]
    assert (get["request_id"], get["status"], get["error_code"]) == ("req-2", 404, missing.json()["error"]["code"])
    for never in (worker.api_token, secret, "c2VjcmV0LXNpZ25pbmcta2V5"):
        assert never not in out


def test_wait_until_work_has_its_own_line_and_the_counts_agree_with_the_runtime(
    worker: RunningWorker, capfd: Any
) -> None:
    worker.client.get("/health")
    receiver = BarrierReceiver(gate=1, expected=1)
    try:
        config = {"config": {"url": f"{receiver.url}/hook"}}
        assert worker.client.put("/v1/users/bob/channels/webhook", json=config, headers=worker.headers()).is_success
        capfd.readouterr()
        sent = worker.client.post(
            "/v1/notifications", json={"user_id": "bob", "content": "hi"}, headers=worker.headers()
        )
        assert sent.status_code == 202
        worker.drain()
    finally:
        receiver.close()
    request, work = invocations(capfd.readouterr().out)
    assert (request["kind"], request["route"], request["status"]) == ("request", "/v1/notifications", 202)
    assert (work["kind"], work["work"], work["status"]) == ("waitUntil", "deliver_in_background", "ok")
    assert work["request_id"] == request["request_id"] == sent.headers["x-request-id"]
    assert work["fetches"] == 1 and receiver.received == 1
    # The runtime meters the request and its waitUntil work as one invocation, at the bindings.
    runtime_line = [line for line in worker.logs if line.startswith("[embedded] POST /v1/notifications 202")][-1]
    both = {name: request[name] + work[name] for name in COUNTS}
    assert f"| d1 {both['d1_round_trips']} " in runtime_line
    assert f"| kv {both['kv_operations']} " in runtime_line
    assert f"| subrequests {both['subrequests']} (fetch {both['fetches']})" in runtime_line


def test_a_cron_line_says_which_tasks_failed(worker: RunningWorker, capfd: Any) -> None:
    worker.client.get("/health")
    capfd.readouterr()
    assert worker.scheduled(RETRY_CRON).text == "ok"
    assert worker.scheduled("1 2 3 4 5").text == "ok"  # no work declared for it: recorded as a failure
    retry, unknown = invocations(capfd.readouterr().out)
    assert (retry["kind"], retry["cron"], retry["status"]) == ("cron", RETRY_CRON, "ok")
    assert "failed_tasks" not in retry and retry["d1_round_trips"] >= 1
    assert (unknown["cron"], unknown["status"], unknown["failed_tasks"]) == ("1 2 3 4 5", "failed", ["scheduled"])
    assert unknown["d1_round_trips"] == 1  # the failed task record


def test_a_failing_cron_task_is_named_in_its_line(tmp_path: Any, capfd: Any) -> None:
    from tests.conftest import start_worker

    worker, stop = start_worker(tmp_path / "state", LIMIT_D1_QUERIES="4")
    try:
        worker.client.get("/health")  # migrates within 3 queries
        capfd.readouterr()
        assert worker.scheduled("0 3 * * *").text == "ok"
    finally:
        stop()
    (line,) = invocations(capfd.readouterr().out)
    assert line["status"] == "failed" and line["d1_round_trips"] > 4  # calls tried, the refused ones too
    assert "edgenotify.ops.backups.backup_task:scheduled_backup" in line["failed_tasks"]


def test_r2_calls_are_counted_through_upload_handles_too(embedded_env: Any) -> None:
    from edgenotify import usage
    from edgenotify.context import Context

    class Ctx:
        def waitUntil(self, work: Any) -> None:  # noqa: N802 - the Workers API name
            raise AssertionError("not used")

    async def main() -> usage.Usage:
        used, token = usage.start()
        try:
            r2 = Context.create(embedded_env, Ctx()).r2
            upload = await r2.createMultipartUpload("big")
            part = await upload.uploadPart(1, b"x" * 10)
            again = r2.resumeMultipartUpload("big", upload.uploadId)  # a handle: no request
            await again.complete([part])
            assert (await (await r2.get("big")).bytes()) == b"x" * 10
        finally:
            usage.stop(token)
        return used

    used = asyncio.run(main())
    assert (used.r2_operations, used.subrequests) == (4, 4)  # create, uploadPart, complete, get
