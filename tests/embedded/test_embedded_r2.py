"""The embedded R2 binding: objects, listing, ranges, multipart, and Miniflare's rules."""

import asyncio
import datetime as dt
import hashlib
import sqlite3
import tracemalloc

import pytest

from devkit.embedded.jsvalues import JsException
from devkit.embedded.r2 import MIN_MULTIPART_PART_SIZE, R2Bucket
from devkit.embedded.workers_shim import Response

MIB = 1024 * 1024


@pytest.fixture
def bucket(tmp_path):
    b = R2Bucket(tmp_path / "r2" / "BACKUPS")
    yield b
    b.close()


def run(coro):
    return asyncio.run(coro)


def test_put_returns_object_metadata(bucket):
    obj = run(
        bucket.put(
            "db/a.sql",
            "hello",
            httpMetadata={"contentType": "application/sql"},
            customMetadata={"db": "main"},
        )
    )
    assert obj.key == obj["key"] == "db/a.sql"
    assert obj.size == 5
    assert obj.etag == hashlib.md5(b"hello").hexdigest() and obj.httpEtag == f'"{obj.etag}"'
    assert isinstance(obj.version, str) and obj.version
    assert isinstance(obj.uploaded, dt.datetime) and obj.uploaded.tzinfo is None  # naive UTC, as the SDK gives
    assert obj.httpMetadata == {"contentType": "application/sql"} and obj.customMetadata == {"db": "main"}
    assert obj["storageClass"] == "Standard"


def test_get_body_reads_once_in_every_form(bucket):
    run(bucket.put("k", '{"a": 1}'))
    assert run(run(bucket.get("k")).text()) == '{"a": 1}'
    assert run(run(bucket.get("k")).json()) == {"a": 1}
    assert bytes(run(run(bucket.get("k")).arrayBuffer())) == b'{"a": 1}'
    body = run(bucket.get("k"))
    assert body["bodyUsed"] is False
    assert run(body.bytes()) == b'{"a": 1}'
    assert body["bodyUsed"] is True
    with pytest.raises(JsException, match="Body has already been used"):
        run(body.text())


def test_body_streams_straight_into_a_response(bucket):
    run(bucket.put("k", b"\x00binary"))
    body = run(bucket.get("k"))
    response = Response(body.body, headers={"x-test": "ok"})
    assert run(response.bytes()) == b"\x00binary"


def test_missing_objects_are_none(bucket):
    assert run(bucket.get("nope")) is None
    assert run(bucket.head("nope")) is None


def test_head_put_none_and_overwrite(bucket):
    run(bucket.put("k", None))
    assert run(bucket.head("k")).size == 0
    run(bucket.put("k", "v1"))
    first = run(bucket.head("k"))
    run(bucket.put("k", b"version2"))
    second = run(bucket.head("k"))
    assert second.size == 8 and second.version != first.version
    assert run(run(bucket.get("k")).text()) == "version2"


def test_put_options_as_dict_or_none(bucket):
    run(bucket.put("a", "x", {"customMetadata": {"source": "dict"}}))
    run(bucket.put("b", "y", None))
    assert run(bucket.head("a")).customMetadata == {"source": "dict"}
    assert run(bucket.head("b")).customMetadata == {}


def test_ranges(bucket):
    run(bucket.put("r", "0123456789ABCDEF"))
    assert run(run(bucket.get("r", range={"offset": 4, "length": 6})).text()) == "456789"
    assert run(run(bucket.get("r", range={"suffix": 4})).text()) == "CDEF"
    assert run(run(bucket.get("r", range={"offset": 10})).text()) == "ABCDEF"
    assert run(run(bucket.get("r", {"range": {"offset": 14, "length": 100}})).text()) == "EF"
    with pytest.raises(JsException, match=r"^Error: get: The requested range is not satisfiable \(10039\)$"):
        run(bucket.get("r", range={"offset": 17}))
    with pytest.raises(JsException, match="not satisfiable"):
        run(bucket.get("r", range={"suffix": 0}))


def test_delete_one_or_many(bucket):
    for key in ("a", "b", "c"):
        run(bucket.put(key, key))
    run(bucket.delete("a"))
    run(bucket.delete(["b", "c", "never"]))
    assert run(bucket.list())["objects"] == []
    with pytest.raises(JsException, match=r"^Error: delete: "):
        run(bucket.delete([str(i) for i in range(1001)]))


def test_list_prefix_limit_cursor_truncated(bucket):
    for i in range(5):
        run(bucket.put(f"p/{i:03d}", f"v{i}"))
    run(bucket.put("q/other", "x"))
    page1 = run(bucket.list(prefix="p/", limit=2))
    assert [o.key for o in page1.objects] == ["p/000", "p/001"] and page1.truncated and page1.cursor
    page2 = run(bucket.list(prefix="p/", limit=2, cursor=page1.cursor))
    page3 = run(bucket.list({"prefix": "p/", "limit": 2, "cursor": page2["cursor"]}))
    assert [o.key for o in page3["objects"]] == ["p/004"]
    assert page3["truncated"] is False and "cursor" not in page3
    assert len(run(bucket.list(None))["objects"]) == 6


def test_list_with_delimiter_groups_prefixes(bucket):
    for key in ("d/dir1/f1", "d/dir1/f2", "d/dir2/f1", "d/root"):
        run(bucket.put(key, "x"))
    result = run(bucket.list(prefix="d/", delimiter="/"))
    assert [o.key for o in result.objects] == ["d/root"]
    assert result.delimitedPrefixes == ["d/dir1/", "d/dir2/"]
    first = run(bucket.list(prefix="d/", delimiter="/", limit=1))
    assert first.delimitedPrefixes == ["d/dir1/"] and first.truncated
    second = run(bucket.list(prefix="d/", delimiter="/", limit=1, cursor=first.cursor))
    assert second.delimitedPrefixes == ["d/dir2/"]


def test_list_include_metadata_only_when_asked(bucket):
    run(bucket.put("m", "x", customMetadata={"a": "b"}, httpMetadata={"contentType": "text/plain"}))
    plain = run(bucket.list()).objects[0]
    assert plain.customMetadata.to_py() == {} and plain.httpMetadata.to_py() == {}
    full = run(bucket.list(include=["customMetadata", "httpMetadata"])).objects[0]
    assert full.customMetadata.a == "b" and full.httpMetadata.to_py() == {"contentType": "text/plain"}


def test_list_items_are_unconverted_proxies_like_on_the_edge(bucket):
    run(bucket.put("k", "data"))
    item = run(bucket.list()).objects[0]
    assert (item.key, item.size, isinstance(item.etag, str)) == ("k", 4, True)
    with pytest.raises(TypeError, match="object is not subscriptable"):
        _ = item["key"]
    with pytest.raises(AttributeError):
        _ = item.nope


def test_list_limit_and_key_and_metadata_limits(bucket):
    with pytest.raises(JsException, match=r"^Error: list: MaxKeys params must be positive integer <= 1000\. \(10022"):
        run(bucket.list(limit=1001))
    with pytest.raises(JsException, match=r"^Error: put: The specified object name is not valid\. \(10020\)$"):
        run(bucket.put("k" * 1025, "x"))
    with pytest.raises(JsException, match=r"^Error: put: Your metadata headers exceed the maximum allowed metadata"):
        run(bucket.put("k", "x", customMetadata={"big": "v" * 2048}))
    with pytest.raises(TypeError, match="cannot be sent over RPC"):
        run(bucket.put("k", bytearray(b"x")))


def test_multipart_upload_round_trip(bucket):
    upload = run(bucket.createMultipartUpload("big", customMetadata={"kind": "backup"}))
    assert upload.key == upload["key"] == "big" and isinstance(upload.uploadId, str) and upload.uploadId
    part1 = run(upload.uploadPart(1, "A" * MIN_MULTIPART_PART_SIZE))
    part2 = run(upload.uploadPart(2, b"B" * 512))
    assert part1["partNumber"] == 1 and part2.partNumber == 2 and part1["etag"]
    obj = run(upload.complete([part1, part2]))
    assert obj.key == "big" and obj.size == MIN_MULTIPART_PART_SIZE + 512
    assert obj.etag.endswith("-2") and obj.customMetadata == {"kind": "backup"}
    body = run(bucket.get("big"))
    data = run(body.bytes())
    assert data[:1] == b"A" and data[-512:] == b"B" * 512 and len(data) == obj.size


def test_multipart_resume_and_abort(bucket):
    upload = run(bucket.createMultipartUpload("k"))
    resumed = bucket.resumeMultipartUpload("k", upload.uploadId)
    part = run(resumed.uploadPart(1, "only part"))
    run(resumed.abort())
    assert run(bucket.head("k")) is None
    with pytest.raises(JsException, match=r"^Error: uploadPart: The specified multipart upload does not exist\."):
        run(upload.uploadPart(2, "late"))
    with pytest.raises(JsException, match="completeMultipartUpload: The specified multipart upload does not exist"):
        run(upload.complete([part]))


def test_multipart_single_small_part_is_allowed(bucket):
    upload = run(bucket.createMultipartUpload("small"))
    part = run(upload.uploadPart(1, "tiny"))
    assert run(upload.complete([part])).size == 4


def test_multipart_parts_below_5_mib_except_last_are_refused(bucket):
    upload = run(bucket.createMultipartUpload("k"))
    p1 = run(upload.uploadPart(1, b"x" * (MIN_MULTIPART_PART_SIZE - 1)))
    p2 = run(upload.uploadPart(2, b"y"))
    with pytest.raises(
        JsException, match=r"^Error: completeMultipartUpload: Your proposed upload is smaller than the minimum"
    ):
        run(upload.complete([p1, p2]))


def test_multipart_parts_must_be_uniform_and_known(bucket):
    upload = run(bucket.createMultipartUpload("k"))
    p1 = run(upload.uploadPart(1, b"x" * MIN_MULTIPART_PART_SIZE))
    p2 = run(upload.uploadPart(2, b"x" * (MIN_MULTIPART_PART_SIZE + 1)))
    p3 = run(upload.uploadPart(3, b"z"))
    with pytest.raises(JsException, match=r"There was a problem with the multipart upload\. \(10048\)"):
        run(upload.complete([p1, p2, p3]))
    with pytest.raises(JsException, match=r"One or more of the specified parts could not be found\. \(10025\)"):
        run(upload.complete([p1, {"partNumber": 3, "etag": "wrong"}]))
    with pytest.raises(JsException, match=r"There was a problem with the multipart upload"):
        run(upload.complete([p1, {"partNumber": 2, "etag": p2["etag"]}]))  # last part bigger than the others


def test_calls_count_operations(bucket):
    run(bucket.put("k", "v"))
    run(bucket.head("k"))
    run(bucket.get("k"))
    run(bucket.list())
    run(bucket.delete("k"))
    assert bucket.calls == 5


# -- results are wrapped JS objects, not mappings (DIFFERENCES.md #17) -------------------------


def test_results_have_attributes_and_subscripts_but_no_mapping_protocol(bucket):
    put = run(bucket.put("k", "hello", customMetadata={"n": "1"}))
    head = run(bucket.head("k"))
    got = run(bucket.get("k"))
    for obj in (put, head, got, head.checksums):
        with pytest.raises(TypeError, match="object is not iterable"):
            _ = "key" in obj
        with pytest.raises(TypeError, match="object is not iterable"):
            dict(obj)
        with pytest.raises(TypeError, match="has no len"):
            len(obj)
        with pytest.raises(AttributeError, match="^nope$"):
            _ = obj["nope"]
        assert not hasattr(obj, "get") and not hasattr(obj, "items") and bool(obj)
    assert put["key"] == put.key == "k" and head["customMetadata"] == {"n": "1"}
    assert got.range == {"offset": 0, "length": 5} and head.range == {"offset": 0, "length": 5}
    assert not hasattr(put, "range") and not hasattr(put, "bodyUsed")


def test_body_used_attribute_repeats_its_first_answer_like_the_sdk_wrapper(bucket):
    run(bucket.put("k", "v"))
    got = run(bucket.get("k"))
    assert got.bodyUsed is False
    run(got.text())
    assert got["bodyUsed"] is True and got.bodyUsed is False


# -- bodies on disk: flat memory, atomic replacement, nothing left behind -----------------------


def _body_files(bucket):
    root = bucket.directory
    return sorted(p.relative_to(root).as_posix() for p in root.glob("*/*") if p.parent.name in ("objects", "parts"))


def _peak_bytes(call):
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_complete_and_ranged_get_do_not_hold_the_object_in_memory(tmp_path):
    bucket = R2Bucket(tmp_path / "r2", min_part_size=MIB)
    try:
        upload = run(bucket.createMultipartUpload("big"))
        parts = [run(upload.uploadPart(n, bytes([n]) * (4 * MIB))) for n in range(1, 5)]
        obj, complete_peak = _peak_bytes(lambda: run(upload.complete(parts)))
        assert obj.size == 16 * MIB
        seam = {"offset": 12 * MIB - 2, "length": 4}  # across parts 3 and 4
        body, get_peak = _peak_bytes(lambda: run(run(bucket.get("big", range=seam)).bytes()))
        assert body == b"\x03\x03\x04\x04" and get_peak < MIB  # reading the whole object would be 16 MiB
        assert complete_peak < MIB, complete_peak  # joining the parts in memory would be >= 16 MiB
        copy, copy_peak = _peak_bytes(lambda: run(bucket.put("copy", run(bucket.get("big")))))
        assert copy.etag == hashlib.md5(b"".join(bytes([n]) * (4 * MIB) for n in range(1, 5))).hexdigest()
        assert copy_peak < 4 * MIB  # streamed in 1 MiB chunks
    finally:
        bucket.close()


def test_a_body_being_read_survives_replacement_and_deletion(bucket):
    run(bucket.put("k", "old"))
    replaced = run(bucket.get("k"))
    deleted = run(bucket.get("k", range={"suffix": 2}))
    run(bucket.put("k", "new"))
    assert run(replaced.text()) == "old"
    run(bucket.delete("k"))
    assert run(deleted.text()) == "ld"
    assert run(bucket.get("k")) is None and _body_files(bucket) == []


def test_no_body_file_outlives_its_object_or_upload(bucket):
    run(bucket.put("a", "1"))
    run(bucket.put("a", "2"))
    run(bucket.put("b", "x"))
    run(bucket.delete("b"))
    aborted = run(bucket.createMultipartUpload("aborted"))
    run(aborted.uploadPart(1, "x"))
    run(aborted.abort())
    done = run(bucket.createMultipartUpload("done"))
    run(done.uploadPart(2, "unused part"))
    run(done.uploadPart(1, "first try"))
    part = run(done.uploadPart(1, "second try"))  # replaces the first try's file
    run(done.complete([part]))
    versions = sorted(f"objects/{run(bucket.head(k)).version}" for k in ("a", "done"))
    assert _body_files(bucket) == versions
    assert run(run(bucket.get("done")).text()) == "second try"


def test_a_failed_commit_leaves_no_body_file(bucket, monkeypatch):
    run(bucket.put("k", "kept"))

    def refuse(work):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(bucket, "_write", refuse)
    with pytest.raises(sqlite3.OperationalError):
        run(bucket.put("k", "lost"))
    monkeypatch.undo()
    assert run(run(bucket.get("k")).text()) == "kept" and len(_body_files(bucket)) == 1


def test_buckets_with_blob_bodies_are_migrated_to_files(tmp_path):
    """A bucket written by the earlier BLOB layout keeps its objects and its upload in progress."""
    directory = tmp_path / "r2"
    directory.mkdir()
    legacy = sqlite3.connect(directory / "bucket.sqlite3")
    legacy.executescript(
        """
        CREATE TABLE objects (key TEXT PRIMARY KEY, version TEXT NOT NULL, size INTEGER NOT NULL,
          etag TEXT NOT NULL, uploaded INTEGER NOT NULL, md5 TEXT, http_metadata TEXT NOT NULL,
          custom_metadata TEXT NOT NULL, body BLOB NOT NULL);
        CREATE TABLE uploads (upload_id TEXT PRIMARY KEY, key TEXT NOT NULL, http_metadata TEXT NOT NULL,
          custom_metadata TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'in_progress');
        CREATE TABLE parts (upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, size INTEGER NOT NULL,
          etag TEXT NOT NULL, md5 TEXT NOT NULL, body BLOB NOT NULL, PRIMARY KEY (upload_id, part_number));
        INSERT INTO uploads (upload_id, key, http_metadata, custom_metadata) VALUES ('u1', 'mpu', '{}', '{}');
        """
    )
    data = bytes(range(256)) * 5000
    legacy.execute(
        "INSERT INTO objects VALUES ('old', 'v1', ?, ?, 0, ?, '{}', '{\"db\": \"main\"}', ?)",
        (len(data), hashlib.md5(data).hexdigest(), hashlib.md5(data).hexdigest(), data),
    )
    legacy.execute("INSERT INTO parts VALUES ('u1', 1, 4, 'e1', ?, X'70617274')", (hashlib.md5(b"part").hexdigest(),))
    legacy.commit()
    legacy.close()
    bucket = R2Bucket(directory)
    try:
        assert run(run(bucket.get("old")).bytes()) == data
        assert run(bucket.head("old")).customMetadata == {"db": "main"}
        done = run(bucket.resumeMultipartUpload("mpu", "u1").complete([{"partNumber": 1, "etag": "e1"}]))
        assert done.size == 4 and run(run(bucket.get("mpu")).text()) == "part"
        columns = [r[1] for r in bucket._db().execute("PRAGMA table_info(objects)")]
        assert "body" not in columns and bucket._db().execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        bucket.close()
