"""``/v2/<name>/blobs/<digest>``: HEAD, GET (with Range) and DELETE of a blob in a repository."""

from __future__ import annotations

import asyncio
import re
from typing import BinaryIO

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from dockyard.registry.context import Registry
from dockyard.registry.digest import Digest, parse_digest
from dockyard.registry.errcode import RegistryError
from dockyard.registry.filesend import can_send, send_file_range

_STREAM_CHUNK = 1 << 20
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _unknown(name: str, d: Digest | str) -> RegistryError:
    return RegistryError(
        "BLOB_UNKNOWN",
        f"blob {d} is not in repository {name}: push it, or mount it from a repository that has it",
        detail={"digest": str(d)},
    )


async def get_blob(reg: Registry, request: web.Request, name: str, ref: str) -> web.StreamResponse:
    await reg.authorizer.authorize(request, name, frozenset({"pull"}))
    d = parse_digest(ref)
    size = await reg.blobs.stat_in_repo(name, d)
    if size is None:
        raise _unknown(name, d)
    headers = {
        "Docker-Content-Digest": str(d),
        "Content-Type": "application/octet-stream",
        "Accept-Ranges": "bytes",
        "Cache-Control": "max-age=31536000",
        "ETag": f'"{d}"',
    }
    if _matches(request.headers.get("If-None-Match"), str(d)):
        # A blob never changes under its digest: the client's copy is current.
        return web.Response(status=304, headers=headers)
    start, end = 0, size - 1
    status = 200
    rng = request.headers.get("Range")
    if rng:
        m = _RANGE.fullmatch(rng.strip())
        if not m or (not m.group(1) and not m.group(2)):
            raise RegistryError(
                "RANGE_INVALID",
                f"unsupported Range {rng!r}: use bytes=<start>-<end>",
                headers={"Content-Range": f"bytes */{size}"},
            )
        if m.group(1):
            start = int(m.group(1))
            end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
        else:
            start = max(size - int(m.group(2)), 0)
        if start > end or start >= size:
            raise RegistryError(
                "RANGE_INVALID",
                f"Range {rng!r} is outside the blob's {size} bytes",
                headers={"Content-Range": f"bytes */{size}"},
            )
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    length = end - start + 1 if size else 0
    resp = web.StreamResponse(status=status, headers=headers)
    resp.content_length = length
    writer = await resp.prepare(request)
    if request.method == "HEAD" or length == 0 or writer is None:
        return resp
    try:
        await _send_body(reg, request, writer, resp, d, start, length)
    except ConnectionResetError:
        # The client hung up in the middle of the body. The status line is gone already, so the
        # access log keeps it with the bytes that were sent; the connection is not reused.
        resp.force_close()
        if request.transport is not None:
            request.transport.close()
        return resp
    await resp.write_eof()
    return resp


async def _send_body(
    reg: Registry,
    request: web.Request,
    writer: AbstractStreamWriter,
    resp: web.StreamResponse,
    d: Digest,
    start: int,
    length: int,
) -> None:
    local = reg.blobs.local_path(d)
    if local is not None and can_send(request):
        await send_file_range(request, writer, local, start, length)
        return
    f = await reg.blobs.open(d, start)
    try:
        left = length
        while left > 0:
            data = await _read(f, min(_STREAM_CHUNK, left))
            if not data:
                break
            await resp.write(data)
            left -= len(data)
    finally:
        f.close()


def _matches(if_none_match: str | None, digest: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/").strip('"') for t in if_none_match.split(",")]
    return "*" in tags or digest in tags


async def _read(f: BinaryIO, n: int) -> bytes:
    return await asyncio.to_thread(f.read, n)


async def delete_blob(reg: Registry, request: web.Request, name: str, ref: str) -> web.StreamResponse:
    await reg.authorizer.authorize(request, name, frozenset({"delete"}))
    reg.check_writable()
    d = parse_digest(ref)
    if not await reg.blobs.unlink(name, d):
        raise _unknown(name, d)
    return web.Response(status=202, headers={"Docker-Content-Digest": str(d)})
