"""The values a Python Worker sees when it talks to a binding through the SDK's wrapper mode.

On the edge every binding call crosses into JavaScript and back (workers-runtime-sdk
``workers/rpc.py``): arguments go through ``python_to_rpc`` and results through
``python_from_rpc``. These helpers reproduce what that round trip does to Python values so
that code which works here also works there:

* JS objects come back as ``JsDict`` (a dict that also allows ``.attr`` access);
* JS numbers come back as ``int`` when they are safe integers and ``float`` otherwise
  (Pyodide's rule), so a REAL ``3.0`` reads back as ``3`` and an INTEGER beyond 2**53 reads
  back as an imprecise ``float``;
* keyword arguments become one trailing options object (Pyodide's rule for calling JS);
* ``tuple`` and ``bytearray`` cannot be sent at all (``_raise_on_disabled_type``);
* a rejected promise surfaces as an exception whose ``str`` is the JS error's message
  (``JsException`` in Pyodide).
"""

import json
import math
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1


class JsDict(dict):
    """A dict with attribute access to its keys, like the SDK's ``workers.rpc.JsDict``.

    As in the SDK, keys that collide with dict methods (``keys``, ``items``, ``get``...) are
    only reachable by subscription: ``page["keys"]``, never ``page.keys``.
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


class JsProxy:
    """A JS object that reaches Python unconverted (a raw Pyodide ``JsProxy``).

    The SDK wrapper converts a binding call's result, but not class instances nested inside
    it: the items of R2 ``list()["objects"]`` stay proxies on the edge. Attribute access works
    (``obj.key``), subscription does not (``obj["key"]`` is a ``TypeError``), ``to_py()``
    converts. Observed on Pyodide + Miniflare (contract ``r2_list_pagination_and_delimiter``).
    """

    __slots__ = ("_fields",)

    def __init__(self, fields: dict[str, Any]):
        converted = {k: JsProxy(v) if isinstance(v, dict) else v for k, v in fields.items()}
        object.__setattr__(self, "_fields", converted)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._fields[name] = value

    def __dir__(self) -> list[str]:
        return list(self._fields)

    def __repr__(self) -> str:
        return "[object Object]"

    def to_py(self) -> dict[str, Any]:
        return {k: v.to_py() if isinstance(v, JsProxy) else v for k, v in self._fields.items()}


class JsObject:
    """A JS class instance returned by a binding call, as the SDK's ``_BindingWrapper`` presents it.

    What the wrapper allows (observed on Pyodide 0.28 + Miniflare, contract
    ``r2_results_are_not_mappings``): attributes and ``obj["field"]`` (both a property lookup;
    a missing one is ``AttributeError(name)`` either way), ``bool(obj)`` is true. It is NOT a
    mapping: ``"k" in obj``, ``dict(obj)``, ``list(obj)`` raise ``TypeError ... is not iterable``
    (``iter(obj)`` itself succeeds: the wrapper's ``__iter__`` is a generator), ``len(obj)`` raises
    ``TypeError``, there is no ``.get``/``.keys``/``.items``, and ``obj[0]`` is a ``TypeError``.
    Subclasses set ``_js_name``, the JS constructor name those messages quote.
    """

    _js_name = "Object"

    def __getattr__(self, name: str) -> Any:  # only reached when normal lookup failed
        raise AttributeError(name)

    def __getitem__(self, key: Any) -> Any:
        if not isinstance(key, str):
            raise TypeError("'pyodide.ffi.JsProxy' object is not subscriptable")
        if key.startswith("_"):
            raise AttributeError(key)
        return getattr(self, key)

    def __iter__(self) -> Any:
        raise TypeError(f"'{self._js_name}' object is not iterable")
        yield  # a generator, like the wrapper's: iter(obj) works, the first next() fails

    def __len__(self) -> int:
        raise TypeError(f"'{self._js_name}' object has no len()")

    def __bool__(self) -> bool:
        return True


class JsException(Exception):
    """An error thrown by a binding's JavaScript, as Pyodide's ``pyodide.ffi.JsException``.

    As in Pyodide, ``str(exc)`` is ``"<name>: <message>"``, e.g.
    ``Error: D1_ERROR: no such table: t: SQLITE_ERROR`` or ``TypeError: Key name cannot be empty.``
    (observed on Pyodide 0.28 + Miniflare by the parity harness); ``.name`` and ``.message``
    hold the parts.
    """

    def __init__(self, message: str, name: str = "Error"):
        super().__init__(f"{name}: {message}")
        self.message = message
        self.name = name


def js_number(value: Any) -> Any:
    """A number as it arrives after a trip through a JS ``number`` (Pyodide's conversion)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_SAFE_INTEGER:
        return int(value)
    return value


def to_py(value: Any) -> Any:
    """Recursively convert plain data to what ``python_from_rpc`` yields (JsDict, list, numbers)."""
    if isinstance(value, dict):
        return JsDict({k: to_py(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return [to_py(v) for v in value]
    return js_number(value)


def check_sendable(value: Any) -> None:
    """Refuse what the SDK refuses to send over RPC (its ``_raise_on_disabled_type``)."""
    if isinstance(value, (tuple, bytearray)):
        raise TypeError(f"{type(value)} cannot be sent over RPC.")
    if isinstance(value, dict):
        for v in value.values():
            check_sendable(v)
    elif isinstance(value, list):
        for v in value:
            check_sendable(v)


def options(args: tuple[Any, ...], kwargs: dict[str, Any], index: int) -> dict[str, Any]:
    """The JS options object at position ``index``: a dict passed positionally and/or kwargs.

    Pyodide turns ``f(a, x=1)`` into ``f(a, {x: 1})``; the SDK wrapper additionally accepts
    ``f(a, {"x": 1})`` and ``f(a, None)``. Both forms are merged here.
    """
    merged: dict[str, Any] = {}
    if len(args) > index and args[index] is not None:
        if not isinstance(args[index], dict):
            raise JsException(f"argument {index + 1} must be an options object", "TypeError")
        merged.update(args[index])
    merged.update(kwargs)
    for value in merged.values():
        check_sendable(value)
    return merged


def json_parse(text: str) -> Any:
    """``JSON.parse``: Python data as ``to_py`` yields it, or V8's ``SyntaxError`` wording."""
    try:
        return to_py(json.loads(text))
    except ValueError:
        shown = text if len(text) <= 30 else text[:10] + "..." + text[-10:]
        token = text[:1] or "end of JSON input"
        raise JsException(f"Unexpected token '{token}', \"{shown}\" is not valid JSON", "SyntaxError") from None


def js_string(value: Any) -> str:
    """JS ``String(value)`` of a value the SDK sends as a primitive (None -> null, bool, int, float)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)  # within ±2**53 a Number, beyond a BigInt: both print every digit
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return _js_number_text(value)


def _js_number_text(value: float) -> str:
    """ECMAScript Number::toString: shortest round-trip digits, fixed notation for 1e-7 < |x| < 1e21."""
    sign = "-" if value < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction.rstrip("0")).lstrip("0") or "0"
    if digits == "0":
        return "0"
    # n: where the decimal point sits relative to the digits (value = 0.<digits> * 10**n)
    if whole.strip("0"):
        n = len(whole.lstrip("0")) + int(exponent or 0)
    else:  # 0.00ddd
        n = int(exponent or 0) - (len(fraction) - len(fraction.lstrip("0")))
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    return sign + digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e > 0 else "-") + str(abs(e))
