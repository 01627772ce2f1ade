"""``python -m devkit.lint [DIR] [--json]``; ``python -m devkit.migrate lint`` calls ``main`` with the same args.

Exit codes: 0 clean (warnings allowed), 1 an error or an unacknowledged high-risk finding, 2 usage error.
"""

import argparse
import sys
from pathlib import Path

from devkit.lint.engine import run
from devkit.lint.findings import RULES
from devkit.lint.report import to_json, to_text

DEFAULT_DIR = "migrations"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m devkit.lint",
        description="D1-aware linter for wrangler migrations: replays migrations/ in order and grades every "
        "statement. Acknowledge a high-risk change in the file with "
        "'-- lint: allow high-risk <rule> because <reason>' (see devkit/lint/README.md).",
    )
    p.add_argument("directory", nargs="?", default=DEFAULT_DIR, help="migrations directory (default: migrations)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--verbose", "-v", action="store_true", help="also list acknowledged low/medium findings")
    p.add_argument("--list-rules", action="store_true", help="print every rule id with severity, risk and summary")
    return p


def list_rules() -> str:
    import devkit.lint.rules  # noqa: F401  (declares the rules)
    from devkit.lint.rules import acknowledgements, integrity  # noqa: F401

    rows = []
    for r in sorted(RULES.values(), key=lambda r: r.id):
        ack = "ackable" if r.ackable else "-"
        rows.append(f"{r.id:32} {r.severity:7} {r.risk:6} {ack:7} {r.summary}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list_rules:
        print(list_rules())
        return 0
    if not Path(args.directory).is_dir():
        print(f"lint: {args.directory} is not a directory", file=sys.stderr)
        return 2
    result = run(args.directory)
    print(to_json(result) if args.json else to_text(result, args.verbose))
    return result.exit_code
