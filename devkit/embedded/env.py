"""The embedded Worker's ``env``: bindings on a local state directory, plus vars and secrets.

Layout of the state directory (default ``.state/``, git-ignored)::

    d1/DB.sqlite3          the D1 database (one file per D1 binding, named after it)
    kv/CONFIG_CACHE/       one directory per KV namespace
    r2/BACKUPS/            one directory per R2 bucket

Binding names come from ``wrangler.toml``; vars from its ``[vars]``; ``.dev.vars``
(dotenv format) overrides vars and supplies the secrets, as ``wrangler dev`` does. The
``LIMIT_*`` variables of ``edgenotify.limits`` are also read from the process environment
(over ``.dev.vars``), so a shell can lower a limit for one run.
"""

import importlib
import os
import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from devkit.embedded.d1 import D1Database
from edgenotify.limits import ENV_NAMES, PLAN_ENV_NAME

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STATE_DIR = ROOT / ".state"
LIMIT_NAMES = (PLAN_ENV_NAME, *ENV_NAMES.values())


def parse_dotenv(text: str) -> dict[str, str]:
    """``KEY=value`` lines; ``#`` comments, ``export`` prefixes and matching quotes are allowed."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def read_config(config_path: Path) -> dict[str, Any]:
    with open(config_path, "rb") as f:
        return tomllib.load(f)


def configured_cpu_ms(config_path: Path) -> int | None:
    """``[limits] cpu_ms`` of wrangler.toml: the CPU time per invocation the deployed Worker gets."""
    value = (read_config(config_path).get("limits") or {}).get("cpu_ms")
    return int(value) if value is not None else None


class Env(SimpleNamespace):
    """Attribute access like the SDK's env wrapper; ``close()`` releases the SQLite handles."""

    def close(self) -> None:
        for value in vars(self).values():
            if callable(getattr(value, "close", None)):
                value.close()


def _binding(module: str, cls: str, *args: Any) -> Any:
    return getattr(importlib.import_module(f"devkit.embedded.{module}"), cls)(*args)


def build_env(
    state_dir: str | Path = DEFAULT_STATE_DIR,
    config_path: str | Path = ROOT / "wrangler.toml",
    dev_vars_path: str | Path | None = None,
    overrides: dict[str, str] | None = None,
) -> Env:
    """Build ``env`` from ``wrangler.toml`` + ``.dev.vars`` (default: next to the config) + overrides."""
    state = Path(state_dir)
    config = read_config(Path(config_path))
    env = Env()
    for name, value in (config.get("vars") or {}).items():
        setattr(env, name, value)
    dev_vars = Path(dev_vars_path) if dev_vars_path is not None else Path(config_path).parent / ".dev.vars"
    if dev_vars.is_file():
        for name, value in parse_dotenv(dev_vars.read_text(encoding="utf-8")).items():
            setattr(env, name, value)
    for name in LIMIT_NAMES:  # operators and scripts lower limits from the shell too
        if os.environ.get(name):
            setattr(env, name, os.environ[name])
    for name, value in (overrides or {}).items():
        setattr(env, name, value)
    for db in config.get("d1_databases") or []:
        setattr(env, db["binding"], D1Database(state / "d1" / f"{db['binding']}.sqlite3"))
    for ns in config.get("kv_namespaces") or []:
        setattr(env, ns["binding"], _binding("kv", "KVNamespace", state / "kv" / ns["binding"]))
    for bucket in config.get("r2_buckets") or []:
        setattr(env, bucket["binding"], _binding("r2", "R2Bucket", state / "r2" / bucket["binding"]))
    return env
