"""Helpers shared by the contracts (pure Python: also imported under Pyodide)."""

import inspect
import re
from collections.abc import Callable
from typing import Any


async def raises(call: Callable[[], Any], *needles: str, kind: type[BaseException] = Exception) -> str:
    """Run ``call`` (awaiting its result if needed); it must raise ``kind``, with every needle in ``str(exc)``.

    A callable, not an awaitable: some refusals happen synchronously (a BigInt refused by ``bind``,
    a tuple refused by the SDK wrapper) and must be caught where they are raised. Returns the message.
    """
    try:
        result = call()
        if inspect.isawaitable(result):
            result = await result
    except Exception as exc:
        assert isinstance(exc, kind), f"expected {kind.__name__}, got {type(exc).__name__}: {exc}"
        message = str(exc)
        missing = [n for n in needles if n not in message]
        assert not missing, f"error {message!r} lacks {missing!r}"
        return message
    raise AssertionError(f"expected an error containing {needles!r}, got {result!r}")


def error_kind(message: str) -> str:
    """``'Error: D1_ERROR: no such table...'`` -> ``'Error: D1_ERROR'``: the stable part of an error."""
    return ": ".join(message.split(": ")[:2])


def without_offset(message: str) -> str:
    """Drop SQLite's `` at offset N`` (workerd's SQLite reports it; CPython's sqlite3 module cannot)."""
    return re.sub(r" at offset \d+", "", message)


def typed(value: Any) -> list[Any]:
    """``[type name, value]``: observations must tell ``1`` from ``1.0`` (JSON and ``==`` cannot)."""
    return [type(value).__name__, value]


async def fresh_table(db: Any, name: str, columns: str, options: str = "") -> None:
    """(Re)create a contract's private table (``options``: e.g. ``STRICT``). ``db`` is the raw D1 binding."""
    await db.prepare(f'DROP TABLE IF EXISTS "{name}"').run()
    await db.prepare(f'CREATE TABLE "{name}" ({columns}) {options}').run()


async def user_tables(db: Any) -> list[str]:
    rows = (
        await db.prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name NOT LIKE '_cf_%' AND name NOT LIKE '%_fts_%' ORDER BY name"
        ).all()
    )["results"]
    return [r["name"] for r in rows]


async def reset_database(db: Any) -> None:
    """Drop every user table, view and trigger: an empty database, as a fresh D1 has.

    One batch (atomic); ``defer_foreign_keys`` lets parents go before children.
    """
    objects = (
        await db.prepare(
            "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY type = 'table', name"
        ).all()
    )["results"]
    if not objects:
        return
    drops = [db.prepare("PRAGMA defer_foreign_keys = on")]
    drops += [db.prepare(f'DROP {o["type"].upper()} IF EXISTS "{o["name"]}"') for o in objects]
    await db.batch(drops)


async def list_all_kv(kv: Any, prefix: str) -> list[str]:
    names: list[str] = []
    cursor = None
    while True:
        page = await (kv.list(prefix=prefix, cursor=cursor) if cursor else kv.list(prefix=prefix))
        names += [k["name"] for k in page["keys"]]
        if page["list_complete"]:
            return names
        cursor = page["cursor"]


async def list_all_r2(bucket: Any, prefix: str) -> list[str]:
    keys: list[str] = []
    cursor = None
    while True:
        page = await (bucket.list(prefix=prefix, cursor=cursor) if cursor else bucket.list(prefix=prefix))
        keys += [o.key for o in page["objects"]]
        if not page["truncated"]:
            return keys
        cursor = page["cursor"]


async def clear_r2(bucket: Any, prefix: str) -> None:
    keys = await list_all_r2(bucket, prefix)
    if keys:
        await bucket.delete(keys)
