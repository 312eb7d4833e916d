"""Blobs: content stored once under blobs/ and linked into each repository that may read it.

A repository sees a blob only through its link (paths.layer_link); the content itself is shared,
so a layer pushed to ten repositories is stored once and a cross-repository mount is one link.
Links are rewritten (not kept) when a blob is pushed or mounted again: their mtime is what
garbage collection's grace period reads (gc.py).
"""

from __future__ import annotations

import asyncio
from typing import BinaryIO

from dockyard.registry import paths
from dockyard.registry.digest import Digest
from dockyard.registry.storage import StorageDriver


class BlobStore:
    def __init__(self, driver: StorageDriver) -> None:
        self.driver = driver

    async def stat(self, d: Digest) -> int | None:
        info = await asyncio.to_thread(self.driver.stat, paths.blob_data(d))
        return None if info is None or info.is_dir else info.size

    async def stat_in_repo(self, name: str, d: Digest) -> int | None:
        """Size of the blob if ``name`` links it and the content exists, else None."""

        def look() -> int | None:
            if self.driver.stat(paths.layer_link(name, d)) is None:
                return None
            info = self.driver.stat(paths.blob_data(d))
            return None if info is None or info.is_dir else info.size

        return await asyncio.to_thread(look)

    async def link(self, name: str, d: Digest) -> None:
        await asyncio.to_thread(self.driver.put_content, paths.layer_link(name, d), str(d).encode())

    async def unlink(self, name: str, d: Digest) -> bool:
        def drop() -> bool:
            link = paths.layer_link(name, d)
            if self.driver.stat(link) is None:
                return False
            self.driver.delete(link.rsplit("/", 1)[0])
            return True

        return await asyncio.to_thread(drop)

    def local_path(self, d: Digest) -> str | None:
        return self.driver.local_path(paths.blob_data(d))

    async def open(self, d: Digest, offset: int = 0) -> BinaryIO:
        return await asyncio.to_thread(self.driver.open_read, paths.blob_data(d), offset)

    async def get(self, d: Digest) -> bytes:
        return await asyncio.to_thread(self.driver.get_content, paths.blob_data(d))

    async def put(self, d: Digest, data: bytes) -> None:
        """Store small verified content (a manifest) unless it is there already."""

        def write() -> None:
            if self.driver.stat(paths.blob_data(d)) is None:
                self.driver.put_content(paths.blob_data(d), data)

        await asyncio.to_thread(write)
