"""Split SQL text into single statements, the unit D1's ``prepare``/``batch`` accept.

Only the lexical rules that decide where a statement ends matter: quotes ('', "", ``, []) with
doubled-quote escapes, ``--`` and ``/* */`` comments, and trigger bodies, whose ``BEGIN ... END``
holds semicolons without being a transaction. One splitter serves whole scripts (``split_sql``:
auto-migration, the linter) and streams (``StatementSplitter``: restoring a backup of hundreds of
MB chunk by chunk). A token is only interpreted once enough text follows it to be sure what it is
(a quote's closing char, a whole keyword), so chunk boundaries never change the result. Quoted
text is skipped with ``str.find`` (C speed). Kept free of sqlglot so it can run on the request path.
"""

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"""['"`\[;]|--|/\*|\b(?:BEGIN|END|CASE)\b""", re.I)
_TRIGGER = re.compile(r"^\s*CREATE\s+(?:TEMP\s+|TEMPORARY\s+)?TRIGGER\b", re.I)
_LOOKAHEAD = 16  # a token starting this close to the end of the buffer waits for more text
# The body of a statement that is not a trigger, up to its ";": runs of ordinary characters, whole
# quoted tokens ('it''s' is two adjacent ones, same boundaries), whole comments, and "-" or "/" that
# do not open a comment. It stops before anything incomplete (a quote not closed yet, a comment not
# ended, a "-" or "/" at the end of the text), which the token scanner then handles. One match walks a
# whole INSERT in C instead of one Python step per quoted value. Possessive: never backtracks.
_PLAIN_BODY = re.compile(
    r"""(?:[^'"`\[;/-]++|'[^']*+'|"[^"]*+"|`[^`]*+`|\[[^\]]*+\]|--[^\n]*+\n|/\*(?:[^*]++|\*(?!/))*+\*/|-(?=[^-])|/(?=[^*]))*+"""
)
QUOTE_CLOSE = {"'": "'", '"': '"', "`": "`", "[": "]"}


def strip_leading_trivia(text: str) -> str:
    """``text`` without the whitespace and comments before its first token."""
    i = 0
    n = len(text)
    while i < n:
        if text[i].isspace():
            i += 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            break
    return text[i:]


def quote_end(buf: str, i: int, final: bool) -> int | None:
    """Index just past the quoted token opening at ``buf[i]``; None if it may continue in later text."""
    close = QUOTE_CLOSE[buf[i]]
    j = i + 1
    n = len(buf)
    while True:
        k = buf.find(close, j)
        if k < 0:
            return n if final else None
        if close != "]" and k + 1 < n and buf[k + 1] == close:
            j = k + 2  # doubled quote: part of the literal
            continue
        if close != "]" and k + 1 == n and not final:
            return None  # the next chunk may start with the doubling quote
        return k + 1


class StatementSplitter:
    """``feed(text)`` returns the statements completed so far; ``close()`` returns the rest."""

    def __init__(self) -> None:
        self._buf = ""
        self._start = 0  # start of the current statement in _buf
        self._pos = 0  # where scanning resumes
        self._depth = 0  # open BEGIN/CASE inside a trigger body
        self._trigger: bool | None = None  # is the current statement CREATE TRIGGER (decided lazily)
        self._dropped = 0  # characters fed and already dropped from _buf
        self.offsets: list[int] = []  # where each statement returned so far starts in the whole text

    def feed(self, text: str) -> list[str]:
        self._buf += text
        return self._scan(final=False)

    def close(self) -> list[str]:
        out = self._scan(final=True)
        self._emit(out, len(self._buf))
        self._dropped += len(self._buf)
        self._buf, self._start, self._pos = "", 0, 0
        return out

    def _emit(self, out: list[str], end: int) -> None:
        chunk = self._buf[self._start : end]
        body = strip_leading_trivia(chunk)
        if body.strip():
            out.append(body.strip())
            self.offsets.append(self._dropped + self._start + len(chunk) - len(body))
        self._depth, self._trigger = 0, None

    def _in_trigger(self, at: int) -> bool:
        if self._trigger is None:
            self._trigger = bool(_TRIGGER.match(strip_leading_trivia(self._buf[self._start : at])))
        return self._trigger

    def _scan(self, final: bool) -> list[str]:
        out: list[str] = []
        buf = self._buf
        n = len(buf)
        limit = n if final else n - _LOOKAHEAD
        i = self._pos
        while True:
            if not self._trigger:  # not (known to be) a trigger: no BEGIN ... END to track
                i = _PLAIN_BODY.match(buf, i).end()
                if i < n and buf[i] == ";":
                    if self._in_trigger(i):
                        i = self._start  # it is one after all: rescan it token by token
                    else:
                        self._emit(out, i)
                        i += 1
                        self._start = i
                    continue
            m = _TOKEN.search(buf, i)
            if m is None or (not final and m.start() >= limit):
                i = max(i, limit)
                break
            j = m.start()
            tok = m.group(0)
            if tok in QUOTE_CLOSE:
                end = quote_end(buf, j, final)
                if end is None:
                    i = j
                    break
                i = end
            elif tok == "--" or tok == "/*":
                end = buf.find("\n" if tok == "--" else "*/", j + 2)
                if end < 0:
                    if not final:
                        i = j
                        break
                    i = n
                else:
                    i = end + (1 if tok == "--" else 2)
            elif tok == ";":
                if self._depth == 0:
                    self._emit(out, j)
                    self._start = j + 1
                i = j + 1
            else:
                word = tok.upper()
                if word in ("BEGIN", "CASE") and self._in_trigger(j):
                    self._depth += 1
                elif word == "END" and self._depth and self._in_trigger(j):
                    self._depth -= 1
                i = m.end()
        self._pos = i
        if self._start > 0:  # drop consumed text so the buffer holds one statement at most
            self._buf = buf[self._start :]
            self._pos -= self._start
            self._dropped += self._start
            self._start = 0
        return out


@dataclass(frozen=True)
class Statement:
    sql: str  # without the terminating semicolon, stripped
    line: int  # 1-based line of the statement's first character


def split_sql(text: str) -> list[Statement]:
    splitter = StatementSplitter()
    bodies = splitter.feed(text) + splitter.close()
    out: list[Statement] = []
    line, counted = 1, 0
    for body, offset in zip(bodies, splitter.offsets, strict=True):
        line += text.count("\n", counted, offset)
        counted = offset
        out.append(Statement(body, line))
    return out
