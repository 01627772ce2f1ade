"""migrations.sum: format, wrangler order, edit / tamper / new-file detection."""

import base64
import hashlib
from pathlib import Path

import pytest

from devkit.lint import sumfile


def _b64(data: bytes) -> str:
    return "h1:" + base64.b64encode(hashlib.sha256(data).digest()).decode()


def _dir(tmp_path, files: dict[str, str]):
    for name, sql in files.items():
        (tmp_path / name).write_text(sql)
    return tmp_path


def test_format_is_h1_of_lines_then_one_line_per_file_in_wrangler_order(tmp_path):
    d = _dir(tmp_path, {"10_b.sql": "SELECT 2;", "9_a.sql": "SELECT 1;", "notes.txt": "x"})
    text = sumfile.compute_sum(d)
    lines = text.rstrip("\n").split("\n")
    assert text.endswith("\n")
    assert lines[1:] == [f"9_a.sql {_b64(b'SELECT 1;')}", f"10_b.sql {_b64(b'SELECT 2;')}"]
    assert lines[0] == _b64("\n".join(lines[1:]).encode())


def test_read_sum_missing_file_is_none(tmp_path):
    assert sumfile.read_sum(tmp_path) is None
    assert sumfile.changed_files(tmp_path) == []
    assert sumfile.sum_is_consistent(tmp_path)


def test_edit_of_listed_file_is_reported_and_new_file_is_not(tmp_path):
    d = _dir(tmp_path, {"0001_a.sql": "SELECT 1;"})
    sumfile.write_sum(d)
    assert sumfile.read_sum(d) == {"0001_a.sql": _b64(b"SELECT 1;")}
    (d / "0002_b.sql").write_text("SELECT 2;")
    assert sumfile.changed_files(d) == []
    assert sumfile.new_files(d) == ["0002_b.sql"]
    (d / "0001_a.sql").write_text("SELECT 1; -- edited")
    assert sumfile.changed_files(d) == ["0001_a.sql"]
    (d / "0001_a.sql").unlink()
    assert sumfile.removed_files(d) == ["0001_a.sql"]


def test_tampered_sum_is_inconsistent(tmp_path):
    d = _dir(tmp_path, {"0001_a.sql": "SELECT 1;"})
    sumfile.write_sum(d)
    assert sumfile.sum_is_consistent(d)
    path = d / sumfile.SUM_NAME
    head, line = path.read_text().splitlines()
    path.write_text(f"{head}\n{line}\n0002_b.sql {_b64(b'x')}\n")
    assert not sumfile.sum_is_consistent(d)


def test_malformed_sum_raises(tmp_path):
    (tmp_path / sumfile.SUM_NAME).write_text("not a sum\n")
    with pytest.raises(sumfile.SumFileError):
        sumfile.read_sum(tmp_path)


MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def test_committed_sum_matches_repository_migrations():
    assert sumfile.sum_is_consistent(MIGRATIONS)
    assert sumfile.changed_files(MIGRATIONS) == []
