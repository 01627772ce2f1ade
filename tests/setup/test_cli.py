"""The developer CLIs behave as people expect: quiet on a closed pipe, ``--help`` changes nothing, a taken port
is a clear message with exit code 3 (before anything claims to be serving), hints name commands that work."""

import re
import socket
import subprocess
from pathlib import Path

from setup_kit import ROOT

import devkit.lint.engine  # noqa: F401  (registers every rule)
import devkit.lint.rules.integrity  # noqa: F401
from devkit.lint.findings import RULES


def run(argv: list[str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, **kw)


def test_migrate_lint_json_into_a_closed_pipe_ends_quietly() -> None:
    piped = run(["bash", "-c", "scripts/migrate lint --json | true; echo ${PIPESTATUS[0]}"])
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr, piped.stderr
    assert piped.stdout.strip() in {"0", "141"}  # finished first, or ended by SIGPIPE like any Unix tool


def test_dev_help_has_no_side_effects(tmp_path: Path) -> None:
    watched = [ROOT / ".dev.vars", ROOT / ".state"]
    before = [p.stat().st_mtime_ns if p.exists() else None for p in watched]
    helped = run([str(ROOT / "scripts" / "dev"), "--help"], env={"PATH": "/usr/bin:/bin"})
    assert helped.returncode == 0 and "--port" in helped.stdout and "Exit codes" in helped.stdout
    assert helped.stderr == ""  # no set-up ran, nothing migrated
    assert [p.stat().st_mtime_ns if p.exists() else None for p in watched] == before


def test_taken_port_is_exit_3_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        dev = run([str(ROOT / "scripts" / "dev"), "--port", str(port), "--state-dir", str(tmp_path / "state")])
    assert dev.returncode == 3, dev.stdout + dev.stderr
    assert f"127.0.0.1:{port} is already in use" in dev.stderr and "--port" in dev.stderr
    assert "serving" not in dev.stdout + dev.stderr and "ready on" not in dev.stdout


def test_every_hint_names_a_command_that_runs() -> None:
    commands = set()
    for rule in RULES.values():
        commands |= set(re.findall(r"scripts/migrate (\w+)", rule.hint))
        assert "python -m" not in rule.hint, rule.id
    assert commands >= {"hash", "new", "baseline", "lint"}
    for command in sorted(commands):
        helped = run([str(ROOT / "scripts" / "migrate"), command, "--help"])
        assert helped.returncode == 0 and "usage:" in helped.stdout, (command, helped.stderr)
