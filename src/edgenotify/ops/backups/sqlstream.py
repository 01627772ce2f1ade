"""Reading inside INSERT statements of a restore file (splitting statements is ``edgenotify.db.sqlsplit``).

``values_tuples`` lists the top-level ``(...)`` groups of an INSERT's VALUES,
used to count rows and read the migration ledger out of files that have no manifest.
"""

import re

from edgenotify.db.sqlsplit import QUOTE_CLOSE, quote_end


def values_tuples(statement: str) -> list[str]:
    """The top-level ``(...)`` groups after VALUES in an INSERT (text inside the parentheses)."""
    groups: list[str] = []
    depth = 0
    seen_values = False
    start = 0
    i = 0
    n = len(statement)
    token = re.compile(r"""['"`\[()]|\bVALUES\b""", re.I)
    while True:
        m = token.search(statement, i)
        if m is None:
            return groups
        j = m.start()
        tok = m.group(0)
        if tok in QUOTE_CLOSE:
            i = quote_end(statement, j, True) or n
            continue
        i = m.end()
        if tok == "(":
            depth += 1
            if depth == 1 and seen_values:
                start = i
        elif tok == ")":
            depth -= 1
            if depth == 0 and seen_values:
                groups.append(statement[start:j])
        elif depth == 0:
            seen_values = True


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside quotes and parentheses (the items of one VALUES tuple)."""
    items: list[str] = []
    depth = 0
    start = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in QUOTE_CLOSE:
            i = quote_end(text, i, True) or n
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
        i += 1
    items.append(text[start:].strip())
    return items
