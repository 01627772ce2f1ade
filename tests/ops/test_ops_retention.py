"""Retention decisions and the backup status report, as pure functions of a listing and a time."""

from datetime import UTC, datetime, timedelta

import pytest

from edgenotify.ops.backups.catalog import BackupInfo, backup_status
from edgenotify.ops.backups.manifest import id_time, new_backup_id
from edgenotify.ops.maintenance.retention import RetentionPolicy, decide

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def _backup(hours_ago: float, complete: bool = True) -> BackupInfo:
    created = NOW - timedelta(hours=hours_ago)
    backup_id = new_backup_id(created)
    assert id_time(backup_id) == created.replace(microsecond=created.microsecond // 1000 * 1000)
    return BackupInfo(backup_id, id_time(backup_id), complete=complete)


def _ids(pairs: list[tuple[str, str]]) -> set[str]:
    return {i for i, _ in pairs}


def test_daily_backups_are_kept_for_the_window_and_older_ones_deleted() -> None:
    daily = [_backup(24 * d) for d in range(45)]  # one a day, newest first
    decision = decide(daily, NOW, RetentionPolicy(keep_days=30, keep_last=7))
    kept = _ids(decision.keep)
    assert kept == {b.id for b in daily[:31]}  # ages 0..30 days
    assert _ids(decision.delete) == {b.id for b in daily[31:]}
    assert all("days old" in reason for _, reason in decision.delete)


def test_the_newest_n_are_kept_whatever_their_age() -> None:
    old = [_backup(24 * d) for d in (40, 50, 60, 70)]
    decision = decide(old, NOW, RetentionPolicy(keep_days=30, keep_last=3))
    assert _ids(decision.keep) == {b.id for b in old[:3]}
    assert _ids(decision.delete) == {old[3].id}
    assert all("newest 3" in reason for _, reason in decision.keep)


def test_incomplete_backups_get_a_day_then_go() -> None:
    running = _backup(2, complete=False)
    failed = _backup(30, complete=False)
    done = _backup(26)
    decision = decide([running, failed, done], NOW, RetentionPolicy())
    assert _ids(decision.keep) == {running.id, done.id}
    assert _ids(decision.delete) == {failed.id}


def test_incomplete_backups_never_count_towards_the_newest_n() -> None:
    decision = decide([_backup(1, complete=False), _backup(24 * 40)], NOW, RetentionPolicy(keep_days=30, keep_last=1))
    assert len(decision.keep) == 2 and not decision.delete


def test_keep_last_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        RetentionPolicy(keep_last=0)


def test_status_is_healthy_with_a_recent_complete_backup() -> None:
    report = backup_status([_backup(30, complete=False), _backup(5), _backup(29)], NOW, 24)
    assert report["status"] == "healthy" and report["reasons"] == []
    assert report["checks"] == {
        "has_backups": True,
        "recent_backup": True,
        "backup_count": 2,
        "incomplete_count": 1,
        "max_age_hours": 24,
    }
    assert report["latest"]["age_hours"] == 5.0 and report["notes"]


def test_status_warns_when_the_newest_complete_backup_is_too_old_or_missing() -> None:
    stale = backup_status([_backup(2, complete=False), _backup(25)], NOW, 24)
    assert stale["status"] == "warning" and "25.0 h old" in stale["reasons"][0]
    empty = backup_status([], NOW, 24)
    assert empty["status"] == "warning" and empty["reasons"] == ["no complete backup exists"]
    assert empty["latest"] is None
