"""Findings and the rule catalog: every rule has a stable id, a severity, a risk grade and a fix hint.

Severity says whether the migration is wrong (``error``: D1 rejects it, or it breaks data or the schema) or merely
worth a look (``warning``). Risk is the seed-003 grade of the change itself (low / medium / high). The two are
separate on purpose: dropping a table is valid SQL (a warning) but high risk, so it needs an acknowledgement.
"""

from dataclasses import asdict, dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]
Risk = Literal["low", "medium", "high"]
RISK_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2}


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    risk: Risk
    summary: str  # one line for --list-rules
    hint: str  # how to fix, shown with every finding
    ackable: bool = False  # can `-- lint: allow ...` accept it? Never for things D1 rejects anyway.

    def finding(self, file: str, line: int, message: str, hint: str | None = None) -> "Finding":
        return Finding(file, line, self.id, self.severity, self.risk, message, hint or self.hint)


RULES: dict[str, Rule] = {}


def rule(id: str, severity: Severity, risk: Risk, summary: str, hint: str, ackable: bool = False) -> Rule:
    """Declare a rule once, at import time of its family module; ids must stay stable across releases."""
    if id in RULES:
        raise ValueError(f"duplicate lint rule id {id}")
    RULES[id] = Rule(id, severity, risk, summary, hint, ackable)
    return RULES[id]


@dataclass
class Finding:
    file: str
    line: int
    rule: str
    severity: Severity
    risk: Risk
    message: str
    hint: str
    acknowledged: bool = False
    reason: str | None = None  # the acknowledgement's "because ..." text

    @property
    def blocking(self) -> bool:
        """Fails the lint: any error, or any high risk nobody acknowledged."""
        return not self.acknowledged and (self.severity == "error" or self.risk == "high")

    def as_dict(self) -> dict:
        return {**asdict(self), "blocking": self.blocking}


@dataclass
class StatementGrade:
    """The seed-003 risk of one statement: its kind's base risk, raised by any finding on it."""

    file: str
    line: int
    kind: str
    target: str | None
    risk: Risk
    rules: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def max_risk(*risks: Risk) -> Risk:
    return max(risks, key=lambda r: RISK_ORDER[r])  # type: ignore[return-value]
