"""Where the database stands against the migration files: applied, pending, edited, unknown."""

from dataclasses import dataclass, field

from edgenotify.migrations.files import MigrationFile, ordered
from edgenotify.migrations.ledger import AppliedMigration


@dataclass
class MigrationStatus:
    applied: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)  # applied, but the file changed since
    unknown: list[str] = field(default_factory=list)  # in the ledger, no such file
    unverified: list[str] = field(default_factory=list)  # applied without a recorded checksum (e.g. by wrangler)
    head: str | None = None  # last applied migration by ledger id

    @property
    def current(self) -> bool:
        return not self.pending and not self.edited and not self.unknown

    def as_dict(self) -> dict:
        return {
            "applied": self.applied,
            "pending": self.pending,
            "edited": self.edited,
            "unknown": self.unknown,
            "unverified": self.unverified,
            "head": self.head,
            "current": self.current,
        }


def compare(files: list[MigrationFile], ledger: list[AppliedMigration]) -> MigrationStatus:
    by_name = {row.name: row for row in ledger}
    known = {f.name for f in files}
    status = MigrationStatus(head=ledger[-1].name if ledger else None)
    for f in ordered(files):
        row = by_name.get(f.name)
        if row is None:
            status.pending.append(f.name)
            continue
        status.applied.append(f.name)
        if row.sha256 is None:
            status.unverified.append(f.name)
        elif row.sha256 != f.sha256:
            status.edited.append(f.name)
    status.unknown = [row.name for row in ledger if row.name not in known]
    return status
