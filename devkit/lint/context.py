"""What every rule family sees for one migration file: its statements, analysed and replayed, and the schemas."""

from dataclasses import dataclass, field

from devkit.lint.findings import Finding, Rule
from devkit.lint.statements import Analyzed
from edgenotify.db.catalog import Catalog, key


@dataclass
class Rebuild:
    """The SQLite table rebuild: create the new shape, copy rows, drop the old table, give the new one its name.

    Two spellings exist. A: ``CREATE new; INSERT INTO new SELECT FROM t; DROP t; ALTER new RENAME TO t``.
    B: ``ALTER t RENAME TO old; CREATE t; INSERT INTO t SELECT FROM old; DROP old`` (worse on SQLite >= 3.26:
    the RENAME re-points child foreign keys at ``old``, so after the DROP they reference a missing table).
    """

    table: str  # the table's final name
    old: str  # the table holding the old rows when it is dropped
    new: str  # the table holding the new shape when it is created
    create: int  # statement indexes
    copy: int
    drop: int
    rename: int
    variant: str  # "A" or "B"


@dataclass
class FileContext:
    name: str  # file name, the wrangler ledger key
    display: str  # path shown in findings
    text: str
    statements: list[Analyzed]
    start: Catalog  # schema before the file
    end: Catalog  # schema after the file
    commit_error: str | None = None
    rebuilds: list[Rebuild] = field(default_factory=list)

    def finding(self, rule: Rule, line: int, message: str, hint: str | None = None) -> Finding:
        return rule.finding(self.display, line, message, hint)

    def existed_before(self, table: str | None) -> bool:
        """The table came from an earlier migration (so it may hold rows), not from this file."""
        return table is not None and key(table) in self.start.tables

    def rebuild_at(self, index: int) -> Rebuild | None:
        return next((r for r in self.rebuilds if index in (r.drop, r.rename)), None)

    def statement_at(self, line: int) -> int | None:
        for a in self.statements:
            if a.line <= line <= a.end_line:
                return a.index
        return None
