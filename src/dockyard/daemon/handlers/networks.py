"""Network endpoints: list, inspect, create, remove, prune, connect and disconnect.

The network manager owns networks and sandboxes; connect and disconnect go through the engine,
which keeps a stopped container's networks for its next start.
"""

from __future__ import annotations

import asyncio
import calendar
import re
import time
from typing import Any

from aiohttp import web

from dockyard.daemon.app import context
from dockyard.daemon.context import DaemonContext
from dockyard.daemon.http import bool_param, filters_param, json_response, str_param
from dockyard.errors import InvalidArgument, NotFound, SystemFailure

_FILTERS = {"dangling", "driver", "id", "label", "name", "scope", "type"}
_BUILTIN = ("bridge", "host", "none")


def _manager(ctx: DaemonContext) -> Any:
    if ctx.network is None:
        raise SystemFailure("the daemon's network is not running")
    return ctx.network


def _engine(ctx: DaemonContext) -> Any:
    if ctx.engine is None:
        raise SystemFailure("the daemon's engine is not running")
    return ctx.engine


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


def _label_matches(labels: dict[str, str], wanted: str) -> bool:
    key, sep, value = wanted.partition("=")
    return key in labels and (not sep or labels[key] == value)


def _keep(net: dict[str, Any], filters: dict[str, list[str]], in_use: set[str]) -> bool:
    builtin = net["Name"] in _BUILTIN
    for key, values in filters.items():
        if key == "name" and not any(_matches(v, net["Name"]) for v in values):
            return False
        if key == "id" and not any(_matches(v, net["Id"]) for v in values):
            return False
        if key == "driver" and net["Driver"] not in values:
            return False
        if key == "scope" and net["Scope"] not in values:
            return False
        if key == "type" and ("builtin" if builtin else "custom") not in values:
            return False
        if key == "label" and not all(_label_matches(net["Labels"], v) for v in values):
            return False
        if key == "dangling":
            want = any(v in ("1", "true") for v in values)
            dangling = not builtin and net["Id"] not in in_use
            if dangling != want:
                return False
    return True


def _check_filters(filters: dict[str, list[str]], extra: tuple[str, ...] = ()) -> None:
    for key, values in filters.items():
        if key not in _FILTERS and key not in extra:
            raise InvalidArgument(f"invalid filter '{key}'")
        if key == "type":
            for value in values:
                if value not in ("custom", "builtin"):
                    raise InvalidArgument(f"invalid filter: 'type'='{value}': use custom or builtin")
        if key == "dangling":
            for value in values:
                if value not in ("0", "1", "true", "false"):
                    raise InvalidArgument(f"invalid filter 'dangling={value}': use true or false")


def _networks_in_use(ctx: DaemonContext, nets: list[dict[str, Any]]) -> set[str]:
    """Ids of networks with a running container on them, or a stopped one that would join."""
    used = {n["Id"] for n in nets if n.get("Containers")}
    if ctx.engine is not None:
        by_name = {n["Name"]: n["Id"] for n in nets}
        for c in ctx.engine.store:
            for name in getattr(c, "endpoints_config", {}) or {}:
                if name in by_name:
                    used.add(by_name[name])
    return used


async def list_networks(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    filters = filters_param(request)
    _check_filters(filters)
    nets = await asyncio.to_thread(_manager(ctx).networks)
    in_use = _networks_in_use(ctx, nets)
    # As dockerd: the list leaves Containers empty; inspecting a network fills it.
    return json_response([{**net, "Containers": {}} for net in nets if _keep(net, filters, in_use)])


async def inspect_network(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    bool_param(request, "verbose")  # validated; swarm-only detail, nothing to add locally
    scope = str_param(request, "scope")
    ref = request.match_info["id"]
    net = await asyncio.to_thread(_manager(ctx).network, ref, _container_names(ctx))
    if scope and scope != net["Scope"]:
        raise NotFound(f"network {ref} not found")
    return json_response(net)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError as exc:
        raise InvalidArgument(f"invalid JSON body: {exc}") from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InvalidArgument("invalid request body: use a JSON object")
    return body


async def create_network(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    body = await _body(request)
    created = await asyncio.to_thread(_manager(ctx).create_network, body)
    return json_response(created, 201)


async def remove_network(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    await asyncio.to_thread(_manager(ctx).remove_network, request.match_info["id"])
    return web.Response(status=204)


async def connect(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    body = await _body(request)
    container = body.get("Container")
    if not isinstance(container, str) or not container:
        raise InvalidArgument('invalid connect request: name the container in "Container"')
    config = body.get("EndpointConfig") or {}
    if not isinstance(config, dict):
        raise InvalidArgument("invalid EndpointConfig: use a JSON object")
    await _engine(ctx).network_connect(container, request.match_info["id"], config)
    return web.Response(status=200)


async def disconnect(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    body = await _body(request)
    container = body.get("Container")
    if not isinstance(container, str) or not container:
        raise InvalidArgument('invalid disconnect request: name the container in "Container"')
    await _engine(ctx).network_disconnect(container, request.match_info["id"], bool(body.get("Force")))
    return web.Response(status=200)


def _until(values: list[str]) -> float | None:
    if not values:
        return None
    from dockyard.engine.events import parse_time

    return parse_time(values[-1])


async def prune_networks(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    filters = filters_param(request)
    _check_filters({k: v for k, v in filters.items() if k not in ("until", "label!")})
    until = _until(filters.get("until") or [])
    manager = _manager(ctx)
    nets = await asyncio.to_thread(manager.networks)
    in_use = _networks_in_use(ctx, nets)
    deleted = []
    for net in nets:
        if net["Name"] in _BUILTIN or net["Id"] in in_use:
            continue
        labels = net["Labels"]
        if not all(_label_matches(labels, v) for v in filters.get("label", [])):
            continue
        if any(_label_matches(labels, v) for v in filters.get("label!", [])):
            continue
        if until is not None and _created(net["Created"]) >= until:
            continue
        await asyncio.to_thread(manager.remove_network, net["Id"])
        deleted.append(net["Name"])
    return json_response({"NetworksDeleted": deleted})


def _created(text: str) -> float:
    base = text.split(".")[0].rstrip("Z")
    return float(calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")))


def routes(ctx: object) -> list[web.RouteDef]:
    return [
        web.get("/networks", list_networks),
        web.post("/networks/create", create_network),
        web.post("/networks/prune", prune_networks),
        web.get("/networks/{id}", inspect_network),
        web.post("/networks/{id}/connect", connect),
        web.post("/networks/{id}/disconnect", disconnect),
        web.delete("/networks/{id}", remove_network),
    ]
