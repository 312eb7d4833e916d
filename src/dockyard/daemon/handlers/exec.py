"""Exec endpoints of the Engine API: /containers/{id}/exec, /exec/{id}/start|resize|json.

Start is hijacked like attach (`Upgrade: tcp` -> 101, else a 200 head and the raw connection):
raw bytes with a TTY, stdcopy frames without. A start failure the client can only learn from
the stream (a missing executable) is written into it, as dockerd does, and the exec's ExitCode
says 126 or 127. With `Detach` the answer is an empty 200 once the process runs, or the error.
The client's half-close ends the process's stdin; a client that goes away leaves it running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

from dockyard.daemon.app import context
from dockyard.daemon.hijack import MULTIPLEXED_STREAM, RAW_STREAM, Hijacked, finish, hijack
from dockyard.daemon.http import int_param, json_response, read_json
from dockyard.daemon.version import as_tuple
from dockyard.engine.exec_detach import EscapeDetector, parse_detach_keys
from dockyard.engine.stdcopy import STDOUT, Demuxer, frame
from dockyard.errors import DockyardError, InvalidArgument

_FIRST_OUTPUT_DELAY = 0.05  # seconds between the 101 head and the first output
_MULTIPLEXED_SINCE = (1, 42)  # older API versions name every hijacked stream raw


def _engine(request: web.Request) -> Any:
    engine = context(request).engine
    if engine is None:
        raise DockyardError("the container engine is not running")
    return engine


async def create(request: web.Request) -> web.StreamResponse:
    config = await read_json(request, required=True)
    exec_id = await _engine(request).exec_create(request.match_info["id"], config)
    return json_response({"Id": exec_id}, 201)


def _console_size(value: Any) -> tuple[int, int] | None:
    if not value:
        return None
    if not (
        isinstance(value, list) and len(value) == 2 and all(isinstance(x, int) and x >= 0 for x in value)
    ):
        raise InvalidArgument(f"ConsoleSize must be [height, width] in characters, not {value!r}")
    return value[0], value[1]


async def start(request: web.Request) -> web.StreamResponse:
    # Go's encoding/json matches field names case-insensitively; clients rely on it.
    body = {str(k).lower(): v for k, v in (await read_json(request)).items()}
    detach = bool(body.get("detach"))
    # The process gets a terminal if the exec was created with Tty; the start's Tty only says
    # how the client wants the stream: raw, or stdcopy frames (dockerd wraps its writers so).
    framed = not body.get("tty")
    engine = _engine(request)
    exec_id = request.match_info["id"]
    session = await engine.exec_start(
        exec_id, detach, tty=None, console_size=_console_size(body.get("consolesize"))
    )
    if detach:
        return web.Response(status=200)
    version = request.match_info.get("version")
    multiplexed = framed and (not version or as_tuple(version) >= _MULTIPLEXED_SINCE)
    hijacked = hijack(request, MULTIPLEXED_STREAM if multiplexed else RAW_STREAM)
    try:
        await _pump(hijacked, session, framed)
    except (ConnectionResetError, ConnectionError):
        pass
    return finish(request, hijacked)


def _converter(session_framed: bool, framed: bool) -> Callable[[bytes], bytes]:
    if framed and not session_framed:
        return lambda data: frame(STDOUT, data)  # a terminal's output sent as stdout frames
    if session_framed and not framed:
        demux = Demuxer()
        return lambda data: b"".join(payload for _stream, payload in demux.feed(data))
    return lambda data: data


async def _pump(hijacked: Hijacked, session: Any, framed: bool) -> None:
    head_sent = asyncio.get_running_loop().time()
    convert = _converter(not session.tty, framed)
    record = session.record
    # dockerd watches for the detach keys on a TTY's input only (container/stream copyEscapable).
    escape = EscapeDetector(parse_detach_keys(record.detach_keys)) if session.tty else None
    detached = asyncio.Event()
    delivered = False

    async def to_client() -> None:
        nonlocal delivered
        first = True
        while True:
            data = await session.read()
            if first:
                first = False
                # docker-py reads the 101 head through a buffered file, then takes the raw socket:
                # bytes that arrived with the head are lost to it. dockerd's output never comes
                # that early (the runtime takes longer); an exec that failed at once must wait too.
                wait = _FIRST_OUTPUT_DELAY - (asyncio.get_running_loop().time() - head_sent)
                if wait > 0:
                    await asyncio.sleep(wait)
            if not data:
                break
            hijacked.write(convert(data))
            await hijacked.drain()
        delivered = True
        hijacked.close_write()

    async def from_client() -> None:
        while True:
            data = await hijacked.reader.read(65536)
            if not data:
                break
            if escape is not None and record.attach_stdin:
                data, hit = escape.feed(data)
                if data:
                    await session.write(data)
                if hit:
                    detached.set()  # the client leaves; the process runs on
                    return
                continue
            await session.write(data)
        await session.close_stdin()

    out_task = asyncio.ensure_future(to_client())
    in_task = asyncio.ensure_future(from_client())
    gone = asyncio.ensure_future(hijacked.closed.wait())
    left = asyncio.ensure_future(detached.wait())
    try:
        await asyncio.wait({out_task, gone, left}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not delivered:
            session.discard_output()  # the client left: the process runs on, its output is dropped
        for task in (out_task, in_task, gone, left):
            if not task.done():
                task.cancel()
        await asyncio.gather(out_task, in_task, gone, left, return_exceptions=True)


async def resize(request: web.Request) -> web.StreamResponse:
    height = int_param(request, "h", 0) or 0
    width = int_param(request, "w", 0) or 0
    await _engine(request).exec_resize(request.match_info["id"], height, width)
    return web.Response(status=200)


async def inspect(request: web.Request) -> web.StreamResponse:
    return json_response(_engine(request).exec_inspect(request.match_info["id"]))


def routes(ctx: object) -> list[web.RouteDef]:
    return [
        web.post("/containers/{id}/exec", create),
        web.post("/exec/{id}/start", start),
        web.post("/exec/{id}/resize", resize),
        web.get("/exec/{id}/json", inspect),
    ]
