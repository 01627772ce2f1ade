"""What both CLIs share: the local env (D1 file + R2 bucket under the state dir), the context, output."""

import json
import os
import sys
from pathlib import Path
from typing import Any

from devkit.embedded.env import DEFAULT_STATE_DIR, ROOT, Env, build_env
from edgenotify.context import Context
from edgenotify.ops.jobs import store
from edgenotify.ops.jobs.store import Job

DEFAULT_CONFIG = ROOT / "wrangler.toml"


def local_env(state_dir: str | Path, config: str | Path) -> Env:
    """The bindings the embedded runtime (``scripts/dev``) uses for this state directory."""
    return build_env(Path(state_dir), Path(config), dev_vars_path=Path(state_dir) / ".no-dev-vars")


def add_target_options(parser: Any) -> None:
    parser.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR), help="local runtime state (default: .state)")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="wrangler.toml naming the bindings")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def emit(data: Any, as_json: bool, human: str) -> None:
    """Print the result; a reader that closed the pipe (``| head``) ends the output quietly."""
    try:
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str) if as_json else human)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit


def local_context(env: Env) -> Context:
    """What a Worker invocation would get, for the CLI: each use-case call is one "invocation"."""
    context = Context.create(env, None)
    context.actor = "cli"
    return context


def human_size(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{n} B"
        size /= 1024
    return f"{n} B"


async def find_job(db: Any, kind: str, job_id: str) -> Job | None:
    """The job named, or the newest job of ``kind`` when no id is given (``--continue``)."""
    if job_id:
        return await store.get(db, job_id)
    recent = await store.recent(db, kind, 1)
    return recent[0] if recent else None
