"""Rendering: whitespace-tolerant placeholders, variable errors, escaping per content type."""

import json

import pytest

from edgenotify.errors import DomainError
from edgenotify.http.errors import status_of
from edgenotify.notify.render import RenderError, TemplateSyntaxError, check_syntax, render, render_inline
from edgenotify.notify.templates import Content, Template, Variable

NASTY = 'He said "hi"\\ \n\ttab \u2028 ünïcødé 😀 </script> {{ not_a_var }}'


def template(content: str, content_type: str = "text", subject: str | None = "Hi {{name}}") -> Template:
    return Template(
        key="t",
        name="T",
        variables=[Variable("name"), Variable("count", required=False, default=1), Variable("note", required=False)],
        is_active=True,
        contents={"webhook": Content(subject, content, content_type)},
    )


def test_whitespace_tolerant_substitution_and_defaults():
    subject, content = render(template("{{name}}/{{  name  }}/{{ count }}/{{note}}."), "webhook", {"name": "Ann"})
    assert subject == "Hi Ann"
    assert content == "Ann/Ann/1/."


def test_missing_and_undeclared_are_named():
    with pytest.raises(RenderError) as info:
        render(template("{{ name }}"), "webhook", {"bogus": 1, "other": 2})
    err = info.value
    assert (status_of(err.code), err.code.name, err.field) == (422, "missing_variables", "variables")
    assert err.missing == ["name"] and err.undeclared == ["bogus", "other"]
    assert "name" in err.message and "bogus" in err.message


def test_only_undeclared_has_its_own_code():
    with pytest.raises(RenderError) as info:
        render(template("{{ name }}"), "webhook", {"name": "a", "zzz": 1})
    assert info.value.code.name == "undeclared_variables" and info.value.undeclared == ["zzz"]


def test_json_stays_valid_with_quotes_newlines_unicode():
    tpl = template(
        '{"text": "Hello {{ name }}!", "n": {{ count }}, "raw": {{ name }}, "esc": "\\"{{name}}\\""}', "json"
    )
    _, content = render(tpl, "webhook", {"name": NASTY, "count": 3})
    data = json.loads(content)
    assert data == {"text": f"Hello {NASTY}!", "n": 3, "raw": NASTY, "esc": f'"{NASTY}"'}


def test_json_values_of_every_type():
    tpl = template('{"a": {{ name }}, "b": "{{ name }}", "c": {{ note }}}', "json")
    for value in [None, True, 1.5, -7, [1, "x"], {"k": "v\n"}, ""]:
        data = json.loads(render(tpl, "webhook", {"name": value})[1])
        assert data["a"] == value
        assert data["c"] is None


def test_markdown_specials_are_escaped():
    _, content = render(template("*{{ name }}*", "markdown"), "webhook", {"name": "[x](http://e.vil) _b_ #1."})
    assert content == r"*\[x\]\(http://e\.vil\) \_b\_ \#1\.*"


def test_text_is_inserted_as_is():
    assert render(template("{{name}}"), "webhook", {"name": NASTY})[1] == NASTY


def test_unknown_channel_is_a_422():
    with pytest.raises(Exception) as info:
        render(template("x"), "lark", {"name": "a"})
    assert status_of(info.value.code) == 422 and info.value.code.name == "channel_not_in_template"


def test_inline_requires_every_placeholder():
    assert render_inline("S {{a}}", "C {{ b }}", "text", {"a": 1, "b": "x", "extra": 0}) == ("S 1", "C x")
    with pytest.raises(RenderError) as info:
        render_inline(None, "{{ a }} {{ b }}", "text", {"a": 1})
    assert info.value.missing == ["b"]


@pytest.mark.parametrize(
    "text,content_type",
    [
        ("{{ 1bad }}", "text"),
        ("{{ }}", "markdown"),
        ("{{ a-b }}", "text"),
        ('{"a": {{ x }', "json"),
        ("not json", "json"),
    ],
)
def test_syntax_errors(text, content_type):
    with pytest.raises(TemplateSyntaxError):
        check_syntax(text, content_type)


def test_valid_syntax_passes():
    check_syntax('{"a": "{{ x }}", "b": {{ y }}}', "json")
    check_syntax("plain {{x}} and { single } braces", "text")


def test_json_value_in_key_position_is_a_client_error():
    tpl = template("{ {{ name }}: 1 }", "json")
    check_syntax("{ {{ name }}: 1 }", "json")  # fine for string values...
    assert json.loads(render(tpl, "webhook", {"name": "k"})[1]) == {"k": 1}
    with pytest.raises(DomainError) as info:  # ...but a number cannot be a key
        render(tpl, "webhook", {"name": 5})
    assert (status_of(info.value.code), info.value.code.name) == (422, "invalid_variable_value")
    with pytest.raises(DomainError):
        render_inline(None, "{ {{ k }}: 1 }", "json", {"k": None})
