"""The worker's migration bundle cannot go stale: it is generated from ``migrations/`` at build time.

``scripts/build_bundle`` renders ``src/edgenotify/migrations/_bundle.py`` from the directory;
wrangler runs it as its ``[build]`` command before every deploy (and ``scripts/_setup.sh``
before dev and tests). These tests hold each link of that chain.
"""

import importlib
import runpy
import shlex
import tomllib
from pathlib import Path
from types import ModuleType

from migrate_helpers import ADD_LOCALE, REPO_MIGRATIONS, ROOT, add_migration

from devkit.migrate import source

BUILD = ROOT / "scripts" / "build_bundle"


def render(directory: Path) -> list[tuple[str, str]]:
    module = ModuleType("rendered_bundle")
    exec(runpy.run_path(str(BUILD), run_name="build_bundle")["render"](directory), module.__dict__)
    return module.MIGRATIONS


def as_pairs(directory: Path) -> set[tuple[str, str]]:
    return {(f.name, f.sql) for f in source.load(directory)}


def test_wrangler_build_command_regenerates_the_bundle():
    config = tomllib.loads((ROOT / "wrangler.toml").read_text(encoding="utf-8"))
    command = shlex.split(config["build"]["command"])
    assert command[-1] == "scripts/build_bundle"


def test_the_bundle_is_exactly_the_migrations_directory(migrations):
    add_migration(migrations, "0002_add_locale.sql", ADD_LOCALE)
    add_migration(migrations, "0003_crlf.sql", "CREATE TABLE IF NOT EXISTS crlf (a TEXT DEFAULT 'x\r\ny');\r\n")
    (migrations / ".#0002_add_locale.sql").symlink_to("nowhere")  # an editor's lock file: not a migration
    assert set(render(migrations)) == as_pairs(migrations)  # byte for byte, CRLF included


def test_the_installed_bundle_is_current():
    """What the worker imports now equals migrations/ (scripts/_setup.sh ran build_bundle)."""
    from edgenotify.migrations import _bundle

    importlib.reload(_bundle)
    assert set(_bundle.MIGRATIONS) == as_pairs(REPO_MIGRATIONS)


def test_build_bundle_script_rewrites_a_stale_module(tmp_path, migrations):
    """Running the build command (as wrangler does) brings a stale module up to date, and only then writes."""
    script = runpy.run_path(str(BUILD), run_name="build_bundle")["main"]
    target = tmp_path / "_bundle.py"
    (tmp_path / "wrangler.toml").write_text('[triggers]\ncrons = ["0 3 * * *"]\n', encoding="utf-8")
    # a private project: tmp_path/migrations and tmp_path/wrangler.toml
    script.__globals__.update(ROOT=tmp_path, TARGET=target, CRONS=tmp_path / "_crons.py")
    target.write_text('MIGRATIONS = [("0001_initial_schema.sql", "stale")]\n', encoding="utf-8")
    add_migration(migrations, "0002_add_locale.sql", ADD_LOCALE)
    assert script() == 0
    module = ModuleType("built")
    exec(target.read_text(encoding="utf-8"), module.__dict__)
    assert set(module.MIGRATIONS) == as_pairs(migrations)
    written = target.stat().st_mtime_ns
    assert script() == 0 and target.stat().st_mtime_ns == written  # unchanged input: file left alone
