"""Put a generated SQLite file where wrangler/Miniflare look for local D1, and ask Miniflare for meta.

Local D1 lives in ``<project>/.wrangler/state/v3/d1/miniflare-D1DatabaseObject/<hash>.sqlite``.
The hash is Miniflare's durable-object id for the database, so instead of re-implementing it
we let wrangler create an empty database once and reuse the file name it chose (cached per
D1 config and wrangler version).
"""

import hashlib
import json
import shutil
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.datagen import OUT, ROOT

REPO_CONFIG = ROOT / "wrangler.toml"
STATE = Path(".wrangler") / "state"
OBJECT_DIR = STATE / "v3" / "d1" / "miniflare-D1DatabaseObject"
D1META = Path(__file__).resolve().parent / "d1meta.mjs"


def database() -> dict[str, str]:
    """Our D1 binding and name (and id, if one is set), as the repository's wrangler.toml declares them."""
    config = tomllib.loads(REPO_CONFIG.read_text(encoding="utf-8"))
    db = config["d1_databases"][0]
    return {key: db[key] for key in ("binding", "database_name", "database_id") if key in db}


def config_text() -> str:
    db = database()
    return 'name = "edgenotify-bench"\ncompatibility_date = "2026-05-01"\n\n[[d1_databases]]\n' + "".join(
        f'{key} = "{value}"\n' for key, value in db.items()
    )


def project(directory: Path) -> Path:
    """A wrangler project holding only our D1 binding; its local state is ``directory/.wrangler/state``.

    ``wrangler d1 export`` has no ``--persist-to``: it always uses the state next to its config,
    so every wrangler command here runs against such a project directory.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "wrangler.toml").write_text(config_text(), encoding="utf-8")
    return directory


def wrangler(proj: Path, *args: str) -> list[str]:
    return ["wrangler", *args, "--config", str(proj / "wrangler.toml")]


def wrangler_version() -> str:
    package = ROOT / "node_modules" / "wrangler" / "package.json"
    return json.loads(package.read_text())["version"] if package.exists() else "missing"


def object_name() -> str:
    """The ``<hash>.sqlite`` name Miniflare uses for our D1 database (asked of wrangler once, cached)."""
    key = hashlib.sha256((config_text() + wrangler_version()).encode()).hexdigest()[:12]
    cache = OUT / f"miniflare-d1-name-{key}.txt"
    if cache.exists():
        return cache.read_text().strip()
    with tempfile.TemporaryDirectory() as tmp:
        proj = project(Path(tmp))
        cmd = wrangler(proj, "d1", "execute", database()["database_name"], "--local", "--command", "SELECT 1")
        subprocess.run(cmd, check=True, capture_output=True, cwd=proj, timeout=120)
        names = [p.name for p in (proj / OBJECT_DIR).glob("*.sqlite") if p.name != "metadata.sqlite"]
    if len(names) != 1:
        raise RuntimeError(f"expected one D1 file from wrangler, found {names}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(names[0])
    return names[0]


def database_file(proj: Path) -> Path:
    return proj / OBJECT_DIR / object_name()


def install(db_file: Path | None, directory: Path) -> Path:
    """Make ``directory`` a wrangler project whose local D1 is a copy of ``db_file`` (None: empty)."""
    proj = project(directory)
    target = database_file(proj)
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    if db_file is not None:
        shutil.copyfile(db_file, target)
    return proj


@dataclass
class MetaStep:
    label: str
    meta: list[dict[str, Any]]
    ms: list[float]

    @property
    def rows_read(self) -> int:
        return sum(int(m.get("rows_read") or 0) for m in self.meta)

    @property
    def rows_written(self) -> int:
        return sum(int(m.get("rows_written") or 0) for m in self.meta)


def run_meta(proj: Path, steps: list[dict[str, Any]], timeout: float = 300) -> list[MetaStep]:
    """Run ``steps`` (see d1meta.mjs) through getPlatformProxy on project ``proj``; return D1's meta."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"steps": steps}, f)
        job = f.name
    try:
        proc = subprocess.run(
            ["node", str(D1META), str(proj / "wrangler.toml"), str(proj / STATE / "v3"), job],
            capture_output=True,
            text=True,
            cwd=ROOT,  # d1meta.mjs imports wrangler from the repository's node_modules
            timeout=timeout,
        )
    finally:
        Path(job).unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(f"d1meta failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    lines = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    return [MetaStep(x["label"], x["meta"], x["ms"]) for x in lines]
