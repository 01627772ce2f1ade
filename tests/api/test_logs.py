# ruff: noqa: F811 - pytest fixtures imported from notify_kit are parameters here
"""GET /v1/notifications (filters, keyset pagination, cursors, limits), GET one message, and the
query plans of every statement the notification paths issue."""

import base64
import itertools
import json
import re

import pytest

from edgenotify.clock import utcnow
from edgenotify.models.notifications import NotificationItem, NotificationPage
from edgenotify.notify import logs, retry, stats
from edgenotify.notify.configs import ChannelConfig
from edgenotify.notify.delivery.dispatch import Delivery, Timing, outcome_queries, release_query
from edgenotify.notify.delivery.history import attempts_query
from edgenotify.notify.delivery.outcome import Attempt, Message, failure
from edgenotify.notify.delivery.schedule import DEFAULT_POLICY
from tests.api.notify_kit import Receivers, api, receivers  # noqa: F401 - fixtures

TIE = "2026-03-01T10:00:00.000Z"


def _insert(api, count: int, user: str = "u1", created_at: str = TIE, **columns) -> list[str]:
    """Rows arranged directly in SQL (fast); the API under test only reads them."""
    ids = []
    for _ in range(count):
        message_id = f"msg_{len(api.sql('SELECT id FROM notification_logs')) + 1:04d}"
        values = {"message_id": message_id, "user_id": user, "channel_type": "webhook", "content": "c",
                  "status": "success", "created_at": created_at, **columns}  # fmt: skip
        names = ", ".join(values)
        api.sql(f"INSERT INTO notification_logs ({names}) VALUES ({', '.join('?' * len(values))})", *values.values())
        ids.append(message_id)
    return ids


def _page(api, **params) -> dict:
    response = api.get("/v1/notifications", **params)
    assert response.status_code == 200, response.text
    return NotificationPage.model_validate(response.json()).model_dump()


def _ids(page: dict) -> list[str]:
    return [item["message_id"] for item in page["items"]]


def _all_pages(api, cursor: str | None = None, **params) -> list[str]:
    seen = []
    while True:
        page = _page(api, **params, **({"cursor": cursor} if cursor else {}))
        seen += _ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


@pytest.fixture
def sent(api, receivers: Receivers):
    """Real sends: webhook succeeds, telegram fails (stays pending); one templated send."""
    hook, bot = receivers.webhook(), receivers.telegram()
    bot.always(500, {"ok": False})
    api.webhook_for("u1", hook)
    api.telegram_for("u1", bot)
    api.put_template("greet", {"name": "Greet", "variables": [{"name": "who"}],
                               "contents": {"webhook": {"content_template": "Hello {{ who }}"}}})  # fmt: skip
    inline = api.sent({"user_id": "u1", "subject": "Deploy 100% done", "content": "all_green"})
    templated = api.sent({"user_id": "u1", "template_key": "greet", "variables": {"who": "Ann"}})
    api.drain()
    return inline, templated


def test_lists_newest_first_with_every_field(api, sent):
    inline, templated = sent
    page = _page(api, user_id="u1")
    assert _ids(page)[0] == templated["webhook"]
    assert set(_ids(page)) == {*inline.values(), *templated.values()}
    item = next(i for i in page["items"] if i["message_id"] == inline["telegram"])
    assert item["status"] == "pending" and item["retry_count"] == 1 and item["error"].startswith("HTTP 500")
    assert page["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "success"}, {"inline.webhook", "templated.webhook"}),
        ({"status": "pending"}, {"inline.telegram"}),
        ({"status": "failed"}, set()),
        ({"channel": "telegram"}, {"inline.telegram"}),
        ({"template_key": "greet"}, {"templated.webhook"}),
        ({"keyword": "100%"}, {"inline.webhook", "inline.telegram"}),  # % is literal
        ({"keyword": "100_"}, set()),  # _ is literal too
        ({"keyword": "ALL_GREEN"}, {"inline.webhook", "inline.telegram"}),  # content, ASCII case-insensitive
        ({"keyword": "hello ann"}, {"templated.webhook"}),
        ({"status": "success", "channel": "webhook", "keyword": "deploy"}, {"inline.webhook"}),
    ],
)
def test_filters(api, sent, params, expected):
    inline, templated = sent
    names = {f"inline.{ch}": mid for ch, mid in inline.items()} | {"templated.webhook": templated["webhook"]}
    assert set(_ids(_page(api, user_id="u1", **params))) == {names[n] for n in expected}


def test_time_range_since_inclusive_until_exclusive(api):
    early = _insert(api, 1, created_at="2026-01-01T00:00:00.000Z")
    middle = _insert(api, 1, created_at="2026-02-01T00:00:00.000Z")
    late = _insert(api, 1, created_at="2026-03-01T00:00:00.000Z")
    assert _ids(_page(api, user_id="u1", since="2026-02-01T00:00:00Z")) == late + middle
    assert _ids(_page(api, user_id="u1", until="2026-02-01T00:00:00Z")) == early
    # other offsets are normalised to the stored UTC form
    assert _ids(_page(api, user_id="u1", since="2026-02-01T01:00:00+01:00", until="2026-03-01")) == middle


def test_other_users_rows_are_not_listed(api):
    _insert(api, 2, user="someone-else")
    assert _page(api, user_id="u1")["items"] == []


def test_pagination_is_stable_when_timestamps_tie(api):
    ids = _insert(api, 7)  # all created in the same millisecond
    seen = _all_pages(api, user_id="u1", limit=3)
    assert seen == list(reversed(ids))  # every row once, ties broken by id, newest first


def test_pagination_is_not_disturbed_by_new_rows(api):
    ids = _insert(api, 5)
    first = _page(api, user_id="u1", limit=2)
    _insert(api, 3, created_at="2026-12-31T00:00:00.000Z")  # newer rows arrive meanwhile
    rest = _all_pages(api, first["next_cursor"], user_id="u1", limit=2)
    assert _ids(first) + rest == list(reversed(ids))


def _walked(api, sql: str, params: tuple, returned: list[dict]) -> int:
    """Index entries the page's seek visits, from its query plan: the plan must seek
    ``idx_logs_user_created`` on ``user_id`` with ``created_at`` as the range bound (SQLite checks
    ``id`` per entry), so the walk visits every entry from the bound down to the last row returned."""
    plan = [row[3] for row in api.db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    assert plan == ["SEARCH notification_logs USING INDEX idx_logs_user_created (user_id=? AND created_at<?)"]
    user, bound_at = params[0], params[-3]
    last = {"created_at": returned[-1]["created_at"], "id": returned[-1]["id"]}
    walk = "user_id = ? AND created_at <= ? AND (created_at, id) >= (?, ?)"
    return api.sql(f"SELECT count(*) AS n FROM notification_logs WHERE {walk}", user, bound_at, *last.values())[0]["n"]


def test_a_cursor_page_reads_at_most_limit_plus_one_rows(api):
    """The cursor points AT the next page's first row (the extra row the query already fetched)
    and the next page starts there with ``<=``: the seek never revisits a row already shown."""
    for second in range(9):
        _insert(api, 1, created_at=f"2026-03-01T10:00:{second:02d}.000Z")
    recorded = _record_statements(api.worker.server_env.DB)
    first = _page(api, user_id="u1", limit=3)
    second_page = _page(api, user_id="u1", limit=3, cursor=first["next_cursor"])
    sql, params = next((sql, p) for sql, p in reversed(recorded) if "FROM notification_logs" in sql)
    assert "(created_at, id) <= (?, ?)" in sql and " < (?, ?)" not in sql and params[-1] == 4
    cursor_row = api.sql("SELECT message_id FROM notification_logs WHERE id = ?", params[-2])[0]
    assert cursor_row["message_id"] == _ids(second_page)[0]  # the cursor row opens the page it points to
    rows = api.db.execute(sql, params).fetchall()
    assert len(rows) == 4 and _walked(api, sql, params, [dict(r) for r in rows]) == 4  # limit + 1, not + 2
    exclusive = sql.replace("(created_at, id) <= (?, ?)", "(created_at, id) < (?, ?)")
    prev_last = api.sql("SELECT id, created_at FROM notification_logs WHERE message_id = ?", _ids(first)[-1])[0]
    old_params = (*params[:-3], prev_last["created_at"], prev_last["id"], 4)
    old_rows = [dict(r) for r in api.db.execute(exclusive, old_params).fetchall()]
    assert _walked(api, exclusive, old_params, old_rows) == 5  # the earlier scheme revisited the shown row


@pytest.mark.parametrize("extra", [{}, {"channel": "webhook"}, {"template_key": "t"}, {"keyword": "k"}])
@pytest.mark.parametrize("start", [None, (TIE, 5)])
def test_a_status_filtered_page_walks_the_user_status_index(api, extra, start):
    """Migration 0002: (user_id, status, created_at, id) serves the filter and the keyset order, so a
    status page stops after limit + 1 matching rows instead of walking the user's whole history."""
    query = logs.list_query(logs.LogFilter(user_id="u1", status="failed", **extra), start, 50)
    plan = [row[3] for row in api.db.execute(f"EXPLAIN QUERY PLAN {query.sql}", query.params)]
    seek = "user_id=? AND status=?" + (" AND created_at<?" if start else "")
    assert plan == [f"SEARCH notification_logs USING INDEX idx_logs_user_status_created ({seek})"]


def test_default_limit_is_50_and_at_most_100(api):
    _insert(api, 101)
    assert len(_page(api, user_id="u1")["items"]) == 50
    page = _page(api, user_id="u1", limit=100)
    assert len(page["items"]) == 100 and page["next_cursor"] is not None


def _tamper(cursor: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[3] ^= 0x01  # one bit of the timestamp
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def _forged() -> str:
    return base64.urlsafe_b64encode(json.dumps(["9999-12-31T00:00:00.000Z", 10**9]).encode() + b"\0" * 16).decode()


@pytest.mark.parametrize("make", [_tamper, lambda c: c[:-2], lambda c: "!!not-base64!!", lambda c: _forged()])
def test_a_tampered_or_forged_cursor_is_400(api, make):
    _insert(api, 3)
    cursor = _page(api, user_id="u1", limit=1)["next_cursor"]
    response = api.get("/v1/notifications", user_id="u1", cursor=make(cursor))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_cursor" and response.json()["error"]["field"] == "cursor"


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({}, "missing_field", "user_id"),
        ({"user_id": "u1", "limit": "101"}, "invalid_value", "limit"),
        ({"user_id": "u1", "limit": "0"}, "invalid_value", "limit"),
        ({"user_id": "u1", "limit": "ten"}, "invalid_type", "limit"),
        ({"user_id": "u1", "status": "lost"}, "invalid_value", "status"),
        ({"user_id": "u1", "channel": "sms"}, "invalid_value", "channel"),
        ({"user_id": "u1", "since": "yesterday"}, "invalid_value", "since"),
        ({"user_id": "u1", "keyword": "k" * 49}, "invalid_value", "keyword"),
        ({"user_id": "u1", "keyword": "%" * 30}, "invalid_value", "keyword"),  # escaped pattern > D1's 50 bytes
        ({"user_id": "u1", "sort": "asc"}, "unknown_field", "sort"),
    ],
)
def test_invalid_list_parameters_are_4xx(api, params, code, field):
    response = api.get("/v1/notifications", **params)
    assert response.status_code == 422, response.text
    assert (response.json()["error"]["code"], response.json()["error"]["field"]) == (code, field)


def test_get_one_message(api, sent):
    inline, _ = sent
    response = api.get(f"/v1/notifications/{inline['webhook']}")
    assert response.status_code == 200
    item = NotificationItem.model_validate(response.json())
    assert (item.message_id, item.channel, item.status, item.subject) == (
        inline["webhook"], "webhook", "success", "Deploy 100% done",
    )  # fmt: skip


def test_get_unknown_message_is_404(api):
    response = api.get("/v1/notifications/msg_nope")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "message_not_found",
        "message": "no message msg_nope",
        "field": "message_id",
    }


def test_get_with_a_malformed_message_id_is_422(api):
    response = api.get("/v1/notifications/bad%20id")
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_path_param"


def test_log_routes_need_the_client_token(api):
    for path in ("/v1/notifications?user_id=u1", "/v1/notifications/msg_x", "/v1/stats?user_id=u1"):
        assert api.client.get(path).status_code == 401


# -- query plans ----------------------------------------------------------------------------

MY_TABLES = (
    "notification_logs",
    "idempotency_keys",
    "user_stats",
    "task_execution_records",
    "delivery_attempts",
    "user_configs",
)
_SCAN = re.compile(rf"^SCAN (TABLE )?({'|'.join(MY_TABLES)})\b")


def _record_statements(binding) -> list[tuple[str, tuple]]:
    """Record every (sql, params) the server's D1 binding runs from now on."""
    recorded: list[tuple[str, tuple]] = []
    original = binding._transaction

    def recording(queries):
        recorded.extend((q.sql, tuple(q.params)) for q in queries)
        return original(queries)

    binding._transaction = recording
    return recorded


def _builder_shapes() -> list[tuple[str, tuple]]:
    """Every filter combination the list and stats builders can produce."""
    options = {
        "status": "success",
        "channel": "webhook",
        "template_key": "t",
        "since": TIE,
        "until": TIE,
        "keyword": "k",
    }
    shapes = []
    for n in range(len(options) + 1):
        for chosen in itertools.combinations(options, n):
            flt = logs.LogFilter(user_id="u1", **{k: options[k] for k in chosen})
            for after in (None, (TIE, 5)):
                query = logs.list_query(flt, after, 50)
                shapes.append((query.sql, query.params))
    for since, until in itertools.product((None, TIE), repeat=2):
        query = stats.counts_query("u1", since, until)
        shapes.append((query.sql, query.params))
    query = retry.claim_query(TIE, TIE, 50)
    shapes.append((query.sql, query.params))
    delivery = Delivery(Message("msg_1", "u1", "webhook", None, "c"), ChannelConfig("u1", "webhook", {}, True), TIE)
    timing = Timing(utcnow(), 1, utcnow())
    for result in (Attempt(True), failure("HTTP 500"), failure("refused", permanent=True)):
        shapes += [(q.sql, q.params) for q in outcome_queries(delivery, result, timing, DEFAULT_POLICY)[0]]
    for query in (release_query(delivery, TIE), attempts_query("msg_1")):
        shapes.append((query.sql, query.params))
    return shapes


def test_no_statement_of_the_notification_paths_scans_a_table(api, receivers: Receivers):
    recorded = _record_statements(api.worker.server_env.DB)
    hook, bot = receivers.webhook(), receivers.telegram()
    bot.answer(500, {"ok": False})
    api.webhook_for("u1", hook)
    api.telegram_for("u1", bot)
    ids = api.sent({"user_id": "u1", "content": "plain"})
    api.sent({"user_id": "u1", "content": "keyed"}, key="plan-key")
    api.send({"user_id": "u1", "content": "keyed"}, key="plan-key")
    api.drain()
    api.make_due(ids["telegram"])
    api.retry()
    cursor = _page(api, user_id="u1", limit=1)["next_cursor"]
    _page(api, user_id="u1", status="success", channel="webhook", template_key="t", since=TIE, until="2100-01-01",
          keyword="k", cursor=cursor)  # fmt: skip
    api.get(f"/v1/notifications/{ids['webhook']}")
    api.get("/v1/stats", user_id="u1", since=TIE, until="2100-01-01")
    api.get("/v1/stats", user_id="u1")
    issued = [(sql, params) for sql, params in recorded if any(t in sql for t in MY_TABLES)]
    shapes = {sql: params for sql, params in issued + _builder_shapes()}
    assert len({sql for sql, _ in issued}) >= 10 and len(shapes) > 140
    problems = {}
    for sql, params in shapes.items():
        plan = [row[3] for row in api.db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
        bad = [line for line in plan if _SCAN.match(line)]
        if sql.lstrip().startswith("SELECT") and "FROM notification_logs" in sql and "ORDER BY" in sql:
            bad += [line for line in plan if "TEMP B-TREE FOR ORDER BY" in line]  # pages walk the index in order
        if bad:
            problems[sql] = plan
    assert problems == {}
