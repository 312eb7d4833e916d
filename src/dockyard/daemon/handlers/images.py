"""Image endpoints: list, create (pull and import), inspect, history, tag, remove, prune,
get (save), load and push.

Streams (pull, push, load, import) are newline-delimited JSON with status 200, as dockerd
sends them. A pull's first message is produced before the response starts, so an error found
while resolving (bad reference, unknown manifest, unreachable registry) is a plain error
response with its status; later errors are ``{"error": ...}`` lines in the stream.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from aiohttp import web

from dockyard.daemon.app import context
from dockyard.daemon.http import JSON, bool_param, filters_param, json_response, str_param
from dockyard.daemon.version import as_tuple
from dockyard.errors import DockyardError, InvalidArgument

_BATCH = 1 << 20


def _images(request: web.Request) -> Any:
    svc = context(request).images
    if svc is None:
        raise DockyardError("the image service is not running")
    return svc


def _in_use(request: web.Request) -> Callable[[str], str | None]:
    engine = context(request).engine
    if engine is None:
        return lambda _image_id: None
    use: Callable[[str], str | None] = engine.image_in_use
    return use


def registry_auth(request: web.Request) -> dict[str, Any] | None:
    """X-Registry-Auth: base64url JSON (username, password, serveraddress, identitytoken)."""
    raw = request.headers.get("X-Registry-Auth", "")
    if not raw:
        return None
    try:
        padded = raw + "=" * (-len(raw) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError):
        raise InvalidArgument("invalid X-Registry-Auth header: expected base64url-encoded JSON") from None
    return data if isinstance(data, dict) and data else None


def _name(request: web.Request) -> str:
    return request.match_info["name"]


def _publish(request: web.Request, action: str, actor_id: str, name: str) -> None:
    """An image event as dockerd logs it (daemon/images/image_events.go): the actor is the image
    id (the reference for pull and push) and ``name`` the reference or id the client used."""
    events = context(request).events
    if events is not None:
        events.publish("image", action, actor_id, {"name": name})


async def _stream(
    request: web.Request,
    items: AsyncIterator[dict[str, Any]],
    on_success: Callable[[], None] | None = None,
) -> web.StreamResponse:
    """Stream JSON messages; the first is awaited before the response starts (see module doc).
    ``on_success`` runs when every message was produced without an error."""
    try:
        first = await items.__anext__()
    except StopAsyncIteration:
        first = None
    resp = web.StreamResponse(status=200, headers={"Content-Type": JSON})
    await resp.prepare(request)
    try:
        if first is not None:
            await resp.write(_line(first))
        async for item in items:
            await resp.write(_line(item))
        if on_success is not None:
            on_success()
    except (ConnectionResetError, ConnectionError):
        return resp  # the client went away: the producer is closed by the async-for cleanup
    except DockyardError as e:
        await resp.write(_line({"errorDetail": {"message": str(e)}, "error": str(e)}))
    await resp.write_eof()
    return resp


def _line(item: dict[str, Any]) -> bytes:
    return json.dumps(item, separators=(",", ":")).encode() + b"\n"


async def _aiter_sync(it: Iterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    sentinel: dict[str, Any] = {}
    while True:
        item = await asyncio.to_thread(next, it, sentinel)
        if item is sentinel:
            return
        yield item


async def _spool(request: web.Request, svc: Any) -> Path:
    """The request body in a temp file under the data root (load and import read it twice)."""
    folder = Path(svc.data_root) / "images"
    fd, name = tempfile.mkstemp(prefix="upload-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            async for chunk in request.content.iter_chunked(_BATCH):
                await asyncio.to_thread(f.write, chunk)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


# ------------------------------------------------------------------ handlers


async def list_images(request: web.Request) -> web.StreamResponse:
    svc = _images(request)
    show_all = bool_param(request, "all")
    filters = filters_param(request)
    images = await asyncio.to_thread(svc.list, show_all, filters)
    return json_response([svc.summary(i) for i in images])


async def create(request: web.Request) -> web.StreamResponse:
    svc = _images(request)
    from_src = str_param(request, "fromSrc")
    if from_src is not None:
        return await _import(request, svc, from_src)
    image = str_param(request, "fromImage")
    if not image:
        raise InvalidArgument("missing fromImage or fromSrc: give an image to pull or - to import the body")
    tag = str_param(request, "tag") or ""
    ref = image
    if tag:
        ref += ("@" if ":" in tag and tag.split(":")[0].startswith("sha") else ":") + tag
    # The API's rule: fromImage without a tag (in the name or the tag parameter) pulls every
    # tag of the repository (docker pull --all-tags sends exactly that).
    all_tags = not tag and _untagged(image)
    return await _stream(
        request,
        svc.pull(ref, registry_auth(request), str_param(request, "platform"), all_tags=all_tags),
        lambda: _publish(request, "pull", _familiar(ref), _familiar(ref)),
    )


def _untagged(name: str) -> bool:
    from dockyard.oci import reference

    try:
        ref = reference.parse(name, default_tag=False)
    except InvalidArgument:
        return False  # the pull reports the bad reference
    return not ref.tag and not ref.digest


def _familiar(ref: str) -> str:
    from dockyard.oci import reference

    try:
        return reference.parse(ref).familiar()
    except InvalidArgument:
        return ref


async def _import(request: web.Request, svc: Any, from_src: str) -> web.StreamResponse:
    repo = str_param(request, "repo") or None
    tag = str_param(request, "tag") or None
    changes = request.query.getall("changes", [])
    message = str_param(request, "message") or ""
    if from_src == "-":
        path = await _spool(request, svc)
    else:
        from dockyard.images import fetch

        fd, name = tempfile.mkstemp(prefix="import-", dir=Path(svc.data_root) / "images")
        os.close(fd)
        path = Path(name)
        try:
            await fetch.download(from_src, path, max_size=svc.options.limits.max_size)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    try:

        def run() -> str:
            with open(path, "rb") as f:
                image_id: str = svc.import_tar(f, repo, tag, changes, message=message)
                return image_id

        image_id = await asyncio.to_thread(run)
    finally:
        path.unlink(missing_ok=True)
    _publish(request, "import", image_id, image_id)
    return web.Response(body=_line({"status": image_id}), content_type=JSON)


async def inspect(request: web.Request) -> web.StreamResponse:
    svc = _images(request)
    out = await asyncio.to_thread(svc.inspect, _name(request))
    version = request.match_info.get("version")
    if version is None or as_tuple(version) >= (1, 45):
        # API 1.45 dropped the legacy builder's fields (dockerd still sends them to older clients).
        out.pop("Container", None)
        out.pop("ContainerConfig", None)
    return json_response(out)


async def history(request: web.Request) -> web.StreamResponse:
    svc = _images(request)
    return json_response(await asyncio.to_thread(svc.history, _name(request)))


async def tag(request: web.Request) -> web.StreamResponse:
    svc = _images(request)
    repo = str_param(request, "repo")
    if not repo:
        raise InvalidArgument("missing repo: give the repository to tag the image into")
    tag_name = str_param(request, "tag") or None
    await asyncio.to_thread(svc.tag, _name(request), repo, tag_name)
    image_id = await asyncio.to_thread(svc.resolve_id, _name(request))
    _publish(request, "tag", image_id or _name(request), _familiar(f"{repo}:{tag_name or 'latest'}"))
    return web.Response(status=201)


async def remove(request: web.Request) -> web.StreamResponse:
    svc = _images(request)
    image_id = await asyncio.to_thread(svc.resolve_id, _name(request))
    records = await asyncio.to_thread(
        svc.remove,
        _name(request),
        bool_param(request, "force"),
        bool_param(request, "noprune"),
        _in_use(request),
    )
    _publish_removals(request, records, image_id)
    return json_response(records)


def _publish_removals(request: web.Request, records: list[dict[str, Any]], image_id: str | None) -> None:
    deleted = [r["Deleted"] for r in records if r.get("Deleted")]
    for r in records:
        if r.get("Untagged"):
            actor = image_id or (deleted[0] if deleted else r["Untagged"])
            _publish(request, "untag", actor, actor)
    for image_id in deleted:
        _publish(request, "delete", image_id, image_id)


async def prune(request: web.Request) -> web.StreamResponse:
    svc = _images(request)
    filters = filters_param(request)
    dangling = True
    if "dangling" in filters:
        dangling = filters.pop("dangling")[-1].lower() in ("1", "true")
    report = await asyncio.to_thread(svc.prune, dangling, filters, _in_use(request))
    _publish_removals(request, list(report.get("ImagesDeleted") or []), None)
    events = context(request).events
    if events is not None:
        events.publish("image", "prune", "", {"reclaimed": str(report.get("SpaceReclaimed", 0))})
    return json_response(report)


async def _send_tar(request: web.Request, chunks: Iterator[bytes]) -> web.StreamResponse:
    def batch() -> bytes:
        parts, size = [], 0
        for chunk in chunks:
            parts.append(chunk)
            size += len(chunk)
            if size >= _BATCH:
                break
        return b"".join(parts)

    first = await asyncio.to_thread(batch)
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/x-tar"})
    await resp.prepare(request)
    data = first
    try:
        while data:
            await resp.write(data)
            data = await asyncio.to_thread(batch)
    except (ConnectionResetError, ConnectionError):
        return resp
    await resp.write_eof()
    return resp


async def get_many(request: web.Request) -> web.StreamResponse:
    svc = _images(request)
    names = request.query.getall("names", [])
    chunks = await asyncio.to_thread(svc.save, names)
    for name in names:
        _publish(request, "save", await asyncio.to_thread(svc.resolve_id, name) or name, name)
    return await _send_tar(request, chunks)


async def get_one(request: web.Request) -> web.StreamResponse:
    svc = _images(request)
    chunks = await asyncio.to_thread(svc.save, [_name(request)])
    name = _name(request)
    _publish(request, "save", await asyncio.to_thread(svc.resolve_id, name) or name, name)
    return await _send_tar(request, chunks)


async def load(request: web.Request) -> web.StreamResponse:
    svc = _images(request)
    quiet = bool_param(request, "quiet")
    path = await _spool(request, svc)

    async def messages() -> AsyncIterator[dict[str, Any]]:
        with open(path, "rb") as f:
            async for msg in _aiter_sync(iter(svc.load(f))):
                loaded = str(msg.get("stream") or "")
                for prefix in ("Loaded image: ", "Loaded image ID: "):
                    if loaded.startswith(prefix):
                        name = loaded[len(prefix) :].strip()
                        _publish(request, "load", await asyncio.to_thread(svc.resolve_id, name) or name, name)
                if quiet and "stream" not in msg:
                    continue
                yield msg

    try:
        return await _stream(request, messages())
    finally:
        path.unlink(missing_ok=True)


async def push(request: web.Request) -> web.StreamResponse:
    svc = _images(request)
    name = _name(request)
    tag = str_param(request, "tag")
    ref = f"{name}:{tag}" if tag else name
    # Without a tag (in the name or the parameter) every tag of the repository is pushed.
    all_tags = not tag and _untagged(name)
    return await _stream(
        request,
        svc.push(ref, registry_auth(request), all_tags=all_tags),
        lambda: _publish(request, "push", ref, ref),
    )


async def system_check(request: web.Request) -> web.StreamResponse:
    """``POST /system/check?repair=1`` (dockyard's own): the store re-hashed and verified."""
    svc = _images(request)
    return json_response(await asyncio.to_thread(svc.check, bool_param(request, "repair")))


def routes(ctx: object) -> list[web.RouteDef]:
    # Names may hold slashes (localhost:5000/a/b): the {name:.+} patterns come after fixed paths.
    return [
        web.get("/images/json", list_images),
        web.post("/images/create", create),
        web.get("/images/get", get_many),
        web.post("/images/load", load),
        web.post("/images/prune", prune),
        web.post("/system/check", system_check),
        web.get(r"/images/{name:.+}/json", inspect),
        web.get(r"/images/{name:.+}/history", history),
        web.post(r"/images/{name:.+}/tag", tag),
        web.post(r"/images/{name:.+}/push", push),
        web.get(r"/images/{name:.+}/get", get_one),
        web.delete(r"/images/{name:.+}", remove),
    ]
