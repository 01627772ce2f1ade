"""Acknowledgement comments: how a migration author accepts a high-risk change, with a reason.

Syntax (a ``--`` line comment; rule ids from ``scripts/migrate lint --list-rules``)::

    -- lint: allow high-risk <rule>[, <rule>...] because <reason>
    -- lint: allow-file high-risk <rule>[, <rule>...] because <reason>

``allow`` applies to one statement: the statement the comment sits in (e.g. a trailing comment on its last line),
otherwise the next statement after it. ``allow-file`` applies to the whole file, wherever it is written. The
words ``high-risk`` are optional for rules that are not high risk. ``because <reason>`` is mandatory: an
acknowledgement without one is itself an error and accepts nothing. Acknowledged findings are still reported,
marked as acknowledged with the reason, and do not fail the lint. Rules for statements D1 rejects outright cannot
be acknowledged (acknowledging them would not make the deploy work).
"""

import re
from dataclasses import dataclass

_ACK = re.compile(
    r"^\s*lint\s*:\s*(?P<scope>allow-file|allow)\s+(?:high-risk\s+)?(?P<rules>[A-Za-z0-9_\-]+(?:\s*,\s*[A-Za-z0-9_\-]+)*)"
    r"(?:\s+because\b\s*(?P<reason>.*?))?\s*$",
    re.IGNORECASE,
)
_LINT_PREFIX = re.compile(r"^\s*lint\s*:", re.IGNORECASE)


@dataclass
class Ack:
    line: int
    file_wide: bool
    rules: list[str]
    reason: str | None  # None or "" = missing: invalid
    text: str
    statement: int | None = None  # index of the statement it covers (statement-scoped acks)
    used: bool = False

    @property
    def valid(self) -> bool:
        return bool(self.reason and re.search(r"[A-Za-z0-9]{2,}", self.reason))


def line_comments(text: str) -> list[tuple[int, str]]:
    """``--`` comments as (line, text after the dashes), skipping quoted strings and block comments."""
    out: list[tuple[int, str]] = []
    i, line = 0, 1
    while i < len(text):
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
        elif ch in "'\"`[":
            close = "]" if ch == "[" else ch
            j = text.find(close, i + 1)
            while j >= 0 and close != "]" and text.startswith(close * 2, j):
                j = text.find(close, j + 2)
            j = len(text) if j < 0 else j + 1
            line += text.count("\n", i, j)
            i = j
        elif text.startswith("--", i):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            out.append((line, text[i + 2 : end]))
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = len(text) if end < 0 else end + 2
            line += text.count("\n", i, end)
            i = end
        else:
            i += 1
    return out


def parse_acks(text: str) -> tuple[list[Ack], list[tuple[int, str]]]:
    """Acknowledgements in ``text``, plus (line, comment) for ``lint:`` comments that do not follow the syntax."""
    acks: list[Ack] = []
    malformed: list[tuple[int, str]] = []
    for line, comment in line_comments(text):
        if not _LINT_PREFIX.match(comment):
            continue
        m = _ACK.match(comment)
        if not m:
            malformed.append((line, comment.strip()))
            continue
        rules = [r.strip().lower() for r in m.group("rules").split(",")]
        acks.append(Ack(line, m.group("scope").lower() == "allow-file", rules, m.group("reason"), comment.strip()))
    return acks, malformed


def bind(acks: list[Ack], spans: list[tuple[int, int]]) -> None:
    """Attach each statement-scoped ack to the statement containing its line, else the next one after it."""
    for ack in acks:
        if ack.file_wide:
            continue
        for index, (start, end) in enumerate(spans):
            if start <= ack.line <= end or start > ack.line:
                ack.statement = index
                break
