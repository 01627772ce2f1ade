"""Apply ``-- lint: allow ...`` comments to a file's findings, and report acknowledgements that are wrong."""

from devkit.lint.acks import Ack, bind, parse_acks
from devkit.lint.context import FileContext
from devkit.lint.findings import RULES, Finding, rule

MISSING_REASON = rule(
    "ack-missing-reason",
    "error",
    "medium",
    "An acknowledgement comment has no 'because <reason>': it accepts nothing.",
    "Write -- lint: allow high-risk <rule> because <why this is safe / intended>.",
)
MALFORMED = rule(
    "ack-malformed",
    "error",
    "low",
    "A '-- lint:' comment does not follow the acknowledgement syntax.",
    "Use -- lint: allow[-file] high-risk <rule>[, <rule>] because <reason>.",
)
UNKNOWN_RULE = rule(
    "ack-unknown-rule",
    "warning",
    "low",
    "An acknowledgement names a rule id that does not exist.",
    "See scripts/migrate lint --list-rules for the ids.",
)
NOT_ALLOWED = rule(
    "ack-not-allowed",
    "warning",
    "low",
    "An acknowledgement names a rule that cannot be acknowledged (D1 rejects the statement, or data breaks).",
    "Fix the statement instead; acknowledging it would not make it work.",
)
UNUSED = rule(
    "ack-unused",
    "warning",
    "low",
    "An acknowledgement matches no finding (stale, or placed before the wrong statement).",
    "Remove it, or move it directly before (or onto the last line of) the statement it is meant for.",
)


def apply(ctx: FileContext, findings: list[Finding]) -> list[Finding]:
    """Mark acknowledged findings in place; return findings about the acknowledgements themselves."""
    acks, malformed = parse_acks(ctx.text)
    bind(acks, [(a.line, a.end_line) for a in ctx.statements])
    out = [ctx.finding(MALFORMED, line, f"not an acknowledgement: {text!r}") for line, text in malformed]
    for ack in acks:
        out.extend(_validate(ctx, ack))
    valid = [ack for ack in acks if ack.valid]
    for finding in findings:
        if not RULES[finding.rule].ackable or finding.file != ctx.display:
            continue
        index = ctx.statement_at(finding.line)
        ack = next((k for k in valid if finding.rule in k.rules and (k.file_wide or k.statement == index)), None)
        if ack:
            finding.acknowledged, finding.reason, ack.used = True, (ack.reason or "").strip(), True
    for ack in valid:
        if not ack.used and all(r in RULES and RULES[r].ackable for r in ack.rules):
            scope = "this file" if ack.file_wide else "the statement it precedes"
            out.append(ctx.finding(UNUSED, ack.line, f"no {', '.join(ack.rules)} finding in {scope}"))
    return out


def _validate(ctx: FileContext, ack: Ack) -> list[Finding]:
    out: list[Finding] = []
    if not ack.valid:
        out.append(ctx.finding(MISSING_REASON, ack.line, f"acknowledgement without a reason: {ack.text!r}"))
    for r in ack.rules:
        if r not in RULES:
            out.append(ctx.finding(UNKNOWN_RULE, ack.line, f"unknown rule {r!r}"))
        elif not RULES[r].ackable:
            out.append(ctx.finding(NOT_ALLOWED, ack.line, f"rule {r} cannot be acknowledged"))
    return out
