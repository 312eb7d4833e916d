"""The content store: verified ingest, atomic placement, resume, listing, compression streams."""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import pytest
import zstandard

from dockyard.content import compression
from dockyard.content.store import ContentStore
from dockyard.errors import Conflict, InvalidArgument, NotFound, Unsupported
from dockyard.oci.digest import digest_of


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "content")


def test_put_read_info_list_delete(store: ContentStore) -> None:
    d = store.put(b"hello")
    assert d == digest_of(b"hello")
    assert store.has(d) and store.read(d) == b"hello" and store.info(d).size == 5
    assert store.path(d).stat().st_mode & 0o777 == 0o444
    assert [i.digest for i in store.list()] == [d]
    assert store.put(b"hello", d) == d  # already there: kept
    store.delete(d)
    store.delete(d)  # idempotent
    assert not store.has(d)
    with pytest.raises(NotFound, match="not found in the content store"):
        store.read(d)
    assert store.ingests() == []


def test_bad_digest_never_becomes_visible(store: ContentStore) -> None:
    want = digest_of(b"good")
    with pytest.raises(InvalidArgument, match="digest mismatch"):
        store.put(b"evil", want)
    assert not store.has(want)
    assert store.ingests() == []  # known-bad bytes are not kept for a resume
    with pytest.raises(InvalidArgument, match="size mismatch"), store.writer("short", want, 10) as w:
        w.write(b"good")
        w.commit()


def test_half_written_blob_is_invisible_and_resumable(store: ContentStore) -> None:
    data = os.urandom(3 << 20)
    want = digest_of(data)
    w = store.writer("pull-x", want, len(data))
    w.write(data[:1000_000])
    w.close()  # the connection dropped
    assert not store.has(want)
    assert store.ingests() == [("pull-x", 1000_000)]
    w = store.writer("pull-x")  # expected digest and size come back from the ingest's meta
    assert w.offset == 1000_000 and w.expected is not None and str(w.expected) == want
    w.write(data[1000_000:])
    assert str(w.commit()) == want
    assert store.read(want) == data and store.ingests() == []


def test_one_writer_per_ingest(store: ContentStore) -> None:
    w = store.writer("busy")
    try:
        with pytest.raises(Conflict, match="being written by another operation"):
            store.writer("busy")
    finally:
        w.abort()
    with pytest.raises(InvalidArgument, match="invalid ingest ref"):
        store.writer("../escape")


def test_reused_ref_for_other_content_starts_over(store: ContentStore) -> None:
    w = store.writer("r", digest_of(b"one"))
    w.write(b"on")
    w.close()
    w = store.writer("r", digest_of(b"two"))
    assert w.offset == 0
    w.write(b"two")
    assert str(w.commit()) == digest_of(b"two")


@pytest.mark.parametrize("kind", ["", "gzip", "zstd"])
def test_decompress_streams(kind: str) -> None:
    data = os.urandom(100_000) + b"\0" * 3_000_000
    packed = {
        "": data,
        "gzip": gzip.compress(data[:50_000]) + gzip.compress(data[50_000:]),  # two members, as pigz writes
        "zstd": zstandard.ZstdCompressor().compress(data),
    }[kind]
    assert compression.detect(packed[:8]) == kind
    assert compression.decompressor(io.BytesIO(packed), kind).read() == data
    assert compression.auto_decompressor(io.BytesIO(packed)).read() == data
    c = compression.Compressor(kind)
    again = c.compress(data) + c.flush()
    assert compression.decompressor(io.BytesIO(again), kind).read() == data


def test_truncated_gzip_and_unsupported() -> None:
    packed = gzip.compress(os.urandom(200_000))
    with pytest.raises(InvalidArgument, match="truncated"):
        compression.decompressor(io.BytesIO(packed[:-100]), "gzip").read()
    with pytest.raises(Unsupported, match="bzip2 and xz"):
        compression.detect(b"BZh91AY")
    with pytest.raises(Unsupported):
        compression.decompressor(io.BytesIO(b""), "lz4")
