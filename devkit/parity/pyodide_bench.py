"""The benchmark half of the parity harness (``harness.mjs --bench``). Runs INSIDE Pyodide, never under CPython.

A backup of the ``source`` database and its restore into the empty ``target`` one, with the production
job code driven as the cron tick and the admin API drive it: ``usecases.start_backup`` /
``start_restore`` (quiesce 0), then ``continue_job`` until the job ends, each call one "invocation"
(a fresh ``Context``, the paid plan's limits from the env, usage counted as the worker counts it).

Measured per invocation: CPU of Node's main thread (Pyodide, the JS it calls and Miniflare's client
side; ``process.threadCpuUsage``), CPU of the whole Node process (adds V8/libuv helper threads), wall
time, D1 round trips and R2 operations. Inside Pyodide ``time.process_time`` is wall time, so it is
not used. Per phase: the same main-thread CPU around each phase method of ``BackupStep`` /
``RestoreStep`` (see :data:`PHASES`; a method the code no longer has is reported as not attributed),
and within each phase around the D1 and R2 facades' calls (:class:`Ledger`).

Pages are read one after the other (:func:`read_pages_in_turn`): production reads the next page
while it writes this one, which overlaps D1's wait with Python's work (wall time, not CPU), but every
meter here counts a call's CPU from its start to its end and needs the thread to run nothing else
meanwhile.

With ``profile`` set, a second backup and restore (into ``profiled``, another empty database) run
under ``cProfile`` timed by the same main-thread CPU meter, whose per-function figures are returned as
they are; the profiler's overhead (a timer call per event) inflates them, so the measured pass and
the profiled pass are never the same run.
"""

import asyncio
import cProfile
import json
import pstats
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pyodide_glue

# Job phase -> the step method that does it (ops/jobs/backup.py, ops/jobs/restore.py).
PHASES = {
    "backup": {"schema": "_begin", "data": "_table", "tail": "_tail", "finish": "_finish"},
    "restore": {"check": "_check", "replace": "_replace", "data": "_data", "verify": "_verify", "finish": "_finish"},
}
MINIFLARE = "of which Miniflare's D1/R2 client"


class Meter:
    """harness.mjs's CPU meters (microseconds), read as seconds, with the wall clock."""

    def __init__(self, js_meter: Any):
        self._js = js_meter

    def read(self) -> tuple[float, float, float]:
        return self._js.thread() / 1e6, self._js.process() / 1e6, time.perf_counter()

    def miniflare(self) -> float:
        """CPU seconds so far in the client side of Miniflare's D1 and R2 proxies (harness.mjs
        ``meteredD1``, ``meteredR2``)."""
        return self._js.miniflare() / 1e6

    def thread(self) -> float:
        """The main thread's CPU seconds: the profiler's timer (a wall clock would also count the
        synchronous round trips Miniflare's proxies block on, which cost no CPU)."""
        return self._js.thread() / 1e6


def heap_mb() -> float:
    """The wasm heap (it never shrinks: the peak so far), in MiB."""
    import pyodide_js

    return round(pyodide_js._module.HEAP8.length / 2**20, 1)


class Ledger:
    """Main-thread CPU by job phase, and within each phase by binding call (D1 reads, D1 batches, ...).

    Nothing else runs on the thread, so the CPU between a method's call and its return is that method's,
    including the JS it runs while awaiting (Miniflare's proxy decoding a result); waiting itself costs
    no CPU. Only the outermost timed call of each kind counts (``Database.first`` calls ``all``, ...).
    """

    OUTSIDE = "(outside the phase methods)"

    def __init__(self, meter: Meter):
        self.meter = meter
        self.phase = self.OUTSIDE
        self.phases: dict[str, float] = {}
        self.calls: dict[str, dict[str, float]] = {}  # phase -> call kind -> seconds
        self.counts: dict[str, int] = {}  # call kind -> calls
        self._depth = 0

    def phase_wrapper(self, phase: str, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            outer, self.phase = self.phase, phase
            started = self.meter.thread()
            try:
                return await method(*args, **kwargs)
            finally:
                self.phases[phase] = self.phases.get(phase, 0.0) + self.meter.thread() - started
                self.phase = outer

        return wrapper

    def call_wrapper(self, kind: str, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return await method(*args, **kwargs)
            self._depth += 1
            started, proxy = self.meter.thread(), self.meter.miniflare()
            try:
                return await method(*args, **kwargs)
            finally:
                self._depth -= 1
                spent = self.calls.setdefault(self.phase, {})
                spent[kind] = spent.get(kind, 0.0) + self.meter.thread() - started
                spent[MINIFLARE] = spent.get(MINIFLARE, 0.0) + self.meter.miniflare() - proxy
                self.counts[kind] = self.counts.get(kind, 0) + 1

        return wrapper

    def report(self, missing: list[str]) -> dict[str, Any]:
        return {"phases": self.phases, "calls": self.calls, "call_counts": self.counts, "unattributed_phases": missing}


def _binding_calls() -> list[tuple[type, str, str]]:
    """(class, method, kind) of every binding call: each public method of the D1 facade (``D1 <name>``;
    the outermost one counts, e.g. ``all`` rather than the ``execute`` inside it) and of the R2 facade."""
    import inspect

    from edgenotify.db import Database
    from edgenotify.ops.bucket import Bucket

    def public(cls: type) -> list[str]:
        return [n for n, fn in vars(cls).items() if not n.startswith("_") and inspect.iscoroutinefunction(fn)]

    return [(Database, n, f"D1 {n}") for n in public(Database)] + [(Bucket, n, "R2") for n in public(Bucket)]


@contextmanager
def clocks(ledger: Ledger, step: type, methods: dict[str, str]) -> Iterator[list[str]]:
    """Wrap ``step``'s phase methods and the binding calls with the ledger's clocks while the block runs;
    yields the phases whose method the step no longer has."""
    wrapped: list[tuple[type, str, Any]] = []
    for phase, name in methods.items():
        if hasattr(step, name):
            wrapped.append((step, name, getattr(step, name)))
            setattr(step, name, ledger.phase_wrapper(phase, getattr(step, name)))
    for cls, name, kind in _binding_calls():
        if hasattr(cls, name):
            wrapped.append((cls, name, getattr(cls, name)))
            setattr(cls, name, ledger.call_wrapper(kind, getattr(cls, name)))
    try:
        yield [phase for phase, name in methods.items() if not hasattr(step, name)]
    finally:
        for cls, name, original in reversed(wrapped):
            setattr(cls, name, original)


class JobDriver:
    """Runs a job invocation by invocation and records what each one used."""

    def __init__(self, env: Any, runtime: Any, meter: Meter):
        self.env = env
        self.runtime = runtime
        self.meter = meter
        self.invocations: list[dict[str, Any]] = []

    async def invoke(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
        from edgenotify import usage
        from edgenotify.context import Context

        context = Context.create(self.env, self.runtime.newExecutionContext())
        counted, token = usage.start()
        before = self.meter.read()
        try:
            return await work(context)
        finally:
            after = self.meter.read()
            usage.stop(token)
            self.invocations.append(
                {
                    "thread_s": after[0] - before[0],
                    "process_s": after[1] - before[1],
                    "wall_s": after[2] - before[2],
                    "d1": counted.d1_round_trips,
                    "r2": counted.r2_operations,
                    "rows_read": counted.rows_read,
                    "rows_written": counted.rows_written,
                }
            )

    async def run(self, first: Callable[[Any], Awaitable[str]]) -> Any:
        """``first`` starts the job (returns its id); then ``continue_job`` until it is not running."""
        from edgenotify.db import Database
        from edgenotify.ops.jobs import store, usecases

        job_id = await self.invoke(first)
        while True:
            job = await store.get(Database(self.env.DB), job_id)
            if job is None:
                raise RuntimeError(f"job {job_id} vanished")
            if job.failures:
                raise RuntimeError(f"job {job_id} failed a step ({job.phase}): {job.last_error}")
            if not job.running:
                return job
            await self.invoke(lambda context: usecases.continue_job(context, job_id))

    def totals(self) -> dict[str, Any]:
        inv = self.invocations
        return {
            "invocations": len(inv),
            "thread_s": sum(i["thread_s"] for i in inv),
            "process_s": sum(i["process_s"] for i in inv),
            "wall_s": sum(i["wall_s"] for i in inv),
            "d1": sum(i["d1"] for i in inv),
            "r2": sum(i["r2"] for i in inv),
            "most_d1": max(i["d1"] for i in inv),
            "most_thread_s": max(i["thread_s"] for i in inv),
        }


async def backup(env: Any, runtime: Any, meter: Meter) -> tuple[Any, dict[str, Any]]:
    from edgenotify.ops.jobs import usecases
    from edgenotify.ops.jobs.backup import BackupStep

    async def start(context: Any) -> str:
        return (await usecases.start_backup(context, "bench")).id

    driver, ledger = JobDriver(env, runtime, meter), Ledger(meter)
    with clocks(ledger, BackupStep, PHASES["backup"]) as missing:
        job = await driver.run(start)
    return job, {**driver.totals(), **ledger.report(missing), "per_invocation": driver.invocations}


async def restore(env: Any, runtime: Any, meter: Meter, backup_id: str) -> tuple[Any, dict[str, Any]]:
    from edgenotify.ops.jobs import usecases
    from edgenotify.ops.jobs.restore import RestoreStep

    async def start(context: Any) -> str:
        started = await usecases.start_restore(context, backup_id, dry_run=False, quiesce_seconds=0, trigger="bench")
        return str(started["job"]["id"])

    driver, ledger = JobDriver(env, runtime, meter), Ledger(meter)
    with clocks(ledger, RestoreStep, PHASES["restore"]) as missing:
        job = await driver.run(start)
    return job, {**driver.totals(), **ledger.report(missing), "per_invocation": driver.invocations}


def _where(filename: str) -> str:
    for prefix in ("/parity/src/", "/parity/glue/", "/parity/", "/home/pyodide/"):
        if filename.startswith(prefix):
            return filename.removeprefix(prefix)
    if "/site-packages/" in filename:
        return filename.split("/site-packages/", 1)[1]
    if "/lib/python3" in filename:
        return "stdlib/" + filename.split("/lib/python3", 1)[1].split("/", 1)[-1]
    return filename


def _builtin(key: tuple[str, int, str]) -> bool:
    return key[0] == "~"


def _label(key: tuple[str, int, str]) -> str:
    return "builtin" if _builtin(key) else f"{_where(key[0])}:{key[1]}"


def profile_rows(profile: cProfile.Profile) -> list[dict[str, Any]]:
    """Every function the profiler saw: where, calls, own time (tottime), with callees (cumtime), its most
    frequent caller, and how many calls it made to Python functions and to builtins (for the overhead
    correction, see calibrate)."""
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    made: dict[Any, list[int]] = {}
    for callee, (_cc, _nc, _tt, _ct, callers) in stats.items():
        for caller, counts in callers.items():
            made.setdefault(caller, [0, 0])[_builtin(callee)] += counts[0]
    rows = []
    for key, (_cc, calls, own, cumulative, callers) in stats.items():
        filename, line, name = key
        python, builtins = made.get(key, (0, 0))
        top = max(callers.items(), key=lambda item: item[1][0])[0] if callers else None
        rows.append(
            {
                "where": _label(key),
                "function": name,
                "caller": f"{_label(top)} {top[2]}" if top else "",
                "builtin": _builtin(key),
                "calls": calls,
                "own_s": own,
                "cum_s": cumulative,
                "made_python": python,
                "made_builtin": builtins,
            }
        )
    return rows


CALIBRATION_CALLS = 200_000


def _empty() -> None:
    return None


def _python_calls() -> None:
    for _ in range(CALIBRATION_CALLS):
        _empty()


def _builtin_calls() -> None:
    nothing = ()
    for _ in range(CALIBRATION_CALLS):
        len(nothing)


def calibrate(meter: Meter) -> dict[str, Any]:
    """The profiler's CPU per call, as charged to the callee's own time and to the caller's, for Python
    and for builtin callees: each profiled call reads the CPU meter twice through the FFI (~µs), which
    dwarfs small functions. Measured on loops of empty calls, unprofiled and then profiled; the
    unprofiled loop's CPU is also a reference of this process's speed (a loaded machine slows it)."""
    out: dict[str, Any] = {"calls": CALIBRATION_CALLS}
    for kind, loop, callee in (("python", _python_calls, "_empty"), ("builtin", _builtin_calls, "len")):
        started = meter.thread()
        loop()
        base = meter.thread() - started
        profile = cProfile.Profile(meter.thread)
        profile.enable()
        loop()
        profile.disable()
        own = {name: row[2] for (_f, _l, name), row in pstats.Stats(profile).stats.items()}  # type: ignore[attr-defined]
        callee_own = next(t for name, t in own.items() if name == callee or name.endswith(f".{callee}>"))
        out[kind] = {
            "unprofiled_s": base,
            "callee_s": max(0.0, (callee_own - base / 2) / CALIBRATION_CALLS),
            "caller_s": max(0.0, (own[loop.__name__] - base / 2) / CALIBRATION_CALLS),
        }
    return out


async def profiled(env: Any, target: Any, runtime: Any, meter: Meter) -> dict[str, Any]:
    """A second backup and restore, each under its own cProfile."""
    out: dict[str, Any] = {}
    for kind in ("backup", "restore"):
        profile = cProfile.Profile(meter.thread)
        profile.enable()
        before = meter.read()
        try:
            if kind == "backup":
                job, _ = await backup(env, runtime, meter)
                backup_id = job.id
            else:
                job, _ = await restore(target, runtime, meter, backup_id)
        finally:
            profile.disable()
        after = meter.read()
        rows = profile_rows(profile)
        out[kind] = {
            "status": job.status,
            "thread_s": after[0] - before[0],
            "wall_s": after[2] - before[2],
            "profiled_s": sum(r["own_s"] for r in rows),
            "functions": rows,
        }
    return out


def read_pages_in_turn() -> None:
    """``TableReader.read_ahead`` as a no-op (see the module's docstring): ``next`` then reads the page."""
    from edgenotify.ops.backups.dump import TableReader

    async def in_turn(reader: Any, last: Any) -> None:
        return None

    TableReader.read_ahead = in_turn


async def run_async(envs: Any, runtime: Any, js_meter: Any, spec_json: str) -> str:
    spec = json.loads(spec_json)
    read_pages_in_turn()
    pyodide_glue.stub_runtime_modules(runtime)
    pyodide_glue.leave_out_pydantic_routes()
    source, target = pyodide_glue.wrap_env(envs.source), pyodide_glue.wrap_env(envs.target)
    import entry  # noqa: F401  (the worker's module: registers how src/ reaches the SDK's JS objects)
    from edgenotify.migrations import automigrate
    from edgenotify.ops.jobs import usecases  # noqa: F401  (imports are not part of the figures)

    meter = Meter(js_meter)
    await automigrate.ensure_migrated(source.DB)  # current already: datagen writes the ledger
    await automigrate.ensure_migrated(target.DB)  # the restore's target: migrated and empty, like a fresh D1
    out: dict[str, Any] = {"python": ".".join(map(str, sys.version_info[:3])), "heap_mb_start": heap_mb()}
    job, out["backup"] = await backup(source, runtime, meter)
    logs = next(t["rows"] for t in job.state["tables"] if t["name"] == "notification_logs")
    out["backup"].update(status=job.status, heap_mb=heap_mb(), manifest=job.state["manifest"], logs_rows=logs)
    restored, out["restore"] = await restore(target, runtime, meter, job.id)
    out["restore"].update(
        status=restored.status,
        heap_mb=heap_mb(),
        verification=restored.state.get("verification"),
        tables=len(restored.state["verify"]["checks"]),
    )
    if spec.get("profile"):
        profiled_target = pyodide_glue.wrap_env(envs.profiled)
        await automigrate.ensure_migrated(profiled_target.DB)
        out["profile"] = await profiled(source, profiled_target, runtime, meter)
        out["profile"]["calibration"] = calibrate(meter)
        out["heap_mb_end"] = heap_mb()
    verified = (out["restore"]["verification"] or {}).get("ok") is True
    out["ok"] = out["backup"]["status"] == "complete" and out["restore"]["status"] == "complete" and verified
    return json.dumps(out)


def run(envs: Any, runtime: Any, meter: Any, spec_json: str) -> Any:
    """Entry point for harness.mjs --bench: an awaitable of the JSON figures.

    ``envs``: JS env objects by role (``source``, ``target``, ``profiled``), each with its D1 as ``DB``;
    ``meter``: harness.mjs's CPU meters; ``spec_json``: the benchmark's spec (``profile``: also profile).
    """
    return asyncio.ensure_future(run_async(envs, runtime, meter, spec_json))
