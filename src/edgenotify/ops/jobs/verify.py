"""Checking restored rows against a manifest, segment by segment (each segment a bounded read).

A format-3 manifest gives each table's rows as segments: a key range ``after < key <= until``
with its row count and SHA-256 (``ops.backups.dump`` digest rule). A table verifies when every segment
does and the table holds no row outside them (its row count equals the manifest's). A format-2
manifest has one digest per table: the whole table is one segment without bounds.
"""

from typing import Any

from edgenotify.db import Database
from edgenotify.ops.backups.dump import TableDigest, TableReader
from edgenotify.ops.backups.schema import Schema, quote_ident


def segments_of(entry: dict[str, Any]) -> list[dict[str, Any]]:
    if "segments" in entry:
        return list(entry["segments"])
    return [{"after": None, "until": None, "rows": int(entry["rows"]), "sha256": entry["sha256"]}]


async def segment_digest(db: Database, schema: Schema, table: str, segment: dict[str, Any]) -> TableDigest:
    spec = schema.table(table)
    reader = TableReader(db, spec, schema.negative_zero, after=segment["after"], until=segment["until"])
    digest = TableDigest()
    async for page in reader.pages():
        await digest.add(page)
    await digest.finish()
    return digest


async def row_count(db: Database, table: str) -> int:
    row = await db.first(f"SELECT count(*) AS n FROM {quote_ident(table)}")
    return int(row["n"]) if row else 0


def check(entry: dict[str, Any], rows: int | None, bad_segments: list[int], error: str | None = None) -> dict:
    ok = error is None and not bad_segments and rows == int(entry["rows"])
    out: dict[str, Any] = {"table": entry["name"], "ok": ok, "expected_rows": int(entry["rows"]), "rows": rows}
    if bad_segments:
        out["mismatched_segments"] = bad_segments
    if error:
        out["error"] = error
    return out
