"""Reading requests and writing responses the way the Engine API does.

Docker's conventions, in one place: booleans in query strings are `1`/`true`/`True` (and `0`/
`false`/`False`; anything else is an error), `filters` is a JSON object mapping a key either to
a list of values or (older clients) to an object whose keys are the values, request bodies are
JSON (an empty body is an empty object where a body is optional), errors are
`{"message": "..."}`, and streams are newline-delimited JSON.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from aiohttp import web

from dockyard.errors import InvalidArgument

JSON = "application/json"


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode() + b"\n", status=status, content_type=JSON
    )


def no_content(status: int = 204) -> web.Response:
    return web.Response(status=status)


async def read_json(request: web.Request, *, required: bool = False) -> dict[str, Any]:
    body = await request.read()
    if not body.strip():
        if required:
            raise InvalidArgument("the request needs a JSON body")
        return {}
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"invalid JSON in the request body: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidArgument("the request body must be a JSON object")
    return data


def bool_param(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    if value is None:
        return default
    if value in ("", "0", "false", "False", "FALSE", "no"):
        return False if value != "" else default
    if value in ("1", "true", "True", "TRUE", "yes"):
        return True
    raise InvalidArgument(f"invalid value {value!r} for query parameter {name!r}: use 1 or 0")


def int_param(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidArgument(
            f"invalid value {value!r} for query parameter {name!r}: use an integer"
        ) from None


def str_param(request: web.Request, name: str, default: str | None = None) -> str | None:
    value = request.query.get(name)
    return default if value is None else value


def filters_param(request: web.Request, name: str = "filters") -> dict[str, list[str]]:
    """Docker's filters: {"label": ["a=b"]} or the older {"label": {"a=b": true}}."""
    raw = request.query.get(name)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise InvalidArgument(f"invalid filters {raw!r}: expected a JSON object") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"invalid filters {raw!r}: expected a JSON object")
    out: dict[str, list[str]] = {}
    for key, value in data.items():
        if isinstance(value, list):
            out[key] = [str(v) for v in value]
        elif isinstance(value, dict):
            out[key] = [str(k) for k, on in value.items() if on]
        elif isinstance(value, str):
            out[key] = [value]
        else:
            raise InvalidArgument(f"invalid filter {key!r}: expected a list of strings")
    return out


async def stream_json(
    request: web.Request, items: AsyncIterable[dict[str, Any]], *, status: int = 200
) -> web.StreamResponse:
    """Newline-delimited JSON, flushed item by item (pull progress, events, stats)."""
    resp = web.StreamResponse(status=status, headers={"Content-Type": JSON})
    await resp.prepare(request)
    try:
        async for item in items:
            await resp.write(json.dumps(item, separators=(",", ":")).encode() + b"\n")
    except (ConnectionResetError, ConnectionError):
        # The client went away (ctrl-c on `docker pull`): the producer is closed by the
        # async-for's cleanup; nothing to answer.
        return resp
    await resp.write_eof()
    return resp


async def aiter_list(items: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    for item in items:
        yield item
