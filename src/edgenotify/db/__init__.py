"""Data access on the D1 binding: a thin facade, SQL splitting, and nothing else."""

from edgenotify.db.d1 import D1Error, Database, Query, Result

__all__ = ["D1Error", "Database", "Query", "Result"]
