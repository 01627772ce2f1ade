"""A page read as one text (``dump.Block``) gives exactly the statements and digest of the same page
read row by row, whatever the values: the fast ``printf`` form must never change a byte."""

import asyncio

from edgenotify.db import Database, Query
from edgenotify.ops.backups.dump import Block, TableDigest, TableReader, page_key, page_rows
from edgenotify.ops.backups.schema import inspect
from edgenotify.ops.backups.sqlwriter import STATEMENT_BUDGET, TableWriter, has_forbidden_bytes

ROWS = [
    ("plain", 1, "x"),
    ("it's ''quoted''", -5, None),
    ("Björn — 東京 🚀", 2**53 - 2, "emoji"),
    (None, None, None),
    ("line\nbreak\r\n\ttab", 0, ""),
    ("nul \x00 inside", 7, "after"),  # TEXT with NUL: the general CAST(X'..' AS TEXT) form
    ("", 3, "empty"),
]


def _fill(db: Database) -> None:
    async def run() -> None:
        await db.run("CREATE TABLE v (id INTEGER PRIMARY KEY, t TEXT, n INTEGER, c VARCHAR(9), b BLOB, x)")
        queries = [
            Query.of("INSERT INTO v (t, n, c, b, x) VALUES (?, ?, ?, ?, ?)", t, n, c, None, c) for t, n, c in ROWS
        ]
        queries += [
            Query(
                "INSERT INTO v (t, n, b, x) VALUES (X'00ff', 5, X'0001', 'text in a typeless column')"
            ),  # blob in TEXT
            Query("INSERT INTO v (t, n, x) VALUES ('digits', 'text in INTEGER', 2.5)"),
            Query("INSERT INTO v (t, n, x) VALUES ('beyond doubles', -9223372036854775808, 9007199254740993)"),
        ]
        queries += [Query.of("INSERT INTO v (t, n) VALUES (?, ?)", f"filler {i} ''", i) for i in range(300)]
        await db.batch(queries)

    asyncio.run(run())


async def _read(db: Database, blocks: bool, max_rows: int) -> tuple[list[bytes], TableDigest, int]:
    spec = (await inspect(db)).table("v")
    reader = TableReader(db, spec, max_rows=max_rows)
    reader._blocks = blocks
    writer = TableWriter(spec)
    digest = TableDigest()
    statements: list[bytes] = []
    kinds = 0
    async for page in reader.pages():
        await digest.add(page)
        if isinstance(page, Block):
            kinds += 1
            groups = page.groups(writer.head_bytes, STATEMENT_BUDGET)
            statements += list(writer.block_statements(page.data, page.spans(), groups))
        else:
            statements += [s.encode() for s in writer.statements(page)]
    await digest.finish()
    return statements, digest, kinds


def test_blocks_give_the_same_bytes_and_digest_as_rows(embedded_env) -> None:
    db = Database(embedded_env.DB)
    _fill(db)

    async def run():
        # No REAL in the first 8 rows' pages: they come as blocks; the page with 2.5 falls back to rows.
        by_rows = await _read(db, blocks=False, max_rows=8)
        by_blocks = await _read(db, blocks=True, max_rows=8)
        return by_rows, by_blocks

    (rows_sql, rows_digest, _), (block_sql, block_digest, blocks) = asyncio.run(run())
    assert blocks >= 1  # the first page is a block ...
    assert block_sql == rows_sql  # ... and every statement is byte for byte the row-by-row one
    assert (
        (block_digest.rows, block_digest.sha256) == (rows_digest.rows, rows_digest.sha256) == (310, rows_digest.sha256)
    )


def test_the_fast_tuple_is_the_quote_tuple_for_every_row(embedded_env) -> None:
    db = Database(embedded_env.DB)
    _fill(db)

    async def run():
        reader = TableReader(db, (await inspect(db)).table("v"))
        general = "'(' || " + " || ',' || ".join(reader.value_exprs) + " || ')'"
        fast = reader.tuple_sql()
        return await db.values(f"SELECT {fast}, {general}, {fast} = {general} FROM v AS t")

    rows = asyncio.run(run())
    assert len(rows) == 310 and all(r[2] == 1 for r in rows), [r for r in rows if r[2] != 1][:3]
    assert "CAST(X'6E756C200020696E73696465' AS TEXT)" in rows[5][0]  # the NUL row took the general form
    assert rows[7][0] == "(8,X'00FF',5,NULL,X'0001','text in a typeless column')"


def test_a_block_with_a_special_row_is_read_again_row_by_row(embedded_env) -> None:
    db = Database(embedded_env.DB)
    _fill(db)

    async def run():
        spec = (await inspect(db)).table("v")
        reader = TableReader(db, spec, max_rows=1000)
        first = await reader.block(None)  # 310 rows, one of them holds the REAL 2.5
        page = await reader.next(None)
        return first, page, reader.queries

    first, page, queries = asyncio.run(run())
    assert first is None and isinstance(page, list) and page_rows(page) == 310 and queries == 3
    assert page_key(page) == ["310"]


def test_block_groups_fit_the_statement_budget_and_cover_every_row() -> None:
    block = Block(
        b"\n".join(b"(" + b"a" * n + b")" for n in (10, 40_000, 60_000, 30, 97_000)),
        [12, 40_002, 60_002, 32, 97_002],
        ["5"],
    )
    head = 40
    groups = list(block.groups(head, STATEMENT_BUDGET))
    assert groups == [(0, 2), (2, 4), (4, 5)]
    for i, j in groups:
        assert j - i == 1 or head + sum(s + 2 for s in block.sizes[i:j]) <= STATEMENT_BUDGET
    assert [block.data[s:e] for s, e in block.spans()] == block.data.split(b"\n")


def test_the_words_wrangler_alters_are_found_in_a_block() -> None:
    assert has_forbidden_bytes(b"('we Commit to it')") and has_forbidden_bytes(b"('TRANSACTION')")
    assert not has_forbidden_bytes(b"('comet', 'transact')")


def test_a_member_lists_its_statements_bytes_and_a_restore_slices_by_them() -> None:
    import hashlib
    import zlib

    from edgenotify.ops.jobs.chunks import split_by_lengths, statement_lengths_line
    from edgenotify.ops.jobs.restore import chunk_statements

    statements = ["INSERT INTO t (a) VALUES\n('x;\n-- not a comment'),\n('é');\n", "DELETE FROM sqlite_sequence;\n"]
    body = "".join(statements).encode()
    text = body + statement_lengths_line([len(s.encode()) for s in statements])
    assert split_by_lengths(text) == [s.encode() for s in statements]
    assert split_by_lengths(body) is None  # a member without the line (older backups): scanned instead
    assert split_by_lengths(body + statement_lengths_line([1, 2])) is None  # lengths that do not add up
    member = zlib.compress(text, wbits=31)
    chunk = {"offset": 0, "size": len(member), "sha256": hashlib.sha256(member).hexdigest()}
    assert chunk_statements(member, chunk) == statements


def test_a_block_stays_a_d1_string_and_large_rows_fall_back_to_rows(embedded_env) -> None:
    db = Database(embedded_env.DB)

    async def run():
        await db.run("CREATE TABLE w (id INTEGER PRIMARY KEY, v TEXT)")
        for _ in range(3):  # 600 KB rows: past the reader's large-row threshold, hence "special"
            await db.run("INSERT INTO w (v) VALUES (printf('%.*c', 600000, 'x'))")
        reader = TableReader(db, (await inspect(db)).table("w"))
        pages = [page_rows(p) async for p in reader.pages()]
        return reader, pages

    reader, pages = asyncio.run(run())
    assert sum(pages) == 3 and reader._blocks is False  # read as rows, each page under the byte budget


def test_a_block_stops_before_its_text_passes_one_d1_string(embedded_env) -> None:
    db = Database(embedded_env.DB)

    async def run():
        await db.run("CREATE TABLE m (id INTEGER PRIMARY KEY, v TEXT)")
        for _ in range(60):  # 30 KB of quotes: 60 KB literals, 3.6 MB of text for 1.8 MB of values
            await db.run("INSERT INTO m (v) VALUES (replace(printf('%.*c', 30000, 'x'), 'x', ''''))")
        reader = TableReader(db, (await inspect(db)).table("m"))
        return [p async for p in reader.pages()], reader.queries

    blocks, queries = asyncio.run(run())
    assert all(isinstance(b, Block) for b in blocks) and sum(b.rows for b in blocks) == 60
    assert max(len(b.data) for b in blocks) < 2_000_000 and len(blocks) >= 3
    # The embedded D1 refuses a string over 2,000,000 bytes as D1 does (SQLITE_TOOBIG): 2,000, 500 and 125
    # rows are refused, 31 rows (1.86 MB) pass the reader's cap and are read again as the 28 that fit;
    # later blocks are sized from the bytes per row seen. Then 3 blocks and the empty page that ends.
    assert queries == 4 + len(blocks) + 1


def test_a_page_read_ahead_is_taken_only_for_its_cursor(embedded_env) -> None:
    db = Database(embedded_env.DB)

    async def run():
        await db.run("CREATE TABLE r (id INTEGER PRIMARY KEY, v TEXT)")
        await db.batch([Query.of("INSERT INTO r (v) VALUES (?)", f"row {i}") for i in range(25)])
        spec = (await inspect(db)).table("r")
        in_turn = TableReader(db, spec, max_rows=10)
        pages, last = [], None
        while page_rows(page := await in_turn.next(last)):
            pages.append(page.data)
            last = page_key(page)
        ahead = TableReader(db, spec, max_rows=10)
        streamed = [p.data async for p in ahead.pages()]
        other = TableReader(db, spec, max_rows=10)
        await other.read_ahead(["10"])  # then asked for another page: the one read ahead is dropped
        first = await other.next(None)
        return pages, streamed, first.data, other.reading_ahead, in_turn.queries, ahead.queries

    pages, streamed, first, still_ahead, queries_in_turn, queries_ahead = asyncio.run(run())
    assert streamed == pages and len(pages) == 3 and first == pages[0] and not still_ahead
    assert queries_ahead == queries_in_turn == 4  # three pages and the empty one that ends the table
