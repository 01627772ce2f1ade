"""Template rendering: ``{{ variable }}`` substitution with escaping per content type.

Interface for the send path (stable):

``render(template, channel, variables) -> (subject | None, content)``
    Renders the template's contents for ``channel``. Raises :class:`RenderError` naming
    required variables that are missing (no value and no default) and supplied variables the
    template does not declare, and ``channel_not_in_template`` when the
    template has no contents for ``channel``.
``render_inline(subject, content, content_type, variables) -> (subject | None, content)``
    The same substitution for inline messages: every placeholder must have a value.

Escaping (values only; the template text is trusted):

* ``text``: values inserted as they are;
* ``markdown``: Markdown specials (Telegram MarkdownV2's set) are backslash-escaped, so a value
  cannot inject formatting or links;
* ``json``: a placeholder inside a JSON string gets the value JSON-string-escaped (quotes,
  backslashes, newlines, control characters); a placeholder outside strings gets the value as a
  JSON literal (``{"n": {{ count }}}`` → ``{"n": 3}``). The result always parses as JSON.

Subjects are plain text in every content type. Values: strings as they are, ``None`` as empty
text (``null`` in JSON), booleans as ``true``/``false``, numbers as written, lists/objects as
compact JSON.
"""

import json
import re
from typing import Any

from edgenotify import errors
from edgenotify.errors import DomainError

CONTENT_TYPES = ("text", "markdown", "json")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}")
_ANY_BRACES = re.compile(r"\{\{(.*?)\}\}", re.S)
_MARKDOWN_SPECIALS = re.compile(r"([\\_*\[\]()~`>#+\-=|{}.!])")


class RenderError(DomainError):
    """Variables do not fit the template: naming the ``missing`` and ``undeclared`` ones."""

    def __init__(self, missing: list[str], undeclared: list[str]):
        parts = []
        if missing:
            parts.append(f"missing required variables: {', '.join(missing)}")
        if undeclared:
            parts.append(f"undeclared variables: {', '.join(undeclared)}")
        code = errors.MISSING_VARIABLES if missing else errors.UNDECLARED_VARIABLES
        super().__init__(code, "; ".join(parts), "variables")
        self.missing = missing
        self.undeclared = undeclared


class TemplateSyntaxError(ValueError):
    """A template text that cannot be rendered safely (bad placeholder, invalid JSON)."""


def placeholders(text: str | None) -> list[str]:
    """Variable names used by ``text``, in order of first use."""
    seen: dict[str, None] = {}
    for match in PLACEHOLDER.finditer(text or ""):
        seen.setdefault(match.group(1), None)
    return list(seen)


def check_syntax(text: str | None, content_type: str) -> None:
    """Raise :class:`TemplateSyntaxError` for ``{{ ... }}`` that is not a placeholder, or for a json
    template that would not render to valid JSON."""
    for match in _ANY_BRACES.finditer(text or ""):
        if not PLACEHOLDER.fullmatch(match.group(0)):
            raise TemplateSyntaxError(f"invalid placeholder {match.group(0)[:80]!r}: use {{{{ name }}}}")
    if content_type == "json" and text is not None:
        probe = _substitute(text, {name: "x" for name in placeholders(text)}, "json")
        try:
            json.loads(probe)
        except ValueError as exc:
            raise TemplateSyntaxError(f"json content is not valid JSON once rendered: {exc}") from None


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def escape_markdown(text: str) -> str:
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


def _json_positions(text: str) -> list[bool]:
    """For each placeholder match in ``text``: True when it sits inside a JSON string literal."""
    inside: list[bool] = []
    in_string = False
    escaped = False
    matches = list(PLACEHOLDER.finditer(text))
    starts = {m.start(): i for i, m in enumerate(matches)}
    i = 0
    while i < len(text):
        if i in starts:
            inside.append(in_string)
            i = matches[starts[i]].end()
            continue
        ch = text[i]
        if in_string and escaped:
            escaped = False
        elif in_string and ch == "\\":
            escaped = True
        elif ch == '"':
            in_string = not in_string
        i += 1
    return inside


def _substitute(text: str, values: dict[str, Any], content_type: str) -> str:
    if content_type == "json":
        positions = iter(_json_positions(text))

        def json_value(match: re.Match[str]) -> str:
            value = values.get(match.group(1))
            if next(positions):
                return json.dumps(_as_text(value), ensure_ascii=False)[1:-1]
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

        return PLACEHOLDER.sub(json_value, text)
    if content_type == "markdown":
        return PLACEHOLDER.sub(lambda m: escape_markdown(_as_text(values.get(m.group(1)))), text)
    return PLACEHOLDER.sub(lambda m: _as_text(values.get(m.group(1))), text)


def _values(template: Any, variables: dict[str, Any]) -> dict[str, Any]:
    declared = {v.name: v for v in template.variables}
    undeclared = sorted(name for name in variables if name not in declared)
    missing = [v.name for v in template.variables if v.required and v.name not in variables and v.default is None]
    if missing or undeclared:
        raise RenderError(missing, undeclared)
    return {name: variables.get(name, var.default) for name, var in declared.items()}


def render(template: Any, channel: str, variables: dict[str, Any]) -> tuple[str | None, str]:
    """Render ``template`` (a :class:`~edgenotify.notify.templates.Template`) for ``channel``."""
    content = template.contents.get(channel)
    if content is None:
        message = f"template {template.key} has no content for {channel}"
        raise DomainError(errors.CHANNEL_NOT_IN_TEMPLATE, message, "channels")
    values = _values(template, variables)
    subject = _substitute(content.subject_template, values, "text") if content.subject_template is not None else None
    return subject, _checked(_substitute(content.content_template, values, content.content_type), content.content_type)


def _checked(rendered: str, content_type: str) -> str:
    """A json rendering must parse: a value placed where JSON wants a string key (``{ {{k}}: 1 }``)
    could break it, and then the client's variables are at fault, never the server."""
    if content_type == "json":
        try:
            json.loads(rendered)
        except ValueError:
            message = "variables do not fit the json template's placeholders"
            raise DomainError(errors.INVALID_VARIABLE_VALUE, message, "variables") from None
    return rendered


def render_inline(
    subject: str | None, content: str, content_type: str, variables: dict[str, Any]
) -> tuple[str | None, str]:
    """Render inline texts; every placeholder needs a value (missing ones raise :class:`RenderError`)."""
    used = placeholders(subject) + placeholders(content)
    missing = sorted({name for name in used if name not in variables})
    if missing:
        raise RenderError(missing, [])
    rendered_subject = _substitute(subject, variables, "text") if subject is not None else None
    return rendered_subject, _checked(_substitute(content, variables, content_type), content_type)
