"""Operator CLIs on the local (embedded runtime) state: ``scripts/backup`` and ``scripts/restore``."""
