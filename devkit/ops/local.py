"""What both CLIs share: the local env (D1 file + R2 bucket under the state dir), progress, output."""

import json
import sys
import time
from pathlib import Path
from typing import Any

from devkit.embedded.env import DEFAULT_STATE_DIR, ROOT, Env, build_env

DEFAULT_CONFIG = ROOT / "wrangler.toml"


def local_env(state_dir: str | Path, config: str | Path) -> Env:
    """The bindings the embedded runtime (``scripts/dev``) uses for this state directory."""
    return build_env(Path(state_dir), Path(config), dev_vars_path=Path(state_dir) / ".no-dev-vars")


def add_target_options(parser: Any) -> None:
    parser.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR), help="local runtime state (default: .state)")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="wrangler.toml naming the bindings")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, enabled: bool = True, width: int = 30):
        self.enabled = enabled
        self.width = width
        self.last = 0.0
        self.drawn = False

    def draw(self, done: int, total: int | None, label: str, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last < 0.1:
            return
        self.last = now
        if total:
            filled = min(self.width, int(self.width * done / total))
            bar = "#" * filled + "." * (self.width - filled)
            text = f"[{bar}] {100 * done // total:3d}% {done:,}/{total:,} {label}"
        else:
            text = f"{done:,} {label}"
        sys.stderr.write("\r" + text[:120].ljust(120))
        sys.stderr.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.enabled and self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()


def emit(data: Any, as_json: bool, human: str) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str) if as_json else human)


def human_size(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{n} B"
        size /= 1024
    return f"{n} B"
