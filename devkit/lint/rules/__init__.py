"""Rule families, one module each. Every family exposes ``check(ctx: FileContext) -> list[Finding]``.

Importing this package declares every rule in ``devkit.lint.findings.RULES``.
"""

from devkit.lint.rules import columns, d1, destructive, idempotency, rebuild, syntax

FAMILIES = (syntax, d1, idempotency, destructive, columns, rebuild)
