"""Bindings that record what the application asks of them, for counting and replay.

Wrapping the binding (rather than the ``Database`` facade) counts what actually crosses to
D1: one entry per round trip (a statement's ``all/run/first/raw``, a ``batch``, an ``exec``),
each with its SQL and parameters, so the same calls can be replayed through Miniflare to read
D1's own ``rows_read``/``rows_written``. Works over any binding with the Workers API shape.
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Call:
    kind: str  # "all", "run", "first", "raw", "batch" or "exec"
    statements: list[tuple[str, list[Any]]]
    meta: list[dict[str, Any]] = field(default_factory=list)  # the binding's own meta, per statement


def _metas(result: Any) -> list[dict[str, Any]]:
    items = result if isinstance(result, list) else [result]
    out = []
    for item in items:
        meta = item.get("meta") if isinstance(item, dict) else None
        out.append(dict(meta) if meta else {})
    return out


class RecordingStatement:
    def __init__(self, db: "RecordingD1", inner: Any, sql: str, params: list[Any]):
        self._db, self._inner, self.sql, self.params = db, inner, sql, params

    def bind(self, *values: Any) -> "RecordingStatement":
        return RecordingStatement(self._db, self._inner.bind(*values), self.sql, list(values))

    async def _send(self, kind: str, *args: Any, **kwargs: Any) -> Any:
        call = Call(kind, [(self.sql, self.params)])
        self._db.calls.append(call)
        result = await getattr(self._inner, kind)(*args, **kwargs)
        if kind in ("all", "run"):
            call.meta = _metas(result)
        return result

    async def all(self, *args: Any, **kwargs: Any) -> Any:
        return await self._send("all", *args, **kwargs)

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        return await self._send("run", *args, **kwargs)

    async def first(self, *args: Any, **kwargs: Any) -> Any:
        return await self._send("first", *args, **kwargs)

    async def raw(self, *args: Any, **kwargs: Any) -> Any:
        return await self._send("raw", *args, **kwargs)


class _Recorder:
    """``prepare``/``batch`` on ``target`` (a database or one of its sessions), recorded in ``db``."""

    def __init__(self, db: "RecordingD1", target: Any):
        self._db, self._target = db, target

    def prepare(self, sql: str) -> RecordingStatement:
        return RecordingStatement(self._db, self._target.prepare(sql), str(sql), [])

    async def batch(self, statements: list[RecordingStatement]) -> Any:
        call = Call("batch", [(s.sql, s.params) for s in statements])
        self._db.calls.append(call)
        result = await self._target.batch([s._inner for s in statements])
        call.meta = _metas(list(result))
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class RecordingSession(_Recorder):
    def getBookmark(self) -> Any:
        return self._target.getBookmark()


class RecordingD1(_Recorder):
    """``env.DB`` seen through a recorder; ``calls`` is the list of round trips so far."""

    def __init__(self, inner: Any):
        super().__init__(self, inner)
        self.calls: list[Call] = []

    async def exec(self, sql: str) -> Any:
        self.calls.append(Call("exec", [(str(sql), [])]))
        return await self._target.exec(sql)

    def withSession(self, *args: Any) -> RecordingSession:
        return RecordingSession(self, self._target.withSession(*args))

    def take(self) -> list[Call]:
        """The calls since the last ``take`` (one operation's worth)."""
        calls, self.calls = self.calls, []
        return calls


class CountingBinding:
    """Any other binding (KV, R2): counts calls per method name, passes everything through."""

    def __init__(self, inner: Any):
        self._inner = inner
        self.counts: dict[str, int] = {}

    def take(self) -> dict[str, int]:
        counts, self.counts = self.counts, {}
        return counts

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if not callable(target):
            return target

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.counts[name] = self.counts.get(name, 0) + 1
            return target(*args, **kwargs)

        return counted
