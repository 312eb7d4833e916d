"""Upload sessions on the filesystem driver: order checks, digest checks, and a process that did
not see the earlier chunks (another replica, or a restart) re-hashing them."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dockyard.registry.blobs import BlobStore
from dockyard.registry.digest import digest_of
from dockyard.registry.errcode import RegistryError
from dockyard.registry.storage.filesystem import FilesystemDriver
from dockyard.registry.uploads import UploadStore


async def body(*parts: bytes) -> AsyncIterator[bytes]:
    for p in parts:
        yield p


def stores(root: Path) -> tuple[FilesystemDriver, UploadStore]:
    driver = FilesystemDriver(str(root), fsync=False)
    return driver, UploadStore(driver, BlobStore(driver))


def test_chunks_in_order_and_out_of_order(tmp_path: Path) -> None:
    async def run() -> None:
        driver, uploads = stores(tmp_path)
        uid = await uploads.start("a/b")
        assert await uploads.append("a/b", uid, body(b"abc", b"def"), 0, 6) == 6
        with pytest.raises(RegistryError) as e:
            await uploads.append("a/b", uid, body(b"zzz"), 9, 3)
        assert e.value.http_status == 416 and e.value.headers["Range"] == "0-5"
        with pytest.raises(RegistryError) as e:
            await uploads.append("a/b", uid, body(b"zz"), 6, 3)
        assert e.value.code == "SIZE_INVALID"
        assert await uploads.size("a/b", uid) == 6  # the short chunk left nothing behind
        # A second process (another replica) finishes: it re-hashes the chunks from storage.
        _d2, other = stores(tmp_path)
        assert await other.append("a/b", uid, body(b"ghi"), 6, 3) == 9
        d = digest_of(b"abcdefghi")
        assert await other.finish("a/b", uid, d) == 9
        assert driver.get_content(f"blobs/sha256/{d.hex[:2]}/{d.hex}/data") == b"abcdefghi"
        with pytest.raises(RegistryError) as e:
            await uploads.size("a/b", uid)
        assert e.value.code == "BLOB_UPLOAD_UNKNOWN"

    asyncio.run(run())


def test_wrong_digest_stores_nothing_and_ends_the_upload(tmp_path: Path) -> None:
    async def run() -> None:
        driver, uploads = stores(tmp_path)
        uid = await uploads.start("x")
        await uploads.append("x", uid, body(b"payload"))
        wrong = digest_of(b"other")
        with pytest.raises(RegistryError) as e:
            await uploads.finish("x", uid, wrong)
        assert e.value.code == "DIGEST_INVALID"
        assert hashlib.sha256(b"payload").hexdigest() in e.value.message
        assert list(driver.walk("blobs")) == []
        assert not await uploads.exists("x", uid)
        for bad in ("../../etc", "", "x" * 100):
            with pytest.raises(RegistryError):
                await uploads.size("x", bad)

    asyncio.run(run())
