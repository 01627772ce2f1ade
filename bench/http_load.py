"""Benchmark 4: HTTP throughput and latency of the embedded server.

``python -m devkit.embedded serve`` runs as its own process on a copy of the generated
database; a load driver (``wrk`` if installed, else the httpx driver) hits ``GET /health``, a
KV-cached config read and a send whose delivery goes to a loopback receiver in this process.
Figures are absolute and as ratios to ``/health`` measured the same way, which cancels most of
the driver's and the shared machine's cost. A send's delivery happens after its response, so
the benchmark also waits for every delivery and reports the sustained rate including them.
"""

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

import httpx

from bench import datagen, loadgen, scenario
from bench.datagen import ROOT
from bench.options import Options, say
from bench.receiver import Receiver
from bench.report import fmt, ratio, table

NAME = "http"
TITLE = "4. HTTP throughput and latency of the embedded server"
CONNECTIONS = 8


class ThreadedReceiver:
    """The loopback receiver on its own event loop thread, with a blocking wait for N deliveries."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.receiver = Receiver()
        self.cond = threading.Condition()

    def __enter__(self) -> "ThreadedReceiver":
        self.thread.start()
        self.receiver.on_hit = self._notify
        asyncio.run_coroutine_threadsafe(self.receiver.start(), self.loop).result(10)
        return self

    def _notify(self) -> None:
        with self.cond:
            self.cond.notify_all()

    @property
    def url(self) -> str:
        return self.receiver.url

    @property
    def hits(self) -> int:
        return self.receiver.hits

    def wait_for(self, count: int, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.receiver.hits >= count, timeout)

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.receiver.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Server:
    """The embedded server as a child process on a free port; its log is drained by a thread."""

    def __init__(self, state: Path, config: Path):
        env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
        cmd = [sys.executable, "-m", "devkit.embedded", "serve", "--port", "0", "--state-dir", str(state)]
        self.proc = subprocess.Popen(
            [*cmd, "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            env=env,
        )
        self.url = ""
        self.ready = threading.Event()
        self.tail: deque[str] = deque(maxlen=40)
        self.lines = 0
        threading.Thread(target=self._drain, daemon=True).start()
        if not self.ready.wait(60) or not self.url:
            self.stop()
            raise RuntimeError("embedded server did not start:\n" + "".join(self.tail))

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines += 1
            self.tail.append(line)
            if not self.ready.is_set() and "ready on " in line:
                self.url = line.split("ready on ", 1)[1].split()[0]
                self.ready.set()
        self.ready.set()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def setup(base_url: str, receiver_url: str) -> None:
    with httpx.Client(base_url=base_url, headers=scenario.auth(), timeout=30) as client:
        steps = [
            ("PUT", scenario.config_path(), scenario.config_body(receiver_url)),
            ("PUT", f"/v1/templates/{scenario.TEMPLATE}", scenario.template_body()),
            ("GET", scenario.config_path(), None),  # fills the KV cache
            ("POST", "/v1/notifications", scenario.send_body(0)),  # fills the send path's caches
        ]
        for method, path, body in steps:
            r = client.request(method, path, json=body)
            if r.status_code >= 300:
                raise RuntimeError(f"setup {method} {path}: {r.status_code} {r.text}")


def endpoints() -> list[loadgen.Endpoint]:
    json_auth = {**scenario.auth(), "content-type": "application/json"}
    return [
        loadgen.Endpoint("GET /health", "GET", "/health", {}),
        loadgen.Endpoint("config read (KV cached)", "GET", scenario.config_path(), scenario.auth()),
        loadgen.Endpoint(
            "send (webhook to loopback)", "POST", "/v1/notifications", json_auth, scenario.encode(scenario.send_body(1))
        ),
    ]


def run(opts: Options) -> str:
    rows = opts.sizes([100_000], [300])[-1]
    duration = opts.duration or (0.2 if opts.smoke else 10.0)
    connections = 4 if opts.smoke else CONNECTIONS
    use_wrk = opts.driver == "wrk" or (opts.driver == "auto" and loadgen.have_wrk() and not opts.smoke)
    drive = loadgen.run_wrk if use_wrk else loadgen.run_httpx
    say(f"http: preparing {rows:,} rows; driver {'wrk' if use_wrk else 'httpx'}, {duration:g} s per endpoint")
    db_file = datagen.cached(rows, opts.out)
    results: list[tuple[loadgen.Endpoint, loadgen.Load]] = []
    delivery: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=opts.work(NAME)) as tmp, ThreadedReceiver() as receiver:
        work = Path(tmp)
        state = scenario.state_with(db_file, work / "state")
        server = Server(state, scenario.config_dir(work / "config"))
        try:
            setup(server.url, receiver.url)
            receiver.wait_for(1, 30)
            for endpoint in endpoints():
                say(f"http: {endpoint.label}")
                before = receiver.hits
                load = drive(server.url, endpoint, duration, connections)
                results.append((endpoint, load))
                if endpoint.method == "POST":
                    delivery = _drain_deliveries(receiver, before, load)
        finally:
            server.stop()
    return render(rows, duration, results, delivery, connections)


def _drain_deliveries(receiver: ThreadedReceiver, before: int, load: loadgen.Load) -> dict[str, float]:
    expected = load.requests - load.non_2xx
    started = time.perf_counter()
    done = receiver.wait_for(before + expected, timeout=120)
    drain = time.perf_counter() - started
    delivered = receiver.hits - before
    return {
        "expected": expected,
        "delivered": delivered,
        "drain_s": drain,
        "complete": float(done),
        "sustained": delivered / (load.seconds + drain) if load.seconds + drain else 0.0,
    }


def render(rows: int, duration: float, results: list, delivery: dict, connections: int) -> str:
    health = results[0][1]
    lines = []
    for endpoint, load in results:
        lines.append(
            [
                endpoint.label,
                fmt(load.requests),
                fmt(round(load.rps)),
                fmt(load.p50_ms),
                fmt(load.p99_ms),
                fmt(load.non_2xx + load.errors),
                f"{fmt(ratio(load.rps, health.rps))}×",
                f"{fmt(ratio(load.p50_ms, health.p50_ms))}×",
            ]
        )
    driver = health.driver
    body = [
        f"Embedded server (`python -m devkit.embedded serve`, one process, development mode so auto-migration is on) "
        f"on a copy of the {rows:,}-row database; driver `{driver}` with {connections} keep-alive connections for "
        f"{duration:g} s per endpoint, on the same 2 shared cores as the server. The server logs one line per request "
        "(drained by the benchmark), as it does for a developer.",
        "",
        table(
            [
                "endpoint",
                "requests",
                "req/s",
                "p50 ms",
                "p99 ms",
                "non-2xx/errors",
                "req/s vs /health",
                "p50 vs /health",
            ],
            lines,
        ),
    ]
    if delivery:
        body += [
            "",
            f"- Sends: {fmt(delivery['delivered'])} of {fmt(delivery['expected'])} accepted sends were delivered to "
            f"the loopback receiver; the last delivery arrived {delivery['drain_s']:.2f} s after the load stopped"
            f"{'' if delivery['complete'] else ' (NOT all delivered within 120 s)'}. Sustained rate including "
            f"delivery: {fmt(round(delivery['sustained']))} sends/s.",
        ]
    return "\n".join(body)
