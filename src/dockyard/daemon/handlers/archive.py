"""docker cp: GET, HEAD and PUT /containers/{id}/archive?path=...

GET answers a tar of the path with the `X-Docker-Container-Path-Stat` header (base64 JSON:
name, size, mode as Go's FileMode, mtime, linkTarget); HEAD the header alone; PUT extracts the
request body (a tar, possibly compressed) into the folder `path`, with `noOverwriteDirNonDir`
and `copyUIDGID` as dockerd reads them. The filesystem work is blocking: it runs in a thread,
fed from (or feeding) the connection chunk by chunk, so a large copy never sits in memory. A
stopped container's rootfs stays mounted (by the engine) for the whole transfer.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from dockyard.daemon.app import context
from dockyard.daemon.http import bool_param
from dockyard.engine import archive
from dockyard.errors import DockyardError, InvalidArgument

_TAR = "application/x-tar"


def _engine(request: web.Request) -> Any:
    engine = context(request).engine
    if engine is None:
        raise DockyardError("the container engine is not running")
    return engine


def _path(request: web.Request) -> str:
    path = request.query.get("path")
    if not path:
        raise InvalidArgument("no path given: add ?path=/some/path (the path in the container)")
    return path


async def head(request: web.Request) -> web.StreamResponse:
    path = _path(request)
    async with _engine(request).container_fs(request.match_info["id"]) as fs:
        doc = await asyncio.to_thread(archive.stat_path, fs, path)
    return web.Response(status=200, headers={archive.HEADER: archive.encode_stat(doc)})


async def get(request: web.Request) -> web.StreamResponse:
    path = _path(request)
    async with _engine(request).container_fs(request.match_info["id"]) as fs:
        doc, chunks = await asyncio.to_thread(archive.read_archive, fs, path)
        resp = web.StreamResponse(
            status=200, headers={"Content-Type": _TAR, archive.HEADER: archive.encode_stat(doc)}
        )
        try:
            await resp.prepare(request)
            while True:
                chunk = await asyncio.to_thread(next, chunks, None)
                if chunk is None:
                    break
                await resp.write(chunk)
        except (ConnectionResetError, ConnectionError):
            return resp
        finally:
            await asyncio.to_thread(chunks.close)
    await resp.write_eof()
    return resp


class _BodyReader:
    """The request body as the blocking file object tarfile reads, from a worker thread."""

    def __init__(self, request: web.Request, loop: asyncio.AbstractEventLoop) -> None:
        self._content = request.content
        self._loop = loop

    def read(self, size: int = -1) -> bytes:
        coro = self._content.read(size if size is not None and size >= 0 else -1)
        data: bytes = asyncio.run_coroutine_threadsafe(coro, self._loop).result()
        return data


async def put(request: web.Request) -> web.StreamResponse:
    path = _path(request)
    no_overwrite = bool_param(request, "noOverwriteDirNonDir")
    copy_uid_gid = bool_param(request, "copyUIDGID")
    body = _BodyReader(request, asyncio.get_running_loop())
    async with _engine(request).container_fs(request.match_info["id"]) as fs:
        await asyncio.to_thread(
            archive.extract_archive,
            fs,
            path,
            body,  # type: ignore[arg-type]
            no_overwrite_dir_non_dir=no_overwrite,
            copy_uid_gid=copy_uid_gid,
        )
    with contextlib.suppress(ConnectionError):
        await request.read()  # whatever the tar's end left unread, so the connection stays usable
    return web.Response(status=200)


def routes(ctx: object) -> list[web.RouteDef]:
    return [
        web.get("/containers/{id}/archive", get, allow_head=False),
        web.head("/containers/{id}/archive", head),
        web.put("/containers/{id}/archive", put),
    ]
