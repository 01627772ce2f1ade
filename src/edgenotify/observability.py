"""Structured logs: one JSON object per line, the shape `wrangler tail` and Workers Logs index.

Every log line the worker writes goes through ``log_event`` so that each line is machine-readable,
names its event, and never carries a secret (callers pass masked values only).
"""

import json
from typing import Any


def log_event(event: str, **fields: Any) -> None:
    """Print one JSON line: ``{"event": ..., **fields}`` (``None`` fields left out)."""
    record = {"event": event, **{k: v for k, v in fields.items() if v is not None}}
    print(json.dumps(record, separators=(",", ":"), default=str, ensure_ascii=False))
