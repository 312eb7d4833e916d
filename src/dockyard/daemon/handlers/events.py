"""GET /events: the daemon's events as a stream of JSON objects, one per line.

`since` replays the remembered events from that time on, `until` ends the stream once it has
passed (at once when it is in the past); without `until` the stream lasts until the client
leaves. The head is sent at once, so a client sees the 200 before the first event. aiohttp does
not cancel a handler whose client left, so the wait for the next event also watches the
connection, or a quiet daemon would keep every departed subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import web

from dockyard.daemon.app import context
from dockyard.daemon.http import JSON, filters_param
from dockyard.engine.events import parse_time, validate_filters
from dockyard.errors import InvalidArgument

_CHECK_CLIENT = 1.0  # seconds between looks at the connection while no event comes


def _bus(request: web.Request) -> Any:
    ctx = context(request)
    if ctx.events is not None:
        return ctx.events
    return ctx.engine.events


def _time(request: web.Request, name: str) -> float | None:
    value = request.query.get(name)
    if not value:
        return None
    return parse_time(value)


async def events(request: web.Request) -> web.StreamResponse:
    since = _time(request, "since")
    until = _time(request, "until")
    if since is not None and until is not None and until < since:
        raise InvalidArgument(
            f"`since` time ({request.query['since']}) cannot be after `until` time ({request.query['until']})"
        )
    filters = filters_param(request)
    validate_filters(filters)  # before the head: a bad filter gets its JSON error
    stream: Any = _bus(request).subscribe(since=since, until=until, filters=filters)
    async with contextlib.aclosing(stream):
        resp = web.StreamResponse(status=200, headers={"Content-Type": JSON})
        await resp.prepare(request)
        pending = asyncio.ensure_future(anext(stream, None))
        try:
            while True:
                done, _ = await asyncio.wait({pending}, timeout=_CHECK_CLIENT)
                if not done:
                    if request.transport is None or request.transport.is_closing():
                        return resp
                    continue
                event = pending.result()
                if event is None:
                    break
                await resp.write(json.dumps(event, separators=(",", ":")).encode() + b"\n")
                pending = asyncio.ensure_future(anext(stream, None))
        except (ConnectionResetError, ConnectionError):
            return resp
        finally:
            if not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await pending
    await resp.write_eof()
    return resp


def routes(ctx: object) -> list[web.RouteDef]:
    return [web.get("/events", events)]
