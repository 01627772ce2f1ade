"""Templates: load (KV first, then ONE D1 batch), list (keyset), save and delete (one batch each).

Interface for the send path (stable):

``await load_template(context, key) -> Template | None``
    The template with its declared variables and per-channel contents (active or not: check
    ``is_active``). Served by one KV read (``tpl:v1:{key}``) when warm, "not found" included,
    so a warm send costs zero D1 round trips for the template.

A template row and its contents are written in one batch (contents replaced atomically: delete
all, insert the new set), together with the audit row; the KV key is deleted afterwards.
pydantic-free on purpose (delivery and the parity runtime import it).
"""

import json
from dataclasses import asdict, dataclass
from typing import Any

from edgenotify.audit import audit_query
from edgenotify.clock import now_iso
from edgenotify.db import Query
from edgenotify.notify import config_cache as cache

_TEMPLATE_COLUMNS = "template_key, template_name, description, variables, is_active, created_at, updated_at"
_CONTENT_COLUMNS = "template_key, channel_type, content_type, subject_template, content_template"


@dataclass(frozen=True)
class Variable:
    name: str
    required: bool = True
    default: Any = None


@dataclass(frozen=True)
class Content:
    subject_template: str | None
    content_template: str
    content_type: str = "text"  # text | markdown | json


@dataclass(frozen=True)
class Template:
    key: str
    name: str
    variables: list[Variable]
    is_active: bool
    contents: dict[str, Content]  # channel -> content
    description: str | None = None
    created_at: str = ""
    updated_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (the KV cache value)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Template":
        return cls(
            key=data["key"],
            name=data["name"],
            description=data.get("description"),
            variables=[Variable(**v) for v in data["variables"]],
            is_active=bool(data["is_active"]),
            contents={ch: Content(**c) for ch, c in data["contents"].items()},
            created_at=data.get("created_at", ""),
            updated_at=data.get("updated_at", ""),
        )


def _from_rows(row: dict[str, Any], content_rows: list[dict[str, Any]]) -> Template:
    return Template(
        key=row["template_key"],
        name=row["template_name"],
        description=row["description"],
        variables=[Variable(**v) for v in json.loads(row["variables"] or "[]")],
        is_active=bool(row["is_active"]),
        contents={
            c["channel_type"]: Content(c["subject_template"], c["content_template"], c["content_type"])
            for c in sorted(content_rows, key=lambda c: c["channel_type"])
        },
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _select_queries(key: str) -> list[Query]:
    return [
        Query.of(f"SELECT {_TEMPLATE_COLUMNS} FROM notification_templates_v2 WHERE template_key = ?", key),
        Query.of(f"SELECT {_CONTENT_COLUMNS} FROM template_contents WHERE template_key = ?", key),
    ]


async def load_template(context: Any, key: str) -> Template | None:
    """The template or None; KV first, else one D1 batch (template + contents) that fills KV."""
    cache_key = cache.template_key(key)
    cached = await cache.cache_get(context, cache_key)
    if cached is None:
        return None
    if isinstance(cached, dict):
        return Template.from_dict(cached)
    head, contents = await context.db.batch(_select_queries(key))
    template = _from_rows(head.rows[0], contents.rows) if head.rows else None
    await cache.cache_put(context, cache_key, template.to_dict() if template else None)
    return template


async def list_templates(
    context: Any, after: str | None, limit: int, active: bool | None = None
) -> tuple[list[Template], str | None]:
    """One page ordered by key (keyset: ``key > after``) and the last key when more may follow.

    Both statements (page + its contents) run in one batch: one round trip, one snapshot.
    """
    where = ["template_key > ?"]
    params: list[Any] = [after or ""]
    if active is not None:
        where.append("is_active = ?")
        params.append(int(active))
    page = (
        f"SELECT {_TEMPLATE_COLUMNS} FROM notification_templates_v2 WHERE {' AND '.join(where)}"
        " ORDER BY template_key LIMIT ?"
    )
    head, contents = await context.db.batch(
        [
            Query(page, (*params, limit + 1)),
            Query(
                f"SELECT {_CONTENT_COLUMNS} FROM template_contents WHERE template_key IN"
                f" (SELECT template_key FROM ({page}))",
                (*params, limit),
            ),
        ]
    )
    rows = head.rows[:limit]
    by_key: dict[str, list[dict[str, Any]]] = {}
    for c in contents.rows:
        by_key.setdefault(c["template_key"], []).append(c)
    templates = [_from_rows(row, by_key.get(row["template_key"], [])) for row in rows]
    more = len(head.rows) > limit
    return templates, (rows[-1]["template_key"] if more and rows else None)


async def save_template(context: Any, template: Template) -> Template:
    """Create or replace the template and ALL its contents atomically, with the audit row, in ONE batch."""
    now = now_iso()
    variables = json.dumps([asdict(v) for v in template.variables], separators=(",", ":"), ensure_ascii=False)
    queries = [
        Query.of(
            "INSERT INTO notification_templates_v2"
            " (template_key, template_name, description, variables, is_active, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (template_key) DO UPDATE SET template_name = excluded.template_name,"
            " description = excluded.description, variables = excluded.variables,"
            " is_active = excluded.is_active, updated_at = excluded.updated_at"
            f" RETURNING {_TEMPLATE_COLUMNS}",
            template.key,
            template.name,
            template.description,
            variables,
            template.is_active,
            now,
            now,
        ),
        Query.of("DELETE FROM template_contents WHERE template_key = ?", template.key),
    ]
    for channel, content in sorted(template.contents.items()):
        queries.append(
            Query.of(
                "INSERT INTO template_contents (template_key, channel_type, content_type, subject_template,"
                " content_template, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                template.key,
                channel,
                content.content_type,
                content.subject_template,
                content.content_template,
                now,
                now,
            )
        )
    details = {"channels": sorted(template.contents), "is_active": template.is_active}
    queries.append(audit_query(context, "template.put", "template", template.key, details))
    results = await context.db.batch(queries)
    await cache.cache_delete(context, cache.template_key(template.key))
    row = results[0].rows[0]
    return Template(
        key=template.key,
        name=template.name,
        description=template.description,
        variables=template.variables,
        is_active=template.is_active,
        contents=dict(sorted(template.contents.items())),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def delete_template(context: Any, key: str) -> bool:
    """Delete the template and its contents (audit row only if it existed) in ONE batch."""
    exists = Query.of("EXISTS (SELECT 1 FROM notification_templates_v2 WHERE template_key = ?)", key)
    results = await context.db.batch(
        [
            audit_query(context, "template.delete", "template", key, None, exists),
            Query.of("DELETE FROM template_contents WHERE template_key = ?", key),
            Query.of("DELETE FROM notification_templates_v2 WHERE template_key = ? RETURNING template_key", key),
        ]
    )
    await cache.cache_delete(context, cache.template_key(key))
    return bool(results[2].rows)
