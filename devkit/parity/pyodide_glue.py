"""The Python half of the parity harness. Runs INSIDE Pyodide (it imports ``js``/``pyodide``), never under CPython.

``harness.mjs`` mounts ``src/`` and ``tests/contract/`` and calls :func:`run` with the ``env`` object that
wrangler's ``getPlatformProxy`` built from ``wrangler.toml`` (Miniflare's real D1, KV and R2).

Production (compatibility date >= 2026-04-21, vendored ``workers-runtime-sdk``) hands the worker an
``_EnvWrapper`` whose D1/KV/R2 attributes are ``workers.rpc._BindingWrapper`` objects: every argument goes
through ``python_to_rpc`` (``None`` -> JS ``null``, ``bytes`` -> ``Uint8Array``, dicts -> JS objects) and every
result through ``python_from_rpc`` (JS objects -> ``JsDict``, ``null`` -> ``None``). The harness gives our code
exactly that, with the SDK's own code, so the FFI conversions under test are the real ones.
"""

import asyncio
import json
import sys
import time
import types
from typing import Any

import linetrace

SRC_ROOT = "/parity/src"

BINDINGS = ("DB", "CONFIG_CACHE", "BACKUPS")

# The route modules that need pydantic, whose compiled core has no Pyodide wheel offline. They are left
# out: each is replaced by a module with no routes, so ``edgenotify.routes`` (and with it ``app`` and
# ``entry``) imports with the pydantic-free routes only (``/health``). ``edgenotify.http.validation`` and
# ``edgenotify.models.*`` are then never imported. devkit/parity/README.md lists the same modules.
LEFT_OUT_ROUTE_MODULES = (
    "edgenotify.api.admin",
    "edgenotify.api.channels",
    "edgenotify.api.notifications",
    "edgenotify.api.openapi",
    "edgenotify.api.operator",
    "edgenotify.api.recovery",
    "edgenotify.api.reference",
    "edgenotify.api.templates",
)
# Modules only CPython imports (the Pyodide side of the same interface is another module).
CPYTHON_ONLY_MODULES = ("edgenotify.notify.delivery.transport.native",)


def stub_runtime_modules(runtime: Any) -> None:
    """Provide the two workerd-private modules the SDK imports, with only what its import path touches.

    ``_pyodide_entrypoint_helper``: the SDK calls ``patchWaitUntil(ctx)`` when a ``WorkerEntrypoint`` is
    constructed (harness.mjs's copy of workerd's: ``waitUntil`` then takes a Python coroutine) and
    ``doAnImport``/``cloudflare*Module`` for ``import_from_javascript``, which nothing of ours calls.
    ``_cloudflare_compat_flags``: read by workflow steps only; the flag keeps its default (off). Nothing
    else of the SDK is replaced.
    """
    helper = types.ModuleType("_pyodide_entrypoint_helper")
    helper.patchWaitUntil = runtime.patchWaitUntil
    flags = types.ModuleType("_cloudflare_compat_flags")
    flags.python_workflows_implicit_dependencies = False
    sys.modules.setdefault("_pyodide_entrypoint_helper", helper)
    sys.modules.setdefault("_cloudflare_compat_flags", flags)


def leave_out_pydantic_routes() -> None:
    """Replace :data:`LEFT_OUT_ROUTE_MODULES` by route-less modules (see there)."""
    import edgenotify.api

    for name in LEFT_OUT_ROUTE_MODULES:
        module = types.ModuleType(name, "left out on Pyodide: this route module needs pydantic")
        module.ROUTES = []
        module.routes_for = lambda _routes: []  # edgenotify.api.reference's routes, built from the others
        sys.modules[name] = module
        setattr(edgenotify.api, name.rsplit(".", 1)[1], module)


class PyodidePlatform:
    """The contracts' platform here: JS ExecutionContexts (harness.mjs) and the runner's receivers."""

    def __init__(self, runtime: Any, receivers: dict[str, str]):
        self._runtime = runtime
        self.receivers = receivers

    def execution_context(self) -> Any:
        return self._runtime.newExecutionContext()

    async def settle(self, ctx: Any) -> None:
        await ctx.settled()


def wrap_env(js_env: Any) -> Any:
    """The env our code sees: the SDK's ``_EnvWrapper``, with each binding in a ``_BindingWrapper``.

    Why wrap by hand: ``_EnvWrapper`` picks bindings by JS constructor name (``D1Database``,
    ``KvNamespace``, ``R2Bucket``, ...). The KV and R2 objects ``getPlatformProxy`` returns are Node
    proxies forwarding to Miniflare whose constructor name is none of those, so ``_EnvWrapper`` would
    pass them through RAW (no ``None``->null, no result conversion) and silently test the wrong thing.
    (DB is harness.mjs's local ``D1Database`` stand-in, which ``_EnvWrapper`` does recognise.) For these
    names ``_EnvWrapper`` does nothing but ``_BindingWrapper(binding)``; pre-setting the attribute is what
    its own attribute cache would hold. Vars still go through ``_EnvWrapper``.
    """
    from workers.rpc import _BindingWrapper, _EnvWrapper

    env = _EnvWrapper(js_env)
    for name in BINDINGS:
        setattr(env, name, _BindingWrapper(getattr(js_env, name)))
    return env


async def check_python_version(env: Any, js_env: Any) -> dict[str, Any]:
    """The edge runs Python 3.13 (compat date >= 2025-09-29); CPython here is 3.11. Prove we test 3.13."""
    assert sys.version_info[:2] == (3, 13), f"Pyodide runs Python {sys.version}, expected 3.13"
    import pyodide

    return {"python": list(sys.version_info[:3]), "pyodide": pyodide.__version__}


async def check_env_wrapper_needs_help(env: Any, js_env: Any) -> dict[str, Any]:
    """Record why :func:`wrap_env` exists: ``_EnvWrapper`` alone leaves the KV and R2 proxies unwrapped."""
    from workers.rpc import _BindingWrapper, _EnvWrapper

    plain = _EnvWrapper(js_env)
    unwrapped = [name for name in BINDINGS if not isinstance(getattr(plain, name), _BindingWrapper)]
    assert all(isinstance(getattr(env, name), _BindingWrapper) for name in BINDINGS)
    return {"left_raw_by_EnvWrapper": unwrapped}


async def check_raw_mode_trap(env: Any, js_env: Any) -> dict[str, Any]:
    """Without the SDK wrapper ``None`` reaches D1 as JS ``undefined``; with it, NULL is bound.

    Both halves must hold: if the wrapped call also failed, or the raw call also succeeded, the harness
    would not be exercising the real FFI conversion (e.g. wrappers bypassed, or a fake binding).
    """
    sql = "SELECT ?1 IS NULL AS is_null, typeof(?1) AS type"
    wrapped = await env.DB.prepare(sql).bind(None).first()
    assert dict(wrapped) == {"is_null": 1, "type": "null"}, f"wrapped bind of None gave {wrapped!r}"
    try:
        raw = await js_env.DB.prepare(sql).bind(None).first()
    except Exception as exc:  # pyodide.ffi.JsException
        raw_error = str(exc)
    else:
        raise AssertionError(f"raw bind of None was accepted ({raw!r}): the FFI is not the real one")
    assert "D1_TYPE_ERROR: Type 'undefined' not supported" in raw_error, raw_error
    return {"wrapped": dict(wrapped), "raw_error": raw_error}


async def check_sqlglot_imports(env: Any, js_env: Any) -> dict[str, Any]:
    """sqlglot (linter, query-plan endpoint) is pure Python and must load and parse under Pyodide."""
    import sqlglot

    tree = sqlglot.parse_one("SELECT id FROM notification_logs WHERE status = ?", read="sqlite")
    return {"sql": tree.sql(dialect="sqlite")}


SELF_CHECKS = (check_python_version, check_env_wrapper_needs_help, check_raw_mode_trap, check_sqlglot_imports)


async def _self_check(check: Any, env: Any, js_env: Any) -> dict[str, Any]:
    started = time.perf_counter()
    name = "harness:" + check.__name__.removeprefix("check_")
    try:
        observed, error = await check(env, js_env), None
    except Exception as exc:
        observed, error = None, f"{type(exc).__name__}: {exc}"
    return {"name": name, "ok": error is None, "error": error, "observed": observed, "ms": _ms(started)}


async def _measured(run: Any) -> list[dict[str, Any]]:
    """Add the process CPU (Pyodide's thread and the JS it calls; Miniflare's workerd is another
    process) and the wasm heap size after the run to each result: what the edge would bill and cap."""
    import js
    import pyodide_js

    before = js.process.cpuUsage()
    results = await run
    used = js.process.cpuUsage(before)
    heap_mb = round(pyodide_js._module.HEAP8.length / 2**20)
    for result in results:
        result.update(cpu_ms=round((used.user + used.system) / 1000), heap_mb=heap_mb)
    return results


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


async def run_async(js_env: Any, only: str, startup_ms: int, runtime: Any, receivers: str, measure: bool) -> str:
    tracer = linetrace.LineRecorder(SRC_ROOT) if measure else None
    if tracer:
        tracer.start()
    stub_runtime_modules(runtime)
    leave_out_pydantic_routes()
    import entry  # noqa: F401  (as in production, the worker's module registers how src/ reaches the SDK's JS objects)

    env = wrap_env(js_env)
    from tests.contract import contracts

    results = [await _self_check(check, env, js_env) for check in SELF_CHECKS]
    selected = [name for name in only.split(",") if name] or list(contracts.load())
    platform = PyodidePlatform(runtime, json.loads(receivers))
    for name in selected:
        results += await _measured(contracts.run_all(env, [name], platform))
    python = ".".join(str(v) for v in sys.version_info[:3])
    out: dict[str, Any] = {"python": python, "startup_ms": startup_ms, "results": results}
    if tracer:
        tracer.stop()
        out["coverage"] = tracer.report(LEFT_OUT_ROUTE_MODULES, CPYTHON_ONLY_MODULES)
    return json.dumps(out)


def run(js_env: Any, only: str, startup_ms: int, runtime: Any, receivers: str, measure: bool) -> Any:
    """Entry point for harness.mjs: returns an awaitable of the JSON results (self-checks + contracts).

    ``runtime``: harness.mjs's ``newExecutionContext``/``patchWaitUntil``; ``receivers``: JSON of the
    loopback receivers' URLs; ``measure``: also record which lines of ``src/`` ran (``coverage``).
    """
    return asyncio.ensure_future(run_async(js_env, only, startup_ms, runtime, receivers, measure))
