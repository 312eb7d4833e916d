"""Building, starting and stopping the daemon's services, and collecting the API's routes.

Order matters: the image store and the network come first, the engine sits on both and
reconciles containers a previous daemon left (live restore) before the API accepts requests.
"""

from __future__ import annotations

import importlib

from aiohttp import web

from dockyard.daemon.context import DaemonContext

# The handler modules, in registration order (specific paths before catch-alls).
HANDLER_MODULES = ["system"]


def build(ctx: DaemonContext) -> None:
    pass


async def start(ctx: DaemonContext) -> None:
    pass


async def stop(ctx: DaemonContext) -> None:
    pass


def routes(ctx: DaemonContext) -> list[list[web.RouteDef]]:
    groups = []
    for name in HANDLER_MODULES:
        module = importlib.import_module(f"dockyard.daemon.handlers.{name}")
        groups.append(module.routes(ctx))
    return groups
