"""Audit trail: who changed which resource, recorded in the SAME D1 batch as the change.

:func:`audit_query` returns a :class:`Query` rather than writing, so callers put it into the batch
that performs the write: the audit row commits if and only if the write does, in one round trip.
For deletes, pass ``only_if`` (an SQL condition such as ``EXISTS (...)``, placed BEFORE the delete
in the batch) so that deleting something absent leaves no audit row.
"""

import json
from typing import Any

from edgenotify.clock import now_iso
from edgenotify.db import Query

_INSERT = "INSERT INTO audit_logs (actor, action, resource_type, resource_id, details, request_id, created_at)"


def audit_query(
    context: Any,
    action: str,
    resource_type: str,
    resource_id: str,
    details: dict[str, Any] | None = None,
    only_if: Query | None = None,
) -> Query:
    """An INSERT into ``audit_logs`` (actor and request id from ``context``).

    ``details`` must not contain secrets: it is stored in clear text. ``only_if`` is a
    condition Query (e.g. ``Query.of("EXISTS (SELECT 1 FROM t WHERE k = ?)", key)``).
    """
    text = json.dumps(details, separators=(",", ":"), ensure_ascii=False, sort_keys=True) if details else None
    values = (context.actor, action, resource_type, resource_id, text, context.request_id or None, now_iso())
    if only_if is None:
        return Query(f"{_INSERT} VALUES (?, ?, ?, ?, ?, ?, ?)", values)
    return Query(f"{_INSERT} SELECT ?, ?, ?, ?, ?, ?, ? WHERE {only_if.sql}", values + only_if.params)


def audit_rows_query(
    context: Any, action: str, resource_type: str, rows: Query, id_column: str, details: dict[str, Any] | None = None
) -> Query:
    """One audit row per row of ``rows`` (a SELECT naming ``id_column``): a bulk change audited
    per resource, in the same batch as the change."""
    text = json.dumps(details, separators=(",", ":"), ensure_ascii=False, sort_keys=True) if details else None
    values = (context.actor, action, resource_type, text, context.request_id or None, now_iso())
    sql = f"{_INSERT} SELECT ?, ?, ?, {id_column}, ?, ?, ? FROM ({rows.sql})"
    return Query(sql, values + rows.params)
