"""What D1 lets a statement do, beyond plain SQLite: one list shared by the embedded D1 and the linter.

Sources: workerd ``src/workerd/util/sqlite.c++`` (``ALLOWED_PRAGMAS`` and the authorizer) and the D1 docs
("Limits"). The parity contracts check the embedded side against Miniflare.
"""

MAX_STATEMENT_BYTES = 100_000  # D1: "Maximum SQL statement length 100,000 bytes"

ALLOWED_PRAGMAS = frozenset(
    {
        "table_list",
        "table_info",
        "table_xinfo",
        "index_list",
        "index_info",
        "index_xinfo",
        "quick_check",
        "foreign_key_check",
        "foreign_key_list",
        "case_sensitive_like",
        "ignore_check_constraints",
        "legacy_alter_table",
        "recursive_triggers",
        "reverse_unordered_selects",
        "foreign_keys",
        "defer_foreign_keys",
        "optimize",
        "data_version",
    }
)
READ_ONLY_PRAGMAS = frozenset({"page_size"})  # may be read, not set
ALLOWED_VIRTUAL_MODULES = frozenset({"fts5", "fts5vocab", "rtree"})


def pragma_allowed(name: str, value: object | None) -> bool:
    """Whether D1 runs ``PRAGMA name`` (value None) or ``PRAGMA name = value``."""
    return name in ALLOWED_PRAGMAS or (name in READ_ONLY_PRAGMAS and value is None)
