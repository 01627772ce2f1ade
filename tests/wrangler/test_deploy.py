"""The real pinned wrangler builds our upload offline: ``wrangler deploy --dry-run --outdir DIR``.

What wrangler uploads for a Python Worker (workers-sdk ``findAdditionalModules``): the entry module, every
file under the module root (the directory of ``main``, here ``src/``) matching the Python module rule
(``**/*.py``), and, only if a ``python_modules/`` directory exists next to ``wrangler.toml``, its files as
vendored Data modules. ``python_modules/`` is optional for wrangler ("no python_modules directory found" is
a debug message), so the dry-run needs neither pywrangler nor the network; a real deploy goes through
``pywrangler deploy``, which fills ``python_modules/`` (the SDK, pydantic, httpx...) first.

The tests prove: the ``[build]`` command runs (and generates the migrations bundle module), and the upload
holds ``src/`` modules only — no embedded runtime, tests, scripts, benchmarks or migration SQL.
"""

import runpy
import shutil
import subprocess
from pathlib import Path

import pytest

from devkit.nodejs import node_env, wrangler

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = "edgenotify/migrations/_bundle.py"
CRONS = "edgenotify/_crons.py"
GENERATED = {BUNDLE, CRONS}  # written by the [build] command, git-ignored
BUILD_LINE = "[custom build] Running: python3 scripts/build_bundle"
NOT_SHIPPED = ("devkit/", "tests/", "scripts/", "bench/", "migrations/", "python_modules/", "node_modules/")


def _src_modules(src: Path) -> set[str]:
    return {p.relative_to(src).as_posix() for p in src.rglob("*.py") if "__pycache__" not in p.parts}


def _dry_run(project: Path, outdir: Path) -> subprocess.CompletedProcess[str]:
    env = node_env() | {"CI": "1"}  # CI: never prompt
    env.pop("CLOUDFLARE_API_TOKEN", None)  # a dry run must not need an account
    return subprocess.run(
        [str(wrangler()), "deploy", "--dry-run", "--outdir", str(outdir)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _uploaded(outdir: Path) -> set[str]:
    return {p.relative_to(outdir).as_posix() for p in outdir.rglob("*") if p.is_file()} - {"README.md"}


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The deployable part of the project, WITHOUT the generated modules: only [build] can create them."""
    project = tmp_path_factory.mktemp("deploy-project")
    shutil.copy2(ROOT / "wrangler.toml", project / "wrangler.toml")
    shutil.copytree(ROOT / "migrations", project / "migrations")
    (project / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "build_bundle", project / "scripts" / "build_bundle")
    ignored = shutil.ignore_patterns("__pycache__", *(Path(g).name for g in GENERATED))
    shutil.copytree(ROOT / "src", project / "src", ignore=ignored)
    return project


def test_dry_run_of_the_repository_uploads_src_modules_only(tmp_path: Path) -> None:
    result = _dry_run(ROOT, tmp_path / "out")
    assert result.returncode == 0, result.stdout + result.stderr
    assert BUILD_LINE in result.stdout, result.stdout
    uploaded = _uploaded(tmp_path / "out")
    assert uploaded == _src_modules(ROOT / "src") | GENERATED, sorted(uploaded ^ _src_modules(ROOT / "src"))
    assert "entry.py" in uploaded and "edgenotify/app.py" in uploaded
    assert not [m for m in uploaded if m.startswith(NOT_SHIPPED) or not m.endswith(".py")], sorted(uploaded)
    for module in uploaded - {"entry.py"}:
        assert f"│ {module} " in result.stdout, f"{module} not listed by wrangler as an attached module"


def test_build_command_generates_the_migrations_bundle(project_copy: Path, tmp_path: Path) -> None:
    """With no generated module on disk, the dry run still ships both: the migrations bundle equal to
    what migrations/ renders to, the schedule equal to what wrangler.toml declares."""
    assert not [g for g in GENERATED if (project_copy / "src" / g).exists()]
    result = _dry_run(project_copy, tmp_path / "out")
    assert result.returncode == 0, result.stdout + result.stderr
    assert BUILD_LINE in result.stdout, result.stdout
    shipped = (tmp_path / "out" / BUNDLE).read_text(encoding="utf-8")
    build = runpy.run_path(str(ROOT / "scripts" / "build_bundle"))  # its main() is guarded
    assert shipped == build["render"](ROOT / "migrations")
    crons = (tmp_path / "out" / CRONS).read_text(encoding="utf-8")
    assert crons == build["render_crons"](ROOT / "wrangler.toml")
    assert "'0 3 * * *'" in crons  # the backup's cron, as wrangler.toml declares it
    names = sorted(p.name for p in (ROOT / "migrations").glob("*.sql"))
    assert all(repr(name) in shipped for name in names)
    assert _uploaded(tmp_path / "out") == _src_modules(project_copy / "src") | GENERATED
