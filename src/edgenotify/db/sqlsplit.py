"""Split a SQL script into single statements, the unit D1's ``prepare``/``batch`` accept.

Only the lexical rules that decide where a statement ends matter: quotes, identifiers,
comments, and trigger bodies, whose ``BEGIN ... END`` holds semicolons without being a
transaction. Kept free of sqlglot so it can run on the request path (auto-migration, restore).
"""

import re
from dataclasses import dataclass

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


@dataclass(frozen=True)
class Statement:
    sql: str  # without the terminating semicolon, stripped
    line: int  # 1-based line of the statement's first character


def _skip_quoted(text: str, i: int) -> int:
    """Return the index just past the quoted token starting at ``text[i]``."""
    close = "]" if text[i] == "[" else text[i]
    j = i + 1
    while j < len(text):
        if text[j] == close:
            if close != "]" and j + 1 < len(text) and text[j + 1] == close:
                j += 2  # doubled quote inside a literal
                continue
            return j + 1
        j += 1
    return len(text)


def split_sql(text: str) -> list[Statement]:
    statements: list[Statement] = []
    start = 0
    i = 0
    words: list[str] = []  # upper-cased leading keywords of the current statement
    depth = 0  # open BEGIN (trigger body) and CASE blocks
    while i < len(text):
        ch = text[i]
        if ch in "'\"`[":
            i = _skip_quoted(text, i)
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
        elif ch == ";" and depth == 0:
            _emit(statements, text, start, i)
            start, words = i + 1, []
            i += 1
        elif ch.isalpha() or ch == "_":
            m = _WORD.match(text, i)
            assert m is not None
            word = m.group(0).upper()
            if len(words) < 4:
                words.append(word)
            if "TRIGGER" in words:
                if word in ("BEGIN", "CASE"):
                    depth += 1
                elif word == "END" and depth:
                    depth -= 1
            i = m.end()
        else:
            i += 1
    _emit(statements, text, start, len(text))
    return statements


def _emit(out: list[Statement], text: str, start: int, end: int) -> None:
    chunk = text[start:end]
    lead = _leading_trivia(chunk)
    body = chunk[lead:].strip()
    if body:
        out.append(Statement(body, text.count("\n", 0, start + lead) + 1))


def _leading_trivia(chunk: str) -> int:
    """Length of the whitespace and comments before the first token of ``chunk``."""
    i = 0
    while i < len(chunk):
        if chunk[i].isspace():
            i += 1
        elif chunk.startswith("--", i):
            end = chunk.find("\n", i)
            i = len(chunk) if end < 0 else end + 1
        elif chunk.startswith("/*", i):
            end = chunk.find("*/", i + 2)
            i = len(chunk) if end < 0 else end + 2
        else:
            break
    return i
