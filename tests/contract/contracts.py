"""The contract suite: one set of async checks, run on both runtimes our code meets.

* CPython + the embedded runtime (``devkit/embedded``: SQLite and local files) — by
  ``tests/contract/test_contract_parity.py`` in-process;
* Pyodide (Python 3.13) + Miniflare's real D1/KV/R2 behind the SDK's binding wrappers — by
  ``devkit/parity/harness.mjs``, which that test runs as a subprocess.

A contract is ``async def name(env) -> observation``. It raises (``AssertionError``) when a documented
behaviour does not hold, and returns a small JSON-able observation of what it saw; the pytest runner
requires every contract to pass on both runtimes AND the two observations to be equal, so a behaviour
that one runtime has and the other lacks cannot hide behind a loose assertion.

Rules for contracts: pure Python (this file is imported under Pyodide: no pydantic, no cryptography,
no local files), isolated by their own table names / key prefixes (on Miniflare every contract shares
one database, namespace and bucket, in registration order), and observations free of timings, ids,
etags, cursors and other values that legitimately differ between runs.

What is not in ``env`` but differs by runtime comes from :func:`platform` (set by the runner): a fresh
``ExecutionContext`` (the embedded runtime's, or a JS one with workerd's ``waitUntil`` patch), a way to
wait for the work it was given, and the URLs of the loopback receivers deliveries go to.
"""

import importlib
import json
import math
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

Contract = Callable[[Any], Awaitable[Any]]

# Registration order is run order; later modules may rely on the schema an earlier one migrated.
CONTRACT_MODULES = (
    "tests.contract.contract_d1",
    "tests.contract.contract_kv",
    "tests.contract.contract_r2",
    "tests.contract.contract_data",
    "tests.contract.contract_cache",
    "tests.contract.contract_notify",
    "tests.contract.contract_ops",
    "tests.contract.contract_crypto",
    "tests.contract.contract_policy",
    "tests.contract.contract_http",
    "tests.contract.contract_delivery",
    "tests.contract.contract_recovery",
    "tests.contract.contract_jobs",
    "tests.contract.contract_maintenance",
)

# The secrets both runners put in the worker's env (harness.mjs sets the same values for Miniflare).
CONTRACT_SECRETS = {"API_TOKEN": "contract-client-token", "ADMIN_TOKEN": "contract-admin-token"}

_REGISTRY: dict[str, Contract] = {}
_PLATFORM: list[Any] = []


class Platform(Protocol):
    """What a runner gives the contracts besides ``env`` (both runners define one).

    ``execution_context()`` -> a fresh ``ctx`` for ``Default(ctx, env)``; ``await settle(ctx)`` returns
    once every ``waitUntil`` work given to ``ctx`` has finished; ``receivers`` maps a receiver name
    (``tests/contract/receivers.py``) to its base URL.
    """

    receivers: dict[str, str]

    def execution_context(self) -> Any: ...

    async def settle(self, ctx: Any) -> None: ...


def platform() -> Platform:
    """The runner's :class:`Platform` (an error outside a run)."""
    if not _PLATFORM:
        raise RuntimeError("no platform: contracts run through contracts.run_all(env, only, platform)")
    return _PLATFORM[0]


def contract(fn: Contract) -> Contract:
    """Register ``fn`` under its function name (unique across the suite)."""
    if fn.__name__ in _REGISTRY and _REGISTRY[fn.__name__] is not fn:
        raise ValueError(f"duplicate contract name {fn.__name__}")
    _REGISTRY[fn.__name__] = fn
    return fn


def load() -> dict[str, Contract]:
    """Import every contract module; one that cannot import becomes a failing ``import:<module>`` contract."""
    for module in CONTRACT_MODULES:
        try:
            importlib.import_module(module)
        except Exception as exc:
            _REGISTRY.setdefault(f"import:{module.rsplit('.', 1)[-1]}", _import_failure(module, exc))
    return dict(_REGISTRY)


def _import_failure(module: str, exc: Exception) -> Contract:
    message = f"{module} does not import on this runtime: {type(exc).__name__}: {exc}"

    async def failed(env: Any) -> Any:
        raise AssertionError(message)

    return failed


def jsonable(value: Any) -> Any:
    """Observations as plain JSON data (bytes as hex, non-finite floats as text); anything else is a bug."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"hex": bytes(value).hex()}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    raise TypeError(f"observation holds a {type(value).__name__}: return plain data from contracts")


async def run_contract(name: str, fn: Contract, env: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        observed = json.loads(json.dumps(jsonable(await fn(env))))
        ok, error = True, None
    except Exception as exc:
        observed, ok = None, False
        error = f"{type(exc).__name__}: {exc}\n{_where(exc)}"
    elapsed = round((time.perf_counter() - started) * 1000)
    return {"name": name, "ok": ok, "error": error, "observed": observed, "ms": elapsed}


def _where(exc: BaseException) -> str:
    """The innermost frames inside the contract files: enough to find the failing line."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/contract/" in f.filename.replace("\\", "/")]
    return "\n".join(f"  at {f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.line}" for f in frames[-2:])


async def run_all(env: Any, only: Sequence[str] = (), platform: Platform | None = None) -> list[dict[str, Any]]:
    """Run every contract (or the ``only`` ones) in registration order against ``env`` on ``platform``."""
    registry = load()
    unknown = sorted(set(only) - set(registry))
    if unknown:
        raise KeyError(f"unknown contracts: {', '.join(unknown)}")
    _PLATFORM[:] = [platform] if platform is not None else []
    try:
        return [await run_contract(name, fn, env) for name, fn in registry.items() if not only or name in only]
    finally:
        _PLATFORM.clear()
