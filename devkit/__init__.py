"""Development-only tooling: the embedded runtime, CLIs, the migration linter, the parity harness.

Nothing here is deployed; the Worker bundle holds src/ only.
"""
