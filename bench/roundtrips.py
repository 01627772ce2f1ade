"""Benchmark 2: D1 round trips and rows read/written per API operation.

The Worker runs in the embedded runtime (in process) on a copy of the generated database,
with its D1 and KV bindings wrapped by recorders (``bench.recording``): every round trip is
counted where it crosses the binding, split into the request itself and the work it leaves to
``waitUntil`` (delivery to a loopback receiver). The embedded D1 can only approximate rows
read, so every recorded call is then replayed, in order, through Miniflare's real local D1
on a snapshot taken just before the first operation: its ``meta.rows_read``/``rows_written``
are what D1 would bill for exactly the same statements and data.
"""

import asyncio
import json
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import datagen, miniflare, scenario
from bench.options import Options, say
from bench.receiver import Receiver
from bench.recording import Call, CountingBinding, RecordingD1
from bench.report import Target, fmt, table

NAME = "roundtrips"
TITLE = "2. D1 round trips and rows read/written per API operation"
PAGE_LIMIT = 50


@dataclass
class Op:
    label: str
    status: int
    request: list[Call]
    background: list[Call]
    kv: dict[str, int]
    header_round_trips: str | None
    replay: list[tuple[int, int]] | None = None  # Miniflare (rows_read, rows_written) per call; None: not replayed

    def embedded_rows(self, key: str) -> int:
        return sum(int(m.get(key) or 0) for c in self.request for m in c.meta)

    def miniflare_rows(self, index: int, background: bool = False) -> int | None:
        if self.replay is None:
            return None
        n = len(self.request)
        return sum(r[index] for r in (self.replay[n:] if background else self.replay[:n]))


class Harness:
    """One embedded isolate with recording bindings and a loopback receiver."""

    def __init__(self, state: Path, config: Path):
        from devkit.embedded.env import build_env
        from devkit.embedded.runtime import Runtime

        self.env = build_env(state, config, dev_vars_path=config.parent / ".dev.vars")
        self.db = RecordingD1(self.env.DB)
        self.kv = CountingBinding(self.env.CONFIG_CACHE)
        self.env.DB, self.env.CONFIG_CACHE = self.db, self.kv
        self.runtime = Runtime(self.env)
        self.state = state
        self.receiver_url = ""

    async def call(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        from devkit.embedded.workers_shim import Request

        headers = {**scenario.auth(), **(headers or {})}
        data = None
        if body is not None:
            headers["content-type"] = "application/json"
            data = scenario.encode(body)
        response = await self.runtime.fetch(Request(f"http://bench.local{path}", method, headers, data))
        text = await response.text()
        return response, json.loads(text) if text else None

    def fresh_kv(self, directory: Path) -> None:
        """A cold cache: an empty KV namespace in place of the warm one."""
        from devkit.embedded.kv import KVNamespace

        self.kv = CountingBinding(KVNamespace(directory))
        self.env.CONFIG_CACHE = self.kv

    async def measure(self, label: str, method: str, path: str, **kw: Any) -> tuple[Op, Any]:
        self.db.take(), self.kv.take()
        response, payload = await self.call(method, path, **kw)
        request, kv = self.db.take(), self.kv.take()
        await self.runtime.drain()
        background = self.db.take()
        header = response.headers.get("x-d1-round-trips")
        return Op(label, response.status, request, background, kv, header), payload


async def run_ops(work: Path, db_file: Path, receiver: Receiver) -> tuple[list[Op], Path]:
    state = scenario.state_with(db_file, work / "state")
    h = Harness(state, scenario.config_dir(work / "config"))
    h.receiver_url = receiver.url
    try:
        await h.call("GET", "/health")
        for method, path, body in (
            ("PUT", scenario.config_path(), scenario.config_body(receiver.url)),
            ("PUT", f"/v1/templates/{scenario.TEMPLATE}", scenario.template_body()),
        ):
            response, payload = await h.call(method, path, body)
            if response.status >= 300:
                raise RuntimeError(f"setup {method} {path} failed: {response.status} {payload}")
        await h.runtime.drain()
        snapshot = work / "snapshot.sqlite"
        with sqlite3.connect(state / "d1" / "DB.sqlite3") as src, sqlite3.connect(snapshot) as dst:
            src.backup(dst)
        ops = await _operations(h, work)
    finally:
        h.env.close()
    return ops, snapshot


async def _operations(h: Harness, work: Path) -> list[Op]:
    ops = []
    user = scenario.USER
    body = scenario.config_body(h.receiver_url)
    ops.append((await h.measure("config write (PUT)", "PUT", scenario.config_path(), body=body))[0])
    ops.append((await h.measure("config read (KV cold)", "GET", scenario.config_path()))[0])
    ops.append((await h.measure("config read (KV warm)", "GET", scenario.config_path()))[0])
    h.fresh_kv(work / "kv-cold")
    ops.append((await h.measure("send (KV cold)", "POST", "/v1/notifications", body=scenario.send_body(1)))[0])
    ops.append((await h.measure("send (KV warm)", "POST", "/v1/notifications", body=scenario.send_body(2)))[0])
    keyed = {"Idempotency-Key": "bench-key-1"}
    body = scenario.send_body(3)
    ops.append(
        (await h.measure("send (KV warm, Idempotency-Key)", "POST", "/v1/notifications", body=body, headers=keyed))[0]
    )
    ops.append((await h.measure("send replay (same key)", "POST", "/v1/notifications", body=body, headers=keyed))[0])
    page, payload = await h.measure("log page 1", "GET", f"/v1/notifications?user_id={user}&limit={PAGE_LIMIT}")
    ops.append(page)
    cursor = (payload or {}).get("next_cursor")
    if cursor:
        path = f"/v1/notifications?user_id={user}&limit={PAGE_LIMIT}&cursor={cursor}"
        ops.append((await h.measure("log page 2 (cursor)", "GET", path))[0])
    ops.append(
        (
            await h.measure(
                "log page, status=failed", "GET", f"/v1/notifications?user_id={user}&status=failed&limit={PAGE_LIMIT}"
            )
        )[0]
    )
    ops.append((await h.measure("stats", "GET", f"/v1/stats?user_id={user}"))[0])
    return ops


def _jsonable(params: list[Any]) -> bool:
    return all(p is None or isinstance(p, (str, int, float, bool)) for p in params)


def replay(ops: list[Op], snapshot: Path, work: Path) -> str:
    """Replay every recorded call through Miniflare; fill ``op.replay``. Returns a note ('' if all ran)."""
    steps, owners = [], []
    for i, op in enumerate(ops):
        for call in op.request + op.background:
            if call.kind == "exec" or not all(_jsonable(p) for _, p in call.statements):
                return f"not replayed: {op.label} used exec() or a non-JSON parameter"
            steps.append({"label": str(len(steps)), "batch": [{"sql": s, "params": p} for s, p in call.statements]})
            owners.append(i)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        proj = miniflare.install(snapshot, Path(tmp))
        results = miniflare.run_meta(proj, steps)
    for op in ops:
        op.replay = []
    for owner, step in zip(owners, results, strict=True):
        ops[owner].replay.append((step.rows_read, step.rows_written))
    return ""


def recorded_ops(work: Path, db_file: Path) -> tuple[list[Op], Path]:
    """The operations run against a loopback receiver: what each sent to D1, and the snapshot before them."""

    async def go() -> tuple[list[Op], Path]:
        receiver = await Receiver().start()
        try:
            return await run_ops(work, db_file, receiver)
        finally:
            await receiver.stop()

    return asyncio.run(go())


def run(opts: Options) -> str:
    rows = opts.sizes([100_000], [300])[-1]
    say(f"roundtrips: preparing {rows:,} rows")
    db_file = datagen.cached(rows, opts.out)
    with tempfile.TemporaryDirectory(dir=opts.work(NAME)) as tmp:
        work = Path(tmp)
        say("roundtrips: running the operations in the embedded runtime")
        ops, snapshot = recorded_ops(work, db_file)
        note = "Miniflare replay skipped in smoke mode."
        if not opts.smoke:
            say("roundtrips: replaying the recorded calls through Miniflare's D1")
            note = replay(ops, snapshot, work)
    return render(rows, ops, note)


def render(rows: int, ops: list[Op], note: str) -> str:
    lines = []
    for op in ops:
        kv = ", ".join(f"{k} {v}" for k, v in sorted(op.kv.items())) or "—"
        bg_read, bg_written = op.miniflare_rows(0, background=True), op.miniflare_rows(1, background=True)
        lines.append(
            [
                op.label,
                op.status,
                len(op.request),
                op.header_round_trips or "—",
                kv,
                fmt(op.miniflare_rows(0)),
                fmt(op.miniflare_rows(1)),
                f"{op.embedded_rows('rows_read')} / {op.embedded_rows('rows_written')}",
                f"{len(op.background)} ({fmt(bg_read)} / {fmt(bg_written)})",
            ]
        )
    by = {op.label: op for op in ops}
    warm = by.get("send (KV warm)")
    targets = [Target("D1 round trips of a send with a warm cache", len(warm.request) if warm else None, 1)]
    for label in ("log page 1", "log page 2 (cursor)"):
        op = by.get(label)
        targets.append(
            Target(
                f"{label}: D1 rows read (limit {PAGE_LIMIT} + 1)", op.miniflare_rows(0) if op else None, PAGE_LIMIT + 1
            )
        )
    body = [
        f"Embedded runtime, in process, on a copy of the {rows:,}-row generated database (user `{scenario.USER}` has "
        "its share of history); webhook delivery to a loopback receiver. Round trips counted at the D1 binding; KV "
        "calls at the KV binding. Rows read/written: D1's own `meta` from replaying the same calls, in order, through "
        "Miniflare (getPlatformProxy) on a snapshot of the database; the embedded binding's approximation "
        "(rows returned + rows changed) shown for comparison. 'After response' is the `waitUntil` delivery work.",
        "",
        table(
            [
                "operation",
                "status",
                "D1 round trips",
                "x-d1-round-trips",
                "KV calls",
                "rows read (D1)",
                "rows written (D1)",
                "embedded read / written",
                "after response: trips (read / written)",
            ],
            lines,
        ),
        "",
        *([note, ""] if note else []),
        "```",
        *(t.line() for t in targets),
        "```",
    ]
    return "\n".join(body)
