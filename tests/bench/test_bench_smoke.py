"""Smoke mode of every benchmark, so they cannot rot. Tiny sizes; figures are not judged here.

Benchmarks themselves are run by ``scripts/bench`` (never by ``scripts/test``); these tests only
prove each one still runs end to end and renders its targets, and that the measuring harness
records an anchor that fails or times out instead of crashing.
"""

import sys
from pathlib import Path

import pytest

from bench import (
    backup,
    coldstart,
    datagen,
    delivery,
    http_load,
    indexes,
    measure,
    pagination,
    pyodide_jobs,
    report,
    roundtrips,
)
from bench.__main__ import main
from bench.options import Options


@pytest.fixture
def opts(tmp_path: Path) -> Options:
    return Options(smoke=True, out=tmp_path / "out")


def test_datagen_builds_a_migrated_realistic_table(tmp_path: Path) -> None:
    import sqlite3

    db = datagen.build(tmp_path / "logs.sqlite", 300)
    with sqlite3.connect(db) as conn:
        count, users, content = conn.execute(
            "SELECT count(*), count(DISTINCT user_id), avg(length(CAST(content AS BLOB))) FROM notification_logs"
        ).fetchone()
        ledger = [r[0] for r in conn.execute("SELECT name FROM d1_migrations")]
    assert count == 300 and users > 200 and 170 < content < 230
    assert ledger == [f.name for f in datagen.migration_files()]


def test_timeout_and_failure_are_recorded_not_raised(tmp_path: Path) -> None:
    slow = measure.run("slow", [sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.3, work=tmp_path)
    assert not slow.ok and slow.status.startswith("failed: timeout") and slow.seconds < 10
    bad = measure.run("bad", [sys.executable, "-c", "raise SystemExit('no way')"], timeout=30, work=tmp_path)
    assert not bad.ok and "exit 1: no way" in bad.status
    good = measure.run(
        "good", [sys.executable, "-c", "print('x' * 10)"], timeout=30, work=tmp_path, stdout=tmp_path / "o.txt"
    )
    assert good.ok and good.output_bytes == 11 and good.max_rss_kib


def test_record_replaces_only_its_own_section(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    report.record("b", report.section("b", "2. B", "other", "m", "c"), path)
    report.record("a", report.section("a", "1. A", "first", "m", "c"), path)
    path.write_text(path.read_text().replace("# Benchmark results", "# Benchmark results\n\nHand-written summary."))
    report.record("a", report.section("a", "1. A", "second", "m", "c"), path)
    text = path.read_text()
    assert "second" in text and "first" not in text and "other" in text and "Hand-written summary." in text
    assert text.index("## 1. A") < text.index("## 2. B") and text.count("## 1. A") == 1


def test_targets_report_pass_and_miss_with_margin() -> None:
    assert report.Target("t", 1.5, 1.2, "×").line().startswith("MISS  t: 1.5× (target ≤ 1.2×; missed by 0.3×")
    assert report.Target("t", 5.0, 4.0, "×", higher_is_better=True).line().startswith("PASS")
    assert report.Target("t", None, 4.0).line().startswith("NOT MEASURED")


def test_backup_smoke(opts: Options) -> None:
    body = backup.run(opts)
    assert (
        "| 300 | ours: scripts/backup, scripts/restore (embedded local R2) |" in body
        and "| 300 | ours: edgenotify.ops, R2 stand-in on disk |" in body
    )
    assert "| 300 | sqlite3 < .dump |" in body and "failed:" not in body
    assert "backup peak memory, ours: edgenotify.ops, R2 stand-in on disk" in body and "restore time vs sqlite3" in body


def test_pagination_smoke(opts: Options) -> None:
    body = pagination.run(opts)
    assert "| table | keyset | 90% (row" in body and "api: keyset page at 90 % depth" in body


def test_coldstart_smoke(opts: Options) -> None:
    body = coldstart.run(opts)
    assert "D1 queries per request once migrations are current" in body and "sqlglot imported" in body


def test_roundtrips_smoke(opts: Options) -> None:
    body = roundtrips.run(opts)
    assert "| send (KV warm) | 202 |" in body and "D1 round trips of a send with a warm cache" in body


def test_http_smoke(opts: Options) -> None:
    body = http_load.run(opts)
    assert "| GET /health |" in body and "| send (webhook to loopback) |" in body
    assert "accepted sends were delivered" in body and "NOT all delivered" not in body


def test_delivery_smoke(opts: Options) -> None:
    body = delivery.run(opts)
    assert "PASS  messages lost after the outage: 0" in body and "PASS  messages delivered more than once: 0" in body
    assert "| 3 | 5 | 15 | 0 | 0 | 0 |" in body  # sends/min, outage minutes, sent, lost, failed, duplicates


def test_cli_smoke_prints_and_leaves_results_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "RESULTS.md"
    assert main(["pagination", "--smoke", "--out", str(tmp_path / "out"), "--results", str(results)]) == 0
    assert "<!-- bench:pagination -->" in capsys.readouterr().out
    assert not results.exists()


def test_indexes_smoke(opts: Options) -> None:
    body = indexes.run(opts)
    assert "| log page, status=failed | SEARCH notification_logs USING INDEX idx_logs_user_status_created" in body
    assert "Writes on SQLite: 50 log rows" in body and "NOT MEASURED" in body  # no Miniflare in smoke mode


def test_pyodide_jobs_smoke(opts: Options) -> None:
    body = pyodide_jobs.run(opts)
    # the 300 generated log rows were read from the file copied into Miniflare's D1, and restored verified
    assert "| 300 | backup | complete | 1 |" in body and "300 log rows" in body
    assert "| 300 | restore | complete | 1 |" in body and "verification ok (12 tables)" in body
    for phase in ("schema", "data", "tail", "finish", "check", "replace", "verify"):
        assert f"| {phase} |" in body, phase
    assert "not attributed" not in body and "| D1 batch |" in body and "| R2 |" in body
    assert "**backup, 300 rows, profiled** (complete)" in body and "**restore, 300 rows, profiled** (complete)" in body
    assert "backup: Pyodide main-thread CPU per million rows" in body
