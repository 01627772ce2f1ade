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


def js_error_name(exc: BaseException) -> str | None:
    """The JavaScript error name (``OperationError``, ``AbortError``...) of ``exc``; None for a Python error."""
    if type(exc).__name__ != "JsException":  # Pyodide's pyodide.ffi.JsException, or the embedded stand-in
        return None
    name = getattr(exc, "name", None)
    return name if isinstance(name, str) else "Error"
