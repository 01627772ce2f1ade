"""Render a lint result for people (one line per finding, like a compiler) and for machines (JSON)."""

import json

from devkit.lint.engine import LintResult
from devkit.lint.findings import Finding

JSON_VERSION = 1


def summary(result: LintResult) -> dict:
    findings = result.findings
    return {
        "files": len(result.files),
        "statements": len(result.statements),
        "errors": sum(f.severity == "error" and not f.acknowledged for f in findings),
        "warnings": sum(f.severity == "warning" and not f.acknowledged for f in findings),
        "high_risk_unacknowledged": sum(f.risk == "high" and not f.acknowledged for f in findings),
        "acknowledged": sum(f.acknowledged for f in findings),
        "blocking": len(result.blocking),
    }


def to_json(result: LintResult) -> str:
    doc = {
        "version": JSON_VERSION,
        "directory": result.directory,
        "ok": result.exit_code == 0,
        "exit_code": result.exit_code,
        "files": result.files,
        "summary": summary(result),
        "findings": [f.as_dict() for f in result.findings],
        "statements": [g.as_dict() for g in result.statements],
    }
    return json.dumps(doc, indent=2)


def _line(f: Finding) -> str:
    head = f"{f.file}:{f.line} {f.rule} {f.severity}/{f.risk} {f.message}"
    if f.acknowledged:
        return f"{head} [acknowledged: {f.reason}]"
    return f"{head}\n    fix: {f.hint}"


def to_text(result: LintResult, verbose: bool = False) -> str:
    lines = [_line(f) for f in result.findings if verbose or not f.acknowledged or f.risk == "high"]
    s = summary(result)
    verdict = "FAIL" if result.exit_code else "ok"
    lines.append(
        f"{verdict}: {s['files']} files, {s['statements']} statements; {s['errors']} errors, {s['warnings']} "
        f"warnings, {s['high_risk_unacknowledged']} unacknowledged high risk, {s['acknowledged']} acknowledged"
    )
    return "\n".join(lines)
