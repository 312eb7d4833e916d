"""The aiohttp application of the Engine API.

Every route is registered twice, bare (`/containers/json`) and under a version prefix
(`/v1.41/containers/json`), because aiohttp routes before middlewares run: the version
middleware then only checks the version. Errors from anywhere become Docker's
`{"message": ...}` with the status each DockyardError knows. Each response carries the headers
dockerd sends (Api-Version, Ostype, Server, Docker-Experimental), which clients use to
negotiate the version.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from aiohttp import web

from dockyard.daemon.http import json_response
from dockyard.daemon.version import API_VERSION, MIN_VERSION, as_tuple
from dockyard.errors import DockyardError

if TYPE_CHECKING:
    from dockyard.daemon.context import DaemonContext

log = logging.getLogger("dockyard.daemon")

CTX_KEY: web.AppKey[DaemonContext] = web.AppKey("ctx")
_VERSION_PREFIX = re.compile(r"^/v(\d+\.\d+)(/.*)$")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _version_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    match = _VERSION_PREFIX.match(request.path)
    if match:
        version = match.group(1)
        if as_tuple(version) > as_tuple(API_VERSION):
            return json_response(
                {
                    "message": f"client version {version} is too new. Maximum supported API version is "
                    f"{API_VERSION}"
                },
                400,
            )
        if as_tuple(version) < as_tuple(MIN_VERSION):
            return json_response(
                {
                    "message": f"client version {version} is too old. Minimum supported API version is "
                    f"{MIN_VERSION}, please upgrade your client to a newer version"
                },
                400,
            )
    return await handler(request)


@web.middleware
async def _error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DockyardError as exc:
        if exc.http_status == 304:
            return web.Response(status=304)
        if exc.http_status >= 500:
            log.error("%s %s: %s", request.method, request.path, exc.message)
        else:
            log.debug("%s %s: %s", request.method, request.path, exc.message)
        return json_response({"message": exc.message}, exc.http_status)
    except web.HTTPNotFound:
        return json_response({"message": "page not found"}, 404)
    except web.HTTPMethodNotAllowed:
        return json_response({"message": f"method {request.method} not allowed for {request.path}"}, 405)
    except web.HTTPException:
        raise
    except (ConnectionResetError, ConnectionError):
        # The client went away mid-response; nobody is left to answer.
        raise
    except Exception as exc:
        log.exception("%s %s failed", request.method, request.path)
        return json_response({"message": f"internal error: {type(exc).__name__}: {exc}"}, 500)


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Api-Version"] = API_VERSION
    response.headers["Ostype"] = "linux"
    response.headers["Docker-Experimental"] = "false"
    response.headers["Server"] = "Docker/dockyard (linux)"


def create_app(ctx: DaemonContext, route_groups: Iterable[list[web.RouteDef]]) -> web.Application:
    # client_max_size: image loads, imports, archive PUTs and builds stream their bodies through
    # request.content; this limit only applies to request.read() of JSON bodies.
    app = web.Application(middlewares=[_error_middleware, _version_middleware], client_max_size=64 * 1024**2)
    app[CTX_KEY] = ctx
    for group in route_groups:
        for route in group:
            # web.get()'s automatic HEAD route is dropped: endpoints that answer HEAD (/_ping,
            # archive) register it explicitly, and two HEAD routes on one path would clash.
            kwargs = {k: v for k, v in route.kwargs.items() if k != "allow_head"}
            for path in (route.path, "/v{version:[0-9]+\\.[0-9]+}" + route.path):
                app.router.add_route(route.method, path, route.handler, **kwargs)
    app.on_response_prepare.append(_add_headers)
    return app


def context(request: web.Request) -> DaemonContext:
    return request.app[CTX_KEY]
