"""dockyard's own endpoint: POST /dockyard/images/bootstrap makes `busybox:latest` from the
daemon host's busybox-static (Debian's package), the built-in image of a machine with no
internet. Not part of Docker's API; `dockyard image bootstrap` calls it."""

from __future__ import annotations

import asyncio

from aiohttp import web

from dockyard.daemon.app import context
from dockyard.daemon.http import json_response


async def bootstrap(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    image_id = await asyncio.to_thread(ctx.images.bootstrap_busybox)
    ctx.events.publish("image", "tag", image_id, {"name": "busybox:latest"})
    return json_response({"Id": image_id, "RepoTags": ["busybox:latest"]}, 201)


def routes(ctx: object) -> list[web.RouteDef]:
    return [web.post("/dockyard/images/bootstrap", bootstrap)]
