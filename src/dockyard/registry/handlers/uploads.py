"""``/v2/<name>/blobs/uploads/``: start (session, monolithic or mount), PATCH, PUT, GET, DELETE.

Upload URLs are relative (the spec allows either) so they stay right behind a proxy or a load
balancer: any replica can take the next request of an upload (uploads.py).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from aiohttp import web

from dockyard.registry.context import Registry
from dockyard.registry.digest import parse_digest
from dockyard.registry.errcode import RegistryError
from dockyard.registry.names import check_name

_CONTENT_RANGE = re.compile(r"(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?")
_BODY_CHUNK = 1 << 18


def _status_headers(name: str, upload_id: str, size: int) -> dict[str, str]:
    return {
        "Location": f"/v2/{name}/blobs/uploads/{upload_id}",
        "Range": f"0-{max(size - 1, 0)}",
        "Docker-Upload-UUID": upload_id,
        "Content-Length": "0",
    }


def _created(name: str, digest: str) -> web.Response:
    return web.Response(
        status=201,
        headers={
            "Location": f"/v2/{name}/blobs/{digest}",
            "Docker-Content-Digest": digest,
            "Content-Length": "0",
        },
    )


def _body(request: web.Request) -> AsyncIterator[bytes]:
    return request.content.iter_chunked(_BODY_CHUNK)


def _content_range(request: web.Request) -> tuple[int | None, int | None]:
    """(start, length) from Content-Range (else length from Content-Length), per the spec's PATCH."""
    cr = request.headers.get("Content-Range")
    length = request.content_length
    if not cr:
        return None, length
    m = _CONTENT_RANGE.fullmatch(cr.strip())
    if not m:
        raise RegistryError(
            "BLOB_UPLOAD_INVALID",
            f"invalid Content-Range {cr!r}: use <start>-<end> with inclusive byte offsets",
            status=416,
        )
    start, end = int(m.group(1)), int(m.group(2))
    if end < start:
        raise RegistryError("BLOB_UPLOAD_INVALID", f"Content-Range {cr!r} ends before it starts", status=416)
    span = end - start + 1
    if length is not None and length != span:
        raise RegistryError(
            "SIZE_INVALID",
            f"Content-Length {length} does not match Content-Range {cr!r} ({span} bytes)",
        )
    return start, span


async def start_upload(reg: Registry, request: web.Request, name: str) -> web.StreamResponse:
    await reg.authorizer.authorize(request, name, frozenset({"pull", "push"}))
    reg.check_writable()
    q = request.query
    mount, source = q.get("mount"), q.get("from")
    if mount and source:
        d = parse_digest(mount)
        check_name(source)
        try:
            await reg.authorizer.authorize(request, source, frozenset({"pull"}))
            allowed = True
        except RegistryError:
            allowed = False  # no right to read the source: a normal upload instead (spec)
        if allowed and await reg.blobs.stat_in_repo(source, d) is not None:
            await reg.blobs.link(name, d)
            return _created(name, str(d))
    digest = q.get("digest")
    upload_id = await reg.uploads.start(name)
    if digest:
        d = parse_digest(digest)
        try:
            await reg.uploads.append(name, upload_id, _body(request), None, request.content_length)
            await reg.uploads.finish(name, upload_id, d)
        finally:
            if await reg.uploads.exists(name, upload_id):
                await reg.uploads.cancel(name, upload_id)
        return _created(name, str(d))
    return web.Response(status=202, headers=_status_headers(name, upload_id, 0))


async def patch_upload(reg: Registry, request: web.Request, name: str, upload_id: str) -> web.StreamResponse:
    await reg.authorizer.authorize(request, name, frozenset({"pull", "push"}))
    reg.check_writable()
    start, length = _content_range(request)
    size = await reg.uploads.append(name, upload_id, _body(request), start, length)
    return web.Response(status=202, headers=_status_headers(name, upload_id, size))


async def put_upload(reg: Registry, request: web.Request, name: str, upload_id: str) -> web.StreamResponse:
    await reg.authorizer.authorize(request, name, frozenset({"pull", "push"}))
    reg.check_writable()
    digest = request.query.get("digest")
    if not digest:
        raise RegistryError(
            "DIGEST_INVALID",
            f"PUT /v2/{name}/blobs/uploads/{upload_id} needs ?digest=<digest of the whole blob>",
        )
    d = parse_digest(digest)
    start, length = _content_range(request)
    if request.can_read_body:
        await reg.uploads.append(name, upload_id, _body(request), start, length)
    await reg.uploads.finish(name, upload_id, d)
    return _created(name, str(d))


async def get_upload(reg: Registry, request: web.Request, name: str, upload_id: str) -> web.StreamResponse:
    await reg.authorizer.authorize(request, name, frozenset({"pull", "push"}))
    size = await reg.uploads.size(name, upload_id)
    return web.Response(status=204, headers=_status_headers(name, upload_id, size))


async def delete_upload(reg: Registry, request: web.Request, name: str, upload_id: str) -> web.StreamResponse:
    await reg.authorizer.authorize(request, name, frozenset({"pull", "push"}))
    if not await reg.uploads.exists(name, upload_id):
        raise RegistryError("BLOB_UPLOAD_UNKNOWN", f"unknown upload {upload_id} in {name}: nothing to cancel")
    await reg.uploads.cancel(name, upload_id)
    return web.Response(status=204)
