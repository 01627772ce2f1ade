"""R2 binding contracts (``env.BACKUPS``): objects, metadata, list pagination, multipart, deletes.

Every key starts with ``c/r2/<contract>/``. Note what the SDK wrapper does to results: ``put``/``get``/
``head``/``complete`` results are wrapped objects (attribute access and ``obj["field"]``, converted values,
but no mapping protocol: see ``r2_results_are_not_mappings``), and the items of ``list()["objects"]`` are
NOT converted on the edge: attribute access to plain fields works, subscription does not — portable code
reads ``obj.key``/``obj.size`` and never ``obj["key"]``, ``obj.get(...)`` or ``"key" in obj``.
"""

import asyncio
from typing import Any

from tests.contract.contracts import contract
from tests.contract.support import clear_r2, list_all_r2, raises

MiB = 1024 * 1024
MIN_PART = 5 * MiB  # every multipart part but the last


@contract
async def r2_put_get_head(env: Any) -> Any:
    bucket = env.BACKUPS
    p = "c/r2/basic/"
    put = await bucket.put(
        p + "a.txt", "hello", httpMetadata={"contentType": "text/plain"}, customMetadata={"db": "main", "n": "1"}
    )
    await bucket.put(p + "b.bin", b"\x00\x01\xff")
    await bucket.put(p + "empty", b"")
    text = await (await bucket.get(p + "a.txt")).text()
    body = await bucket.get(p + "b.bin")
    data = bytes(await body.arrayBuffer())
    empty = await bucket.get(p + "empty")
    head = await bucket.head(p + "a.txt")
    part = await (await bucket.get(p + "a.txt", range={"offset": 1, "length": 3})).text()
    suffix = await (await bucket.get(p + "a.txt", range={"suffix": 2})).text()
    assert put.key == p + "a.txt" and put.size == 5 and put.etag and put.httpEtag == f'"{put.etag}"'
    assert head.etag == put.etag and head.customMetadata["db"] == "main"
    return {
        "put": [put.key, put.size, dict(put.customMetadata), dict(put.httpMetadata)],
        "text": text,
        "bytes": data,
        "empty": [empty.size, await empty.text()],
        "head": [head.key, head.size, dict(head.customMetadata), head.httpMetadata["contentType"]],
        "body_size": body.size,
        "ranges": [part, suffix],
    }


@contract
async def r2_missing_keys(env: Any) -> Any:
    bucket = env.BACKUPS
    p = "c/r2/missing/"
    head = await bucket.head(p + "nope")
    got = await bucket.get(p + "nope")
    deleted = await bucket.delete(p + "nope")  # deleting a missing key is not an error
    return {"head": head, "get": got, "delete": deleted}


@contract
async def r2_list_pagination_and_delimiter(env: Any) -> Any:
    bucket = env.BACKUPS
    p = "c/r2/list/"
    await clear_r2(bucket, p)
    keys = [f"{p}{i}.sql.gz" for i in range(5)] + [f"{p}day1/x", f"{p}day1/y", f"{p}day2/z"]
    for key in keys:
        await bucket.put(key, key, customMetadata={"k": key[-1]})
    pages = []
    cursor = None
    while True:
        page = await (bucket.list(prefix=p, limit=3, cursor=cursor) if cursor else bucket.list(prefix=p, limit=3))
        pages.append([[o.key for o in page["objects"]], page["truncated"]])
        if not page["truncated"]:
            assert "cursor" not in page or not page["cursor"], page["cursor"]
            break
        cursor = page["cursor"]
    folders = await bucket.list(prefix=p, delimiter="/")
    after = await bucket.list(prefix=p, startAfter=p + "2.sql.gz")
    first = (await bucket.list(prefix=p, limit=1))["objects"][0]
    subscript = await raises(lambda: first["key"], "not subscriptable")
    assert [k for page in pages for k in page[0]] == sorted(keys)
    return {
        "pages": pages,
        "folders": [[o.key for o in folders["objects"]], folders["delimitedPrefixes"], folders["truncated"]],
        "start_after": [o.key for o in after["objects"]],
        "item": [first.key, first.size, isinstance(first.etag, str)],
        "item_subscript": subscript.split("'")[-1],
    }


@contract
async def r2_list_include_metadata(env: Any) -> Any:
    """customMetadata in list results only with ``include``; read it from ``head`` to stay portable."""
    bucket = env.BACKUPS
    p = "c/r2/include/"
    await bucket.put(p + "a", "x", customMetadata={"db": "main"}, httpMetadata={"contentType": "text/plain"})
    (plain,) = (await bucket.list(prefix=p))["objects"]
    (full,) = (await bucket.list(prefix=p, include=["customMetadata", "httpMetadata"]))["objects"]
    head = await bucket.head(full.key)
    return {"head_custom": dict(head.customMetadata), "keys": [plain.key, full.key]}


@contract
async def r2_delete_many(env: Any) -> Any:
    bucket = env.BACKUPS
    p = "c/r2/delete/"
    keys = [f"{p}{i:03d}" for i in range(25)]
    await asyncio.gather(*(bucket.put(key, b"x") for key in keys))
    await bucket.delete(keys[:20] + [p + "missing"])  # one call, a missing key among them
    left = await list_all_r2(bucket, p)
    await bucket.delete(keys[20:])
    assert left == keys[20:], left
    return {"left": len(left), "after": await list_all_r2(bucket, p)}


@contract
async def r2_multipart_upload(env: Any) -> Any:
    bucket = env.BACKUPS
    key = "c/r2/multipart/backup.sql.gz"
    upload = await bucket.createMultipartUpload(
        key, customMetadata={"kind": "backup"}, httpMetadata={"contentType": "application/gzip"}
    )
    assert upload.key == key and isinstance(upload.uploadId, str) and upload.uploadId
    part1 = await upload.uploadPart(1, b"a" * MIN_PART)
    part2 = await upload.uploadPart(2, b"tail")
    assert part1["partNumber"] == 1 and part2.partNumber == 2 and part1["etag"]
    resumed = bucket.resumeMultipartUpload(key, upload.uploadId)
    done = await resumed.complete([part1, part2])
    head = await bucket.head(key)
    body = bytes(await (await bucket.get(key, range={"offset": MIN_PART - 2, "length": 6})).arrayBuffer())
    return {
        "done": [done.key, done.size],
        "head": [head.size, dict(head.customMetadata), head.httpMetadata["contentType"]],
        "seam": body,
    }


@contract
async def r2_multipart_rules(env: Any) -> Any:
    """Non-final parts under 5 MiB fail at complete; an aborted or unknown upload writes nothing."""
    bucket = env.BACKUPS
    p = "c/r2/multipart-rules/"
    small = await bucket.createMultipartUpload(p + "small")
    parts = [await small.uploadPart(1, b"x" * 10), await small.uploadPart(2, b"y" * 10)]
    too_small = await raises(lambda: small.complete(parts), "smaller than the minimum allowed object size")
    single = await bucket.createMultipartUpload(p + "single")
    single_done = await single.complete([await single.uploadPart(1, b"only part")])
    aborted = await bucket.createMultipartUpload(p + "aborted")
    await aborted.uploadPart(1, b"x")
    await aborted.abort()
    unknown = bucket.resumeMultipartUpload(p + "ghost", "no-such-upload")
    ghost = await raises(lambda: unknown.uploadPart(1, b"x"), "multipart upload does not exist")
    return {
        "too_small": too_small.split(": ", 1)[-1],
        "too_small_head": await bucket.head(p + "small"),
        "single": [single_done.size, await (await bucket.get(p + "single")).text()],
        "aborted_head": await bucket.head(p + "aborted"),
        "ghost": ghost.split(": ", 1)[-1],
    }


@contract
async def r2_result_objects(env: Any) -> Any:
    """Objects from put/get/head: attribute or ``obj["field"]`` access; ``uploaded`` is a NAIVE datetime
    (the SDK's ``fromtimestamp``, UTC in workerd), so comparing it with an aware datetime raises;
    ``checksums.toJSON()`` holds the md5. (They are not mappings: ``r2_results_are_not_mappings``.)"""
    bucket = env.BACKUPS
    key = "c/r2/objects/a.json"
    await bucket.put(key, '{"a": 1}', customMetadata={"n": "1"})
    head = await bucket.head(key)
    body = await bucket.get(key)
    checksums = head.checksums.toJSON()
    not_json = await bucket.put(key + ".txt", "héllo")
    bad_json = await raises(lambda: _json_of(bucket, not_json.key), "SyntaxError", "is not valid JSON")
    upload = await bucket.createMultipartUpload(key + ".mpu")
    part0 = await raises(lambda: upload.uploadPart(0, b"x"), "Part number must be between 1 and 10000")
    await upload.abort()
    return {
        "subscript": [head["key"], head["size"], body["size"]],
        "uploaded": [type(head.uploaded).__name__, head.uploaded.tzinfo is None],
        "checksums": sorted(dict(checksums)),
        "md5": bytes(head.checksums.md5).hex() == dict(checksums)["md5"],
        "json": await body.json(),
        "bad_json": bad_json.split(":")[0],
        "part0": part0,
    }


async def _json_of(bucket: Any, key: str) -> Any:
    return await (await bucket.get(key)).json()


@contract
async def r2_results_are_not_mappings(env: Any) -> Any:
    """``put``/``head``/``get``/``complete`` results and their ``checksums`` are wrapped JS objects
    (the SDK's ``_BindingWrapper``): ``obj.field`` and ``obj["field"]`` work (a missing field is an
    ``AttributeError`` both ways), but ``in``, ``dict()``, ``list()``, ``len()``, ``.get``/``.keys``/
    ``.items`` and integer subscripts do not. Their metadata fields are plain dicts. ``get`` results
    carry ``range`` (the whole object when none was asked for) and ``bodyUsed``; ``put`` results do
    not. The wrapper caches an attribute on its first access, so ``obj.bodyUsed`` keeps answering what
    it said first while ``obj["bodyUsed"]`` reads the live value. (Messages quote the JS constructor
    name, which Miniflare's proxy reports as ``constructor``: only the text after it is compared.)"""
    bucket = env.BACKUPS
    p = "c/r2/not-mappings/"
    put = await bucket.put(p + "a", "hello", customMetadata={"n": "1"})
    head = await bucket.head(p + "a")
    got = await bucket.get(p + "a")
    upload = await bucket.createMultipartUpload(p + "mpu")
    done = await upload.complete([await upload.uploadPart(1, b"part")])
    shapes = {}
    for name, obj in (("put", put), ("head", head), ("get", got), ("complete", done), ("checksums", head.checksums)):
        shapes[name] = {
            "in": _tail(await raises(lambda o=obj: "md5" in o, "is not iterable", kind=TypeError)),
            "dict": _tail(await raises(lambda o=obj: dict(o), "is not iterable", kind=TypeError)),
            "list": _tail(await raises(lambda o=obj: list(o), "is not iterable", kind=TypeError)),
            "len": _tail(await raises(lambda o=obj: len(o), "has no len()", kind=TypeError)),
            "int_subscript": await raises(lambda o=obj: o[0], "not subscriptable", kind=TypeError) != "",
            "missing": [
                await raises(lambda o=obj: o["nope"], "nope", kind=AttributeError),
                await raises(lambda o=obj: o.nope, "nope", kind=AttributeError),
            ],
            "mapping_methods": [hasattr(obj, m) for m in ("get", "keys", "items", "values")],
            "truthy": bool(obj),
        }
    fields = {
        "subscript": [put["key"], head["size"], got["etag"] == got.etag, done["size"]],
        "checksums": bytes(head.checksums["md5"]).hex() == head.checksums.toJSON()["md5"],
        "metadata": [isinstance(head.customMetadata, dict), dict(got.customMetadata), head.customMetadata.get("n")],
        "get_range": dict(got.range),
        "body_used": [got["bodyUsed"], got.bodyUsed, await got.text(), got["bodyUsed"], got.bodyUsed],
        "put_has": [hasattr(put, "range"), hasattr(put, "bodyUsed")],
    }
    return {"shapes": shapes, "fields": fields}


def _tail(message: str) -> str:
    """``"'R2Object' object is not iterable"`` -> ``"object is not iterable"`` (the JS name differs by runtime)."""
    return message.split("' ", 1)[-1]


@contract
async def r2_conditional_ranged_get(env: Any) -> Any:
    """``get`` with ``range`` and ``onlyIf``: a matching ``etagMatches`` gives the range's bytes; a failed
    condition gives the object WITHOUT a body (an ``R2Object``: metadata, ``range`` the whole object, no
    ``arrayBuffer``), not None, even with a range past the end (the condition is tested first);
    ``etagDoesNotMatch`` is the reverse, ``*`` matches any object, a quoted etag is a TypeError. Through
    ``Bucket.get``/``read``: bytes with the etag, ``ObjectChanged`` on a failed condition, None when
    there is no object. (Observations hold no etags: they differ by runtime.)"""
    from edgenotify.ops.bucket import Bucket, ObjectChanged

    bucket = env.BACKUPS
    key = "c/r2/conditional/object.bin"
    put = await bucket.put(key, b"0123456789")
    hit = await bucket.get(key, range={"offset": 2, "length": 4}, onlyIf={"etagMatches": put.etag})
    miss = await bucket.get(key, range={"offset": 2, "length": 4}, onlyIf={"etagMatches": "0" * 32})
    past_end = await bucket.get(key, range={"offset": 50, "length": 4}, onlyIf={"etagMatches": "0" * 32})
    not_match = await bucket.get(key, onlyIf={"etagDoesNotMatch": put.etag})
    other = await bucket.get(key, onlyIf={"etagDoesNotMatch": "0" * 32})
    wildcard = await bucket.get(key, range={"offset": 8, "length": 2}, onlyIf={"etagMatches": "*"})
    quoted = await raises(lambda: bucket.get(key, onlyIf={"etagMatches": put.httpEtag}), "wrapped in quotes")
    facade = Bucket(bucket)
    body = await facade.get(key, 2, 4, put.etag)
    changed = await raises(lambda: facade.read(key, 2, 4, "0" * 32), "it was replaced", kind=ObjectChanged)
    gone = await facade.read("c/r2/conditional/missing", 0, 4, put.etag)
    assert body is not None and body.etag == put.etag
    return {
        "hit": [bytes(await hit.arrayBuffer()), dict(hit.range)],
        "miss": [hasattr(miss, "arrayBuffer"), miss.key, miss.size, miss.etag == put.etag, dict(miss.range)],
        "past_end": [hasattr(past_end, "arrayBuffer"), dict(past_end.range)],
        "does_not_match": [hasattr(not_match, "arrayBuffer"), await other.text()],
        "wildcard": await wildcard.text(),
        "quoted": quoted.split(":")[0],
        "facade": [body.data, changed.startswith(f"R2 object {key} has etag "), gone],
    }
