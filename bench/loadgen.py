"""Load drivers: ``wrk`` (Debian package, C, low overhead) or an httpx async driver (always there).

Both hold ``connections`` keep-alive connections busy for ``duration`` seconds against one
endpoint and report requests, requests/s, p50/p99 latency and non-2xx answers, so results from
either driver read the same. The machine has 2 cores: the driver competes with the server, which
is why the benchmark reports each endpoint as a ratio to ``GET /health`` measured the same way.
"""

import asyncio
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass
class Load:
    driver: str
    requests: int
    seconds: float
    p50_ms: float | None
    p99_ms: float | None
    non_2xx: int
    errors: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Endpoint:
    label: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(output: str) -> Load:
    requests = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    if not requests:
        raise ValueError(f"unexpected wrk output:\n{output}")
    pct = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)$", output, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return Load(
        "wrk",
        int(requests.group(1)),
        _ms(requests.group(2) + requests.group(3)) / 1000,
        _ms(pct["50"]) if "50" in pct else None,
        _ms(pct["99"]) if "99" in pct else None,
        int(non_2xx.group(1)) if non_2xx else 0,
        sum(int(x) for x in errors.groups()) if errors else 0,
    )


def _lua(endpoint: Endpoint) -> str:
    lines = [f"wrk.method = {json.dumps(endpoint.method)}"]
    if endpoint.body is not None:
        lines.append(f"wrk.body = {json.dumps(endpoint.body.decode())}")
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in endpoint.headers.items()]
    return "\n".join(lines) + "\n"


def run_wrk(base_url: str, endpoint: Endpoint, duration: float, connections: int) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_lua(endpoint))
        script = f.name
    try:
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", "-s", script]
        proc = subprocess.run([*cmd, base_url + endpoint.path], capture_output=True, text=True, timeout=duration + 60)
    finally:
        Path(script).unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return parse_wrk(proc.stdout)


def run_httpx(base_url: str, endpoint: Endpoint, duration: float, connections: int) -> Load:
    return asyncio.run(_httpx(base_url, endpoint, duration, connections))


async def _httpx(base_url: str, endpoint: Endpoint, duration: float, connections: int) -> Load:
    latencies: list[float] = []
    counts = {"non_2xx": 0, "errors": 0}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        started = time.perf_counter()
        deadline = started + duration

        async def worker() -> None:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    r = await client.request(
                        endpoint.method, endpoint.path, headers=endpoint.headers, content=endpoint.body
                    )
                except httpx.HTTPError:
                    counts["errors"] += 1
                    continue
                latencies.append((time.perf_counter() - t0) * 1000)
                if not 200 <= r.status_code < 300:
                    counts["non_2xx"] += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
        seconds = time.perf_counter() - started
    p50 = statistics.median(latencies) if latencies else None
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 2 else p50
    return Load("httpx", len(latencies), seconds, p50, p99, counts["non_2xx"], counts["errors"])
