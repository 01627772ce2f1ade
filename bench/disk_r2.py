"""A minimal R2 stand-in that streams object bodies to and from plain files (bench only).

Why: a local R2 emulation has its own memory behaviour (the embedded runtime's R2 used to keep
bodies in SQLite and join a multipart upload's parts in memory, holding a whole backup at once;
fixed in 2cc5527). On the edge the parts live in R2, not in the Worker. Running our
backup/restore against this stand-in measures the memory of our code alone, whatever the local
emulation does, with the same Workers API calls (``createMultipartUpload``/``resumeMultipartUpload``/
``uploadPart``/``complete``/``abort``, ``put``/``get`` with ranges and ``etagMatches``/``head``/``list``/``delete``). No
validation: it is not an emulator (etags are the size, enough for the backup's completeness check).
"""

import hashlib
import shutil
from pathlib import Path
from typing import Any


class _Obj(dict):
    """Like the SDK's JsDict: keys readable as attributes too (``head(key).size``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class _Body:
    def __init__(self, data: bytes, size: int):
        self._data = data
        self.size = size
        self.etag = f"size-{size}"

    async def arrayBuffer(self) -> bytes:
        return self._data

    async def text(self) -> str:
        return self._data.decode("utf-8")


def _info(key: str, size: int) -> _Obj:
    return _Obj(key=key, size=size, etag=f"size-{size}")


class _Upload:
    def __init__(self, bucket: "DiskR2", key: str):
        self.bucket, self.key = bucket, key
        self.uploadId = hashlib.sha256(key.encode()).hexdigest()
        self.dir = bucket.root / ".uploads" / self.uploadId
        self.dir.mkdir(parents=True, exist_ok=True)

    async def uploadPart(self, number: int, data: bytes) -> _Obj:
        (self.dir / f"{number:05d}").write_bytes(bytes(data))
        return _Obj(partNumber=number, etag=str(number))

    async def complete(self, parts: list[Any]) -> _Obj:
        target = self.bucket.path(self.key)
        with open(target, "wb") as out:
            for part in parts:
                with open(self.dir / f"{int(part['partNumber']):05d}", "rb") as src:
                    shutil.copyfileobj(src, out, 1024 * 1024)
        shutil.rmtree(self.dir)
        return _info(self.key, target.stat().st_size)

    async def abort(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class DiskR2:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    async def createMultipartUpload(self, key: str, *args: Any, **kwargs: Any) -> _Upload:
        return _Upload(self, key)

    def resumeMultipartUpload(self, key: str, upload_id: str) -> _Upload:
        return _Upload(self, key)

    async def list(self, prefix: str = "", **kwargs: Any) -> _Obj:
        found = sorted(p for p in self.root.rglob("*") if p.is_file() and ".uploads" not in p.parts)
        keys = [str(p.relative_to(self.root)) for p in found]
        objects = [_info(k, (self.root / k).stat().st_size) for k in keys if k.startswith(prefix)]
        return _Obj(objects=objects, truncated=False)

    async def put(self, key: str, value: Any, *args: Any, **kwargs: Any) -> _Obj:
        data = value.encode() if isinstance(value, str) else bytes(value)
        self.path(key).write_bytes(data)
        return _info(key, len(data))

    async def head(self, key: str) -> _Obj | None:
        target = self.root / key
        return _info(key, target.stat().st_size) if target.is_file() else None

    async def get(
        self, key: str, *args: Any, range: dict[str, int] | None = None, onlyIf: Any = None, **kwargs: Any
    ) -> _Body | _Obj | None:
        target = self.root / key
        if not target.is_file():
            return None
        size = target.stat().st_size
        if onlyIf and onlyIf.get("etagMatches") not in (None, "*", f"size-{size}"):
            return _info(key, size)  # R2's answer to a failed condition: the object without a body
        with open(target, "rb") as fh:
            if range is None:
                return _Body(fh.read(), size)
            fh.seek(int(range.get("offset", 0)))
            return _Body(fh.read(int(range.get("length", size))), size)

    async def delete(self, keys: Any) -> None:
        for key in [keys] if isinstance(keys, str) else list(keys):
            (self.root / key).unlink(missing_ok=True)
