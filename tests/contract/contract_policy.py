"""Pure-Python policies the worker applies on every request, decided the same on both runtimes.

Same code, different interpreters: CPython 3.11 here, Python 3.13 in Pyodide, whose ``ipaddress``,
``email.utils``, ``re`` and ``json`` are the ones these policies lean on (``ipaddress`` changed its
private/global ranges in 3.13, for instance). Each contract returns every decision, so any drift
between the runtimes shows as unequal observations.
"""

import contextlib
import io
import json
from datetime import UTC, datetime
from typing import Any

from edgenotify.errors import DomainError
from edgenotify.http.errors import status_of
from edgenotify.limits import Limits, LimitsConfigError
from edgenotify.notify import channels, render
from edgenotify.notify.channels.webhook import parse_secret
from edgenotify.notify.delivery.schedule import DEFAULT_POLICY, parse_retry_after
from edgenotify.notify.ssrf import check_url
from edgenotify.notify.templates import Content, Template, Variable
from edgenotify.observability import log_event
from tests.contract.contracts import contract

URLS = [
    "https://hooks.example.com/a",
    "http://hooks.example.com/a",
    "https://127.0.0.1:8443/x",
    "http://localhost:9999/hook",
    "https://api.localhost/x",
    "https://10.1.2.3/",
    "https://192.168.0.1/",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/",
    "https://192.0.0.8/",
    "https://192.0.0.9/",
    "https://[64:ff9b:1::a00:1]/",
    "https://[2001:1::1]/",
    "https://[3fff::1]/",
    "https://[5f00::1]/",
    "https://198.18.0.1/",
    "https://[::1]/",
    "https://[::ffff:10.0.0.1]/",
    "https://[2001:db8::1]/",
    "https://[2606:4700::1111]/",
    "https://1.1.1.1/",
    "https://0x7f.1/",
    "https://2130706433/",
    "https://user:pw@hooks.example.com/",
    "https://hooks.example.com:99999/",
    "ftp://hooks.example.com/",
    "https:///nohost",
    "https://hooks example.com/",
    "",
]


def _decision(call: Any) -> Any:
    try:
        return ["ok", call()]
    except DomainError as exc:
        return [status_of(exc.code), exc.code.name, exc.message, exc.field]
    except ValueError as exc:
        return ["ValueError", str(exc)]


@contract
async def policy_outbound_urls(env: Any) -> Any:
    """The SSRF policy for each URL, in production and in development (loopback allowed)."""
    decisions = {url: [_decision(lambda u=url, d=dev: check_url(u, d)) for dev in (False, True)] for url in URLS}
    assert decisions["https://hooks.example.com/a"][0][0] == "ok"
    assert decisions["https://169.254.169.254/latest/meta-data"][1][0] == 422
    return decisions


@contract
async def policy_channel_configs(env: Any) -> Any:
    """Webhook secrets, masking of every secret field, and URL checks per channel."""
    secret = "whsec_" + "a2V5LWtleS1rZXkta2V5LWtleS1rZXkta2V5"
    configs = {
        "webhook": {"url": "https://hooks.example.com/h", "secret": secret},
        "telegram": {"bot_token": "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi", "chat_id": "@news"},
        "lark": {"webhook_url": "https://open.feishu.cn/open-apis/bot/v2/hook/0123456789abcdef", "secret": "s" * 12},
    }
    return {
        "secret_bytes": [_decision(lambda s=s: len(parse_secret(s))) for s in (secret, "whsec_!!", "x")],
        "masked": {name: channels.mask_config(name, config) for name, config in configs.items()},
        "mask_secret": [channels.mask_secret(v) for v in ("", "abc", "whsec_abcdefgh", "0123456789")],
        "token_urls": [channels.mask_token_url(u) for u in ("https://h.example/a/b/secret-id", "https://h.example/")],
        "urls": {
            name: [_decision(lambda n=name, c=config, d=dev: channels.check_config_urls(n, c, d)) for dev in (0, 1)]
            for name, config in {**configs, "local": {"url": "http://127.0.0.1:1/h"}}.items()
        },
    }


def _template(content_type: str, body: str) -> Template:
    return Template(
        key="contract-policy",
        name="Policy",
        variables=[Variable("name"), Variable("count", required=False, default=3)],
        is_active=True,
        contents={"webhook": Content("Hi {{name}}", body, content_type)},
    )


@contract
async def policy_template_rendering(env: Any) -> Any:
    """Placeholders, escaping per content type (text, markdown, json) and the 422s for bad variables."""
    values = {"name": 'Ann "A" \\ *bold* [x](y)\n', "count": 7}
    rendered = {
        kind: _decision(lambda k=kind, b=body: render.render(_template(k, b), "webhook", values))
        for kind, body in {
            "text": "Hello {{ name }}, {{count}} new",
            "markdown": "*Hello* {{name}} ({{count}})",
            "json": '{"who": "{{name}}", "n": {{count}}, "list": [{{ count }}]}',
        }.items()
    }
    tpl = _template("text", "{{name}}")
    return {
        "rendered": rendered,
        "placeholders": render.placeholders("{{a}} {{ b }} {{a}} {{ 9x }} {{c"),
        "syntax": [_decision(lambda t=t: render.check_syntax(t, "json")) for t in ('{"a": {{x}}}', "{{ x", '{"a": }')],
        "missing": _decision(lambda: render.render(tpl, "webhook", {})),
        "undeclared": _decision(lambda: render.render(tpl, "webhook", {"name": "a", "other": 1})),
        "no_channel": _decision(lambda: render.render(tpl, "lark", {"name": "a"})),
        "inline": _decision(
            lambda: render.render_inline("S {{a}}", "{{a}} {{b}}", "text", {"a": [1, {"k": None}], "b": True})
        ),
        "inline_missing": _decision(lambda: render.render_inline(None, "{{a}}", "text", {})),
        "json_break": _decision(lambda: render.render_inline(None, "{ {{k}}: 1 }", "json", {"k": "x"})),
    }


@contract
async def policy_backoff_and_retry_after(env: Any) -> Any:
    """The retry schedule with a pinned random draw (None: attempts exhausted), and Retry-After in both forms."""
    now = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
    delays = [
        [DEFAULT_POLICY.delay(n, retry_after, rand=0.5) for n in (1, 2, 5, 12)] for retry_after in (None, 0, 45, 10**6)
    ]
    headers = ["120", " 7 ", "Tue, 01 Dec 2026 12:01:30 GMT", "Tue, 01 Dec 2026 11:00:00 GMT", "soon", "", None, "-3"]
    return {"delays": delays, "retry_after": [parse_retry_after(h, now) for h in headers]}


class _Vars:
    def __init__(self, **values: str):
        self.__dict__.update(values)


@contract
async def policy_limits_and_log_lines(env: Any) -> Any:
    """Production's per-invocation limits from the env, and the JSON log line format."""
    plans = {
        "default": Limits.from_env(_Vars()),
        "free": Limits.from_env(_Vars(LIMIT_PLAN="Free")),
        "lowered": Limits.from_env(_Vars(LIMIT_D1_QUERIES="20", LIMIT_SUBREQUESTS=" 5 ", LIMIT_CPU_MS="")),
        "cpu": Limits.for_plan("paid", cpu_ms=300_000),
    }
    refusals = [
        _decision(lambda v=v: Limits.from_env(_Vars(**v)))
        for v in ({"LIMIT_PLAN": "gold"}, {"LIMIT_KV_OPERATIONS": "-1"})
    ]
    assert all(r[0] == "ValueError" for r in refusals) and issubclass(LimitsConfigError, ValueError)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        log_event("contract.event", status=200, missing=None, text="é", when=datetime(2026, 1, 1, tzinfo=UTC))
    return {
        "plans": {
            name: [x.plan, x.d1_queries, x.kv_operations, x.subrequests, x.connections, x.cpu_ms, x.d1_result_bytes]
            for name, x in plans.items()
        },
        "refusals": refusals,
        "log_line": json.loads(out.getvalue()),
        "log_text": out.getvalue(),
    }
