"""Container endpoints of the Engine API: /containers/..., /commit.

Only (de)serialising: every decision is the engine's. Statuses are dockerd's: 201 for create
and commit, 204 for lifecycle verbs, 304 (no body) for start of a running or stop of a stopped
container. Streams: logs are plain HTTP (chunked) with stdcopy frames when the container has no
TTY; attach is hijacked (101 with `Upgrade: tcp`, else a 200 head and the raw connection);
wait sends its head at once and its body at the exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import web

from dockyard.daemon.app import context
from dockyard.daemon.hijack import MULTIPLEXED_STREAM, RAW_STREAM, Hijacked, finish, hijack
from dockyard.daemon.http import (
    bool_param,
    filters_param,
    int_param,
    json_response,
    no_content,
    read_json,
    str_param,
)
from dockyard.engine import detach_keys
from dockyard.engine.stdcopy import STREAM_IDS, frame
from dockyard.errors import DockyardError, InvalidArgument


def _engine(request: web.Request) -> Any:
    engine = context(request).engine
    if engine is None:
        raise DockyardError("the container engine is not running")
    return engine


def _ref(request: web.Request) -> str:
    return request.match_info["id"]


def _time_param(request: web.Request, name: str) -> float | None:
    value = request.query.get(name)
    if value in (None, "", "0"):
        return None
    from dockyard.engine.events import parse_time

    return parse_time(value)


# ---------------------------------------------------------------- list, create, inspect


async def list_containers(request: web.Request) -> web.StreamResponse:
    items = await _engine(request).list_containers(
        all=bool_param(request, "all"),
        limit=int_param(request, "limit"),
        size=bool_param(request, "size"),
        filters=filters_param(request),
    )
    return json_response(items)


async def create(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    if not body:
        raise InvalidArgument("Config cannot be empty in order to create a container")
    result = await _engine(request).create(str_param(request, "name"), body, str_param(request, "platform"))
    return json_response(result, 201)


async def inspect(request: web.Request) -> web.StreamResponse:
    return json_response(await _engine(request).inspect(_ref(request), size=bool_param(request, "size")))


async def top(request: web.Request) -> web.StreamResponse:
    return json_response(await _engine(request).top(_ref(request), str_param(request, "ps_args")))


async def changes(request: web.Request) -> web.StreamResponse:
    return json_response(await _engine(request).changes(_ref(request)))


# ---------------------------------------------------------------- lifecycle


async def start(request: web.Request) -> web.StreamResponse:
    await _engine(request).start_container(_ref(request))
    return no_content()


async def stop(request: web.Request) -> web.StreamResponse:
    await _engine(request).stop_container(
        _ref(request), int_param(request, "t"), str_param(request, "signal") or None
    )
    return no_content()


async def restart(request: web.Request) -> web.StreamResponse:
    await _engine(request).restart_container(
        _ref(request), int_param(request, "t"), str_param(request, "signal") or None
    )
    return no_content()


async def kill(request: web.Request) -> web.StreamResponse:
    await _engine(request).kill(_ref(request), str_param(request, "signal") or None)
    return no_content()


async def pause(request: web.Request) -> web.StreamResponse:
    await _engine(request).pause(_ref(request))
    return no_content()


async def unpause(request: web.Request) -> web.StreamResponse:
    await _engine(request).unpause(_ref(request))
    return no_content()


async def rename(request: web.Request) -> web.StreamResponse:
    await _engine(request).rename(_ref(request), str_param(request, "name") or "")
    return no_content()


async def update(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    return json_response(await _engine(request).update(_ref(request), body))


async def remove(request: web.Request) -> web.StreamResponse:
    if bool_param(request, "link"):
        raise InvalidArgument("legacy links are not supported: remove the container itself")
    await _engine(request).remove(
        _ref(request), force=bool_param(request, "force"), volumes=bool_param(request, "v")
    )
    return no_content()


async def prune(request: web.Request) -> web.StreamResponse:
    return json_response(await _engine(request).prune(filters_param(request)))


async def wait(request: web.Request) -> web.StreamResponse:
    _, future = await _engine(request).register_wait(_ref(request), str_param(request, "condition") or None)
    # The head goes out now: the docker CLI starts the container only once it has it.
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    code = await future
    try:
        await resp.write(json.dumps({"StatusCode": code, "Error": None}).encode() + b"\n")
        await resp.write_eof()
    except (ConnectionResetError, ConnectionError):
        pass  # the client stopped waiting (the docker CLI drops it once it has what it needs)
    return resp


async def resize(request: web.Request) -> web.StreamResponse:
    height = int_param(request, "h")
    width = int_param(request, "w")
    if height is None or width is None:
        raise InvalidArgument("resize needs both h and w: give the terminal's rows and columns")
    await _engine(request).resize(_ref(request), height, width)
    return web.Response(status=200)


async def commit(request: web.Request) -> web.StreamResponse:
    ref = str_param(request, "container") or ""
    if not ref:
        raise InvalidArgument("No container name or ID supplied: give ?container=<id>")
    body = await read_json(request)
    image_id = await _engine(request).commit(
        ref,
        repo=str_param(request, "repo") or None,
        tag=str_param(request, "tag") or None,
        comment=str_param(request, "comment") or "",
        author=str_param(request, "author") or "",
        changes=[c for c in request.query.getall("changes", []) if c],
        pause=bool_param(request, "pause", default=True),
        config=body or None,
    )
    return json_response({"Id": image_id}, 201)


# ---------------------------------------------------------------- streams


def _logs_iter(request: web.Request, follow: bool) -> tuple[bool, Any]:
    tail_text = request.query.get("tail", "all")
    if tail_text in ("", "all"):
        tail = None
    else:
        try:
            tail = int(tail_text)
        except ValueError:
            raise InvalidArgument(f"invalid tail {tail_text!r}: use a number of lines or all") from None
    result: tuple[bool, Any] = _engine(request).logs(
        _ref(request),
        follow=follow,
        since=_time_param(request, "since"),
        until=_time_param(request, "until"),
        tail=tail,
        stdout=bool_param(request, "stdout"),
        stderr=bool_param(request, "stderr"),
        timestamps=bool_param(request, "timestamps"),
    )
    return result


def _encode(tty: bool, stream: str, data: bytes) -> bytes:
    return data if tty else frame(STREAM_IDS.get(stream, 1), data)


async def logs(request: web.Request) -> web.StreamResponse:
    tty, entries = _logs_iter(request, bool_param(request, "follow"))
    resp = web.StreamResponse(status=200, headers={"Content-Type": RAW_STREAM if tty else MULTIPLEXED_STREAM})
    await resp.prepare(request)
    try:
        async for stream, data in entries:
            await resp.write(_encode(tty, stream, data))
    except (ConnectionResetError, ConnectionError):
        return resp
    finally:
        with contextlib.suppress(Exception):
            await entries.aclose()
    await resp.write_eof()
    return resp


async def attach(request: web.Request) -> web.StreamResponse:
    engine = _engine(request)
    stdin = bool_param(request, "stdin")
    stdout = bool_param(request, "stdout")
    stderr = bool_param(request, "stderr")
    want_logs = bool_param(request, "logs")
    stream = bool_param(request, "stream")
    keys = detach_keys.parse(str_param(request, "detachKeys"))
    c, future = await engine.attach(
        _ref(request), stdin=stdin, stdout=stdout, stderr=stderr, logs=want_logs and stream, stream=stream
    )
    hijacked = hijack(request, RAW_STREAM if c.tty else MULTIPLEXED_STREAM)
    try:
        if want_logs and future is None:
            await _replay_logs(request, hijacked, stdout, stderr)
        if future is not None:
            # The detach keys apply only with a TTY, as in dockerd (copyEscapable): a binary stdin
            # piped to `run -i` may hold ctrl-p ctrl-q and must reach the container whole.
            escape = detach_keys.EscapeFilter(keys) if c.tty else None
            await _pump(hijacked, future, stdin, escape)
    except (ConnectionResetError, ConnectionError, DockyardError):
        pass
    finally:
        if future is not None and not future.done():
            future.cancel()
        elif future is not None and not future.cancelled() and future.exception() is None:
            future.result()[1].close()
    return finish(request, hijacked)


async def _replay_logs(request: web.Request, hijacked: Hijacked, stdout: bool, stderr: bool) -> None:
    if not stdout and not stderr:
        return
    tty, entries = _engine(request).logs(_ref(request), stdout=stdout, stderr=stderr)
    async for stream, data in entries:
        hijacked.write(_encode(tty, stream, data))
        await hijacked.drain()


async def _pump(
    hijacked: Hijacked, future: asyncio.Future[Any], stdin: bool, escape: detach_keys.EscapeFilter | None
) -> None:
    closed = asyncio.ensure_future(hijacked.closed.wait())
    try:
        done, _ = await asyncio.wait({future, closed}, return_when=asyncio.FIRST_COMPLETED)
        if future not in done:
            return  # the client left before the container started
    finally:
        if not closed.done():
            closed.cancel()
    reader, writer = future.result()

    async def to_client() -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            hijacked.write(data)
            await hijacked.drain()
        hijacked.close_write()

    async def from_client() -> None:
        while True:
            data = await hijacked.reader.read(65536)
            if not data:
                break
            if stdin:
                data, detached = escape.feed(data) if escape is not None else (data, False)
                if data:
                    writer.write(data)
                    await writer.drain()
                if detached:
                    return  # the detach keys: the attach ends, the container runs on
        if stdin:
            if escape is not None and (held := escape.flush()):
                writer.write(held)
            if writer.can_write_eof():
                writer.write_eof()
        await asyncio.Event().wait()  # stdin ended; the output goes on until it ends

    out_task = asyncio.ensure_future(to_client())
    in_task = asyncio.ensure_future(from_client())
    gone = asyncio.ensure_future(hijacked.closed.wait())
    try:
        await asyncio.wait({out_task, in_task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (out_task, in_task, gone):
            if not task.done():
                task.cancel()
        await asyncio.gather(out_task, in_task, gone, return_exceptions=True)
        writer.close()


async def export(request: web.Request) -> web.StreamResponse:
    chunks = _engine(request).export(_ref(request))
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/x-tar"})
    first = await anext(chunks, b"")  # errors (no such container) before the 200 head
    await resp.prepare(request)
    try:
        if first:
            await resp.write(first)
        async for chunk in chunks:
            await resp.write(chunk)
    except (ConnectionResetError, ConnectionError):
        return resp
    finally:
        await chunks.aclose()
    await resp.write_eof()
    return resp


async def stats(request: web.Request) -> web.StreamResponse:
    stream = bool_param(request, "stream", default=True)
    samples = _engine(request).stats(_ref(request), stream=stream, one_shot=bool_param(request, "one-shot"))
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    try:
        async for sample in samples:
            await resp.write(json.dumps(sample, separators=(",", ":")).encode() + b"\n")
    except (ConnectionResetError, ConnectionError):
        return resp
    finally:
        await samples.aclose()
    await resp.write_eof()
    return resp


def routes(ctx: object) -> list[web.RouteDef]:
    return [
        web.get("/containers/json", list_containers),
        web.post("/containers/create", create),
        web.post("/containers/prune", prune),
        web.get("/containers/{id}/json", inspect),
        web.get("/containers/{id}/top", top),
        web.get("/containers/{id}/logs", logs),
        web.get("/containers/{id}/changes", changes),
        web.get("/containers/{id}/export", export),
        web.get("/containers/{id}/stats", stats),
        web.post("/containers/{id}/resize", resize),
        web.post("/containers/{id}/start", start),
        web.post("/containers/{id}/stop", stop),
        web.post("/containers/{id}/restart", restart),
        web.post("/containers/{id}/kill", kill),
        web.post("/containers/{id}/update", update),
        web.post("/containers/{id}/rename", rename),
        web.post("/containers/{id}/pause", pause),
        web.post("/containers/{id}/unpause", unpause),
        web.post("/containers/{id}/attach", attach),
        web.post("/containers/{id}/wait", wait),
        web.delete("/containers/{id}", remove),
        web.post("/commit", commit),
    ]
