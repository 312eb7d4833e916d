"""Volume endpoints of the Engine API: /volumes, /volumes/create, /volumes/{name}, /volumes/prune.

Statuses are dockerd's: 201 for create (which returns an existing volume of that name as it
is), 204 for remove, 404 `get x: no such volume`, 409 `remove x: volume is in use - [ids]`.
Prune removes only anonymous volumes from API 1.42 on unless `all=true` is given; older clients
expect every unused volume to go, so the filter is added for them.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dockyard.daemon.app import context
from dockyard.daemon.http import bool_param, filters_param, json_response, no_content, read_json
from dockyard.daemon.version import as_tuple
from dockyard.errors import DockyardError, InvalidArgument

_PRUNE_ALL_SINCE = (1, 42)


def _engine(request: web.Request) -> Any:
    engine = context(request).engine
    if engine is None:
        raise DockyardError("the container engine is not running")
    return engine


def _str_map(value: Any, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidArgument(f'{field} must be an object of strings, e.g. {{"key": "value"}}')
    return {str(k): v for k, v in value.items()}


async def list_volumes(request: web.Request) -> web.StreamResponse:
    engine = _engine(request)
    return json_response(engine.volumes.list(filters_param(request), in_use=engine._volume_users))


async def create(request: web.Request) -> web.StreamResponse:
    # Go's encoding/json matches field names case-insensitively; clients rely on it.
    body = {str(k).lower(): v for k, v in (await read_json(request)).items()}
    name = body.get("name") or None
    driver = body.get("driver") or "local"
    if name is not None and not isinstance(name, str):
        raise InvalidArgument(f"Name must be a string, not {name!r}")
    if not isinstance(driver, str):
        raise InvalidArgument(f"Driver must be a string, not {driver!r}")
    doc = _engine(request).volumes.create(
        name,
        driver=driver,
        labels=_str_map(body.get("labels"), "Labels"),
        driver_opts=_str_map(body.get("driveropts"), "DriverOpts"),
    )
    return json_response(doc, 201)


async def inspect(request: web.Request) -> web.StreamResponse:
    return json_response(_engine(request).volumes.get(request.match_info["name"]))


async def remove(request: web.Request) -> web.StreamResponse:
    _engine(request).volume_remove(request.match_info["name"], bool_param(request, "force"))
    return no_content()


async def prune(request: web.Request) -> web.StreamResponse:
    filters = filters_param(request)
    version = request.match_info.get("version")
    if version and as_tuple(version) < _PRUNE_ALL_SINCE:
        filters.setdefault("all", ["true"])
    result = _engine(request).volume_prune(filters)
    if not result.get("VolumesDeleted"):
        result = {**result, "VolumesDeleted": None}  # dockerd's JSON: null, not [], when none went
    return json_response(result)


def routes(ctx: object) -> list[web.RouteDef]:
    return [
        web.get("/volumes", list_volumes),
        web.post("/volumes/create", create),
        web.post("/volumes/prune", prune),
        web.get("/volumes/{name}", inspect),
        web.delete("/volumes/{name}", remove),
    ]
