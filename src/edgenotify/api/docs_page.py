"""The human-readable API reference (``/docs``): one self-contained HTML page rendered from the
OpenAPI document.

Rendered on the server, so the page is complete without JavaScript (works offline, in any
browser, behind a strict Content-Security-Policy); a few lines of inline script add a filter box.
Nothing is loaded from anywhere else: no CDN, no fonts, no images.
"""

import json
from html import escape
from typing import Any

_CSS = """
:root{--fg:#1d2330;--muted:#5b6577;--line:#dde2ea;--bg:#f7f8fb;--accent:#2457c5}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:var(--fg)}
header{padding:20px 32px;border-bottom:1px solid var(--line);background:var(--bg)}
header h1{margin:0 0 4px;font-size:24px}header p{margin:0;color:var(--muted)}
#filter{margin-top:12px;width:100%;max-width:420px;padding:8px 10px;border:1px solid var(--line);border-radius:6px}
main{display:flex}nav{width:280px;flex:none;padding:16px 20px;border-right:1px solid var(--line);
position:sticky;top:0;height:100vh;overflow:auto;font-size:13px}
nav h3{margin:16px 0 4px;text-transform:uppercase;font-size:12px;color:var(--muted)}
nav a{display:block;color:var(--fg);text-decoration:none;padding:2px 0;white-space:nowrap;overflow:hidden;
text-overflow:ellipsis}nav a:hover{color:var(--accent)}
#content{padding:8px 32px 64px;min-width:0;flex:1}
section.op,section.card{border:1px solid var(--line);border-radius:8px;margin:18px 0;padding:14px 18px}
.m{display:inline-block;min-width:62px;text-align:center;font:600 12px/22px ui-monospace,monospace;
border-radius:4px;color:#fff;margin-right:8px}
.get{background:#1f7a4d}.post{background:#2457c5}.put{background:#a15c00}.delete{background:#b3261e}
code,.path{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px}.path{font-weight:600}
h2.tag{margin:32px 0 0;font-size:20px;border-bottom:1px solid var(--line);padding-bottom:6px}
table{border-collapse:collapse;width:100%;margin:6px 0 12px;font-size:13px}
th,td{border-bottom:1px solid var(--line);text-align:left;padding:5px 8px;vertical-align:top}
th{color:var(--muted);font-weight:600}h4{margin:12px 0 2px;font-size:14px}
pre{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:8px 10px;overflow:auto;font-size:12px}
.muted{color:var(--muted)}.req{color:#b3261e}.codes code{white-space:nowrap}
"""

_SCRIPT = """
(function(){
  var ops=[].slice.call(document.querySelectorAll('section.op'));
  var count=document.getElementById('count');
  function show(q){var n=0;q=q.toLowerCase();ops.forEach(function(op){
    var hit=!q||op.textContent.toLowerCase().indexOf(q)>=0;op.style.display=hit?'':'none';if(hit)n++;});
    count.textContent=n+' of '+ops.length+' operations';}
  var box=document.getElementById('filter');box.addEventListener('input',function(){show(box.value);});
  show(box.value||'');
})();
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type_of(schema: dict[str, Any]) -> str:
    """A short human-readable type: ``string``, ``integer 1..100``, ``ChannelConfigOut``, ``one of ...``."""
    if "$ref" in schema:
        return _ref_name(schema["$ref"])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            parts = [_type_of(s) for s in schema[key]]
            return " | ".join(p for p in parts if p) if key != "allOf" else parts[0]
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    kind = schema.get("type", "")
    if kind == "array":
        return f"list of {_type_of(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema and isinstance(schema["additionalProperties"], dict):
        return f"map of {_type_of(schema['additionalProperties'])}"
    bounds = [f"{k} {schema[k]}" for k in ("minimum", "maximum", "minLength", "maxLength") if k in schema]
    return " ".join([str(kind), *bounds]).strip() or "any"


def _properties(schema: dict[str, Any]) -> str:
    rows = []
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        mark = ' <span class="req">required</span>' if name in required else ""
        rows.append(
            f"<tr><td><code>{_e(name)}</code>{mark}</td><td>{_e(_type_of(prop))}</td>"
            f"<td>{_e(prop.get('description', ''))}</td></tr>"
        )
    if not rows:
        return ""
    return "<table><tr><th>Field</th><th>Type</th><th>Description</th></tr>" + "".join(rows) + "</table>"


def _examples(schema: dict[str, Any]) -> str:
    return "".join(f"<pre>{_e(json.dumps(x, indent=2, ensure_ascii=False))}</pre>" for x in schema.get("examples", []))


def _parameters(params: list[dict[str, Any]]) -> str:
    if not params:
        return ""
    rows = "".join(
        f"<tr><td><code>{_e(p['name'])}</code>{' <span class=req>required</span>' if p.get('required') else ''}</td>"
        f"<td>{_e(p['in'])}</td><td>{_e(_type_of(p.get('schema', {})))}</td>"
        f"<td>{_e(p.get('description', ''))}</td></tr>"
        for p in params
    )
    return f"<h4>Parameters</h4><table><tr><th>Name</th><th>In</th><th>Type</th><th>Description</th></tr>{rows}</table>"


def _responses(responses: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td><code>{_e(status)}</code></td><td>{_e(answer.get('description', ''))}</td></tr>"
        for status, answer in responses.items()
    )
    return f"<h4>Responses</h4><table><tr><th>Status</th><th>Meaning and error codes</th></tr>{rows}</table>"


def _body(operation: dict[str, Any], schemas: dict[str, Any]) -> str:
    body = operation.get("requestBody")
    if not body:
        return ""
    schema = body["content"]["application/json"]["schema"]
    name = _ref_name(schema.get("$ref", ""))
    target = schemas.get(name, schema)
    return f'<h4>Body: <a href="#schema-{_e(name)}">{_e(name)}</a></h4>{_properties(target)}{_examples(target)}'


def _operation(method: str, path: str, op: dict[str, Any], schemas: dict[str, Any]) -> str:
    anchor = op["operationId"]
    auth = ", ".join(name for req in op.get("security", []) for name in req) or "none (public)"
    return (
        f'<section class="op" id="{_e(anchor)}"><div><span class="m {_e(method)}">{_e(method.upper())}</span>'
        f'<span class="path">{_e(path)}</span></div><p><strong>{_e(op.get("summary", ""))}</strong><br>'
        f'{_e(op.get("description", ""))}</p><p class="muted">Auth: {_e(auth)}</p>'
        f"{_parameters(op.get('parameters', []))}{_body(op, schemas)}{_responses(op.get('responses', {}))}</section>"
    )


def _schemas(schemas: dict[str, Any]) -> str:
    parts = []
    for name, schema in sorted(schemas.items()):
        parts.append(
            f'<section class="card" id="schema-{_e(name)}"><span class="path">{_e(name)}</span>'
            f"<p>{_e(schema.get('description', ''))}</p>{_properties(schema)}</section>"
        )
    return '<h2 class="tag" id="schemas">Schemas</h2>' + "".join(parts)


def render_docs(document: dict[str, Any]) -> str:
    """The whole page for ``document`` (an OpenAPI 3.1 document as a dict)."""
    info = document.get("info", {})
    schemas = document.get("components", {}).get("schemas", {})
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in document.get("paths", {}).items():
        for method, op in methods.items():
            by_tag.setdefault((op.get("tags") or ["other"])[0], []).append((method, path, op))
    nav, content = [], []
    for tag, ops in by_tag.items():
        nav.append(f"<h3>{_e(tag)}</h3>")
        nav += [f'<a href="#{_e(op["operationId"])}">{_e(m.upper())} {_e(p)}</a>' for m, p, op in ops]
        content.append(f'<h2 class="tag">{_e(tag)}</h2>' + "".join(_operation(m, p, op, schemas) for m, p, op in ops))
    nav.append('<h3><a href="#schemas">Schemas</a></h3>')
    title = f"{info.get('title', 'API')} {info.get('version', '')}".strip()
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)} API reference</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(title)} API reference</h1><p>{_e(info.get('description', ''))}</p>"
        '<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> · <span id="count"></span></p>'
        '<input id="filter" type="search" placeholder="Filter operations (path, code, field...)"></header>'
        f'<main><nav>{"".join(nav)}</nav><div id="content">{"".join(content)}{_schemas(schemas)}</div></main>'
        f"<script>{_SCRIPT}</script></body></html>"
    )
