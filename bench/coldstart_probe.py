"""Child process of the cold-start benchmark: import ``src/entry.py`` fresh, then serve requests.

Run as ``python -X importtime bench/coldstart_probe.py <state_dir>`` so the import of ``entry``
is timed in a clean interpreter. Prints one JSON object: import wall time, D1 round trips of
each request (the development auto-migrator is on, so anything beyond 0 on a current
database is migration overhead), and whether sqlglot got imported anywhere on the request path.
"""

import asyncio
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (str(ROOT / "src"), str(ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)

TOKEN = "bench-token"
FORBIDDEN = ("sqlglot",)
SKIP = re.compile(r"plan|explain", re.IGNORECASE)  # the admin query-plan endpoint may load sqlglot lazily


def _forbidden_loaded() -> list[str]:
    return sorted({name.split(".")[0] for name in sys.modules if name.split(".")[0] in FORBIDDEN})


async def _serve(state_dir: str, entry, modules: dict) -> dict:
    from bench.recording import RecordingD1
    from devkit.embedded.context import ExecutionContext
    from devkit.embedded.env import build_env
    from edgenotify.routes import ROUTER

    overrides = {"ENVIRONMENT": "development", "API_TOKEN": TOKEN, "ADMIN_TOKEN": TOKEN + "-admin"}
    env = build_env(state_dir, overrides=overrides)
    env.DB = RecordingD1(env.DB)
    ctx = ExecutionContext()
    workers = sys.modules["workers"]

    async def call(method: str, path: str, token: str | None) -> dict:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        started = time.perf_counter()
        response = await entry.Default(ctx, env).fetch(workers.Request(f"http://bench.local{path}", method, headers))
        await ctx.drain()
        ms = (time.perf_counter() - started) * 1000
        calls = env.DB.take()
        return {
            "path": path,
            "status": response.status,
            "ms": ms,
            "d1_calls": len(calls),
            "loaded": _forbidden_loaded(),
        }

    requests = [await call("GET", "/health", None) for _ in range(5)]
    routes = []
    for route in ROUTER.routes:
        if route.method != "GET" or route.pattern == "/health" or SKIP.search(route.pattern):
            continue
        path = re.sub(r"\{\w+\}", "bench", route.pattern)
        token = {"admin": TOKEN + "-admin", "client": TOKEN}.get(route.role)
        routes.append(await call("GET", path, token))
    env.close()
    return {"health": requests, "routes": routes, **modules}


def main() -> None:
    state_dir = sys.argv[1]
    started = time.perf_counter()
    from devkit.embedded import workers_shim

    workers_shim.install()
    shim_done = time.perf_counter()
    import entry

    imported = time.perf_counter()
    modules = {
        "shim_ms": (shim_done - started) * 1000,
        "import_ms": (imported - shim_done) * 1000,
        "loaded_after_import": _forbidden_loaded(),
        "module_count": len(sys.modules),
    }
    print(json.dumps(asyncio.run(_serve(state_dir, entry, modules))))


if __name__ == "__main__":
    main()
