"""The one place application code meets the runtime's JavaScript Web APIs (``fetch``, ``crypto``, ...).

On the edge (Pyodide, ``sys.platform == "emscripten"``) these are the JavaScript globals, reached through
Pyodide's ``js`` module, and Python values cross into them with ``pyodide.ffi.to_js`` (bytes become a
``Uint8Array``, dicts plain JS objects, lists arrays). Under CPython there is no JavaScript: the embedded
runtime (``devkit/embedded``, development only) registers stand-ins with the same API through
:func:`provide`, the way it provides D1, KV and R2. No other module in ``src/`` imports ``js`` or ``pyodide``
(``entry.py`` meets the Workers SDK, which does its own conversions).

Results come back as JS values on the edge (an ``ArrayBuffer`` is read with ``.to_bytes()``) and as
stand-ins with the same methods under CPython, so callers need no branch of their own.
"""

import sys
from collections.abc import Callable
from typing import Any

ON_PYODIDE = sys.platform == "emscripten"

_provided: dict[str, Any] = {}


def provide(name: str, value: Any) -> None:
    """Register the CPython stand-in for the JS global ``name`` (the embedded runtime calls this)."""
    _provided[name] = value


def web_global(name: str) -> Any:
    """The JS global ``name`` (``crypto``, ``fetch``, ``AbortController``...) of the running runtime."""
    if ON_PYODIDE:
        import js

        return getattr(js, name)
    try:
        return _provided[name]
    except KeyError:
        raise RuntimeError(
            f"JavaScript's {name} does not exist under CPython: run inside the embedded runtime "
            "(devkit.embedded provides it)"
        ) from None


def to_js(value: Any) -> Any:
    """``value`` as an argument of a Web API call: converted to JS on the edge, unchanged under CPython."""
    if not ON_PYODIDE:
        return value
    import js
    from pyodide.ffi import to_js as convert

    return convert(value, dict_converter=js.Object.fromEntries)


def _as_is(binding: Any) -> Any:
    return binding


_unwrap: Callable[[Any], Any] = _as_is


def unwrap_bindings_with(unwrap: Callable[[Any], Any]) -> None:
    """How to reach the JS object inside a Workers SDK binding wrapper (``entry.py`` knows the SDK)."""
    global _unwrap
    _unwrap = unwrap


def unwrapped(binding: Any) -> Any:
    """The JS object behind a binding, whose calls return JS values unconverted.

    The SDK converts every result to Python; for the few bulk reads where that conversion is the
    cost (see :func:`first_row_utf8`) we call the JS object it wraps. Without an unwrapper (CPython,
    or an SDK whose wrapper changed) this is the binding itself and callers get converted rows.
    """
    return _unwrap(binding)


async def first_row_utf8(statement: Any, column: int) -> tuple[list[Any], bytes] | None:
    """The first row of ``statement.raw()``: ``column`` (TEXT, never NULL) as UTF-8 bytes, the other
    values as Python values; None when there is no row.

    On the edge the text never becomes a Python str: Pyodide copies a JS string into Python one
    character at a time (~50 ms per MB measured), while ``TextEncoder`` encodes it natively and the
    bytes cross in one copy. ``statement`` may also be an SDK-wrapped one (already converted rows).
    """
    rows = await statement.raw()
    if isinstance(rows, list):  # CPython, or a wrapped statement whose rows the SDK converted
        if not rows:
            return None
        row = list(rows[0])
        text = row.pop(column)
        return row, text.encode("utf-8")
    if rows.length == 0:
        return None
    import js

    row = rows[0]
    encoder = js.TextEncoder.new()
    data = row.slice(column, column + 1).map(encoder.encode.bind(encoder))[0].to_bytes()
    return [*row.slice(0, column).to_py(), *row.slice(column + 1).to_py()], data


def js_error_name(exc: BaseException) -> str | None:
    """The JavaScript error name (``OperationError``, ``AbortError``...) of ``exc``; None for a Python error."""
    if type(exc).__name__ != "JsException":  # Pyodide's pyodide.ffi.JsException, or the embedded stand-in
        return None
    name = getattr(exc, "name", None)
    return name if isinstance(name, str) else "Error"
