"""Network endpoints: the built-in networks (bridge, host, none) can be listed and inspected.

User-defined networks come with the network issue; until then creating, connecting,
disconnecting and removing answer 501. Prune has nothing to remove (only built-in networks
exist), so `docker system prune` keeps working.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web

from dockyard.daemon.app import context
from dockyard.daemon.context import DaemonContext
from dockyard.daemon.http import bool_param, filters_param, json_response, str_param
from dockyard.errors import InvalidArgument, NotFound, SystemFailure

NOT_YET = "user-defined networks are not supported yet"
_FILTERS = {"dangling", "driver", "id", "label", "name", "scope", "type"}


def _manager(ctx: DaemonContext) -> Any:
    if ctx.network is None:
        raise SystemFailure("the daemon's network is not running")
    return ctx.network


def _container_names(ctx: DaemonContext) -> dict[str, str]:
    """Container id -> name, for the Containers map of an inspected network."""
    if ctx.engine is None:
        return {}
    return {c.id: c.name for c in ctx.engine.store}


def _matches(pattern: str, value: str) -> bool:
    # dockerd matches name and id filters as regular expressions (a plain word: a substring).
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return pattern in value


def _keep(net: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if key == "name" and not any(_matches(v, net["Name"]) for v in values):
            return False
        if key == "id" and not any(_matches(v, net["Id"]) for v in values):
            return False
        if key == "driver" and net["Driver"] not in values:
            return False
        if key == "scope" and net["Scope"] not in values:
            return False
        if key == "type" and "builtin" not in values:
            return False  # every network here is built in
        if key == "label" and values:
            return False  # built-in networks carry no labels
        if key == "dangling" and any(v in ("1", "true") for v in values):
            return False  # a built-in network is never dangling
    return True


def _check_filters(filters: dict[str, list[str]]) -> None:
    for key, values in filters.items():
        if key not in _FILTERS:
            raise InvalidArgument(f"invalid filter '{key}'")
        if key == "type":
            for value in values:
                if value not in ("custom", "builtin"):
                    raise InvalidArgument(f"invalid filter: 'type'='{value}': use custom or builtin")
        if key == "dangling":
            for value in values:
                if value not in ("0", "1", "true", "false"):
                    raise InvalidArgument(f"invalid filter 'dangling={value}': use true or false")


async def list_networks(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    filters = filters_param(request)
    _check_filters(filters)
    nets = await asyncio.to_thread(_manager(ctx).networks)
    out = []
    for net in nets:
        if _keep(net, filters):
            # As dockerd: the list leaves Containers empty; inspecting a network fills it.
            out.append({**net, "Containers": {}})
    return json_response(out)


async def inspect_network(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    bool_param(request, "verbose")  # validated; swarm-only detail, nothing to add locally
    scope = str_param(request, "scope")
    ref = request.match_info["id"]
    net = await asyncio.to_thread(_manager(ctx).network, ref, _container_names(ctx))
    if scope and scope != net["Scope"]:
        raise NotFound(f"network {ref} not found")
    return json_response(net)


async def prune_networks(request: web.Request) -> web.StreamResponse:
    _check_filters({k: v for k, v in filters_param(request).items() if k not in ("until",)})
    return json_response({"NetworksDeleted": []})


async def not_yet(request: web.Request) -> web.StreamResponse:
    return json_response({"message": NOT_YET}, 501)


def routes(ctx: object) -> list[web.RouteDef]:
    return [
        web.get("/networks", list_networks),
        web.post("/networks/create", not_yet),
        web.post("/networks/prune", prune_networks),
        web.get("/networks/{id}", inspect_network),
        web.post("/networks/{id}/connect", not_yet),
        web.post("/networks/{id}/disconnect", not_yet),
        web.delete("/networks/{id}", not_yet),
    ]
