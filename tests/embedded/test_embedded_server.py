"""The embedded HTTP server: routes, HTTP/1.1 handling, cron paths, shutdown, the CLI."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from devkit.embedded.runtime import Runtime
from devkit.embedded.server import EmbeddedServer
from devkit.embedded.workers_shim import Response, WorkerEntrypoint

ROOT = Path(__file__).resolve().parents[2]


class EchoWorker(WorkerEntrypoint):
    """A tiny entrypoint that exposes what the server hands to ``fetch``/``scheduled``."""

    seen: list = []
    gate: asyncio.Event | None = None

    async def fetch(self, request):
        path = request.url.split("/", 3)[3]
        if path.startswith("boom"):
            raise RuntimeError("worker bug")
        if path.startswith("slow"):
            await EchoWorker.gate.wait()

            async def later():
                await asyncio.sleep(0.01)
                EchoWorker.seen.append("waitUntil done")

            self.ctx.waitUntil(later())
        body = await request.bytes()
        headers = {"x-method": str(request.method), "x-url": request.url, "x-len": str(len(body))}
        return Response(body or None, status=200, headers=headers)

    async def scheduled(self, controller, env, ctx):
        EchoWorker.seen.append((controller.cron, controller.scheduledTime, env, ctx))
        if controller.cron == "fail":
            raise RuntimeError("cron bug")


async def exchange(port: int, raw: bytes, read_until_close: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    data = await reader.read() if read_until_close else await reader.read(65536)
    writer.close()
    return data


def with_echo_server(scenario):
    """Run ``scenario(server)`` against an in-process server with the echo entrypoint."""

    async def main():
        EchoWorker.seen = []
        EchoWorker.gate = asyncio.Event()
        server = EmbeddedServer(Runtime(env=None, entrypoint=EchoWorker), "127.0.0.1", 0, log=lambda _: None)
        await server.start()
        try:
            return await scenario(server)
        finally:
            EchoWorker.gate.set()
            await server.shutdown()

    return asyncio.run(main())


def test_request_reaches_fetch_with_method_url_headers_and_body():
    async def scenario(server):
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.post("/echo?q=1", content=b"payload")
        return response

    response = with_echo_server(scenario)
    assert response.status_code == 200 and response.content == b"payload"
    assert response.headers["x-method"] == "POST" and response.headers["x-len"] == "7"
    assert response.headers["x-url"].endswith("/echo?q=1") and response.headers["x-url"].startswith("http://127.0.0.1:")


def test_chunked_body_and_head():
    async def scenario(server):
        chunked = await exchange(
            server.port,
            b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        head = await exchange(server.port, b"HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return chunked, head

    chunked, head = with_echo_server(scenario)
    assert chunked.startswith(b"HTTP/1.1 200 OK\r\n") and chunked.endswith(b"\r\n\r\nabcde")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")


def test_keep_alive_serves_several_requests_on_one_connection():
    async def scenario(server):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        statuses = []
        for i in range(3):
            writer.write(f"POST /k HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n{i}".encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            assert b"connection: keep-alive" in head
            length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
            statuses.append((head.split(b" ")[1], await reader.readexactly(length)))
        writer.write(b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await writer.drain()
        last = await reader.read()  # the server closes after a "Connection: close" request
        writer.close()
        return statuses, last

    statuses, last = with_echo_server(scenario)
    assert statuses == [(b"200", b"0"), (b"200", b"1"), (b"200", b"2")]
    assert b"connection: close" in last


def json_error(response: bytes) -> tuple[int, dict]:
    """Status and ``error`` object of a raw response that must be a JSON error."""
    head, _, body = response.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower(), head
    return int(head.split(b" ")[1]), json.loads(body)["error"]


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"NONSENSE\r\n\r\n", 400, "malformed_request_line"),
        (b"GE(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "malformed_request_line"),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 400, "unsupported_http_version"),
        (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431, "header_too_large"),
        (b"GET / HTTP/1.1\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n", 431, "too_many_headers"),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414, "uri_too_long"),
        (b"POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n", 413, "payload_too_large"),
        (b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, "invalid_content_length"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "unsupported_transfer_encoding"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "invalid_chunk"),
        (b"GET / HTTP/1.1\r\nbad header line\r\n\r\n", 400, "malformed_header"),
        (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400, "malformed_header"),
        (b"GET / HTTP/1.1\r\nX-Nul: a\x00b\r\n\r\n", 400, "invalid_header_value"),
        (b"GET / HTTP/1.1\r\nX-Cr: a\rb\r\n\r\n", 400, "invalid_header_value"),
    ],
)
def test_malformed_requests_get_a_4xx_json_answer_not_a_hang(raw, status, code):
    response = with_echo_server(lambda server: exchange(server.port, raw))
    answered, error = json_error(response)
    assert (answered, error["code"]) == (status, code)


def test_a_nul_in_a_header_is_refused_with_the_header_named():
    raw = b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Trace: ab\x00cd\r\n\r\n"
    status, error = json_error(with_echo_server(lambda server: exchange(server.port, raw)))
    assert (status, error["code"], error["field"]) == (400, "invalid_header_value", "X-Trace")
    assert EchoWorker.seen == []  # refused before the Worker, as the edge's front end does


def test_a_body_shorter_than_its_content_length_is_answered_when_it_stalls():
    async def scenario(server):
        server.body_idle_timeout = 0.2  # the default 2 s, shortened for the test
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabcde")
        await writer.drain()  # and keep the connection open, waiting for an answer
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        chunked_writer = await asyncio.open_connection("127.0.0.1", server.port)
        chunked_writer[1].write(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
        await chunked_writer[1].drain()
        chunked = await asyncio.wait_for(chunked_writer[0].read(), 10)
        chunked_writer[1].close()
        return answer, chunked

    answer, chunked = with_echo_server(scenario)
    status, error = json_error(answer)
    assert (status, error["code"]) == (400, "incomplete_body")
    assert "after 5 of the 10 bytes" in error["message"]
    assert json_error(chunked)[1]["code"] == "incomplete_body"


def test_a_method_the_sdk_does_not_know_gets_a_json_answer_from_the_real_worker(worker):
    assert worker.client.get("/health").status_code == 200
    for method in ("QUERY", "PROPFIND", "M-SEARCH"):
        response = worker.client.request(method, "/health")
        assert response.headers["content-type"].startswith("application/json"), (method, response.text)
        assert response.status_code in (405, 500) and "error" in response.json()
        assert "Traceback" not in response.text
    assert worker.client.get("/health").status_code == 200  # and the server keeps serving


def test_a_worker_exception_is_a_500_and_the_server_keeps_serving():
    async def scenario(server):
        async with httpx.AsyncClient(base_url=server.url) as client:
            return (await client.get("/boom")).status_code, (await client.get("/fine")).status_code

    assert with_echo_server(scenario) == (500, 200)


def test_a_worker_exception_is_answered_with_json():
    async def scenario(server):
        async with httpx.AsyncClient(base_url=server.url) as client:
            return await client.get("/boom")

    response = with_echo_server(scenario)
    assert response.json() == {"error": {"code": "worker_threw", "message": "Worker threw exception"}}


def test_scheduled_paths_call_scheduled_with_cron_time_and_no_env_ctx():
    async def scenario(server):
        async with httpx.AsyncClient(base_url=server.url) as client:
            a = await client.get("/cdn-cgi/handler/scheduled", params={"cron": "*/5 * * * *", "time": "1700000000000"})
            b = await client.get("/cdn-cgi/local/scheduled?cron=0+3+*+*+*")
            c = await client.get("/__scheduled?cron=0+4+*+*+*")
            d = await client.get("/cdn-cgi/handler/scheduled?cron=fail")
        return [(r.status_code, r.text) for r in (a, b, c, d)]

    answers = with_echo_server(scenario)
    assert answers == [(200, "ok"), (200, "ok"), (200, "Ran scheduled event"), (500, "exception")]
    assert EchoWorker.seen[0] == ("*/5 * * * *", 1_700_000_000_000, None, None)
    assert [s[0] for s in EchoWorker.seen] == ["*/5 * * * *", "0 3 * * *", "0 4 * * *", "fail"]


def test_shutdown_finishes_in_flight_requests_and_wait_until_work():
    async def scenario(server):
        async with httpx.AsyncClient(base_url=server.url) as client:
            request = asyncio.create_task(client.post("/slow", content=b"x"))
            while not server._in_flight:
                await asyncio.sleep(0.001)
            shutdown = asyncio.create_task(server.shutdown())
            await asyncio.sleep(0.01)
            assert not shutdown.done()  # waiting for the request in flight
            EchoWorker.gate.set()
            response = await request
            await shutdown
            return response.status_code, list(EchoWorker.seen)

    assert with_echo_server(scenario) == (200, ["waitUntil done"])


def test_real_worker_fixture_serves_the_app(worker):
    response = worker.client.get("/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert response.headers["x-request-id"]
    assert worker.client.get("/no/such/route").status_code == 404
    for path in ("/cdn-cgi/handler/scheduled", "/cdn-cgi/local/scheduled"):
        answer = worker.client.get(path, params={"cron": "1 1 1 1 1"})
        assert (answer.status_code, answer.text) == (200, "ok")
    assert worker.client.get("/__scheduled", params={"cron": "1 1 1 1 1"}).text == "Ran scheduled event"
    assert worker.scheduled("1 1 1 1 1").text == "ok"
    worker.drain()
    assert any("GET /health 200" in line for line in worker.logs)


def test_worker_fixture_env_is_a_second_isolate_on_the_same_state(worker):
    assert worker.client.get("/health").status_code == 200  # dev mode: first request migrates
    tables = asyncio.run(worker.env.DB.prepare("SELECT name FROM sqlite_master WHERE name = 'd1_migrations'").all())
    assert tables.results == [{"name": "d1_migrations"}]
    assert worker.env.DB is not worker.server_env.DB and worker.env.API_TOKEN == worker.api_token
    assert worker.run(lambda: worker.server_env.DB.prepare("SELECT 1 AS one").first("one")) == 1


def _cli(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "devkit.embedded", "serve", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_cli_exits_3_with_a_clear_message_when_the_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _cli("--port", str(port), "--state-dir", str(tmp_path / "state"))
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3
    assert err.strip() == f"error: 127.0.0.1:{port} is already in use; pick another with --port"


def test_cli_shuts_down_gracefully_on_sigint(tmp_path):
    proc = _cli("--port", "0", "--state-dir", str(tmp_path / "state"))
    try:
        ready = proc.stdout.readline()
        assert ready.startswith("[embedded] ready on http://127.0.0.1:"), ready + proc.stderr.read()
        url = ready.split()[3]
        assert httpx.get(f"{url}/health", timeout=30).status_code == 200
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "GET /health 200" in out and "shutting down" in out and out.rstrip().endswith("[embedded] stopped")
