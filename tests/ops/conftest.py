"""Fixtures for the operations tests: a second embedded database to restore into."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.embedded.env import Env, build_env
from edgenotify.migrations import automigrate


@pytest.fixture
def target_env(tmp_path: Path) -> Iterator[Env]:
    """An empty embedded env (its own D1 file and bucket) next to ``embedded_env``."""
    overrides = {"ENVIRONMENT": "development"}
    env = build_env(tmp_path / "target", dev_vars_path=tmp_path / "no.dev.vars", overrides=overrides)
    yield env
    automigrate.forget(env.DB)
    env.close()
