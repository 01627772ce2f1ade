"""Fixtures for the operations tests: a second embedded database to restore into, limited envs."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.embedded.env import Env, build_env
from edgenotify.db import Database
from edgenotify.migrations import automigrate
from edgenotify.ops.jobs import marker


@pytest.fixture
def target_env(tmp_path: Path) -> Iterator[Env]:
    """An empty embedded env (its own D1 file and bucket) next to ``embedded_env``."""
    overrides = {"ENVIRONMENT": "development"}
    env = build_env(tmp_path / "target", dev_vars_path=tmp_path / "no.dev.vars", overrides=overrides)
    yield env
    automigrate.forget(env.DB)
    env.close()


LIMITS = {"LIMIT_D1_QUERIES": "20", "LIMIT_CPU_MS": "500"}


@pytest.fixture
def limited_envs(tmp_path: Path) -> Iterator[tuple[Env, Env]]:
    """A source and a target env sharing one bucket, both with lowered per-invocation limits."""
    overrides = {"ENVIRONMENT": "development", **LIMITS}
    source = build_env(tmp_path / "source", dev_vars_path=tmp_path / "no.dev.vars", overrides=overrides)
    target = build_env(tmp_path / "target", dev_vars_path=tmp_path / "no.dev.vars", overrides=overrides)
    target.BACKUPS = source.BACKUPS  # the target restores what the source backed up
    yield source, target
    for env in (source, target):
        automigrate.forget(env.DB)
        marker.forget(Database(env.DB))
        env.close()
