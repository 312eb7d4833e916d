"""Blob upload sessions (OCI distribution spec, "Pushing blobs"): start, append chunks, finish.

An upload is a folder of chunks, each an object named by its start offset and written whole
(driver promise), so a registry killed mid-PATCH leaves the upload at the last complete chunk and
never a partial blob: content becomes a blob only in :meth:`UploadStore.finish`, after its digest
is checked, by one atomic move. Any replica can continue an upload another began: the state is
the chunks themselves. Each process keeps the running hash of the uploads it streamed, so the
usual push (one PATCH, then PUT) hashes the data once; otherwise finish re-reads the chunks.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import uuid as uuidlib
from collections.abc import AsyncIterator
from typing import Any

from dockyard.registry import paths
from dockyard.registry.blobs import BlobStore
from dockyard.registry.digest import Digest
from dockyard.registry.errcode import RegistryError
from dockyard.registry.storage import PathNotFound, StorageDriver

_BATCH = 1 << 20
_UUID_CHARS = frozenset("0123456789abcdef-")


class UploadStore:
    def __init__(self, driver: StorageDriver, blobs: BlobStore) -> None:
        self.driver = driver
        self.blobs = blobs
        self._hashes: dict[str, tuple[int, Any]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _check_id(self, name: str, upload_id: str) -> None:
        if not upload_id or len(upload_id) > 64 or not set(upload_id) <= _UUID_CHARS:
            raise RegistryError(
                "BLOB_UPLOAD_UNKNOWN",
                f"unknown upload {upload_id!r} in {name}: start one with POST /v2/{name}/blobs/uploads/",
            )

    async def start(self, name: str) -> str:
        upload_id = str(uuidlib.uuid4())
        stamp = datetime.datetime.now(datetime.UTC).isoformat().encode()
        await asyncio.to_thread(self.driver.put_content, paths.upload_started(name, upload_id), stamp)
        self._hashes[upload_id] = (0, hashlib.sha256())
        return upload_id

    def _chunks(self, name: str, upload_id: str) -> list[tuple[int, str, int]]:
        """(offset, path, size) of each chunk in order; raises BLOB_UPLOAD_UNKNOWN."""
        if self.driver.stat(paths.upload_started(name, upload_id)) is None:
            raise RegistryError(
                "BLOB_UPLOAD_UNKNOWN",
                f"unknown upload {upload_id} in {name}: it finished, was cancelled or never began; "
                f"start one with POST /v2/{name}/blobs/uploads/",
            )
        folder = paths.upload_chunks(name, upload_id)
        found = []
        for entry in self.driver.list_dir(folder):
            if not entry.isdigit():
                continue
            info = self.driver.stat(f"{folder}/{entry}")
            if info is not None and not info.is_dir:
                found.append((int(entry), f"{folder}/{entry}", info.size))
        found.sort()
        return found

    async def size(self, name: str, upload_id: str) -> int:
        self._check_id(name, upload_id)
        chunks = await asyncio.to_thread(self._chunks, name, upload_id)
        return _contiguous_size(chunks)

    def _lock(self, upload_id: str) -> asyncio.Lock:
        return self._locks.setdefault(upload_id, asyncio.Lock())

    async def append(
        self,
        name: str,
        upload_id: str,
        body: AsyncIterator[bytes],
        start: int | None = None,
        length: int | None = None,
    ) -> int:
        """Write ``body`` as the next chunk; ``start`` (from Content-Range) must be the current end.

        Returns the upload's new size. A chunk that does not start at the current end is
        refused with 416 and a Range header naming what the registry has (spec: "Out-of-order").
        """
        self._check_id(name, upload_id)
        async with self._lock(upload_id):
            chunks = await asyncio.to_thread(self._chunks, name, upload_id)
            current = _contiguous_size(chunks)
            if start is not None and start != current:
                raise RegistryError(
                    "BLOB_UPLOAD_INVALID",
                    f"chunk starts at byte {start} but upload {upload_id} has {current} bytes: "
                    f"send the chunk that starts at {current}",
                    status=416,
                    headers={
                        "Range": _range(current),
                        "Location": f"/v2/{name}/blobs/uploads/{upload_id}",
                        "Docker-Upload-UUID": upload_id,
                    },
                )
            cached = self._hashes.get(upload_id)
            hasher = cached[1] if cached is not None and cached[0] == current else None
            writer = await asyncio.to_thread(self.driver.writer, paths.upload_chunk(name, upload_id, current))
            committed = False

            def put(data: bytes) -> None:
                writer.write(data)
                if hasher is not None:
                    hasher.update(data)

            try:
                pieces: list[bytes] = []
                pending = 0
                async for piece in body:
                    pieces.append(piece)
                    pending += len(piece)
                    if pending >= _BATCH:
                        # One join, then hashing and writing in a worker thread (both release
                        # the GIL), while the event loop keeps reading the socket.
                        await asyncio.to_thread(put, b"".join(pieces))
                        pieces.clear()
                        pending = 0
                if pieces:
                    await asyncio.to_thread(put, b"".join(pieces))
                if length is not None and writer.written != length:
                    raise RegistryError(
                        "SIZE_INVALID",
                        f"chunk has {writer.written} bytes but Content-Range/Content-Length said "
                        f"{length}: send exactly the announced bytes",
                    )
                if writer.written:
                    await asyncio.to_thread(writer.commit)
                    committed = True
            finally:
                if not committed:
                    # Nothing of a failed or empty chunk stays: the upload keeps its old size.
                    await asyncio.to_thread(writer.cancel)
                    if hasher is not None and writer.written:
                        self._hashes.pop(upload_id, None)
            new_size = current + (writer.written if committed else 0)
            if hasher is not None:
                self._hashes[upload_id] = (new_size, hasher)
            return new_size

    async def finish(self, name: str, upload_id: str, digest: Digest) -> int:
        """Check the content against ``digest``, publish it as a blob, link it; returns its size."""
        self._check_id(name, upload_id)
        async with self._lock(upload_id):
            chunks = await asyncio.to_thread(self._chunks, name, upload_id)
            size = _contiguous_size(chunks)
            if size != sum(c[2] for c in chunks):
                raise RegistryError(
                    "BLOB_UPLOAD_INVALID",
                    f"upload {upload_id} has a gap between its chunks: cancel it and push again",
                )
            cached = self._hashes.get(upload_id)
            if cached is not None and cached[0] == size and digest.algorithm == "sha256":
                actual = cached[1].hexdigest()
            else:
                actual = await asyncio.to_thread(self._hash_chunks, [c[1] for c in chunks], digest.algorithm)
            if actual != digest.hex:
                await self.cancel(name, upload_id)
                raise RegistryError(
                    "DIGEST_INVALID",
                    f"uploaded content has digest {digest.algorithm}:{actual}, not the {digest} "
                    "the client named: nothing was stored; push the blob again",
                    detail={"digest": str(digest)},
                )
            await asyncio.to_thread(self._publish, digest, [c[1] for c in chunks])
            await self.blobs.link(name, digest)
            await self.cancel(name, upload_id)
            return size

    def _hash_chunks(self, chunk_paths: list[str], algorithm: str) -> str:
        h = hashlib.new(algorithm)
        for p in chunk_paths:
            with self.driver.open_read(p) as f:
                while data := f.read(_BATCH):
                    h.update(data)
        return h.hexdigest()

    def _publish(self, d: Digest, chunk_paths: list[str]) -> None:
        target = paths.blob_data(d)
        if self.driver.stat(target) is not None:
            return  # same content already stored (another repository or a concurrent push)
        if len(chunk_paths) == 1:
            try:
                self.driver.move(chunk_paths[0], target)
            except PathNotFound:
                pass  # moved by a concurrent finish of the same upload
        else:
            # Zero chunks is the empty blob; several are joined (rare: chunked pushes).
            if chunk_paths:
                self.driver.concat(target, chunk_paths)
            else:
                self.driver.put_content(target, b"")

    async def cancel(self, name: str, upload_id: str) -> None:
        """Forget an upload; succeeds when it is already gone (finish and cancel may race)."""
        self._check_id(name, upload_id)
        self._hashes.pop(upload_id, None)
        self._locks.pop(upload_id, None)
        await asyncio.to_thread(self.driver.delete, paths.upload(name, upload_id))

    async def exists(self, name: str, upload_id: str) -> bool:
        self._check_id(name, upload_id)
        info = await asyncio.to_thread(self.driver.stat, paths.upload_started(name, upload_id))
        return info is not None


def _contiguous_size(chunks: list[tuple[int, str, int]]) -> int:
    end = 0
    for offset, _path, size in chunks:
        if offset != end:
            break
        end += size
    return end


def _range(size: int) -> str:
    """The Range header of an upload's status: inclusive end; "0-0" for an empty upload."""
    return f"0-{max(size - 1, 0)}"
